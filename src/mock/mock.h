/* mock.h -- sinch-batch-mock, a sandbox of the Sinch Conversation Batch API.
 *
 * One process, one global state guarded by one mutex (state.c), an HTTP
 * front end on libmicrohttpd with a thread per connection (server.c) that
 * hands each request, without the socket, to mock_route (routes.c: the API;
 * oauth.c: the token endpoint; admin.c: /_mock/...; reply.c: answers), the
 * API's server-side validation (validate*.c), the callbacks a processed
 * batch produces (callbacks.c, shaped by outcomes.c) and a background
 * webhook sender on libcurl (webhook.c).  The sandbox restates the API's
 * rules on its own, from the API reference (docs/api-rules.md): it links no
 * rule code of the client, so a client rule that differs from the reference
 * shows up as a disagreement in the tests.
 */
#ifndef SINCH_BATCH_MOCK_H
#define SINCH_BATCH_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define MOCK_MAX_BODY (10L * 1024 * 1024)  /* bodies over 10 MiB get 413 */
#define MOCK_MAX_PROJECTS 16

typedef struct mock_config {
    const char *host;
    int port;
    const char *projects[MOCK_MAX_PROJECTS];
    int nprojects;
    const char *key_id;
    const char *key_secret;
    long token_ttl;          /* seconds */
    const char *webhook_url;
    const char *webhook_secret;
    const char *tls_cert;
    const char *tls_key;
    long lifetime;           /* seconds, 0 = never */
    long process_delay_ms;
    long cancel_delay_ms;    /* a cancel takes effect this long after it is asked for */
    int max_batches;
    int quiet;
    int strict;              /* refuse unknown fields (400) instead of recording them */
    const char *outcomes;    /* --outcomes JSON, the configuration reset returns to */
} mock_config;

extern mock_config mock_cfg;

/* ----------------------------------------------------------------- util */
int64_t mock_real_ms(void);
/* The mock's clock: real time plus what POST /_mock/advance added. */
int64_t mock_now_ms(void);
void mock_ulid(char out[27], int64_t ms);
void mock_format_time(char *out, size_t n, int64_t ms, int with_ms);
/* RFC 3339 -> ms since the epoch; -1 when not a valid date-time. */
int64_t mock_parse_time(const char *s);
/* A JSON string of v (compact), plain malloc; caller frees. */
char *mock_dumps(const json_t *v);
/* Install jansson's allocator; call before any other jansson call. */
void mock_json_init(void);
/* Parse into this thread's scratch arena: fast, and the tree must not
 * outlive mock_scratch_release (copy what is kept: json_deep_copy). */
json_t *mock_loadb_scratch(const char *buf, size_t len, size_t flags, json_error_t *err);
void mock_scratch_release(void);
void mock_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- validate */
typedef struct mock_verr {
    char field[256];   /* "recipient_and_params[3].recipient" */
    char message[512]; /* "recipient_and_params[3].recipient: give ..." */
} mock_verr;

/* Each returns 0 when the body is acceptable, -1 with e filled otherwise.
 * unknown: an array that collects the paths of fields the sandbox does not
 * know ("colour", "message.new_thing"); NULL refuses them (--strict). */
int mock_validate_send(json_t *body, int64_t now_ms, int64_t *send_after_ms,
                       json_t *unknown, mock_verr *e);
int mock_validate_create_contacts(json_t *body, mock_verr *e);
int mock_validate_delete_contacts(json_t *body, mock_verr *e);
int mock_validate_consents(json_t *body, mock_verr *e);
int mock_validate_cancel(json_t *body, mock_verr *e);
/* The names of every ${param} used in any string of the message. */
json_t *mock_message_params(json_t *message);

/* ---------------------------------------------------------------- state */
typedef enum mock_fault_kind {
    MOCK_FAULT_STATUS = 1,
    MOCK_FAULT_DELAY,
    MOCK_FAULT_DROP,
    MOCK_FAULT_ACCEPT_THEN_ERROR
} mock_fault_kind;

