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

char *mock_dumps(const json_t *v) {
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
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
