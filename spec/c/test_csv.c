/* test_csv.c -- the streaming CSV reader: RFC 4180 corners, line numbers,
 * bad rows, column mapping, de-duplication and filling the builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sinch_batch_curl.h"

static char tmp_path[64];

/* Write content (len bytes) to a fresh temporary file; returns its path. */
static const char *write_tmp(const char *content, size_t len) {
    int fd;
    strcpy(tmp_path, "/tmp/test_csv_XXXXXX");
    fd = mkstemp(tmp_path);
    if (fd < 0) return NULL;
    if (write(fd, content, len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    close(fd);
    return tmp_path;
}

static sinch_batch_csv *open_str(const char *content, const sinch_batch_csv_opts *o,
                                 sinch_batch_error *err) {
    const char *path = write_tmp(content, strlen(content));
    sinch_batch_csv *r = sinch_batch_csv_open(path, o, err);
    unlink(path); /* the reader keeps the file open */
    return r;
}

static const char *param(const sinch_batch_csv_row *row, const char *name) {
    size_t i;
    for (i = 0; i < row->n_params; i++)
        if (strcmp(row->param_names[i], name) == 0) return row->param_values[i];
    return NULL;
}

static const char *bad_reason(sinch_batch_csv *r, size_t i, size_t *line) {
    const char *reason = NULL;
    if (sinch_batch_csv_bad_row(r, i, line, &reason) != SINCH_BATCH_OK) return NULL;
    return reason;
}

static void test_plain_rows(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv *r =
        open_str("channel,identity,name,code\nsms,+46700000001,Ann,1234\n"
                 "WHATSAPP, +46700000002 ,Bo,5678\n",
                 NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_column_count(r), 4);
    CHECK_STR(sinch_batch_csv_column_name(r, 2), "name");
    CHECK(sinch_batch_csv_column_name(r, 4) == NULL);
    CHECK_INT(sinch_batch_csv_param_count(r), 2);
    CHECK_STR(sinch_batch_csv_param_name(r, 0), "name");
    CHECK_STR(sinch_batch_csv_param_name(r, 1), "code");
    CHECK(sinch_batch_csv_param_name(r, 2) == NULL);
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 2);
    CHECK_STR(row.channel, "SMS");
    CHECK_STR(row.identity, "+46700000001");
    CHECK_INT(row.identity_len, 12);
    CHECK(row.app_id == NULL && row.contact_id == NULL);
    CHECK_INT(row.n_params, 2);
    CHECK_STR(param(&row, "name"), "Ann");
    CHECK_STR(param(&row, "code"), "1234");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 3);
    CHECK_STR(row.channel, "WHATSAPP");
    CHECK_STR(row.identity, "+46700000002"); /* spaces around unquoted fields trimmed */
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 0);
    sinch_batch_csv_close(r);
}

static void test_quotes_and_line_breaks(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    /* CRLF, a BOM, quoted commas, doubled quotes, line breaks inside quotes,
     * an empty line, and a row with no final line break */
    const char *text = "\xEF\xBB\xBF"
                       "Channel,Phone,note\r\n"
                       "SMS,+46700000001,\"a, b\"\r\n"
                       "SMS,+46700000002,\"say \"\"hi\"\"\"\r\n"
                       "SMS,+46700000003,\"two\r\nlines\nthree\"\r\n"
                       "\r\n"
                       "SMS,+46700000004,\" kept \"";
    sinch_batch_csv *r = open_str(text, NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_STR(sinch_batch_csv_column_name(r, 0), "Channel"); /* BOM gone */
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 2);
    CHECK_STR(param(&row, "note"), "a, b");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 3);
    CHECK_STR(param(&row, "note"), "say \"hi\"");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 4);
    CHECK_STR(param(&row, "note"), "two\r\nlines\nthree");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 8); /* 4, 5, 6 hold the quoted field; 7 is empty */
    CHECK_STR(row.identity, "+46700000004");
    CHECK_STR(param(&row, "note"), " kept ");
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    sinch_batch_csv_close(r);
}

