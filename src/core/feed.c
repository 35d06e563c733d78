/* feed.c -- what came back to a call: feed (an HTTP response, for the
 * token request or the API request) and feed_error (a transport failure).
 * The rules are listed in call.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"

/* ---------------------------------------------------------------- feed */

static int keep_response(sinch_batch_call *call, const sinch_batch_response *resp) {
    free(call->response);
    call->response = NULL;
    call->response_len = 0;
    call->status = resp->status;
    call->response = sb_memdup(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
    if (call->response == NULL) {
        sb_error_nomem(&call->err, "response");
        sb_call_finish(call);
        return SINCH_BATCH_ENOMEM;
    }
    call->response_len = resp->body ? resp->body_len : 0;
    return SINCH_BATCH_OK;
}

/* The OAuth2 error text of a token endpoint's answer, secrets cut out. */
static void oauth_error_text(const sinch_batch_call *call, const char *body, size_t len,
                             char *out, size_t outsz) {
    sb_secrets sec;
    sb_call_secrets(call, &sec);
    sb_json_oauth_error(body, len, &sec, out, outsz);
}

static int feed_token(sinch_batch_call *call, int64_t now_ms, const sinch_batch_response *r) {
    sinch_batch_client *c = call->c;
    int st = r->status;
    const char *body = r->body ? r->body : "";
    size_t len = r->body ? r->body_len : 0;

    sb_call_release_refresh(call);
    if (st >= 200 && st < 300) {
        char *tok = NULL, why[200];
        long long exp;
        if (sb_json_token(body, len, &tok, &exp, why, sizeof why) != 0) {
            sb_error_set(&call->err, SINCH_BATCH_ERROR_JSON, "%s (from %s)", why, c->token_url);
            call->err.status = st;
            sb_call_finish(call);
            return SINCH_BATCH_OK;
        }
        if (sb_client_install_token(c, tok, now_ms, exp) != SINCH_BATCH_OK) {
            sb_free_secret(tok);
            sb_error_nomem(&call->err, "token");
            sb_call_finish(call);
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
        sb_call_schedule_retry(call, now_ms, sb_retry_after_ms(sb_find_header(r, "Retry-After"), now_ms),
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
        sb_call_finish(call);
        return SINCH_BATCH_OK;
    }
}

static void ambiguous(sinch_batch_call *call) {
    const char *what = call->op == SINCH_BATCH_OP_SEND
                           ? "the batch may have been accepted: look it up by its "
                             "batch_metadata before any resend"
                           : "the server may have processed the request: check before "
                             "sending it again";
    sb_append_note(&call->err, what);
    call->err.may_have_been_processed = 1;
    call->err.retryable = 0;
    sb_call_finish(call);
}

static int feed_api(sinch_batch_call *call, int64_t now_ms, const sinch_batch_response *r) {
    sinch_batch_client *c = call->c;
    int st = r->status;
    int rc = keep_response(call, r);
    if (rc != SINCH_BATCH_OK) return rc;

    if (st >= 200 && st < 300) {
        sb_error_clear(&call->err);
        sb_call_finish(call);
        return SINCH_BATCH_OK;
    }
    {
        sb_secrets sec;
        sb_call_secrets(call, &sec);
        sb_json_api_error(call->response, call->response_len, st, &sec, &call->err);
    }
    if (st == 401) {
        const char *wa = sb_find_header(r, "WWW-Authenticate");
        int expired = wa != NULL && sb_ci_contains(wa, "expired");
        call->err.kind = SINCH_BATCH_ERROR_AUTH;
        if (expired && !c->static_token && !call->auth_retried) {
            call->auth_retried = 1;
            call->had_error = 1;
            sb_client_drop_token(c, call->used_gen);
            call->state = ST_READY;
            return SINCH_BATCH_OK;
        }
        if (c->static_token)
            sb_append_note(&call->err, "the static token was refused");
        else if (expired)
            sb_append_note(&call->err, "a fresh token was refused too");
        sb_call_finish(call);
        return SINCH_BATCH_OK;
    }
    if (st == 429 || st == 503) {
        sb_call_schedule_retry(call, now_ms, sb_retry_after_ms(sb_find_header(r, "Retry-After"), now_ms),
                       call->attempts);
        return SINCH_BATCH_OK;
    }
    if (st >= 500 && st != 501) {
        if (call->idempotent && (st == 500 || st == 502 || st == 504)) {
            sb_call_schedule_retry(call, now_ms, sb_retry_after_ms(sb_find_header(r, "Retry-After"), now_ms),
                           call->attempts);
            return SINCH_BATCH_OK;
        }
        if (!call->idempotent) {
            ambiguous(call);
            return SINCH_BATCH_OK;
        }
    }
    sb_call_finish(call);
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
    if (token) sb_call_release_refresh(call);
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
        sb_call_secrets(call, &sec);
        sb_clean(text, sizeof text, message, strlen(message), &sec);
    }
    sb_error_set(&call->err, kind, "%s %s: %s%s%s", call->action.method, call->action.url, what,
                 text[0] ? ": " : "", text);
    call->status = 0;
    free(call->response);
    call->response = NULL;
    call->response_len = 0;

    if (te == SINCH_BATCH_TE_TLS || kind == SINCH_BATCH_ERROR_INTERNAL) {
        if (sent && !token && !call->idempotent) /* bytes may have left: never resend */
            ambiguous(call);
        else
            sb_call_finish(call);
        return SINCH_BATCH_OK;
    }
    if (token) { /* a token request is safe to repeat */
        sb_call_schedule_retry(call, now_ms, -1, call->token_attempts);
        return SINCH_BATCH_OK;
    }
    if (!sent || call->idempotent) {
        sb_call_schedule_retry(call, now_ms, -1, call->attempts);
        return SINCH_BATCH_OK;
    }
    ambiguous(call);
    return SINCH_BATCH_OK;
}
