/* call.c -- the state machine of one API call (sans I/O): create, next,
 * finish and retry scheduling.  What comes back is handled in feed.c, the
 * HTTP details (headers, URL, Retry-After) in http.c; call.h holds the
 * state they share.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"

/* ------------------------------------------------------------- create */

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

/* sinch_batch_call_new (ref 0: the body is copied) and _new_ref (ref 1). */
static sinch_batch_call *call_new(sinch_batch_client *c, const sinch_batch_request *req,
                                   int64_t now_ms, sinch_batch_error *err, int ref) {
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
    if (sb_build_url(call, req, err) != SINCH_BATCH_OK) {
        sinch_batch_call_free(call);
        return NULL;
    }
    if (needs_body) {
        call->body_len = req->body_len ? req->body_len : strlen(req->body);
        call->body_ref = ref;
        call->body = ref ? (char *)req->body : sb_memdup(req->body, call->body_len);
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

sinch_batch_call *sinch_batch_call_new(sinch_batch_client *c, const sinch_batch_request *req,
                                       int64_t now_ms, sinch_batch_error *err) {
    return call_new(c, req, now_ms, err, 0);
}

sinch_batch_call *sinch_batch_call_new_ref(sinch_batch_client *c, const sinch_batch_request *req,
                                           int64_t now_ms, sinch_batch_error *err) {
    return call_new(c, req, now_ms, err, 1);
}

void sb_call_release_refresh(sinch_batch_call *call) {
    sinch_batch_client *c = call->c;
    if (c->refreshing && c->refresher == call) {
        c->refreshing = 0;
        c->refresher = NULL;
    }
}

void sinch_batch_call_free(sinch_batch_call *call) {
    if (call == NULL) return;
    sb_call_release_refresh(call);
    free(call->url);
    if (!call->body_ref) free(call->body);
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
void sb_call_secrets(const sinch_batch_call *call, sb_secrets *sec) {
    const sinch_batch_client *c = call->c;
    sec->s[0] = c->key_secret;
    sec->s[1] = c->token;
    sec->s[2] = call->auth_value ? call->auth_value + 7 : NULL; /* after "Bearer " */
    sec->s[3] = c->basic_auth ? c->basic_auth + 6 : NULL;      /* after "Basic " */
    sec->n = 4;
}

/* ------------------------------------------------------------- finish */

void sb_call_finish(sinch_batch_call *call) {
    sb_secrets sec;
    sb_call_release_refresh(call);
    /* no secret in any message, whatever a server echoed: a last pass
     * (server text was redacted before it was cut, in sb_clean) */
    sb_call_secrets(call, &sec);
    sb_error_redact(&call->err, &sec);
    call->state = ST_DONE;
}

void sb_call_finish_deadline(sinch_batch_call *call, const char *what) {
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
    sb_call_finish(call);
}

/* After a retryable failure (call->err holds it): WAIT before the next try,
 * or DONE when the attempts or the deadline do not allow one. */
void sb_call_schedule_retry(sinch_batch_call *call, int64_t now_ms, long retry_after, int tries) {
    sinch_batch_client *c = call->c;
    long wait;
    call->had_error = 1;
    call->err.retryable = 1;
    if (tries >= c->max_attempts) {
        sb_call_finish(call);
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
        sb_call_finish_deadline(call, "before the next attempt could start");
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
        sb_call_finish(call);
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
            sb_call_finish_deadline(call, "before the request could be made");
        } else if (token_usable(call, now_ms)) {
            rc = perform_api(call, now_ms);
        } else if (c->static_token) {
            sb_error_set(&call->err, SINCH_BATCH_ERROR_AUTH,
                         "token: the static token was dropped; set a new one");
            sb_call_finish(call);
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