static void test_bad_rows(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    size_t line = 0;
    const char *text = "channel,identity,app_id,name\n"  /* 1 */
                       "SMS,+46700000001,,Ann\n"          /* 2 good */
                       "SMS,+46700000002\n"               /* 3 too few */
                       "SMS,,,Cy\n"                       /* 4 empty identity */
                       "SMS,070 000003,,Di\n"             /* 5 not a phone number */
                       "MESSENGER,12345,,Ed\n"            /* 6 good: app_id optional */
                       "MESSENGER,12345,01APP,Ed\n"       /* 7 good */
                       ",+46700000008,,Fa\n"              /* 8 empty channel */
                       "SMS,+46700000009,,\"x\ny\",extra\n" /* 9-10 too many */
                       "SMS,+46700000011,,\xC3\x28\n"     /* 11 bad UTF-8 */
                       "SMS,+46700000012,,Gus\n";         /* 12 good */
    sinch_batch_csv *r = open_str(text, NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 2);
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 6);
    CHECK_STR(row.channel, "MESSENGER");
    CHECK(row.app_id == NULL);
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 7);
    CHECK_STR(row.channel, "MESSENGER");
    CHECK_STR(row.app_id, "01APP");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 12);
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 6);
    CHECK_STR(bad_reason(r, 0, &line), "the row has 2 fields, the header has 4");
    CHECK_INT(line, 3);
    CHECK_STR(bad_reason(r, 1, &line), "identity: is empty");
    CHECK_INT(line, 4);
    CHECK_STR(bad_reason(r, 2, &line),
              "identity: not a phone number (an optional \"+\", then digits) for channel SMS");
    CHECK_INT(line, 5);
    CHECK_STR(bad_reason(r, 3, &line), "channel: is empty");
    CHECK_INT(line, 8);
    CHECK_STR(bad_reason(r, 4, &line), "the row has 5 fields, the header has 4");
    CHECK_INT(line, 9);
    CHECK_STR(bad_reason(r, 5, &line), "name: not valid UTF-8 (byte 2)");
    CHECK_INT(line, 11);
    CHECK(bad_reason(r, 6, &line) == NULL);
    sinch_batch_csv_close(r);
}

static void test_e164_off_and_fixed_channel(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv_opts o;
    sinch_batch_csv *r;
    sinch_batch_csv_opts_init(&o);
    o.channel = "rcs";
    o.check_e164 = 0;
    r = open_str("phone,channel\n0700000001,ignored\n", &o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.channel, "RCS");
    CHECK_STR(row.identity, "0700000001");
    /* with a fixed channel, the channel column is an ordinary parameter */
    CHECK_INT(row.n_params, 1);
    CHECK_STR(param(&row, "channel"), "ignored");
    sinch_batch_csv_close(r);
    /* the default takes the reference's "+0987654321" form; 2 asks for our E.164 shape */
    sinch_batch_csv_opts_init(&o);
    o.channel = "SMS";
    r = open_str("identity\n+0987654321\n", &o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.identity, "+0987654321");
    sinch_batch_csv_close(r);
    o.check_e164 = 2;
    r = open_str("identity\n+0987654321\n+46700000001\n", &o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.identity, "+46700000001");
    CHECK_INT(sinch_batch_csv_bad_count(r), 1);
    sinch_batch_csv_close(r);
}

static void test_contacts_and_params(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv_opts o;
    const char *params[] = {"code"};
    sinch_batch_csv *r;
    sinch_batch_csv_opts_init(&o);
    o.params = params;
    o.n_params = 1;
    r = open_str("contact_id,channel,identity,name,code\n"
                 "01CONTACT,,,Ann,1\n"
                 ",SMS,+46700000002,Bo,2\n"
                 ",,,Cy,3\n",
                 &o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.contact_id, "01CONTACT");
    CHECK_INT(row.contact_id_len, 9);
    CHECK(row.channel == NULL && row.identity == NULL);
    CHECK_INT(row.n_params, 1);
    CHECK_STR(row.param_names[0], "code");
    CHECK_STR(row.param_values[0], "1");
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.identity, "+46700000002");
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 1);
    CHECK_STR(bad_reason(r, 0, NULL), "identity: is empty");
    sinch_batch_csv_close(r);

    /* contact_id only */
    r = open_str("contact_id\n01A\n\n01B\n", NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_STR(row.contact_id, "01B");
    CHECK_INT(row.line, 4);
    CHECK_INT(row.n_params, 0);
    sinch_batch_csv_close(r);
}

