/* test_csvfast.c -- the CSV reader's plain-line path (csv.c's fast_lines)
 * against libcsv alone: random files made of the bytes that matter (the
 * delimiter, quotes, CR, LF, spaces, tabs, NUL, a BOM), fed in random
 * pieces, must give the same records -- fields byte for byte, the line each
 * starts on -- the same bad rows and the same end, with the path on and
 * off.  Then the cases a CSV file from a spreadsheet has, one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "csvread.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned next_rand(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 16);
}

typedef struct parsed {
    char text[65536]; /* every record as "line|n|field\x1ffield\x1e" */
    size_t len;
    int rc;           /* of the last feed/finish */
    size_t bad;
    char err[600];
} parsed;

static void put(parsed *o, const char *s, size_t n) {
    if (o->len + n >= sizeof o->text) n = sizeof o->text - o->len - 1;
    memcpy(o->text + o->len, s, n);
    o->len += n;
    o->text[o->len] = '\0';
}

static void drain(sinch_batch_csv *r, parsed *o) {
    const sb_csv_record *rec;
    char head[64];
    size_t i, len;
    while (sb_csv_next_record(r, &rec) == 1) {
        snprintf(head, sizeof head, "%zu|%zu|", rec->line, rec->n);
        put(o, head, strlen(head));
        for (i = 0; i < rec->n; i++) {
            const char *f = sb_csv_field_at(r, rec, i, &len);
            put(o, f, len);
            put(o, "\x1f", 1);
        }
        put(o, "\x1e", 1);
    }
}

/* Parse s[0..n) fed in pieces of at most `piece` bytes (0: all at once). */
static void run(const char *s, size_t n, char delim, size_t piece, int fast, parsed *o) {
    sinch_batch_csv_opts opts;
    sinch_batch_error err;
    sinch_batch_csv *r;
    size_t pos = 0;
    memset(o, 0, sizeof *o);
    sinch_batch_csv_opts_init(&opts);
    opts.delimiter = delim;
    r = sinch_batch_csv_new(&opts, &err);
    CHECK(r != NULL);
    if (r == NULL) return;
    sb_csv_set_fast(r, fast);
    while (pos < n) {
        size_t k = piece ? piece : n - pos;
        if (k > n - pos) k = n - pos;
        if ((o->rc = sinch_batch_csv_feed(r, s + pos, k)) != SINCH_BATCH_OK) break;
        pos += k;
        drain(r, o); /* records leave the queue between feeds, as rows do */
    }
    if (o->rc == SINCH_BATCH_OK) o->rc = sinch_batch_csv_finish(r);
    drain(r, o);
    o->bad = sinch_batch_csv_bad_count(r);
    snprintf(o->err, sizeof o->err, "%s", sinch_batch_csv_error(r)->message);
    sinch_batch_csv_close(r);
}

static int same(const char *s, size_t n, char delim, size_t piece) {
    static parsed a, b;
    run(s, n, delim, piece, 1, &a);
    run(s, n, delim, 0, 0, &b);
    if (a.rc == b.rc && a.bad == b.bad && a.len == b.len && memcmp(a.text, b.text, a.len) == 0 &&
        strcmp(a.err, b.err) == 0)
        return 1;
    fprintf(stderr, "differ (delim %d, piece %zu) on %zu bytes:", delim, piece, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", (unsigned char)s[i]);
    fprintf(stderr, "\n  fast:    rc %d bad %zu [%s] %s\n  libcsv:  rc %d bad %zu [%s] %s\n",
            a.rc, a.bad, a.err, a.text, b.rc, b.bad, b.err, b.text);
    return 0;
}

static void test_random_files(void) {
    static const char alphabet[] = "ab1+ \t\t  ,,,;;||\"\"\r\n\n\n\nxyz";
    static const char delims[] = ",;|\t";
    char buf[400];
    int i, failures = 0;
    for (i = 0; i < 40000 && failures < 3; i++) {
        size_t n = next_rand() % sizeof buf, k = 0;
        char delim = delims[next_rand() % 4];
        size_t piece = (next_rand() % 3 == 0) ? 0 : 1 + next_rand() % 40;
        if (next_rand() % 10 == 0 && n >= 3) {
            memcpy(buf, "\xEF\xBB\xBF", 3);
            k = 3;
        }
        for (; k < n; k++) {
            unsigned c = next_rand() % 100;
            buf[k] = c < 2 ? '\0' : c < 4 ? (char)(0x80 + next_rand() % 128)
                                          : alphabet[next_rand() % (sizeof alphabet - 1)];
        }
        if (!same(buf, n, delim, piece)) failures++;
    }
    CHECK(failures == 0);
}

static void test_spreadsheet_cases(void) {
    static const char *const cases[] = {
        "phone,name,code\n+46700000001,Ann,1234\n+46700000002,Bo,5678\n",
        "phone,name,code\r\n+46700000001,Ann,1234\r\n+46700000002,Bo,5678\r\n",
        "phone,name\n+46700000001,\"Ann, the first\"\n+46700000002,Bo\n",
        "phone,name\n+46700000001,\"two\nlines\"\n+46700000002,Bo\n",
        "phone,name\n\n\n  \t \n+46700000001 ,  Ann  \n,\n  ,  \n",
        "phone,name\r\r\n+46700000001,Ann\rnext,row\n",
        "phone,name\n+46700000001,\"open quote\n+46700000002,Bo\n",
        "phone,name\n+46700000001,Ann",
        "\xEF\xBB\xBFphone,name\n+46700000001,Ann\n",
        "phone,name\n+46700000001,a\"b\n+46700000002,Bo\n",
    };
    size_t i, piece;
    for (i = 0; i < sizeof cases / sizeof *cases; i++)
        for (piece = 0; piece < 12; piece++) CHECK(same(cases[i], strlen(cases[i]), ',', piece));
}

/* A line longer than the plain path takes goes to libcsv: same fields. */
static void test_long_lines(void) {
    static char buf[3 * SB_CSV_FAST_LINE];
    size_t n;
    memset(buf, 'x', sizeof buf);
    memcpy(buf, "a,b\n", 4);
    buf[SB_CSV_FAST_LINE + 10] = ',';
    buf[sizeof buf - 1] = '\n';
    n = sizeof buf;
    CHECK(same(buf, n, ',', 0));
    CHECK(same(buf, n, ',', 1000));
}

int main(void) {
    RUN(test_random_files);
    RUN(test_spreadsheet_cases);
    RUN(test_long_lines);
    CHECK_DONE();
}
