/* json.c -- the streaming JSON writer. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a byte needs inside a JSON string. */
enum { C_PLAIN = 0, C_SHORT, C_HEX, C_UTF8 };

static const unsigned char cls[256] = {
    /* control characters: the five with a short escape, \u00XX for the rest
     * (ranges kept apart: no initializer overrides another) */
    [0x00 ... 0x07] = C_HEX, ['\b'] = C_SHORT, ['\t'] = C_SHORT, ['\n'] = C_SHORT,
    [0x0b] = C_HEX,          ['\f'] = C_SHORT, ['\r'] = C_SHORT, [0x0e ... 0x1f] = C_HEX,
    ['"'] = C_SHORT,         ['\\'] = C_SHORT,
    [0x80 ... 0xff] = C_UTF8,
};

/* The letter after the backslash for C_SHORT bytes. */
static const char short_esc[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f',
    ['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\',
};

static const char hexdig[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at p (2..4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0xc2) return 0; /* a stray continuation byte, or an overlong lead */
    if (c < 0xe0) return (avail >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c < 0xf0) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
        if (c == 0xed && p[1] > 0x9f) return 0; /* UTF-16 surrogates */
        return 3;
    }
    if (c < 0xf5) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
            (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xf4 && p[1] > 0x8f) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

size_t sb_json_utf8_check(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k;
        if (*p < 0x80) {
            p++;
            continue;
        }
        k = utf8_seq(p, end);
        if (k == 0) return (size_t)(p - (const unsigned char *)s);
        p += k;
    }
    return n;
}

/* 1 when any of the 8 bytes at p needs more than a copy: a control
 * character, '"', '\\' or a byte >= 0x80 (the classic "has a byte less
 * than / equal to" word tricks; exact as a yes/no answer). */
static int special8(const unsigned char *p) {
    const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
    uint64_t v, q, bs;
    memcpy(&v, p, 8);
    q = v ^ (lo * '"');
    bs = v ^ (lo * '\\');
    return (((v - lo * 0x20) & ~v) | ((q - lo) & ~q) | ((bs - lo) & ~bs) | v) & hi ? 1 : 0;
}

/* special8() for 4 bytes. */
static int special4(const unsigned char *p) {
    const uint32_t lo = 0x01010101U, hi = 0x80808080U;
    uint32_t v, q, bs;
    memcpy(&v, p, 4);
    q = v ^ (lo * '"');
    bs = v ^ (lo * '\\');
    return (((v - lo * 0x20) & ~v) | ((q - lo) & ~q) | ((bs - lo) & ~bs) | v) & hi ? 1 : 0;
}

static int fail(sb_buf *b, size_t len, int code) {
    b->len = len;
    if (b->data) b->data[len] = '\0';
    return code;
}

/* The escaping loop shared by both string writers: writes the JSON text of
 * *pp..end (no quotes) at o and returns the new end of the output.  It stops
 * early with *pp < end when the next escape would pass lim (lim == NULL: the
 * caller guarantees 6 output bytes per input byte), and returns NULL with *pp
 * at the offending byte on invalid UTF-8. */
static inline __attribute__((always_inline)) char *escape(char *o, const unsigned char **pp, const unsigned char *end,
                           const char *lim) {
    const unsigned char *p = *pp, *begin = p;
    for (;;) {
        const unsigned char *stop;
        /* eight plain ASCII bytes at a time ... */
        while (end - p >= 8 && !special8(p)) {
            memcpy(o, p, 8);
            o += 8;
            p += 8;
        }
        /* ... a clean last word covers the (shorter) rest of the string ... */
        if (p < end && end - p < 8 && end - begin >= 8 && !special8(end - 8)) {
            memcpy(o, p, (size_t)(end - p));
            o += end - p;
            p = end;
        }
        /* ... else byte by byte up to the next special byte in that word */
        stop = end - p >= 8 ? p + 8 : end;
        while (p < stop && cls[*p] == C_PLAIN) *o++ = (char)*p++;
        if (p == end) break;
        if (p == stop) continue;
        if (cls[*p] == C_UTF8) {
            size_t k = utf8_seq(p, end);
            if (k == 0) {
                *pp = p;
                return NULL;
            }
            memcpy(o, p, k); /* one output byte per input byte: room is there */
            o += k;
            p += k;
            continue;
        }
        /* An escape: up to 6 bytes for this one, then the rest 1:1, the
         * closing quote and the NUL. */
        if (lim != NULL && (size_t)(lim - o) < (size_t)(end - p) + 7) break;
        *o++ = '\\';
        if (cls[*p] == C_SHORT) {
            *o++ = short_esc[*p];
        } else {
            o[0] = 'u';
            o[1] = '0';
            o[2] = '0';
            o[3] = hexdig[*p >> 4];
            o[4] = hexdig[*p & 15];
            o += 5;
        }
        p++;
    }
    *pp = p;
    return o;
}