static void test_header_errors(void) {
    sinch_batch_error err;
    sinch_batch_csv_opts o;
    const char *params[] = {"name", "code"};

    CHECK(open_str("", NULL, &err) == NULL);
    CHECK_STR(err.message, "header: the file is empty, the first row must name the columns");
    CHECK_STR(sinch_batch_error_kind_name(err.kind), "invalid");

    CHECK(open_str("channel,name\nSMS,Ann\n", NULL, &err) == NULL);
    CHECK_STR(err.message, "header: no \"identity\", \"phone\" or \"contact_id\" column; name "
                           "one with identity_column or contact_column");

    CHECK(open_str("identity,name\n+46700000001,Ann\n", NULL, &err) == NULL);
    CHECK_STR(err.message, "header: no \"channel\" column; name one with channel_column or "
                           "give a fixed channel");

    sinch_batch_csv_opts_init(&o);
    o.identity_column = "msisdn";
    CHECK(open_str("channel,identity\n", &o, &err) == NULL);
    CHECK_STR(err.message, "identity_column: the header has no column \"msisdn\"");

    sinch_batch_csv_opts_init(&o);
    o.params = params;
    o.n_params = 2;
    CHECK(open_str("channel,identity,name\n", &o, &err) == NULL);
    CHECK_STR(err.message, "params[2]: the header has no column \"code\"");

    CHECK(open_str("channel,identity,name,name\n", NULL, &err) == NULL);
    CHECK_STR(err.message, "header: column 4 \"name\" repeats column 3");

    CHECK(sinch_batch_csv_open("/nonexistent-sinch-batch-dir/contacts.csv", NULL, &err) == NULL);
    CHECK_STR(err.message, "/nonexistent-sinch-batch-dir/contacts.csv: No such file or directory");
}

static void test_cr_and_open_quote(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    size_t line = 0;
    /* old Mac line ends (CR alone), then a quote that never closes */
    sinch_batch_csv *r = open_str("identity,channel,note\r+46700000001,SMS,a\r\r"
                                  "+46700000002,SMS,\"open\n+46700000003,SMS,b\n",
                                  NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 2);
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 1);
    CHECK_STR(bad_reason(r, 0, &line), "a quoted field is not closed before the end of the file");
    CHECK_INT(line, 4);
    sinch_batch_csv_close(r);
}

static void test_header_only(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv *r = open_str("channel,identity\r\n", NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_next(r, &row), 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 0);
    sinch_batch_csv_close(r);
}

