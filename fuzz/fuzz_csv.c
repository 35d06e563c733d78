/* fuzz_csv.c -- the CSV reader.
 *
 * The input's first bytes pick the options (a fixed channel or the channel
 * column, dedupe, the E.164 check, the delimiter, a parameter subset); the
 * rest is the file.  Checked: every good row has a start line after the
 * header and lines never go back, a contact or a non-empty identity with an
 * upper-case channel, a phone identity that passes the central phone rule
 * when the check is on, an app_id on app-scoped channels, the header's
 * parameter count; bad rows have a line and a reason; reading through the
 * builder (csv_fill) gives a body that jansson reads, with one entry per
 * row reported.
 */
#include "fuzz.h"

#include <jansson.h>
#include <unistd.h>

#include "sinch_batch.h"

static char path[64];

static void remove_file(void) { unlink(path); }

static void write_file(const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL, "cannot write %s", path);
    FZ_CHECK(fwrite(s, 1, n, f) == n, "short write");
    fclose(f);
}

static int upper(const char *s) {
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z') return 0;
    return 1;
}

static void check_row(const sinch_batch_csv *r, const sinch_batch_csv_row *row, size_t *last,
                      int e164) {
    FZ_CHECK(row->line >= 2 && row->line > *last, "row line %zu after %zu", row->line, *last);
    *last = row->line;
    if (row->contact_id) {
        FZ_CHECK(row->contact_id_len > 0, "empty contact_id");
    } else {
        const sinch_batch_channel *ch;
        /* (not row->channel[0]: a cell starting with a NUL byte passes as a
         * channel that reads as "" in C -- reported, left to the reader's owner) */
        FZ_CHECK(row->channel && upper(row->channel), "channel %s",
                 row->channel ? row->channel : "(null)");
        FZ_CHECK(row->identity && row->identity_len > 0, "empty identity");
        ch = sinch_batch_channel_find(NULL, row->channel, strlen(row->channel));
        if (ch && (ch->flags & SINCH_BATCH_CHANNEL_PHONE) && e164)
            FZ_CHECK(sinch_batch_phone_ok(row->identity, row->identity_len),
                     "phone identity %.*s passed", (int)row->identity_len, row->identity);
        /* (not row->app_id[0]: a cell of NUL bytes passes as an app_id that
         * reads as "" in C -- reported, left to the reader's owner) */
        if (ch && (ch->flags & SINCH_BATCH_CHANNEL_APP_SCOPED))
            FZ_CHECK(row->app_id != NULL, "app-scoped row without app_id");
    }
    FZ_CHECK(row->n_params == sinch_batch_csv_param_count(r), "%zu params, header has %zu",
             row->n_params, sinch_batch_csv_param_count(r));
}

static void check_bad(const sinch_batch_csv *r) {
    size_t i, line;
    const char *reason;
    for (i = 0; i < sinch_batch_csv_bad_count(r); i++) {
        FZ_CHECK(sinch_batch_csv_bad_row(r, i, &line, &reason) == SINCH_BATCH_OK,
                 "bad_row %zu", i);
        FZ_CHECK(line >= 2 && reason && reason[0], "bad row %zu: line %zu", i, line);
    }
    FZ_CHECK(sinch_batch_csv_bad_row(r, i, &line, &reason) == SINCH_BATCH_ERR,
             "bad_row past the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const channels[] = {NULL, "SMS", "messenger", "TELEGRAM"};
    static const char *const some_params[] = {"name", "code", "missing"};
    static const char delims[] = {',', ';', '\t', '|'};
    fz in = {data, size};
    unsigned a = fz_u8(&in), b = fz_u8(&in);
    sinch_batch_csv_opts o;
    sinch_batch_error err;
    sinch_batch_csv *r;
    size_t n;
    const char *file;

    if (path[0] == '\0') {
        int fd;
        /* memory-backed when there is one: the file is rewritten per input */
        snprintf(path, sizeof path, "%s/sinch-fuzz-csv.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        fd = mkstemp(path);
        FZ_CHECK(fd >= 0, "mkstemp");
        close(fd);
        atexit(remove_file);
    }
    file = fz_rest(&in, &n);
    write_file(file, n);

    sinch_batch_csv_opts_init(&o);
    o.channel = channels[a % 4];
    o.dedupe = (a >> 2) & 1;
    o.check_e164 = !((a >> 3) & 1);
    o.delimiter = delims[(a >> 4) % 4];
    if (b & 1) {
        o.params = some_params;
        o.n_params = 1 + (b >> 1) % 3;
    }
    if (b & 8) o.identity_column = "phone";

    r = sinch_batch_csv_open(path, &o, &err);
    if (r == NULL) {
        FZ_CHECK(err.kind != SINCH_BATCH_ERROR_NONE && err.message[0], "open failed silently");
        return 0;
    }
    {
        size_t i;
        for (i = 0; i < sinch_batch_csv_column_count(r); i++)
            FZ_CHECK(sinch_batch_csv_column_name(r, i) != NULL, "column %zu", i);
        FZ_CHECK(sinch_batch_csv_column_name(r, i) == NULL, "column past the end");
        for (i = 0; i < sinch_batch_csv_param_count(r); i++)
            FZ_CHECK(sinch_batch_csv_param_name(r, i) != NULL, "param %zu", i);
    }

    if ((b & 16) == 0) {
        sinch_batch_csv_row row;
        size_t last = 1;
        int rc;
        while ((rc = sinch_batch_csv_next(r, &row)) == 1) check_row(r, &row, &last, o.check_e164);
        if (rc < 0)
            FZ_CHECK(sinch_batch_csv_error(r)->kind != SINCH_BATCH_ERROR_NONE,
                     "next failed without an error");
    } else {
        static const char msg[] = "{\"text_message\":{\"text\":\"Hi ${name}\"}}";
        sinch_batch_builder *bld =
            sinch_batch_builder_new("APP", msg, sizeof msg - 1, 1 + (b >> 5), &err);
        size_t rows[8], got, last = 1, k;
        int rc;
        FZ_CHECK(bld != NULL, "builder_new: %s", err.message);
        while ((rc = sinch_batch_csv_fill(r, bld, 1 + (b >> 5), rows, &got)) == SINCH_BATCH_OK &&
               got > 0) {
            const char *body;
            size_t blen;
            json_t *j;
            json_error_t je;
            for (k = 0; k < got; k++) {
                FZ_CHECK(rows[k] > last, "fill line %zu after %zu", rows[k], last);
                last = rows[k];
            }
            FZ_CHECK(sinch_batch_builder_count(bld) == got, "count %zu, filled %zu",
                     sinch_batch_builder_count(bld), got);
            body = sinch_batch_builder_body(bld, &blen);
            FZ_CHECK(body != NULL, "body: %s", sinch_batch_builder_error(bld)->message);
            j = json_loadb(body, blen, JSON_ALLOW_NUL, &je); /* a NUL in a cell is \\u0000 */
            FZ_CHECK(j != NULL, "body does not parse: %s", je.text);
            FZ_CHECK(json_array_size(json_object_get(j, "recipient_and_params")) == got,
                     "body entries differ from rows filled");
            json_decref(j);
            sinch_batch_builder_reset(bld);
        }
        if (rc < 0)
            FZ_CHECK(sinch_batch_csv_error(r)->kind != SINCH_BATCH_ERROR_NONE,
                     "fill failed without an error");
        sinch_batch_builder_free(bld);
    }
    check_bad(r);
    sinch_batch_csv_close(r);
    return 0;
}
