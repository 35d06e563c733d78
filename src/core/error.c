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

/* ------------------------------------------------------------ secrets */

static const char MARK[] = "[redacted]";

/* The spellings of one secret a server may echo: as it is, JSON-escaped
 * ("a\/b"), URL-encoded (upper- and lower-case hex).  Appended to sp as
 * NUL-terminated strings; returns how many, or -1 on ENOMEM. */
static int spellings(sb_buf *sp, const char *secret) {
    static const char hexu[] = "0123456789ABCDEF", hexl[] = "0123456789abcdef";
    size_t i;
    int n = 1, pass;
    const unsigned char *p = (const unsigned char *)secret;
    if (sb_buf_append(sp, secret, strlen(secret) + 1) != 0) return -1;
    /* JSON */
    {
        size_t from = sp->len;
        int differs = 0;
        for (i = 0; p[i]; i++) {
            char esc[8];
            if (p[i] == '"' || p[i] == '\\' || p[i] == '/') {
                esc[0] = '\\';
                esc[1] = (char)p[i];
                esc[2] = '\0';
            } else if (p[i] < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", p[i]);
            } else {
                esc[0] = (char)p[i];
                esc[1] = '\0';
            }
            if (esc[1]) differs = 1;
            if (sb_buf_append(sp, esc, strlen(esc)) != 0) return -1;
        }
        if (sb_buf_putc(sp, '\0') != 0) return -1;
        if (differs) n++;
        else sp->len = from;
    }
    /* URL, both cases of hex */
    for (pass = 0; pass < 2; pass++) {
        const char *hex = pass ? hexl : hexu;
        size_t from = sp->len;
        int differs = 0;
        for (i = 0; p[i]; i++) {
            unsigned c = p[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                if (sb_buf_putc(sp, (char)c) != 0) return -1;
            } else {
                char enc[3];
                enc[0] = '%';
                enc[1] = hex[c >> 4];
                enc[2] = hex[c & 15];
                /* the lower-case spelling is another one only with a-f */
                if (pass == 0 || enc[1] != hexu[c >> 4] || enc[2] != hexu[c & 15]) differs = 1;
                if (sb_buf_append(sp, enc, 3) != 0) return -1;
            }
        }
        if (sb_buf_putc(sp, '\0') != 0) return -1;
        if (differs) n++;
        else sp->len = from;
    }
    return n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* How many bytes of s from i spell secret in JSON, each byte as it is or
 * escaped any way JSON allows ("\"", "\\", "\/", "\n" and the like, or
 * "\u0026" in either case of hex: encoders differ on what they escape, so
 * no fixed list of spellings covers a secret of several such bytes); 0 when
 * they do not.  Non-ASCII bytes match as they are. */
static size_t json_spelled(const char *s, size_t len, size_t i, const char *secret) {
    static const char shorts[] = "\bb\ff\nn\rr\tt";
    const unsigned char *p = (const unsigned char *)secret;
    size_t k = i;
    for (; *p; p++) {
        unsigned c = *p;
        const char *sh;
        if (k < len && s[k] != '\\' && (unsigned char)s[k] == c) {
            k++;
            continue;
        }
        if (k + 1 >= len || s[k] != '\\') return 0;
        if ((c == '"' || c == '\\' || c == '/') && (unsigned char)s[k + 1] == c) {
            k += 2;
            continue;
        }
        for (sh = shorts; *sh; sh += 2)
            if ((unsigned char)sh[0] == c && s[k + 1] == sh[1]) break;
        if (*sh) {
            k += 2;
            continue;
        }
        if (c < 0x80 && s[k + 1] == 'u' && k + 5 < len) {
            int a = hexval(s[k + 2]), b = hexval(s[k + 3]), d = hexval(s[k + 4]),
                e = hexval(s[k + 5]);
            if (a >= 0 && b >= 0 && d >= 0 && e >= 0 &&
                (unsigned)((a << 12) | (b << 8) | (d << 4) | e) == c) {
                k += 6;
                continue;
            }
        }
        return 0;
    }
    return k - i;
}

int sb_redact(sb_buf *out, const char *s, size_t len, const sb_secrets *sec) {
    const char *word[SB_MAX_SECRETS * 4];
    size_t wlen[SB_MAX_SECRETS * 4], nw = 0, i, j, from = 0, off;
    sb_buf sp;
    int found = 0, rc = 0;
    if (sec == NULL || sec->n == 0 || len == 0) return 0;
    sb_buf_init(&sp);
    for (j = 0; j < sec->n && j < SB_MAX_SECRETS; j++) {
        int k;
        if (sec->s[j] == NULL || sec->s[j][0] == '\0') continue;
        if ((k = spellings(&sp, sec->s[j])) < 0) goto oom;
        nw += (size_t)k;
    }
    /* sp may have moved while growing: find the words only now */
    for (i = 0, off = 0; i < nw; i++) {
        word[i] = sp.data + off;
        wlen[i] = strlen(word[i]);
        off += wlen[i] + 1;
    }
    for (i = 0; i < len; i++) {
        size_t best = 0;
        for (j = 0; j < nw; j++)
            if (wlen[j] > best && s[i] == word[j][0] && len - i >= wlen[j] &&
                memcmp(s + i, word[j], wlen[j]) == 0)
                best = wlen[j];
        for (j = 0; j < sec->n && j < SB_MAX_SECRETS; j++) {
            size_t m;
            if (sec->s[j] == NULL || sec->s[j][0] == '\0') continue;
            if ((m = json_spelled(s, len, i, sec->s[j])) > best) best = m;
        }
        if (best == 0) continue;
        if (!found) sb_buf_clear(out);
        found = 1;
        if (sb_buf_append(out, s + from, i - from) != 0 ||
            sb_buf_append(out, MARK, sizeof MARK - 1) != 0)
            goto oom;
        i += best - 1;
        from = i + 1;
    }
    if (found && sb_buf_append(out, s + from, len - from) != 0) goto oom;
    rc = found;
    sb_buf_free(&sp);
    return rc;
oom:
    sb_buf_free(&sp);
    return SINCH_BATCH_ENOMEM;
}

void sb_clean(char *out, size_t outsz, const char *s, size_t n, const sb_secrets *sec) {
    sb_buf tmp;
    int rc;
    if (outsz == 0) return;
    sb_buf_init(&tmp);
    rc = sb_redact(&tmp, s, n, sec);
    if (rc < 0)
        snprintf(out, outsz, "(unreadable: out of memory)");
    else if (rc > 0)
        sb_sanitize(out, outsz, tmp.data, tmp.len);
    else
        sb_sanitize(out, outsz, s, n);
    sb_buf_free(&tmp);
}

void sb_error_redact(sinch_batch_error *e, const sb_secrets *sec) {
    sb_buf tmp;
    int rc;
    if (e == NULL) return;
    sb_buf_init(&tmp);
    rc = sb_redact(&tmp, e->message, strlen(e->message), sec);
    if (rc < 0)
        snprintf(e->message, sizeof e->message, "(message withheld: out of memory)");
    else if (rc > 0)
        snprintf(e->message, sizeof e->message, "%s", tmp.data);
    sb_buf_clear(&tmp);
    rc = sb_redact(&tmp, e->api_status, strlen(e->api_status), sec);
    if (rc != 0) snprintf(e->api_status, sizeof e->api_status, "%s", rc > 0 ? MARK : "");
    sb_buf_free(&tmp);
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