static void test_dedupe(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv_opts o;
    size_t line = 0, good = 0;
    sinch_batch_csv *r;
    sinch_batch_csv_opts_init(&o);
    o.dedupe = 1;
    r = open_str("channel,identity,contact_id\n"
                 "SMS,+46700000001,\n"      /* 2 */
                 "WHATSAPP,+46700000001,\n" /* 3: another channel, kept */
                 "sms,+46700000001,\n"      /* 4: same as 2 */
                 ",,01C\n"                  /* 5 */
                 ",,01C\n",                 /* 6: same as 5 */
                 &o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    while (sinch_batch_csv_next(r, &row) == 1) good++;
    CHECK_INT(good, 3);
    CHECK_INT(sinch_batch_csv_bad_count(r), 2);
    CHECK_STR(bad_reason(r, 0, &line), "identity: duplicate of line 2");
    CHECK_INT(line, 4);
    CHECK_STR(bad_reason(r, 1, &line), "contact_id: duplicate of line 5");
    CHECK_INT(line, 6);
    sinch_batch_csv_close(r);
}

/* Many rows with multi-line quoted fields: records cross the 64 KiB block
 * boundaries and the line numbers must still be exact. */
static void test_across_blocks(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv_opts o;
    size_t n = 20000, i, got = 0, wrong = 0, cap = 64 + n * 64, len = 0;
    char *text = malloc(cap), expect[64];
    const char *path;
    sinch_batch_csv *r;
    if (text == NULL) return;
    len += (size_t)snprintf(text + len, cap - len, "identity,note\n");
    for (i = 0; i < n; i++) /* row i starts on line 2 + 2*i */
        len += (size_t)snprintf(text + len, cap - len, "+4670%07zu,\"row %zu,\r\nnext\"\r\n", i,
                                i);
    path = write_tmp(text, len);
    free(text);
    sinch_batch_csv_opts_init(&o);
    o.channel = "SMS";
    o.dedupe = 1;
    r = sinch_batch_csv_open(path, &o, &err);
    unlink(path);
    CHECK(r != NULL);
    if (r == NULL) return;
    while (sinch_batch_csv_next(r, &row) == 1) {
        snprintf(expect, sizeof expect, "row %zu,\r\nnext", got);
        if (row.line != 2 + 2 * got || strcmp(row.param_values[0], expect) != 0) wrong++;
        got++;
    }
    CHECK_INT(got, n);
    CHECK_INT(wrong, 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 0);
    sinch_batch_csv_close(r);
}

static void test_fill_builder(void) {
    static const char msg[] = "{\"text_message\":{\"text\":\"Hi ${name}\"}}";
    sinch_batch_error err;
    sinch_batch_csv_opts o;
    size_t rows[4] = {0}, n = 99, len = 0;
    const char *body;
    sinch_batch_builder *b = sinch_batch_builder_new("01APP", msg, 0, 0, &err);
    sinch_batch_csv *r;
    CHECK(b != NULL);
    if (b == NULL) return;
    sinch_batch_csv_opts_init(&o);
    o.channel = "SMS";
    r = open_str("phone,name\n+46700000001,\"Ann \"\"A\"\"\"\nbad,x\n+46700000003,\xC3\xA5sa\n"
                 "+46700000004,Di\n+46700000005,Ed\n",
                 &o, &err);
    CHECK(r != NULL);
    if (r == NULL) {
        sinch_batch_builder_free(b);
        return;
    }
    CHECK_INT(sinch_batch_csv_fill(r, b, 2, rows, &n), SINCH_BATCH_OK);
    CHECK_INT(n, 2);
    CHECK_INT(rows[0], 2);
    CHECK_INT(rows[1], 4);
    body = sinch_batch_builder_body(b, &len);
    CHECK_STR(body, "{\"app_id\":\"01APP\",\"message\":{\"text_message\":{\"text\":\"Hi "
                    "${name}\"}},\"recipient_and_params\":["
                    "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                    "\"SMS\",\"identity\":\"+46700000001\"}]}},\"parameters\":{\"name\":\"Ann "
                    "\\\"A\\\"\"}},"
                    "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                    "\"SMS\",\"identity\":\"+46700000003\"}]}},\"parameters\":{\"name\":"
                    "\"\xC3\xA5sa\"}}]}");
    CHECK_INT(len, body ? strlen(body) : 0);
    CHECK_INT(sinch_batch_csv_bad_count(r), 1);
    sinch_batch_builder_reset(b);
    CHECK_INT(sinch_batch_csv_fill(r, b, 4, rows, &n), SINCH_BATCH_OK);
    CHECK_INT(n, 2);
    CHECK_INT(rows[0], 5);
    CHECK_INT(rows[1], 6);
    CHECK_INT(sinch_batch_builder_count(b), 2);
    sinch_batch_builder_reset(b);
    CHECK_INT(sinch_batch_csv_fill(r, b, 4, rows, &n), SINCH_BATCH_OK);
    CHECK_INT(n, 0);
    sinch_batch_csv_close(r);
    sinch_batch_builder_free(b);
}

static void test_fill_full_builder(void) {
    static const char msg[] = "{\"text_message\":{\"text\":\"x\"}}";
    sinch_batch_error err;
    sinch_batch_csv_opts o;
    size_t rows[4], n = 0;
    sinch_batch_builder *b = sinch_batch_builder_new("01APP", msg, 0, 1, &err);
    sinch_batch_csv *r;
    CHECK(b != NULL);
    if (b == NULL) return;
    sinch_batch_csv_opts_init(&o);
    o.channel = "SMS";
    r = open_str("phone\n+46700000001\n+46700000002\n", &o, &err);
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(sinch_batch_csv_fill(r, b, 4, rows, &n), SINCH_BATCH_ERR);
        CHECK_INT(n, 1);
        CHECK_STR(sinch_batch_csv_error(r)->message,
                  "line 3: recipients[2]: a batch holds at most 1 recipients");
        sinch_batch_csv_close(r);
    }
    sinch_batch_builder_free(b);
}

