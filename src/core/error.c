/* error.c -- the one error struct: kinds, formatting, redaction. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sinch_batch_error_kind_name(sinch_batch_error_kind kind) {
    switch (kind) {
    case SINCH_BATCH_ERROR_NONE: return "none";
    case SINCH_BATCH_ERROR_NETWORK: return "network";
    case SINCH_BATCH_ERROR_TIMEOUT: return "timeout";
    case SINCH_BATCH_ERROR_TLS: return "tls";
    case SINCH_BATCH_ERROR_HTTP: return "http";
    case SINCH_BATCH_ERROR_AUTH: return "auth";
    case SINCH_BATCH_ERROR_INVALID: return "invalid";
    case SINCH_BATCH_ERROR_JSON: return "json";
    case SINCH_BATCH_ERROR_INTERNAL: return "internal";
    }
    return "internal";
}

void sb_error_clear(sinch_batch_error *e) {
    if (e == NULL) return;
    memset(e, 0, sizeof *e);
}

void sb_error_vset(sinch_batch_error *e, sinch_batch_error_kind kind, const char *fmt,
                   va_list ap) {
    if (e == NULL) return;
    sb_error_clear(e);
    e->kind = kind;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

void sb_error_set(sinch_batch_error *e, sinch_batch_error_kind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_error_vset(e, kind, fmt, ap);
    va_end(ap);
}

int sb_error_nomem(sinch_batch_error *e, const char *what) {
    sb_error_set(e, SINCH_BATCH_ERROR_INTERNAL, "%s: out of memory", what);
    return SINCH_BATCH_ENOMEM;
}

void sb_error_redact(sinch_batch_error *e, const char *secret) {
    static const char mark[] = "[redacted]";
    size_t slen, mlen = sizeof mark - 1;
    char *from, *p;
    if (e == NULL || secret == NULL || (slen = strlen(secret)) == 0) return;
    from = e->message;
    while ((p = strstr(from, secret)) != NULL) {
        size_t tail = strlen(p + slen);
        size_t room = sizeof e->message - (size_t)(p - e->message) - 1;
        size_t keep;
        if (mlen >= room) { /* only part of the mark fits: end there */
            memcpy(p, mark, room);
            p[room] = '\0';
            return;
        }
        keep = tail < room - mlen ? tail : room - mlen;
        memmove(p + mlen, p + slen, keep);
        memcpy(p, mark, mlen);
        p[mlen + keep] = '\0';
        from = p + mlen; /* the mark itself may contain the secret */
    }
}

void sb_sanitize(char *out, size_t outsz, const char *s, size_t n) {
    size_t i;
    if (outsz == 0) return;
    if (n > outsz - 1) n = outsz - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

char *sb_memdup(const char *s, size_t n) {
    char *p;
    if (s == NULL) return NULL;
    p = malloc(n + 1);
    if (p == NULL) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sb_strdup(const char *s) {
    return s ? sb_memdup(s, strlen(s)) : NULL;
}

void sb_free_secret(char *s) {
    if (s == NULL) return;
    {
        volatile char *v = s;
        while (*v) *v++ = '\0';
    }
    free(s);
}
