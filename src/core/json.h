/* json.h -- the streaming JSON writer (internal to the core).
 *
 * Writes JSON text straight into an sb_buf: no tree, no intermediate copy.
 * Strings are escaped through a 256-entry class table with a fast path for
 * runs of plain ASCII; bytes >= 0x80 are copied as they are once the UTF-8
 * sequence they start has been checked.  The reader side (responses) lives
 * in jsonread.c and uses jansson.
 *
 * Every writer returns SB_JSON_OK, or a negative SB_JSON_E* code; on error
 * the buffer keeps its previous length (nothing half-written stays behind).
 */
#ifndef SINCH_BATCH_JSON_H
#define SINCH_BATCH_JSON_H

#include <stddef.h>
#include <string.h>

#include "buf.h"

#define SB_JSON_OK 0
#define SB_JSON_ENOMEM (-1)  /* the buffer could not grow */
#define SB_JSON_EUTF8 (-2)   /* the string is not valid UTF-8 */
#define SB_JSON_ENUMBER (-3) /* NaN or infinity: no JSON spelling */

/* Append s[0..n): inline when the room is there (the hot path of the
 * builder: short literals), sb_buf_append otherwise.  0 or -1 (ENOMEM). */
static inline int sb_json_put(sb_buf *b, const char *s, size_t n) {
    if (b->cap - b->len > n) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return sb_buf_append(b, s, n);
}

/* The offset of the first byte of s[0..n) that is not part of a valid UTF-8
 * sequence (overlong forms, surrogates and code points above U+10FFFF are
 * invalid), or n when the whole string is valid. */
size_t sb_json_utf8_check(const char *s, size_t n);

/* s[0..n) as a quoted JSON string.  On SB_JSON_EUTF8, *bad (when not NULL)
 * is the offset of the offending byte. */
int sb_json_str(sb_buf *b, const char *s, size_t n, size_t *bad);

/* The most bytes sb_json_str_at() writes for n input bytes (every byte
 * escaped as \u00XX, and the quotes); for n <= SB_JSON_AT_MAX it cannot
 * overflow. */
#define SB_JSON_AT_MAX ((size_t)1 << 24)
#define SB_JSON_STR_ROOM(n) (6 * (n) + 2)

/* s[0..n) as a quoted JSON string written at o, which has room for
 * SB_JSON_STR_ROOM(n) bytes (no NUL is written): the writer for callers that
 * reserved the room for a whole fragment at once.  Returns the end of the
 * output, or NULL on invalid UTF-8 (*bad, when not NULL, is the offset of the
 * offending byte). */
char *sb_json_str_at(char *o, const char *s, size_t n, size_t *bad);

/* "s": -- an object key and its colon. */
int sb_json_key(sb_buf *b, const char *s, size_t n, size_t *bad);

/* An integer, and a finite double (shortest %.15g/%.17g form that reads
 * back to the same value). */
int sb_json_int(sb_buf *b, long long v);
int sb_json_num(sb_buf *b, double v);

/* s[0..n) copied as it is: a fragment the caller vouches for. */
int sb_json_raw(sb_buf *b, const char *s, size_t n);

/* 1 when s[0..n), ignoring surrounding white space, starts with '{' and ends
 * with '}' (a cheap shape check for fragments spliced in raw), else 0. */
int sb_json_is_object(const char *s, size_t n);
/* 1 when s[0..n) holds anything but JSON white space. */
int sb_json_is_value(const char *s, size_t n);

#endif