/* Every row and bad row of a reader, as one string ("line:channel:identity|"
 * and "bad line:reason|"), reading with next() and feeding on MORE. */
static void drain(sinch_batch_csv *r, const char *text, size_t step, char *out, size_t outsz) {
    sinch_batch_csv_row row;
    size_t pos = 0, len = strlen(text), i, line;
    int rc;
    out[0] = '\0';
    for (;;) {
        rc = sinch_batch_csv_next(r, &row);
        if (rc == SINCH_BATCH_CSV_MORE) {
            if (pos < len) {
                size_t k = len - pos < step ? len - pos : step;
                CHECK_INT(sinch_batch_csv_feed(r, text + pos, k), SINCH_BATCH_OK);
                pos += k;
            } else {
                CHECK_INT(sinch_batch_csv_finish(r), SINCH_BATCH_OK);
            }
            continue;
        }
        if (rc != 1) break;
        snprintf(out + strlen(out), outsz - strlen(out), "%zu:%s:%.*s:%s|", row.line,
                 row.channel ? row.channel : "-", (int)row.identity_len,
                 row.identity ? row.identity : "", row.n_params ? row.param_values[0] : "");
    }
    CHECK_INT(rc, 0);
    for (i = 0; bad_reason(r, i, &line) != NULL; i++)
        snprintf(out + strlen(out), outsz - strlen(out), "bad %zu:%s|", line,
                 bad_reason(r, i, &line));
}

