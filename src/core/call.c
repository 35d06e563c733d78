/* call.c -- the state machine of one API call (sans I/O).
 *
 *   next(call) -> PERFORM (a token request or the API request)
 *               | WAIT    (backoff, or another call of the client is
 *                          fetching the token)
 *               | DONE
 *   feed(call, response) / feed_error(call, transport error)
 *
 * Rules:
 *   - A token is used while now < its refresh time (expiry minus
 *     refresh_ahead_ms).  Otherwise one call of the client fetches a new one
 *     (it holds the refresh lease for timeout_ms); the others WAIT in steps of
 *     at most 50 ms.
 *   - 429 and 503, and transport failures before anything was sent, are
 *     retried with full-jitter exponential backoff or exactly Retry-After,
 *     within max_attempts API requests and the call's deadline.  GET and
 *     DELETE operations are also retried after 500/502/504 and after
 *     failures once the request was sent.
 *   - POST operations (send, create contacts, insert consents) that ended
 *     ambiguously are never resent: DONE with may_have_been_processed.
 *   - A 401 whose www-authenticate says "expired" drops the token (when it
 *     is still the one this call used) and retries once; that retry does not
 *     count against max_attempts.
 *   - Token requests have their own attempt counter (also max_attempts per
 *     call), and are retried after 429, 5xx and transport failures.
 */
#include "core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_WAIT_MS 50
#define N_HEADERS 5

enum { ST_READY, ST_PERFORM, ST_WAIT, ST_DONE };

struct sinch_batch_call {
    sinch_batch_client *c;
    sinch_batch_op op;
    const char *method;
    char *url;
    char *body;
    size_t body_len;
    int idempotent;        /* GET/DELETE: safe to resend */
    int64_t deadline;      /* ms since the epoch */

    int state;
    int pending_token;     /* the PERFORM in flight is the token request */
    int64_t wait_until;    /* ST_WAIT */
    int attempts;          /* API requests made */
    int token_attempts;    /* token requests made */
    int auth_retried;      /* the one 401-expired retry was used */
    uint64_t used_gen;     /* token generation of the last API request */
    uint64_t fetched_gen;  /* token generation this call fetched itself */
    int had_error;         /* err holds the last failure (for retries) */

    char *auth_value;      /* "Bearer ..." of the PERFORM */
    sinch_batch_header headers[N_HEADERS];
    sinch_batch_action action;

    int status;            /* last HTTP status */
    char *response;        /* last response body */
    size_t response_len;
    sinch_batch_error err;
};

/* ------------------------------------------------------------ helpers */

static int ci_equal(const char *a, const char *b) {
    while (*a && *b) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++;
        b++;
    }
    return *a == *b;
}

static int ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i;
        for (i = 0; i < n && hay[i]; i++)
            if (tolower((unsigned char)hay[i]) != tolower((unsigned char)needle[i])) break;
        if (i == n) return 1;
    }
    return 0;
}

