/* util.c -- clocks, ids, time formats and logging for sinch-batch-mock. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"

int64_t mock_real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t x;
    pthread_mutex_lock(&rng_lock);
    if (rng_state == 0) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (read(fd, &rng_state, sizeof rng_state) != (ssize_t)sizeof rng_state)
                rng_state = 0;
            close(fd);
        }
        rng_state ^= (uint64_t)mock_real_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
        if (rng_state == 0) rng_state = 0x2545F4914F6CDD1DULL;
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    x = rng_state * 0x2545F4914F6CDD1DULL;
    pthread_mutex_unlock(&rng_lock);
    return x;
}

/* Crockford base32, as ULIDs use: 10 chars of milliseconds, 16 random. */
void mock_ulid(char out[27], int64_t ms) {
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t t = (uint64_t)ms, r1 = rng_next(), r2 = rng_next();
    int i;
    for (i = 9; i >= 0; i--) {
        out[i] = alphabet[t & 31];
        t >>= 5;
    }
    for (i = 10; i < 26; i++) {
        uint64_t *r = i < 18 ? &r1 : &r2;
        out[i] = alphabet[*r & 31];
        *r >>= 5;
    }
    out[26] = '\0';
}

void mock_format_time(char *out, size_t n, int64_t ms, int with_ms) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (with_ms)
        snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms % 1000));
    else
        snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int digits(const char *s, int n) {
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) */
int64_t mock_parse_time(const char *s) {
    struct tm tm;
    int y, mo, d, h, mi, sec, frac_ms = 0, off = 0, scale = 100;
    const char *p;
    time_t t;
    if (strlen(s) < 20) return -1;
    y = digits(s, 4); mo = digits(s + 5, 2); d = digits(s + 8, 2);
    h = digits(s + 11, 2); mi = digits(s + 14, 2); sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60 || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2), om = p[3] == ':' ? digits(p + 4, 2) : -1;
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return -1;
        off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d;
    tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = sec;
    t = timegm(&tm);
    return ((int64_t)t - (int64_t)off * 60) * 1000 + frac_ms;
}

/* ------------------------------------------------ jansson's allocator
 *
 * A 1000-recipient send body is a tree of some 30,000 small jansson
 * allocations that lives for one request.  Such a tree is parsed into a
 * per-thread scratch arena (mock_loadb_scratch) and dropped all at once
 * (mock_scratch_release) instead of being malloc'd and freed node by node.
 * Every block jansson gets carries a 16-byte header saying where it came
 * from, so the one free function serves both kinds, on any thread. */

#define HDR 16
#define SCRATCH_MIN (1024 * 1024)
#define SCRATCH_KEEP (16 * 1024 * 1024) /* more than this is not kept */

typedef struct scratch_block {
    struct scratch_block *next;
    size_t used, cap;
    size_t pad; /* keeps data 16-byte aligned */
    unsigned char data[];
} scratch_block;

static __thread scratch_block *scratch;
static __thread int scratch_on;
static pthread_key_t scratch_key;

static void scratch_free_chain(void *p) {
    scratch_block *b = p, *next;
    for (; b; b = next) {
        next = b->next;
        free(b);
    }
}

static void *json_alloc(size_t n) {
    unsigned char *p;
    size_t need = (n + HDR + 15) & ~(size_t)15;
    if (scratch_on) {
        if (!scratch || scratch->cap - scratch->used < need) {
            size_t cap = need > SCRATCH_MIN ? need : SCRATCH_MIN;
            scratch_block *b = malloc(sizeof *b + cap);
            if (!b) return NULL;
            b->next = scratch;
            b->used = 0;
            b->cap = cap;
            scratch = b;
            pthread_setspecific(scratch_key, scratch);
        }
        p = scratch->data + scratch->used;
        scratch->used += need;
        p[0] = 1;
    } else {
        if (!(p = malloc(n + HDR))) return NULL;
        p[0] = 0;
    }
    return p + HDR;
}

static void json_release(void *ptr) {
    unsigned char *p = ptr;
    if (p && p[-HDR] == 0) free(p - HDR);
}

void mock_json_init(void) {
    pthread_key_create(&scratch_key, scratch_free_chain);
    json_set_alloc_funcs(json_alloc, json_release);
}

json_t *mock_loadb_scratch(const char *buf, size_t len, size_t flags, json_error_t *err) {
    json_t *v;
    scratch_on = 1;
    v = json_loadb(buf, len, flags, err);
    scratch_on = 0;
    return v;
}

void mock_scratch_release(void) {
    scratch_block *b = scratch;
    size_t total = 0;
    if (!b) return;
    if (!b->next) { /* the usual case: one block, kept for the next body */
        b->used = 0;
        return;
    }
    for (; b; b = b->next) total += b->cap;
    scratch_free_chain(scratch);
    scratch = NULL;
    /* next time one block holds it all */
    if (total <= SCRATCH_KEEP && (scratch = malloc(sizeof *scratch + total)) != NULL) {
        scratch->next = NULL;
        scratch->used = 0;
        scratch->cap = total;
    }
    pthread_setspecific(scratch_key, scratch);
}

/* json_dumps would hand back memory from json_alloc; this is plain malloc. */
typedef struct dump_buf {
    char *p;
    size_t len, cap;
} dump_buf;

static int dump_cb(const char *s, size_t n, void *ud) {
    dump_buf *d = ud;
    if (d->len + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        char *np;
        while (cap < d->len + n + 1) cap *= 2;
        if (!(np = realloc(d->p, cap))) return -1;
        d->p = np;
        d->cap = cap;
    }
    memcpy(d->p + d->len, s, n);
    d->len += n;
    d->p[d->len] = '\0';
    return 0;
}

char *mock_dumps(const json_t *v) {
    dump_buf d = {NULL, 0, 0};
    if (json_dump_callback(v, dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY) != 0 || !d.p) {
        free(d.p);
        return NULL;
    }
    return d.p;
}

void mock_log(const char *fmt, ...) {
    va_list ap;
    if (mock_cfg.quiet) return;
    va_start(ap, fmt);
    fputs("sinch-batch-mock: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