typedef struct mock_fault {
    struct mock_fault *next;
    char method[16];    /* "" = any */
    char path[512];     /* "" = any API path (not the token endpoint) */
    int times;
    mock_fault_kind kind;
    int status;
    char retry_after[64];
    char *body;         /* NULL = the API error shape for status */
    json_t *headers;    /* NULL or an object of strings */
    long delay_ms;
} mock_fault;

void mock_state_init(void);
void mock_state_free(void);
void mock_lock(void);
void mock_unlock(void);

/* All functions below expect the lock held. */
/* -1 (nothing moved) when the clock would run over 1000 years ahead. */
int mock_advance(int64_t ms);
void mock_reset(void);

/* Tokens: issue returns the new token (owned by the state). */
const char *mock_token_issue(int64_t *expires_in_s);
/* 1 valid, 0 unknown, -1 expired; *index = 1-based issue order (0 unknown). */
int mock_token_check(const char *token, int *index);

int mock_project_known(const char *project_id);

/* Batches.  accept copies what it keeps of body (which may be scratch). */
const char *mock_batch_accept(const char *project_id, json_t *body, int64_t send_after_ms,
                              json_t *unknown);
json_t *mock_batch_json(const char *project_id, const char *batch_id); /* NULL: unknown */
json_t *mock_batch_find(const char *project_id, const char *key, const char *value);
void mock_batch_cancel(const char *project_id, json_t *body);
/* Move every due batch forward (READY -> PROCESSED, SCHEDULED -> READY). */
void mock_process_due(void);

void mock_contacts_create(const char *project_id, json_t *contacts);
void mock_contacts_delete(const char *project_id, json_t *ids);
const char *mock_consents_insert(const char *project_id, json_t *body);
json_t *mock_contacts_json(void); /* every stored contact */

/* Faults: add takes ownership; take returns a copy the caller frees with
 * mock_fault_free (NULL when none matches). */
void mock_fault_add(mock_fault *f);
mock_fault *mock_fault_take(const char *method, const char *path);
void mock_fault_free(mock_fault *f);

void mock_requests_record(json_t *rec); /* takes ownership */
json_t *mock_requests_json(void);
json_t *mock_stats_json(void);

/* Every stored contact's entry {"project":…, "contact":{…}} or NULL. */
json_t *mock_contact_get(const char *contact_id);
/* The unknown fields accepted so far: {"path": count}. */
void mock_unknown_fields_count(json_t *paths);

/* ------------------------------------------------------------ callbacks */
typedef enum { MOCK_B_READY, MOCK_B_SCHEDULED, MOCK_B_PROCESSED, MOCK_B_CANCELLED } mock_batch_status;

typedef struct mock_batch {
    char id[27];
    char *project;
    mock_batch_status status;
    int64_t send_after_ms; /* 0: not scheduled */
    int64_t due_ms;        /* READY -> PROCESSED at this time */
    int64_t cancel_ms;     /* 0, or a cancel asked for takes effect at this time */
    json_t *meta;          /* batch_metadata (an object, maybe empty) */
    json_t *body;          /* the request, kept until processed (only when
                              callbacks are on; else NULL once accepted) */
    json_t *unknown;       /* the unknown fields it carried (array, maybe empty) */
} mock_batch;

/* Queue the callbacks of one batch (lock held). */
void mock_emit_status(mock_batch *b, const char *status);
void mock_emit_deliveries(mock_batch *b);
void mock_emit_contact(const char *project_id, const char *key, json_t *contact);

/* ------------------------------------------------------------- outcomes */
/* Realistic outcomes of the delivery reports (POST /_mock/outcomes, or
 * --outcomes): failures by rate or by number, duplicates, shuffling,
 * receipts before the send's answer; deterministic with a seed. */
typedef struct mock_receipt_fate {
    const char *fail_code; /* NULL: DELIVERED */
    int duplicate;         /* sent twice */
} mock_receipt_fate;

