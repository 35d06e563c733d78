/* http.c -- what the call machine needs of HTTP: header lookup
 * (case-insensitive), the request URL with its ids percent-encoded, and
 * Retry-After (seconds or an HTTP date). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"

/* ------------------------------------------------------------ helpers */

static int ci_equal(const char *a, const char *b) {
    while (*a && *b) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++;
        b++;
    }
    return *a == *b;
}

int sb_ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i;
        for (i = 0; i < n && hay[i]; i++)
            if (tolower((unsigned char)hay[i]) != tolower((unsigned char)needle[i])) break;
        if (i == n) return 1;
    }
    return 0;
}

const char *sb_find_header(const sinch_batch_response *r, const char *name) {
    size_t i;
    for (i = 0; i < r->n_headers; i++)
        if (r->headers[i].name && r->headers[i].value && ci_equal(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}

/* Append "; note" to e->message, shortening the message before it when
 * both do not fit (the note matters more). */
void sb_append_note(sinch_batch_error *e, const char *note) {
    size_t cap = sizeof e->message - 1, nl = strlen(note) + 2, ml = strlen(e->message);
    if (nl > cap) nl = cap;
    if (ml > cap - nl) ml = cap - nl;
    memcpy(e->message + ml, "; ", nl < 2 ? nl : 2);
    if (nl > 2) memcpy(e->message + ml + 2, note, nl - 2);
    e->message[ml + nl] = '\0';
}

/* Percent-encode everything but RFC 3986 unreserved characters. */
static int url_escape(sb_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            rc = sb_buf_putc(b, (char)ch);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = sb_buf_append(b, esc, 3);
        }
        if (rc != 0) return -1;
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Retry-After as a wait in ms from now_ms: delta seconds or an IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT").  -1 when absent or unreadable. */
long sb_retry_after_ms(const char *v, int64_t now_ms) {
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wday[4], mon[4], zone[4];
    int d, y, hh, mm, ss, m, n = 0;
    if (v == NULL) return -1;
    while (*v == ' ' || *v == '\t') v++;
    if (isdigit((unsigned char)*v)) {
        long long secs = 0;
        const char *p = v;
        while (isdigit((unsigned char)*p)) {
            if (secs < 100000000LL) secs = secs * 10 + (*p - '0');
            p++;
        }
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '\0') return -1;
        if (secs > 100000000LL) secs = 100000000LL;
        return (long)(secs * 1000);
    }
    if (sscanf(v, "%3s, %d %3s %d %d:%d:%d %3s%n", wday, &d, mon, &y, &hh, &mm, &ss, zone, &n) !=
            8 ||
        strcmp(zone, "GMT") != 0)
        return -1;
    for (m = 0; m < 12; m++)
        if (strcmp(mon, months[m]) == 0) break;
    if (m == 12 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh > 23 || mm > 59 || ss > 60 ||
        hh < 0 || mm < 0 || ss < 0)
        return -1;
    {
        int64_t at = (days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
        int64_t wait = at - now_ms;
        if (wait < 0) wait = 0;
        if (wait > 100000000000LL) wait = 100000000000LL;
        return (long)wait;
    }
}

/* ------------------------------------------------------------- create */

int sb_build_url(sinch_batch_call *call, const sinch_batch_request *req,
                     sinch_batch_error *err) {
    sb_buf b;
    int rc = 0;
    sb_buf_init(&b);
    rc |= sb_buf_puts(&b, call->c->api_prefix);
    switch (req->op) {
    case SINCH_BATCH_OP_SEND:
    case SINCH_BATCH_OP_CANCEL: rc |= sb_buf_puts(&b, "/messages"); break;
    case SINCH_BATCH_OP_STATUS:
        rc |= sb_buf_puts(&b, "/messages/");
        rc |= url_escape(&b, req->batch_id);
        break;
    case SINCH_BATCH_OP_FIND:
        rc |= sb_buf_puts(&b, "/messages?metadataKey=");
        rc |= url_escape(&b, req->metadata_key);
        rc |= sb_buf_puts(&b, "&metadataValue=");
        rc |= url_escape(&b, req->metadata_value);
        break;
    case SINCH_BATCH_OP_CREATE_CONTACTS:
    case SINCH_BATCH_OP_DELETE_CONTACTS: rc |= sb_buf_puts(&b, "/contacts"); break;
    case SINCH_BATCH_OP_INSERT_CONSENTS: rc |= sb_buf_puts(&b, "/consents"); break;
    }
    if (rc != 0) {
        sb_buf_free(&b);
        return sb_error_nomem(err, "call");
    }
    call->url = sb_buf_steal(&b, NULL);
    return call->url ? SINCH_BATCH_OK : sb_error_nomem(err, "call");
}