static const char *find_header(const sinch_batch_response *r, const char *name) {
    size_t i;
    for (i = 0; i < r->n_headers; i++)
        if (r->headers[i].name && r->headers[i].value && ci_equal(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}

/* Append "; note" to e->message, shortening the message before it when
 * both do not fit (the note matters more). */
static void append_note(sinch_batch_error *e, const char *note) {
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
static long retry_after_ms(const char *v, int64_t now_ms) {
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

static int build_url(sinch_batch_call *call, const sinch_batch_request *req,
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

static const char *op_name(sinch_batch_op op) {
    switch (op) {
    case SINCH_BATCH_OP_SEND: return "SEND";
    case SINCH_BATCH_OP_CANCEL: return "CANCEL";
    case SINCH_BATCH_OP_STATUS: return "STATUS";
    case SINCH_BATCH_OP_FIND: return "FIND";
    case SINCH_BATCH_OP_CREATE_CONTACTS: return "CREATE_CONTACTS";
    case SINCH_BATCH_OP_DELETE_CONTACTS: return "DELETE_CONTACTS";
    case SINCH_BATCH_OP_INSERT_CONSENTS: return "INSERT_CONSENTS";
    }
    return "?";
}

sinch_batch_call *sinch_batch_call_new(sinch_batch_client *c, const sinch_batch_request *req,
                                       int64_t now_ms, sinch_batch_error *err) {
    sinch_batch_call *call;
    int needs_body = 0;

    sb_error_clear(err);
    if (c == NULL || req == NULL) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "%s: required",
                     c == NULL ? "client" : "request");
        return NULL;
    }
    if (c->closed) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "client: closed");
        return NULL;
    }
    switch (req->op) {
    case SINCH_BATCH_OP_SEND:
    case SINCH_BATCH_OP_CANCEL:
    case SINCH_BATCH_OP_CREATE_CONTACTS:
    case SINCH_BATCH_OP_DELETE_CONTACTS:
    case SINCH_BATCH_OP_INSERT_CONSENTS: needs_body = 1; break;
    case SINCH_BATCH_OP_STATUS:
        if (req->batch_id == NULL || req->batch_id[0] == '\0') {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "batch_id: required for STATUS, a non-empty string");
            return NULL;
        }
        if (sb_is_dot_segment(req->batch_id)) {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "batch_id: \"%s\" is a dot segment, not an id", req->batch_id);
            return NULL;
        }
        break;
    case SINCH_BATCH_OP_FIND:
        if (req->metadata_key == NULL || req->metadata_key[0] == '\0') {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "metadata_key: required for FIND, a non-empty string");
            return NULL;
        }
        if (req->metadata_value == NULL) {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "metadata_value: required for FIND, a string");
            return NULL;
        }
        break;
    default:
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "op: %d is not a known operation",
                     (int)req->op);
        return NULL;
    }
    if (needs_body && (req->body == NULL || (req->body_len == 0 && req->body[0] == '\0'))) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "body: required for %s, a JSON text",
                     op_name(req->op));
        return NULL;
    }

    call = calloc(1, sizeof *call);
    if (call == NULL) {
        sb_error_nomem(err, "call");
        return NULL;
    }
    call->c = c;
    sb_client_ref(c);
    call->op = req->op;
    switch (req->op) {
    case SINCH_BATCH_OP_STATUS:
    case SINCH_BATCH_OP_FIND: call->method = "GET"; call->idempotent = 1; break;
    case SINCH_BATCH_OP_CANCEL:
    case SINCH_BATCH_OP_DELETE_CONTACTS: call->method = "DELETE"; call->idempotent = 1; break;
    default: call->method = "POST"; break;
    }
    if (build_url(call, req, err) != SINCH_BATCH_OK) {
        sinch_batch_call_free(call);
        return NULL;
    }
    if (needs_body) {
        call->body_len = req->body_len ? req->body_len : strlen(req->body);
        call->body = sb_memdup(req->body, call->body_len);
        if (call->body == NULL) {
            sb_error_nomem(err, "call");
            sinch_batch_call_free(call);
            return NULL;
        }
    }
    call->deadline = now_ms + c->deadline_ms;
    call->state = ST_READY;
    return call;
}

static void release_refresh(sinch_batch_call *call) {
    sinch_batch_client *c = call->c;
    if (c->refreshing && c->refresher == call) {
        c->refreshing = 0;
        c->refresher = NULL;
    }
}

void sinch_batch_call_free(sinch_batch_call *call) {
    if (call == NULL) return;
    release_refresh(call);
    free(call->url);
    free(call->body);
    sb_free_secret(call->auth_value);
    free(call->response);
    sb_client_unref(call->c);
    free(call);
}

const sinch_batch_error *sinch_batch_call_error(const sinch_batch_call *call) {
    return &call->err;
}

sinch_batch_op sinch_batch_call_op(const sinch_batch_call *call) {
    return call->op;
}

/* ------------------------------------------------------------- secrets */

/* The secrets this call knows: key secret, the client's token, the token
 * of the last API request, the Basic credentials. */