static void test_feed_any_split(void) {
    /* a BOM, CRLF, a quoted line break, a "+"-less number, a bad number,
     * and a last row with no line break */
    const char *text = "\xEF\xBB\xBF" "channel,identity,note\r\n"
                       "sms,+46700000001,\"a\r\nb\"\r\n"
                       "SMS,46700000002,c\r\n"
                       "SMS,07x0,d\r\n"
                       "MESSENGER,123,e";
    char want[2048], got[2048];
    sinch_batch_error err;
    size_t step;
    sinch_batch_csv *r = open_str(text, NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    drain(r, "", 1, want, sizeof want); /* pull mode: MORE never comes */
    sinch_batch_csv_close(r);
    CHECK_STR(want, "2:SMS:+46700000001:a\r\nb|4:SMS:46700000002:c|6:MESSENGER:123:e|"
                    "bad 5:identity: not a phone number (an optional \"+\", then digits) "
                    "for channel SMS|");
    for (step = 1; step <= 7; step++) {
        r = sinch_batch_csv_new(NULL, &err);
        CHECK(r != NULL);
        if (r == NULL) return;
        CHECK_INT(sinch_batch_csv_column_count(r), 0);
        drain(r, text, step, got, sizeof got);
        CHECK_STR(got, want);
        CHECK_INT(sinch_batch_csv_column_count(r), 3);
        CHECK_INT(sinch_batch_csv_feed(r, "x", 1), SINCH_BATCH_ERR); /* after finish */
        sinch_batch_csv_close(r);
    }
}

static void test_feed_header_and_fill(void) {
    static const char msg[] = "{\"text_message\":{\"text\":\"${name}\"}}";
    sinch_batch_error err;
    sinch_batch_csv_opts o;
    size_t rows[8], n = 9;
    sinch_batch_builder *b = sinch_batch_builder_new("01APP", msg, 0, 0, &err);
    sinch_batch_csv *r;
    CHECK(b != NULL);
    if (b == NULL) return;
    sinch_batch_csv_opts_init(&o);
    o.channel = "sms";
    r = sinch_batch_csv_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_header(r), SINCH_BATCH_CSV_MORE);
    CHECK_INT(sinch_batch_csv_feed(r, "phone,na", 8), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_header(r), SINCH_BATCH_CSV_MORE);
    CHECK_INT(sinch_batch_csv_feed(r, "me\n+46700000001,Ann\n+4670", 25), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_header(r), SINCH_BATCH_OK);
    CHECK_STR(sinch_batch_csv_param_name(r, 0), "name");
    CHECK_INT(sinch_batch_csv_fill(r, b, 8, rows, &n), SINCH_BATCH_CSV_MORE);
    CHECK_INT(n, 1);
    CHECK_INT(sinch_batch_csv_feed(r, "0000002,Bo", 10), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_fill(r, b, 8, rows + 1, &n), SINCH_BATCH_CSV_MORE);
    CHECK_INT(n, 0); /* the row is not complete until a line break or finish */
    CHECK_INT(sinch_batch_csv_finish(r), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_fill(r, b, 8, rows + 1, &n), SINCH_BATCH_OK);
    CHECK_INT(n, 1);
    CHECK_INT(rows[1], 3);
    CHECK_INT(sinch_batch_csv_fill(r, b, 8, rows, &n), SINCH_BATCH_OK);
    CHECK_INT(n, 0);
    CHECK_INT(sinch_batch_builder_count(b), 2);
    sinch_batch_csv_close(r);
    sinch_batch_builder_free(b);

    r = sinch_batch_csv_new(NULL, &err);
    CHECK_INT(sinch_batch_csv_finish(r), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_header(r), SINCH_BATCH_ERR);
    CHECK_STR(sinch_batch_csv_error(r)->message,
              "header: the file is empty, the first row must name the columns");
    sinch_batch_csv_close(r);
}

static void test_channel_table(void) {
    /* a channel registered by the caller: phone-checked when the table says
     * so; a channel the table does not know is accepted, unchecked */
    static const sinch_batch_channel table[] = {
        {"SMS", SINCH_BATCH_CHANNEL_PHONE},
        {"NEWPHONE", SINCH_BATCH_CHANNEL_PHONE},
        {NULL, 0},
    };
    const char *text = "channel,identity\n"
                       "NEWPHONE,+46700000001\n" /* 2 good */
                       "newphone,abc\n"          /* 3 bad: a phone channel */
                       "WHATSAPP,abc\n"          /* 4 good: not in this table */
                       "SMS,abc\n";              /* 5 bad */
    char got[2048];
    sinch_batch_error err;
    sinch_batch_csv_opts o;
    sinch_batch_csv *r;
    sinch_batch_csv_opts_init(&o);
    o.channels = table;
    r = sinch_batch_csv_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    drain(r, text, 1000, got, sizeof got);
    CHECK_STR(got, "2:NEWPHONE:+46700000001:|4:WHATSAPP:abc:|"
                   "bad 3:identity: not a phone number (an optional \"+\", then digits) "
                   "for channel NEWPHONE|"
                   "bad 5:identity: not a phone number (an optional \"+\", then digits) "
                   "for channel SMS|");
    sinch_batch_csv_close(r);
    /* the built-in table checks WHATSAPP */
    r = sinch_batch_csv_new(NULL, &err);
    drain(r, "channel,identity\nWHATSAPP,abc\nNEWPHONE,abc\n", 1000, got, sizeof got);
    CHECK_STR(got, "3:NEWPHONE:abc:|bad 2:identity: not a phone number (an optional \"+\", "
                   "then digits) for channel WHATSAPP|");
    sinch_batch_csv_close(r);
}

