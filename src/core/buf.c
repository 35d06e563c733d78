/* buf.c -- growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sb_buf_init(sb_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sb_buf_free(sb_buf *b) {
    free(b->data);
    sb_buf_init(b);
}

int sb_buf_grow(sb_buf *b, size_t n) {
    size_t need, cap;
    char *p;
    if (n > (size_t)-1 - b->len - 1) return -1;
    need = b->len + n + 1;
    if (need <= b->cap) return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > (size_t)-1 / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sb_buf_append(sb_buf *b, const char *s, size_t n) {
    if (sb_buf_grow(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sb_buf_appendf(sb_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if (sb_buf_grow(b, (size_t)n) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *sb_buf_steal(sb_buf *b, size_t *len) {
    char *p = b->data;
    if (len) *len = b->len;
    if (p == NULL) {
        p = malloc(1);
        if (p) p[0] = '\0';
    }
    sb_buf_init(b);
    return p;
}