static void secrets_of(const sinch_batch_call *call, sb_secrets *sec) {
    const sinch_batch_client *c = call->c;
    sec->s[0] = c->key_secret;
    sec->s[1] = c->token;
    sec->s[2] = call->auth_value ? call->auth_value + 7 : NULL; /* after "Bearer " */
    sec->s[3] = c->basic_auth ? c->basic_auth + 6 : NULL;      /* after "Basic " */
    sec->n = 4;
}

/* ------------------------------------------------------------- finish */

static void finish(sinch_batch_call *call) {
    sb_secrets sec;
    release_refresh(call);
    /* no secret in any message, whatever a server echoed: a last pass
     * (server text was redacted before it was cut, in sb_clean) */
    secrets_of(call, &sec);
    sb_error_redact(&call->err, &sec);
    call->state = ST_DONE;
}

static void finish_deadline(sinch_batch_call *call, const char *what) {
    sinch_batch_error last = call->err;
    char prev[SINCH_BATCH_ERRSTR_LEN];
    snprintf(prev, sizeof prev, "%s", last.message);
    if (call->had_error)
        sb_error_set(&call->err, SINCH_BATCH_ERROR_TIMEOUT,
                     "deadline of %ld ms reached %s after %d attempt(s); last error: %s",
                     call->c->deadline_ms, what, call->attempts, prev);
    else
        sb_error_set(&call->err, SINCH_BATCH_ERROR_TIMEOUT, "deadline of %ld ms reached %s",
                     call->c->deadline_ms, what);
    call->err.status = last.status;
    call->err.code = last.code;
    memcpy(call->err.api_status, last.api_status, sizeof last.api_status);
    call->err.retryable = 1;
    finish(call);
}

/* After a retryable failure (call->err holds it): WAIT before the next try,
 * or DONE when the attempts or the deadline do not allow one. */
static void schedule_retry(sinch_batch_call *call, int64_t now_ms, long retry_after, int tries) {
    sinch_batch_client *c = call->c;
    long wait;
    call->had_error = 1;
    call->err.retryable = 1;
    if (tries >= c->max_attempts) {
        finish(call);
        return;
    }
    if (retry_after >= 0) {
        wait = retry_after;
    } else {
        /* full jitter: uniform in [0, min(max, base * 2^(tries-1))] */
        long cap = c->backoff_base_ms;
        int i;
        for (i = 1; i < tries && cap < c->backoff_max_ms; i++) cap *= 2;
        if (cap > c->backoff_max_ms) cap = c->backoff_max_ms;
        wait = (long)(sb_client_random(c) % ((uint64_t)cap + 1));
    }
    if (now_ms + wait >= call->deadline) {
        finish_deadline(call, "before the next attempt could start");
        return;
    }
    call->wait_until = now_ms + wait;
    call->state = ST_WAIT;
}

/* ---------------------------------------------------------------- next */

static void set_headers(sinch_batch_call *call, const char *auth, int token_req) {
    sinch_batch_header *h = call->headers;
    size_t n = 0;
    h[n].name = "Authorization";
    h[n++].value = auth;
    h[n].name = "Accept";
    h[n++].value = "application/json";
    h[n].name = "User-Agent";
    h[n++].value = call->c->user_agent;
    if (token_req) {
        h[n].name = "Content-Type";
        h[n++].value = "application/x-www-form-urlencoded";
    } else if (call->body) {
        h[n].name = "Content-Type";
        h[n++].value = "application/json";
    }
    call->action.headers = h;
    call->action.n_headers = n;
}

static long request_timeout(sinch_batch_call *call, int64_t now_ms) {
    int64_t left = call->deadline - now_ms;
    if (left < 1) left = 1;
    return left < call->c->timeout_ms ? (long)left : call->c->timeout_ms;
}

static int perform_token(sinch_batch_call *call, int64_t now_ms) {
    static const char form[] = "grant_type=client_credentials";
    sinch_batch_client *c = call->c;
    c->refreshing = 1;
    c->refresher = call;
    c->lease_until = now_ms + c->timeout_ms;
    memset(&call->action, 0, sizeof call->action);
    call->action.kind = SINCH_BATCH_PERFORM;
    call->action.method = "POST";
    call->action.url = c->token_url;
    set_headers(call, c->basic_auth, 1);
    call->action.body = form;
    call->action.body_len = sizeof form - 1;
    call->action.timeout_ms = request_timeout(call, now_ms);
    call->action.is_token_request = 1;
    call->pending_token = 1;
    call->token_attempts++;
    call->state = ST_PERFORM;
    return SINCH_BATCH_OK;
}

