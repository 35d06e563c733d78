/* mock.h -- sinch-batch-mock, a sandbox of the Sinch Conversation Batch API.
 *
 * One process, one global state guarded by one mutex (state.c), an HTTP
 * front end on libmicrohttpd with a thread per connection (server.c), the
 * API's server-side validation (validate.c) and a background webhook sender
 * on libcurl (webhook.c).  Nothing here is linked into the client library.
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
    int max_batches;
    int quiet;
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

/* Each returns 0 when the body is acceptable, -1 with e filled otherwise. */
int mock_validate_send(json_t *body, int64_t now_ms, int64_t *send_after_ms,
                       mock_verr *e);
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
void mock_advance(int64_t ms);
void mock_reset(void);

/* Tokens: issue returns the new token (owned by the state). */
const char *mock_token_issue(int64_t *expires_in_s);
/* 1 valid, 0 unknown, -1 expired; *index = 1-based issue order (0 unknown). */
int mock_token_check(const char *token, int *index);

int mock_project_known(const char *project_id);

/* Batches.  accept copies what it keeps of body (which may be scratch). */
const char *mock_batch_accept(const char *project_id, json_t *body, int64_t send_after_ms);
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

/* -------------------------------------------------------------- webhook */
int mock_webhook_start(void);
void mock_webhook_stop(void);
/* Queue one callback body (takes ownership of the malloc'd string). */
void mock_webhook_enqueue(char *body);
void mock_webhook_clear(void);
void mock_webhook_counts(long *delivered, long *failed);
/* base64(HMAC-SHA256(secret, body "." nonce "." timestamp)) into out[64]. */
void mock_webhook_sign(const char *secret, const char *body, size_t len,
                       const char *nonce, const char *timestamp, char out[64]);

/* --------------------------------------------------------------- server */
int mock_server_run(void);

#endif
