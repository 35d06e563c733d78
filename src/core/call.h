/* call.h -- the call's state, shared by the files of the call machine
 * (internal):
 *   call.c  create, free, next (what to do), finish and retry scheduling
 *   feed.c  feed and feed_error (what came back)
 *   http.c  header lookup, the request URL (ids percent-encoded), Retry-After
 */
#ifndef SINCH_BATCH_CALL_H
#define SINCH_BATCH_CALL_H

#include "core.h"

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
    int body_ref;          /* body is the caller's (call_new_ref): not freed */
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

/* call.c */
void sb_call_finish(sinch_batch_call *call);
void sb_call_finish_deadline(sinch_batch_call *call, const char *what);
void sb_call_schedule_retry(sinch_batch_call *call, int64_t now_ms, long retry_after, int tries);
void sb_call_release_refresh(sinch_batch_call *call);
void sb_call_secrets(const sinch_batch_call *call, sb_secrets *sec);

/* http.c */
int sb_ci_contains(const char *hay, const char *needle);
const char *sb_find_header(const sinch_batch_response *r, const char *name);
/* Appends "; note" (or the note alone) to e's message, as it fits. */
void sb_append_note(sinch_batch_error *e, const char *note);
/* Retry-After (seconds or an HTTP date) in ms from now, -1 when unusable. */
long sb_retry_after_ms(const char *v, int64_t now_ms);
/* call->url for req (api_prefix + the op's path). */
int sb_build_url(sinch_batch_call *call, const sinch_batch_request *req, sinch_batch_error *err);

#endif