static int perform_api(sinch_batch_call *call, int64_t now_ms) {
    sinch_batch_client *c = call->c;
    sb_buf b;
    sb_buf_init(&b);
    if (sb_buf_appendf(&b, "Bearer %s", c->token) != 0) {
        sb_buf_free(&b);
        sb_error_nomem(&call->err, "call");
        finish(call);
        return SINCH_BATCH_ENOMEM;
    }
    sb_free_secret(call->auth_value);
    call->auth_value = sb_buf_steal(&b, NULL);
    call->used_gen = c->token_gen;
    memset(&call->action, 0, sizeof call->action);
    call->action.kind = SINCH_BATCH_PERFORM;
    call->action.method = call->method;
    call->action.url = call->url;
    set_headers(call, call->auth_value, 0);
    call->action.body = call->body;
    call->action.body_len = call->body_len;
    call->action.timeout_ms = request_timeout(call, now_ms);
    call->pending_token = 0;
    call->attempts++;
    call->state = ST_PERFORM;
    return SINCH_BATCH_OK;
}

static void fill_done(sinch_batch_call *call, sinch_batch_action *out) {
    memset(out, 0, sizeof *out);
    out->kind = SINCH_BATCH_DONE;
    out->status = call->status;
    out->response = call->response ? call->response : "";
    out->response_len = call->response ? call->response_len : 0;
    out->error = call->err.kind == SINCH_BATCH_ERROR_NONE ? NULL : &call->err;
    out->attempts = call->attempts;
}

static void fill_wait(sinch_batch_action *out, int64_t ms) {
    memset(out, 0, sizeof *out);
    out->kind = SINCH_BATCH_WAIT;
    out->wait_ms = ms < 0 ? 0 : (long)ms;
}

/* The call may use the client's token now. */
static int token_usable(const sinch_batch_call *call, int64_t now_ms) {
    const sinch_batch_client *c = call->c;
    if (c->token == NULL) return 0;
    if (c->static_token) return 1;
    if (now_ms < c->token_refresh_at) return 1;
    /* the token this call just fetched, even if short-lived */
    return c->token_gen == call->fetched_gen && now_ms < c->token_expires_at;
}

int sinch_batch_call_next(sinch_batch_call *call, int64_t now_ms, sinch_batch_action *out) {
    sinch_batch_client *c = call->c;
    int rc = SINCH_BATCH_OK;

    if (call->state == ST_PERFORM) {
        *out = call->action;
        return SINCH_BATCH_OK;
    }
    if (call->state == ST_WAIT) {
        if (now_ms < call->wait_until) {
            fill_wait(out, call->wait_until - now_ms);
            return SINCH_BATCH_OK;
        }
        call->state = ST_READY;
    }
    if (call->state == ST_READY) {
        if (now_ms >= call->deadline) {
            finish_deadline(call, "before the request could be made");
        } else if (token_usable(call, now_ms)) {
            rc = perform_api(call, now_ms);
        } else if (c->static_token) {
            sb_error_set(&call->err, SINCH_BATCH_ERROR_AUTH,
                         "token: the static token was dropped; set a new one");
            finish(call);
        } else if (c->refreshing && c->refresher != call && now_ms < c->lease_until) {
            int64_t left = call->deadline - now_ms;
            fill_wait(out, left < REFRESH_WAIT_MS ? left : REFRESH_WAIT_MS);
            return SINCH_BATCH_OK;
        } else {
            rc = perform_token(call, now_ms);
        }
    }
    if (call->state == ST_PERFORM) {
        *out = call->action;
        return rc;
    }
    fill_done(call, out);
    return rc;
}

/* ---------------------------------------------------------------- feed */

