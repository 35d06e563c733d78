/* fuzz_csv.c -- the CSV reader (the core's byte-feed API).
 *
 * The input's first bytes pick the options (a fixed channel or the channel
 * column, dedupe, the phone check, the delimiter, a parameter subset), how
 * the bytes arrive (pushed with feed() in chunks of 1 to 64 bytes or all at
 * once, or pulled through opts.read, which may fail half-way) and whether
 * rows are read one by one or through fill() into the builder; the rest is
 * the file.  Checked: every good row has a start line after the header and
 * lines never go back, a contact or a non-empty identity with an upper-case
 * channel, a phone identity that passes the central phone rule when the
 * check is on, the header's parameter count; MORE only before finish(), the
 * end only after it; an error stops the reader with a message; bad rows
 * have a line and a reason; bodies from fill() parse (jansson) with one
 * entry per row reported.
 */
#include "fuzz.h"

#include <jansson.h>

#include "sinch_batch.h"

typedef struct source {
    const char *s;
    size_t n, pos, chunk;
    size_t fail_at; /* pull: a read error once this much was read (0 = never) */
} source;

static long pull(void *ctx, char *buf, size_t cap, char *why, size_t whysz) {
    source *src = ctx;
    size_t k = src->n - src->pos;
    if (src->fail_at && src->pos >= src->fail_at) {
        snprintf(why, whysz, "the disk is on fire");
        return -1;
    }
    if (k > src->chunk) k = src->chunk;
    if (k > cap) k = cap;
    memcpy(buf, src->s + src->pos, k);
    src->pos += k;
    return (long)k;
}

static int upper(const char *s) {
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z') return 0;
    return 1;
}

static void check_row(const sinch_batch_csv *r, const sinch_batch_csv_row *row, size_t *last,
                      int phone_check) {
    FZ_CHECK(row->line >= 2 && row->line > *last, "row line %zu after %zu", row->line, *last);
    *last = row->line;
    if (row->contact_id) {
        FZ_CHECK(row->contact_id_len > 0, "empty contact_id");
    } else {
        const sinch_batch_channel *ch;
        /* a NUL in a channel cell is a bad row, so the C string is whole */
        FZ_CHECK(row->channel && row->channel[0] && upper(row->channel), "channel %s",
                 row->channel ? row->channel : "(null)");
        FZ_CHECK(row->identity && row->identity_len > 0, "empty identity");
        ch = sinch_batch_channel_find(NULL, row->channel, strlen(row->channel));
        if (ch && (ch->flags & SINCH_BATCH_CHANNEL_PHONE) && phone_check)
            FZ_CHECK(sinch_batch_phone_ok(row->identity, row->identity_len),
                     "phone identity %.*s passed", (int)row->identity_len, row->identity);
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
        /* (line 1 happens: a header whose quote never closes is a bad row) */
        FZ_CHECK(line >= 1 && reason && reason[0], "bad row %zu: line %zu", i, line);
    }
    FZ_CHECK(sinch_batch_csv_bad_row(r, i, &line, &reason) == SINCH_BATCH_ERR,
             "bad_row past the end");
}

static void check_columns(const sinch_batch_csv *r) {
    size_t i;
    for (i = 0; i < sinch_batch_csv_column_count(r); i++)
        FZ_CHECK(sinch_batch_csv_column_name(r, i) != NULL, "column %zu", i);
    FZ_CHECK(sinch_batch_csv_column_name(r, i) == NULL, "column past the end");
    for (i = 0; i < sinch_batch_csv_param_count(r); i++)
        FZ_CHECK(sinch_batch_csv_param_name(r, i) != NULL, "param %zu", i);
}

/* Push mode: MORE asks for the next chunk, then for finish(). 1 when the
 * reader wants more and got it, 0 when it asked after finish(). */