/* Parse and install a configuration (lock held); -1 with msg on bad input,
 * nothing changed then. */
int mock_outcomes_set(json_t *cfg, char *msg, size_t n);
/* Back to the --outcomes configuration (or none), reseeded; counts zeroed. */
void mock_outcomes_reset(void);
json_t *mock_outcomes_json(void);
/* The fate of one recipient (identity may be NULL) and the counting. */
mock_receipt_fate mock_outcomes_decide(const char *identity);
void mock_outcomes_count(const char *status, const char *code, int duplicate);
/* Shuffle n items in place when shuffling is on. */
void mock_outcomes_shuffle(json_t **items, size_t n);
int mock_outcomes_early(void);
void mock_outcomes_free(void);
json_t *mock_outcomes_stats(void);

/* -------------------------------------------------------------- webhook */
int mock_webhook_start(void);
void mock_webhook_stop(void);
/* Queue one callback body (takes ownership of the malloc'd string). */
void mock_webhook_enqueue(char *body);
void mock_webhook_clear(void);
void mock_webhook_counts(long *delivered, long *failed);
/* Wait (at most timeout_ms) until every callback queued so far has been
 * delivered or given up on. */
void mock_webhook_flush(long timeout_ms);
/* base64(HMAC-SHA256(secret, body "." nonce "." timestamp)) into out[64]. */
void mock_webhook_sign(const char *secret, const char *body, size_t len,
                       const char *nonce, const char *timestamp, char out[64]);

/* ------------------------------------------------- requests and replies */
/* One request, read whole, without its socket (the fuzz harness makes
 * these by hand). */
typedef struct mock_request {
    const char *method;
    const char *path;
    const char *authorization;  /* the header, or NULL */
    const char *metadata_key;   /* GET arguments (decoded), or NULL */
    const char *metadata_value;
    const char *body;
    size_t len;
} mock_request;

#define MOCK_MAX_HEADERS 8

typedef struct mock_reply {
    int status;
    char *body; /* malloc'd */
    int nhdr;
    char hname[MOCK_MAX_HEADERS][64];
    char hvalue[MOCK_MAX_HEADERS][256];
    json_t *unknown; /* NULL, or the unknown fields the request carried */
} mock_reply;

/* reply.c */
void mock_reply_header(mock_reply *r, const char *name, const char *value);
void mock_reply_json(mock_reply *r, int status, json_t *v); /* steals v */
json_t *mock_api_error_json(int status, const char *message, const char *field);
void mock_api_error(mock_reply *r, int status, const char *message, const char *field);
/* Every 404 names the method, the path and what was not known (what, or
 * "no route for …" when NULL, with the project when known), so that a wrong
 * region or base_url is obvious. */
#define MOCK_REGION_HINT "is the region or base_url right?"
void mock_not_found(mock_reply *r, const mock_request *req, const char *project,
                    const char *field, const char *what);
void mock_reply_invalid(mock_reply *r, const mock_verr *e);
/* Parse a JSON body; on failure the reply is filled and NULL returned.
 * With scratch, the tree lives in this thread's scratch arena (see util.c):
 * never decref it, call mock_scratch_release when done. */
json_t *mock_parse_body(mock_reply *r, const mock_request *req, int scratch);
void mock_reply_clear(mock_reply *r);

/* oauth.c */
const char *mock_bearer(const char *authorization); /* the token or NULL */
void mock_token_endpoint(mock_reply *r, const mock_request *req);
int mock_authorized(mock_reply *r, const mock_request *req); /* 0: the 401 is in r */

/* admin.c: /_mock/... */
void mock_admin(mock_reply *r, const mock_request *req);

/* routes.c: everything after the recorder and the faults; never NULL
 * status on return. */
void mock_route(mock_reply *r, const mock_request *req);

/* --------------------------------------------------------------- server */
int mock_server_run(void);

#endif