static void test_limits_are_errors(void) {
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv *r = sinch_batch_csv_new(NULL, &err);
    size_t i;
    int rc = SINCH_BATCH_OK;
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_feed(r, "channel,identity\n", 17), SINCH_BATCH_OK);
    for (i = 0; i < 70000 && rc == SINCH_BATCH_OK; i++) rc = sinch_batch_csv_feed(r, "x,", 2);
    CHECK_INT(rc, SINCH_BATCH_ERR);
    CHECK_STR(sinch_batch_csv_error(r)->message, "line 2: a row has more than 65536 fields");
    CHECK_INT(sinch_batch_csv_next(r, &row), SINCH_BATCH_ERR);
    sinch_batch_csv_close(r);
}

/* A refused header leaves no columns behind: the accessors answer 0/NULL
 * (they used to read a name table that was never made: a crash the fuzz
 * harness found). */
static void test_refused_header_has_no_columns(void) {
    static const char in[] = "channel,identity,name,name\nSMS,+46700000001,a,b\n";
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv *r = sinch_batch_csv_new(NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_feed(r, in, sizeof in - 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_finish(r), SINCH_BATCH_OK);
    CHECK(sinch_batch_csv_next(r, &row) < 0);
    CHECK_INT(sinch_batch_csv_param_count(r), 0);
    CHECK(sinch_batch_csv_param_name(r, 0) == NULL);
    sinch_batch_csv_close(r);
}

/* A NUL byte in the channel or app_id cell is a bad row (rows hand those
 * out as C strings, which would read as "" or be cut). */
static void test_nul_in_channel_or_app_id(void) {
    static const char in[] = "channel,identity,app_id\n"
                             "\0SMS,+46700000001,\n"
                             "SMS,+46700000002,AP\0P\n"
                             "SMS,+46700000003,APP\n";
    sinch_batch_error err;
    sinch_batch_csv_row row;
    sinch_batch_csv *r = sinch_batch_csv_new(NULL, &err);
    size_t line = 0;
    const char *reason = NULL;
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_INT(sinch_batch_csv_feed(r, in, sizeof in - 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_finish(r), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_csv_next(r, &row), 1);
    CHECK_INT(row.line, 4);
    CHECK_STR(row.app_id, "APP");
    CHECK_INT(sinch_batch_csv_bad_count(r), 2);
    CHECK_INT(sinch_batch_csv_bad_row(r, 0, &line, &reason), SINCH_BATCH_OK);
    CHECK_INT(line, 2);
    CHECK_STR(reason, "channel: contains a NUL byte");
    CHECK_INT(sinch_batch_csv_bad_row(r, 1, &line, &reason), SINCH_BATCH_OK);
    CHECK_INT(line, 3);
    CHECK_STR(reason, "app_id: contains a NUL byte");
    sinch_batch_csv_close(r);
}

int main(void) {
    RUN(test_plain_rows);
    RUN(test_quotes_and_line_breaks);
    RUN(test_bad_rows);
    RUN(test_e164_off_and_fixed_channel);
    RUN(test_contacts_and_params);
    RUN(test_header_errors);
    RUN(test_cr_and_open_quote);
    RUN(test_header_only);
    RUN(test_dedupe);
    RUN(test_across_blocks);
    RUN(test_fill_builder);
    RUN(test_fill_full_builder);
    RUN(test_feed_any_split);
    RUN(test_feed_header_and_fill);
    RUN(test_channel_table);
    RUN(test_limits_are_errors);
    RUN(test_refused_header_has_no_columns);
    RUN(test_nul_in_channel_or_app_id);
    CHECK_DONE();
}