static int give(sinch_batch_csv *r, source *src, int *finished) {
    int rc;
    if (src->pos < src->n) {
        size_t k = src->n - src->pos < src->chunk ? src->n - src->pos : src->chunk;
        rc = sinch_batch_csv_feed(r, src->s + src->pos, k);
        src->pos += k;
    } else {
        FZ_CHECK(!*finished, "MORE after finish");
        rc = sinch_batch_csv_finish(r);
        *finished = 1;
    }
    if (rc < 0)
        FZ_CHECK(sinch_batch_csv_error(r)->kind != SINCH_BATCH_ERROR_NONE,
                 "feed/finish failed without an error");
    return rc >= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const channels[] = {NULL, "SMS", "messenger", "TELEGRAM"};
    static const char *const some_params[] = {"name", "code", "missing"};
    static const char delims[] = {',', ';', '\t', '|'};
    fz in = {data, size};
    unsigned a = fz_u8(&in), b = fz_u8(&in), c = fz_u8(&in);
    sinch_batch_csv_opts o;
    sinch_batch_error err;
    sinch_batch_csv *r;
    source src;
    int pull_mode = (c >> 6) & 1, finished = 0, rc;

    memset(&src, 0, sizeof src);
    src.s = fz_rest(&in, &src.n);
    src.chunk = (c & 0x80) ? src.n + 1 : 1 + (c & 63);
    if (pull_mode && (b & 4)) src.fail_at = 1 + src.n / 2;

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
    if (pull_mode) {
        o.read = pull;
        o.read_ctx = &src;
    }

    r = sinch_batch_csv_new(&o, &err);
    if (r == NULL) {
        FZ_CHECK(err.kind != SINCH_BATCH_ERROR_NONE && err.message[0], "new failed silently");
        return 0;
    }

    if ((b & 16) == 0) {
        sinch_batch_csv_row row;
        size_t last = 1;
        for (;;) {
            rc = sinch_batch_csv_next(r, &row);
            if (rc == 1) {
                check_row(r, &row, &last, o.check_e164);
            } else if (rc == SINCH_BATCH_CSV_MORE) {
                FZ_CHECK(!pull_mode, "MORE in pull mode");
                if (!give(r, &src, &finished)) break;
            } else {
                break;
            }
        }
    } else {
        static const char msg[] = "{\"text_message\":{\"text\":\"Hi ${name}\"}}";
        size_t max = 1 + (b >> 5), acc = 0, got, rows[8], k, last = 1;
        sinch_batch_builder *bld = sinch_batch_builder_new("APP", msg, sizeof msg - 1, max, &err);
        FZ_CHECK(bld != NULL, "builder_new: %s", err.message);
        for (;;) {
            rc = sinch_batch_csv_fill(r, bld, max - acc, rows, &got);
            if (rc < 0) break;
            for (k = 0; k < got; k++) {
                FZ_CHECK(rows[k] > last, "fill line %zu after %zu", rows[k], last);
                last = rows[k];
            }
            acc += got;
            FZ_CHECK(sinch_batch_builder_count(bld) == acc, "count %zu, filled %zu",
                     sinch_batch_builder_count(bld), acc);
            if (acc == max || (rc == SINCH_BATCH_OK && acc > 0)) {
                size_t blen;
                json_error_t je;
                const char *body = sinch_batch_builder_body(bld, &blen);
                json_t *j;
                FZ_CHECK(body != NULL, "body: %s", sinch_batch_builder_error(bld)->message);
                /* a NUL in a cell is written as \u0000 */
                j = json_loadb(body, blen, JSON_ALLOW_NUL, &je);
                FZ_CHECK(j != NULL, "body does not parse: %s", je.text);
                FZ_CHECK(json_array_size(json_object_get(j, "recipient_and_params")) == acc,
                         "body entries differ from rows filled");
                json_decref(j);
                sinch_batch_builder_reset(bld);
                acc = 0;
            }
            if (rc == SINCH_BATCH_CSV_MORE) {
                FZ_CHECK(!pull_mode, "MORE in pull mode");
                if (!give(r, &src, &finished)) break;
            } else if (got == 0 || rc != SINCH_BATCH_OK) {
                break; /* the end */
            }
        }
        sinch_batch_builder_free(bld);
    }
    if (rc == 0 && !pull_mode) FZ_CHECK(finished, "the end before finish()");
    if (rc < 0) {
        FZ_CHECK(sinch_batch_csv_error(r)->kind != SINCH_BATCH_ERROR_NONE &&
                     sinch_batch_csv_error(r)->message[0],
                 "reading stopped (%d) without an error", rc);
    }
    check_columns(r); /* a refused header leaves no parameter columns */
    check_bad(r);
    sinch_batch_csv_close(r);
    return 0;
}
