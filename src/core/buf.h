/* buf.h -- growable byte buffer (internal to the core). */
#ifndef SINCH_BATCH_BUF_H
#define SINCH_BATCH_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct sb_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} sb_buf;

void sb_buf_init(sb_buf *b);
void sb_buf_free(sb_buf *b);
/* Ensure room for n more bytes (plus the NUL). 0 on success, -1 on ENOMEM. */
int sb_buf_grow(sb_buf *b, size_t n);
int sb_buf_append(sb_buf *b, const char *s, size_t n);
int sb_buf_appendf(sb_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Detach the contents (caller frees), leaving b empty. */
char *sb_buf_steal(sb_buf *b, size_t *len);

static inline int sb_buf_putc(sb_buf *b, char c) {
    if (b->len + 2 > b->cap && sb_buf_grow(b, 1) != 0) return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

static inline int sb_buf_puts(sb_buf *b, const char *s) {
    return sb_buf_append(b, s, strlen(s));
}

static inline void sb_buf_clear(sb_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

#endif