static int keep_response(sinch_batch_call *call, const sinch_batch_response *resp) {
    free(call->response);
    call->response = NULL;
    call->response_len = 0;
    call->status = resp->status;
    call->response = sb_memdup(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
    if (call->response == NULL) {
        sb_error_nomem(&call->err, "response");
        finish(call);
        return SINCH_BATCH_ENOMEM;
    }
    call->response_len = resp->body ? resp->body_len : 0;
    return SINCH_BATCH_OK;
}

/* The OAuth2 error text of a token endpoint's answer, secrets cut out. */
static void oauth_error_text(const sinch_batch_call *call, const char *body, size_t len,
                             char *out, size_t outsz) {
    sb_secrets sec;
    secrets_of(call, &sec);
    sb_json_oauth_error(body, len, &sec, out, outsz);
}

static int feed_token(sinch_batch_call *call, int64_t now_ms, const sinch_batch_response *r) {
    sinch_batch_client *c = call->c;
    int st = r->status;
    const char *body = r->body ? r->body : "";
    size_t len = r->body ? r->body_len : 0;

    release_refresh(call);
    if (st >= 200 && st < 300) {
        char *tok = NULL, why[200];
        long long exp;
        if (sb_json_token(body, len, &tok, &exp, why, sizeof why) != 0) {
            sb_error_set(&call->err, SINCH_BATCH_ERROR_JSON, "%s (from %s)", why, c->token_url);
            call->err.status = st;
            finish(call);
            return SINCH_BATCH_OK;
        }
        if (sb_client_install_token(c, tok, now_ms, exp) != SINCH_BATCH_OK) {
            sb_free_secret(tok);
            sb_error_nomem(&call->err, "token");
            finish(call);
            return SINCH_BATCH_ENOMEM;
        }
        sb_free_secret(tok);
        call->fetched_gen = c->token_gen;
        return SINCH_BATCH_OK;
    }
    if (st == 429 || st >= 500) {
        char text[300];
        oauth_error_text(call, body, len, text, sizeof text);
        sb_error_set(&call->err, SINCH_BATCH_ERROR_HTTP, "token request to %s: HTTP %d%s%s",
                     c->token_url, st, text[0] ? ": " : "", text);
        call->err.status = st;
        schedule_retry(call, now_ms, retry_after_ms(find_header(r, "Retry-After"), now_ms),
                       call->token_attempts);
        return SINCH_BATCH_OK;
    }
    {
        char text[300];
        oauth_error_text(call, body, len, text, sizeof text);
        sb_error_set(&call->err, SINCH_BATCH_ERROR_AUTH,
                     "token request refused by %s: HTTP %d%s%s; check key_id and key_secret",
                     c->token_url, st, text[0] ? ": " : "", text);
        call->err.status = st;
        finish(call);
        return SINCH_BATCH_OK;
    }
}

static void ambiguous(sinch_batch_call *call) {
    const char *what = call->op == SINCH_BATCH_OP_SEND
                           ? "the batch may have been accepted: look it up by its "
                             "batch_metadata before any resend"
                           : "the server may have processed the request: check before "
                             "sending it again";
    append_note(&call->err, what);
    call->err.may_have_been_processed = 1;
    call->err.retryable = 0;
    finish(call);
}

static int feed_api(sinch_batch_call *call, int64_t now_ms, const sinch_batch_response *r) {
    sinch_batch_client *c = call->c;
    int st = r->status;
    int rc = keep_response(call, r);
    if (rc != SINCH_BATCH_OK) return rc;

    if (st >= 200 && st < 300) {
        sb_error_clear(&call->err);
        finish(call);
        return SINCH_BATCH_OK;
    }
    {
        sb_secrets sec;
        secrets_of(call, &sec);
        sb_json_api_error(call->response, call->response_len, st, &sec, &call->err);
    }
    if (st == 401) {
        const char *wa = find_header(r, "WWW-Authenticate");
        int expired = wa != NULL && ci_contains(wa, "expired");
        call->err.kind = SINCH_BATCH_ERROR_AUTH;
        if (expired && !c->static_token && !call->auth_retried) {
            call->auth_retried = 1;
            call->had_error = 1;
            sb_client_drop_token(c, call->used_gen);
            call->state = ST_READY;
            return SINCH_BATCH_OK;
        }
        if (c->static_token)
            append_note(&call->err, "the static token was refused");
        else if (expired)
            append_note(&call->err, "a fresh token was refused too");
        finish(call);
        return SINCH_BATCH_OK;
    }
    if (st == 429 || st == 503) {
        schedule_retry(call, now_ms, retry_after_ms(find_header(r, "Retry-After"), now_ms),
                       call->attempts);
        return SINCH_BATCH_OK;
    }
    if (st >= 500 && st != 501) {
        if (call->idempotent && (st == 500 || st == 502 || st == 504)) {
            schedule_retry(call, now_ms, retry_after_ms(find_header(r, "Retry-After"), now_ms),
                           call->attempts);
            return SINCH_BATCH_OK;
        }
        if (!call->idempotent) {
            ambiguous(call);
            return SINCH_BATCH_OK;
        }
    }
    finish(call);
    return SINCH_BATCH_OK;
}

static int misuse(sinch_batch_call *call, const char *what) {
    if (call->state != ST_DONE)
        sb_error_set(&call->err, SINCH_BATCH_ERROR_INTERNAL, "%s without a pending request",
                     what);
    return SINCH_BATCH_ERR;
}

int sinch_batch_call_feed(sinch_batch_call *call, int64_t now_ms,
                          const sinch_batch_response *resp) {
    if (call->state != ST_PERFORM) return misuse(call, "feed");
    if (resp == NULL) {
        sb_error_set(&call->err, SINCH_BATCH_ERROR_INTERNAL, "feed: response required");
        return SINCH_BATCH_ERR;
    }
    call->state = ST_READY;
    if (call->pending_token) return feed_token(call, now_ms, resp);
    return feed_api(call, now_ms, resp);
}

int sinch_batch_call_feed_error(sinch_batch_call *call, int64_t now_ms,
                                sinch_batch_transport_error te, int sent, const char *message) {
    sinch_batch_error_kind kind;
    const char *what;
    char text[300];
    int token = call->pending_token;

    if (call->state != ST_PERFORM) return misuse(call, "feed_error");
    call->state = ST_READY;
    if (token) release_refresh(call);
    switch (te) {
    case SINCH_BATCH_TE_CONNECT:
        kind = SINCH_BATCH_ERROR_NETWORK;
        what = "cannot connect";
        sent = 0;
        break;
    case SINCH_BATCH_TE_TLS:
        kind = SINCH_BATCH_ERROR_TLS;
        what = "TLS failure";
        break;
    case SINCH_BATCH_TE_TIMEOUT:
        kind = SINCH_BATCH_ERROR_TIMEOUT;
        what = "timed out";
        break;
    case SINCH_BATCH_TE_IO:
        kind = SINCH_BATCH_ERROR_NETWORK;
        what = "connection failed";
        break;
    default:
        kind = SINCH_BATCH_ERROR_INTERNAL;
        what = "unknown transport error";
        break;
    }
    text[0] = '\0';
    if (message) {
        sb_secrets sec;
        secrets_of(call, &sec);
        sb_clean(text, sizeof text, message, strlen(message), &sec);
    }
    sb_error_set(&call->err, kind, "%s %s: %s%s%s", call->action.method, call->action.url, what,
                 text[0] ? ": " : "", text);
    call->status = 0;
    free(call->response);
    call->response = NULL;
    call->response_len = 0;

    if (te == SINCH_BATCH_TE_TLS || kind == SINCH_BATCH_ERROR_INTERNAL) {
        finish(call);
        return SINCH_BATCH_OK;
    }
    if (token) { /* a token request is safe to repeat */
        schedule_retry(call, now_ms, -1, call->token_attempts);
        return SINCH_BATCH_OK;
    }
    if (!sent || call->idempotent) {
        schedule_retry(call, now_ms, -1, call->attempts);
        return SINCH_BATCH_OK;
    }
    ambiguous(call);
    return SINCH_BATCH_OK;
}
