/* fuzz_csvfast.c -- the CSV reader's plain-line path against libcsv alone.
 *
 * The input's first bytes pick the delimiter and the size of the pieces the
 * bytes are fed in; the rest is the file.  It is read twice, with the
 * plain-line path (csv.c's fast_lines) on and off, and both must give the
 * same records (every field byte for byte, the line each starts on), the
 * same bad rows, and the same end or error.
 */
#include "fuzz.h"

#include "csvread.h"

typedef struct out {
    char *text;
    size_t len, cap;
    int rc;
    size_t bad;
    char err[600];
} out;

static void put(out *o, const void *s, size_t n) {
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->text = realloc(o->text, o->cap);
        FZ_CHECK(o->text != NULL, "out of memory");
    }
    memcpy(o->text + o->len, s, n);
    o->len += n;
}

static void drain(sinch_batch_csv *r, out *o) {
    const sb_csv_record *rec;
    size_t i, len;
    while (sb_csv_next_record(r, &rec) == 1) {
        put(o, &rec->line, sizeof rec->line);
        put(o, &rec->n, sizeof rec->n);
        for (i = 0; i < rec->n; i++) {
            const char *f = sb_csv_field_at(r, rec, i, &len);
            put(o, &len, sizeof len);
            put(o, f, len);
        }
    }
}

static void run(const char *s, size_t n, char delim, size_t piece, int fast, out *o) {
    sinch_batch_csv_opts opts;
    sinch_batch_error err;
    sinch_batch_csv *r;
    size_t pos = 0;
    sinch_batch_csv_opts_init(&opts);
    opts.delimiter = delim;
    r = sinch_batch_csv_new(&opts, &err);
    FZ_CHECK(r != NULL, "new: %s", err.message);
    sb_csv_set_fast(r, fast);
    o->rc = SINCH_BATCH_OK;
    while (pos < n) {
        size_t k = piece && piece < n - pos ? piece : n - pos;
        if ((o->rc = sinch_batch_csv_feed(r, s + pos, k)) != SINCH_BATCH_OK) break;
        pos += k;
        drain(r, o);
    }
    if (o->rc == SINCH_BATCH_OK) o->rc = sinch_batch_csv_finish(r);
    drain(r, o);
    o->bad = sinch_batch_csv_bad_count(r);
    snprintf(o->err, sizeof o->err, "%s", sinch_batch_csv_error(r)->message);
    sinch_batch_csv_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char delims[] = ",;|\t";
    fz f = {data, size};
    char delim = delims[fz_u8(&f) % 4];
    size_t piece = fz_u8(&f) % 80, n;
    const char *s = fz_rest(&f, &n);
    out a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    run(s, n, delim, piece, 1, &a);
    run(s, n, delim, piece, 0, &b);
    FZ_CHECK(a.rc == b.rc && a.bad == b.bad && strcmp(a.err, b.err) == 0,
             "rc %d/%d bad %zu/%zu err [%s]/[%s]", a.rc, b.rc, a.bad, b.bad, a.err, b.err);
    FZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.text, b.text, a.len) == 0),
             "records differ (%zu / %zu bytes)", a.len, b.len);
    free(a.text);
    free(b.text);
    return 0;
}
