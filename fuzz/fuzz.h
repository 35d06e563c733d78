/* fuzz.h -- what the harnesses share: a reader that takes decisions and
 * byte strings from the fuzz input (zeros once it runs out), and a check
 * that aborts with a message (libFuzzer then keeps the input). */
#ifndef SINCH_BATCH_FUZZ_H
#define SINCH_BATCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz;

static inline int fz_left(const fz *f) { return f->n > 0; }

static inline unsigned fz_u8(fz *f) {
    if (f->n == 0) return 0;
    f->n--;
    return *f->p++;
}

static inline unsigned fz_u16(fz *f) {
    unsigned a = fz_u8(f);
    return a | (fz_u8(f) << 8);
}

static inline uint32_t fz_u32(fz *f) {
    uint32_t a = fz_u16(f);
    return a | ((uint32_t)fz_u16(f) << 16);
}

/* Up to max bytes (the count is the next byte(s)), pointing into the input. */
static inline const char *fz_bytes(fz *f, size_t max, size_t *len) {
    size_t want = max > 255 ? fz_u16(f) : fz_u8(f);
    const char *s = (const char *)f->p;
    if (max) want %= max + 1;
    if (want > f->n) want = f->n;
    f->p += want;
    f->n -= want;
    *len = want;
    return s;
}

/* The rest of the input. */
static inline const char *fz_rest(fz *f, size_t *len) {
    const char *s = (const char *)f->p;
    *len = f->n;
    f->p += f->n;
    f->n = 0;
    return s;
}

#define FZ_CHECK(cond, ...)                                                          \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* memmem without _GNU_SOURCE games. */
static inline const char *fz_find(const char *hay, size_t hn, const char *needle, size_t nn) {
    size_t i;
    if (nn == 0 || nn > hn) return NULL;
    for (i = 0; i + nn <= hn; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nn) == 0) return hay + i;
    return NULL;
}

#endif