char *sb_json_str_at(char *o, const char *s, size_t n, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    *o++ = '"';
    /* 4 to 7 plain bytes (names, codes): two overlapping words */
    if (n >= 4 && n < 8 && !special4(p) && !special4(p + n - 4)) {
        memcpy(o, p, 4);
        memcpy(o + n - 4, p + n - 4, 4);
        o[n] = '"';
        return o + n + 1;
    }
    o = escape(o, &p, p + n, NULL);
    if (o == NULL) {
        if (bad) *bad = (size_t)(p - (const unsigned char *)s);
        return NULL;
    }
    *o++ = '"';
    return o;
}

int sb_json_str(sb_buf *b, const char *s, size_t n, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t start = b->len;
    char *o;
    /* The common case (no escapes) needs exactly n + 2 bytes; escapes grow
     * the buffer as they come. */
    if (b->cap - b->len < n + 3 && (n > SIZE_MAX / 2 || sb_buf_grow(b, n + 2) != 0))
        return SB_JSON_ENOMEM;
    o = b->data + b->len;
    *o++ = '"';
    for (;;) {
        o = escape(o, &p, end, b->data + b->cap);
        if (o == NULL) {
            if (bad) *bad = (size_t)(p - (const unsigned char *)s);
            return fail(b, start, SB_JSON_EUTF8);
        }
        if (p == end) break;
        /* out of room for an escape: make room for the worst case of this
         * one and the rest 1:1 */
        b->len = (size_t)(o - b->data);
        if (sb_buf_grow(b, (size_t)(end - p) + 6) != 0) return fail(b, start, SB_JSON_ENOMEM);
        o = b->data + b->len;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return SB_JSON_OK;
}

int sb_json_key(sb_buf *b, const char *s, size_t n, size_t *bad) {
    int rc = sb_json_str(b, s, n, bad);
    if (rc != SB_JSON_OK) return rc;
    return sb_json_put(b, ":", 1) == 0 ? SB_JSON_OK : SB_JSON_ENOMEM;
}

int sb_json_int(sb_buf *b, long long v) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return sb_buf_append(b, p, (size_t)(tmp + sizeof tmp - p)) == 0 ? SB_JSON_OK
                                                                    : SB_JSON_ENOMEM;
}

int sb_json_num(sb_buf *b, double v) {
    char tmp[32];
    int n;
    if (!isfinite(v)) return SB_JSON_ENUMBER;
    n = snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
    return sb_buf_append(b, tmp, (size_t)n) == 0 ? SB_JSON_OK : SB_JSON_ENOMEM;
}

int sb_json_raw(sb_buf *b, const char *s, size_t n) {
    return sb_json_put(b, s, n) == 0 ? SB_JSON_OK : SB_JSON_ENOMEM;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int sb_json_is_object(const char *s, size_t n) {
    size_t i = 0;
    if (s == NULL) return 0;
    while (i < n && is_ws(s[i])) i++;
    while (n > i && is_ws(s[n - 1])) n--;
    return n - i >= 2 && s[i] == '{' && s[n - 1] == '}';
}

int sb_json_is_value(const char *s, size_t n) {
    size_t i;
    if (s == NULL) return 0;
    for (i = 0; i < n; i++)
        if (!is_ws(s[i])) return 1;
    return 0;
}
