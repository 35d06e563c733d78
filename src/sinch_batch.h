/*
 * sinch_batch.h -- the public C API of sinch-batch's core, a client for the
 * Sinch Conversation Batch API.  Two headers, one per library (and per
 * pkg-config name):
 *
 *   sinch_batch.h       libsinchbatch (pkg-config sinch-batch): the sans-I/O
 *                       core: request building, OAuth2 token state, the call
 *                       state machine, the builder, the CSV reader, JSON,
 *                       webhook HMAC.  It never opens a socket or a file,
 *                       sleeps or reads a clock.
 *   sinch_batch_curl.h  libsinchbatch_curl (pkg-config sinch-batch-curl;
 *                       includes this one): the I/O: a driver that moves the
 *                       core's requests with libcurl, blocking (one call) or
 *                       non-blocking (many calls, for game loops and other
 *                       event loops), and the CSV reader fed from a file.
 *
 * Conventions (hiredis style):
 *   - Functions return SINCH_BATCH_OK (0) or a negative SINCH_BATCH_E* code.
 *   - Every object keeps its last error in itself; read it with the object's
 *     *_error() accessor.  Constructors fill the caller's sinch_batch_error
 *     (which may be NULL).
 *   - Strings passed in are borrowed for the duration of the call; the core
 *     copies what it keeps.  Strings handed out are owned by the object that
 *     handed them out and stay valid until that object changes or is freed.
 *   - Times are milliseconds.  "now_ms" is wall-clock time since the Unix
 *     epoch, supplied by the caller (the core reads no clock).
 *   - Nothing here prints, aborts or exits.  No secret (key secret, token,
 *     Authorization value) is ever written into an error message, in any
 *     spelling a server may echo it (raw, JSON-escaped, URL-encoded).
 *   - Durations (*_ms) are 0 to SINCH_BATCH_MAX_DURATION_MS (7 days).
 *
 * Threads: the core has no global state and takes no lock.  Use a client
 * and its calls (they share its token), a builder, a CSV reader or a driver
 * from one thread at a time; different objects may be used from different
 * threads at once.  Creating a libcurl driver calls curl_global_init: with
 * a libcurl older than 7.84, create the first driver before other threads
 * start.
 *
 * Ownership at a glance:
 *   sinch_batch_client_new  -> sinch_batch_client_free  (calls keep it alive)
 *   sinch_batch_call_new / sinch_batch_send -> sinch_batch_call_free
 *   sinch_batch_builder_new -> sinch_batch_builder_free
 *   sinch_batch_csv_new / sinch_batch_csv_open -> sinch_batch_csv_close
 *   sinch_batch_curl_new / _multi_new -> sinch_batch_curl_free / _multi_free
 *   (sinch_batch_csv_open and sinch_batch_curl_*: sinch_batch_curl.h)
 *
 * The call state machine.  A call is one API operation; the core says what
 * to do and the caller does the I/O:
 *
 *        +--------------------- next(now) ----------------------+
 *        |                         |                            |
 *     PERFORM (method, url,      WAIT (wait_ms: sleep or       DONE (status,
 *     headers, body,             arm a timer, then next)       response, error,
 *     timeout_ms)                                              attempts)
 *        |
 *        +-- the HTTP exchange --> feed(now, response)          (any status)
 *                               or feed_error(now, kind, sent, message)
 *                               then next() again
 *
 * Token fetches, 401 "expired" refreshes, retries with Retry-After or
 * jittered backoff, the deadline and the never-resend rule for sends all
 * happen inside: the loop stays the same.  A blocking loop (this is what
 * sinch_batch_curl_perform does):
 *
 *     sinch_batch_call *call = sinch_batch_call_new(client, &req, now_ms(), &err);
 *     sinch_batch_action a;
 *     if (call == NULL) return fail(&err);
 *     for (;;) {
 *         if (sinch_batch_call_next(call, now_ms(), &a) != SINCH_BATCH_OK) break;
 *         if (a.kind == SINCH_BATCH_DONE) break;
 *         if (a.kind == SINCH_BATCH_WAIT) { sleep_ms(a.wait_ms); continue; }
 *         if (http(a.method, a.url, a.headers, a.n_headers, a.body, a.body_len,
 *                  a.timeout_ms, &resp) == 0)
 *             sinch_batch_call_feed(call, now_ms(), &resp);
 *         else   // sent = 1 once any byte of the request may have left
 *             sinch_batch_call_feed_error(call, now_ms(), SINCH_BATCH_TE_IO, sent, "reset");
 *     }
 *     // a.error == NULL: 2xx, a.response is the body; else a.error says why,
 *     // and a.error->may_have_been_processed = 1 means: look it up, do not resend
 *     sinch_batch_call_free(call);
 *
 * Link: -lsinchbatch (the core: `pkg-config --libs sinch-batch`) or
 * -lsinchbatch_curl -lsinchbatch (sinch_batch_curl.h: `pkg-config --libs
 * sinch-batch-curl`).
 */
#ifndef SINCH_BATCH_H
#define SINCH_BATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SINCH_BATCH_VERSION_MAJOR 0
#define SINCH_BATCH_VERSION_MINOR 1
#define SINCH_BATCH_VERSION_PATCH 0
#define SINCH_BATCH_VERSION "0.1.0"

#if defined(__GNUC__)
#define SINCH_BATCH_API __attribute__((visibility("default")))
#else
#define SINCH_BATCH_API
#endif

/* ------------------------------------------------------------------ errors */

#define SINCH_BATCH_OK 0
#define SINCH_BATCH_ERR (-1)      /* see the object's error for details */
#define SINCH_BATCH_ENOMEM (-2)   /* out of memory (kind = INTERNAL) */

typedef enum sinch_batch_error_kind {
    SINCH_BATCH_ERROR_NONE = 0,
    SINCH_BATCH_ERROR_NETWORK,  /* connect/reset/send/recv failure */
    SINCH_BATCH_ERROR_TIMEOUT,  /* a timeout or the call's deadline */
    SINCH_BATCH_ERROR_TLS,      /* handshake or certificate failure */
    SINCH_BATCH_ERROR_HTTP,     /* the API answered with HTTP >= 400 */
    SINCH_BATCH_ERROR_AUTH,     /* token endpoint refused us, or 401 stayed */
    SINCH_BATCH_ERROR_INVALID,  /* bad input caught before sending */
    SINCH_BATCH_ERROR_JSON,     /* the server sent JSON we cannot read */
    SINCH_BATCH_ERROR_INTERNAL  /* out of memory, misuse of the C API */
} sinch_batch_error_kind;

#define SINCH_BATCH_ERRSTR_LEN 512

typedef struct sinch_batch_error {
    sinch_batch_error_kind kind;
    int status;                 /* HTTP status, 0 when there was none */
    int code;                   /* the API's error.code, 0 when absent */
    char api_status[64];        /* the API's error.status ("INVALID_ARGUMENT") */
    int retryable;              /* trying the same request later may work */
    int may_have_been_processed;/* the server may have acted on it: do NOT
                                   resend a batch blindly, look it up first */
    char message[SINCH_BATCH_ERRSTR_LEN];
} sinch_batch_error;

/* "network", "timeout", "tls", "http", "auth", "invalid", "json",
 * "internal" ("none" for SINCH_BATCH_ERROR_NONE). */
SINCH_BATCH_API const char *sinch_batch_error_kind_name(sinch_batch_error_kind kind);

/* ------------------------------------------------------------------ client */

typedef struct sinch_batch_client sinch_batch_client;

/* The longest duration any *_ms field may take: 7 days.  Larger values
 * (and negative ones) are refused by sinch_batch_client_new, so no sum of
 * a time and a duration can overflow. */
#define SINCH_BATCH_MAX_DURATION_MS 604800000L

typedef struct sinch_batch_config {
    const char *project_id;   /* required */
    const char *region;       /* "us", "eu", "br": required unless base_url */
    const char *base_url;     /* overrides the region's URL (no trailing /) */
    const char *auth_url;     /* default: base_url when given, else
                                 "https://auth.sinch.com" (a key secret goes
                                 only where the caller pointed) */
    const char *key_id;       /* OAuth2 client credentials ...            */
    const char *key_secret;   /* ... both, or neither when token is set   */
    const char *token;        /* a static bearer token instead of keys */
    const char *user_agent;   /* full User-Agent; default
                                 "sinch-batch/<version> (C)" */
    int max_attempts;         /* per call, including the first; default 3 */
    long timeout_ms;          /* per HTTP request; default 30000 */
    long deadline_ms;         /* per call, all attempts and waits; 60000 */
    long backoff_base_ms;     /* full-jitter backoff base; default 500 */
    long backoff_max_ms;      /* cap of one backoff wait; default 20000 */
    long refresh_ahead_ms;    /* refresh a token this long before expiry;
                                 default 60000 */
    uint64_t seed;            /* jitter PRNG seed; 0 = fixed default */
} sinch_batch_config;         /* a numeric field left 0 takes its default */

/* Zero a config and fill in the defaults above. */
SINCH_BATCH_API void sinch_batch_config_init(sinch_batch_config *cfg);

/* Validates and copies cfg.  NULL on error (err filled, kind INVALID). */
SINCH_BATCH_API sinch_batch_client *sinch_batch_client_new(const sinch_batch_config *cfg,
                                                           sinch_batch_error *err);
/* Calls still alive hold a reference: they keep working, and the client's
 * memory goes with the last of them.  Idempotent. */
SINCH_BATCH_API void sinch_batch_client_free(sinch_batch_client *c);

/* The API base actually used, e.g. "https://eu.conversationbatch.api.sinch.com". */
SINCH_BATCH_API const char *sinch_batch_client_base_url(const sinch_batch_client *c);
SINCH_BATCH_API const char *sinch_batch_client_project_id(const sinch_batch_client *c);
SINCH_BATCH_API const char *sinch_batch_client_region(const sinch_batch_client *c);

/* Token sharing (e.g. across nginx workers).  get copies the current token
 * (if any and not expired at now_ms) into buf and its expiry into *expires_at_ms;
 * returns its length, 0 when there is none, SINCH_BATCH_ERR when buf is too
 * small.  set installs a token obtained elsewhere. */
SINCH_BATCH_API int sinch_batch_client_get_token(sinch_batch_client *c, int64_t now_ms,
                                                 char *buf, size_t bufsz,
                                                 int64_t *expires_at_ms);
SINCH_BATCH_API int sinch_batch_client_set_token(sinch_batch_client *c, const char *token,
                                                 int64_t expires_at_ms);

/* The key a token cache shared between clients (e.g. by nginx workers) must
 * file this client's tokens under: the lowercase hex SHA-256 of base_url,
 * auth_url, project_id, key_id and key_secret (each length-prefixed), so
 * clients whose credentials differ in any of them, the secret included,
 * never share a token.  It reveals none of them.  Writes
 * SINCH_BATCH_TOKEN_KEY_LEN characters and a NUL into out; returns that
 * length, 0 for a client with a static token (nothing to share), or
 * SINCH_BATCH_ERR when outsz is too small or the digest fails. */
#define SINCH_BATCH_TOKEN_KEY_LEN 64
SINCH_BATCH_API int sinch_batch_client_token_key(const sinch_batch_client *c, char *out,
                                                 size_t outsz);

/* --------------------------------------------------------------- operations */

typedef enum sinch_batch_op {
    SINCH_BATCH_OP_SEND = 1,         /* POST   /messages                 body */
    SINCH_BATCH_OP_CANCEL,           /* DELETE /messages                 body */
    SINCH_BATCH_OP_STATUS,           /* GET    /messages/{batch_id}          */
    SINCH_BATCH_OP_FIND,             /* GET    /messages?metadataKey=&metadataValue= */
    SINCH_BATCH_OP_CREATE_CONTACTS,  /* POST   /contacts                 body */
    SINCH_BATCH_OP_DELETE_CONTACTS,  /* DELETE /contacts                 body */
    SINCH_BATCH_OP_INSERT_CONSENTS   /* POST   /consents                 body */
} sinch_batch_op;

/* Paths are relative to {base_url}/v1/projects/{project_id}. */
typedef struct sinch_batch_request {
    sinch_batch_op op;
    const char *batch_id;        /* STATUS (URL-escaped by the core) */
    const char *metadata_key;    /* FIND (URL-escaped by the core) */
    const char *metadata_value;  /* FIND */
    const char *body;            /* JSON body for SEND, CANCEL, *_CONTACTS,
                                    INSERT_CONSENTS; copied */
    size_t body_len;             /* 0 = strlen(body) */
} sinch_batch_request;

/* ------------------------------------------------------- the call machine */

typedef struct sinch_batch_call sinch_batch_call;

typedef enum sinch_batch_action_kind {
    SINCH_BATCH_PERFORM = 1,  /* do this HTTP request, then feed the result */
    SINCH_BATCH_WAIT,         /* wait wait_ms, then call next again */
    SINCH_BATCH_DONE          /* finished: status/body or error */
} sinch_batch_action_kind;

typedef struct sinch_batch_header {
    const char *name;
    const char *value;
} sinch_batch_header;

typedef struct sinch_batch_action {
    sinch_batch_action_kind kind;
    /* PERFORM */
    const char *method;                 /* "GET", "POST", "DELETE" */
    const char *url;                    /* absolute URL */
    const sinch_batch_header *headers;  /* n_headers entries */
    size_t n_headers;
    const char *body;                   /* NULL when none */
    size_t body_len;
    long timeout_ms;                    /* for this one request */
    int is_token_request;               /* 1 when this is the OAuth2 fetch */
    /* WAIT */
    long wait_ms;
    /* DONE */
    int status;                         /* final HTTP status (0 if none) */
    const char *response;               /* final response body (may be "") */
    size_t response_len;
    const sinch_batch_error *error;     /* NULL on success (2xx) */
    int attempts;                       /* API requests made */
} sinch_batch_action;

/* One HTTP response, as a driver read it. Header names are matched
 * case-insensitively by the core. */
typedef struct sinch_batch_response {
    int status;
    const sinch_batch_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
} sinch_batch_response;

typedef enum sinch_batch_transport_error {
    SINCH_BATCH_TE_CONNECT = 1, /* resolve/connect failed: nothing was sent */
    SINCH_BATCH_TE_TLS,         /* TLS handshake/verification failed: nothing sent */
    SINCH_BATCH_TE_TIMEOUT,     /* timed out (see `sent`) */
    SINCH_BATCH_TE_IO           /* reset, send/recv failure, empty reply (see `sent`) */
} sinch_batch_transport_error;

/* A call is one API operation from first try to final answer: it fetches or
 * refreshes the token as needed (one refresh in flight per client; other
 * calls WAIT), retries what is safe to retry, and never resends a batch that
 * may have been accepted.  max_attempts bounds API requests and, separately,
 * token requests; the one retry after a 401 "expired" is not counted.
 * The deadline is now_ms + deadline_ms.  req's strings are copied; ids are
 * percent-encoded into the path, and "." or ".." is refused (a dot segment
 * would address another resource).  NULL on error (err filled). */
SINCH_BATCH_API sinch_batch_call *sinch_batch_call_new(sinch_batch_client *c,
                                                       const sinch_batch_request *req,
                                                       int64_t now_ms,
                                                       sinch_batch_error *err);
/* The same, but req->body is not copied: the call reads it in place, so it
 * must stay valid and unchanged until sinch_batch_call_free (a body the
 * caller keeps anyway: a buffer of its own, a Lua string it anchors). */
SINCH_BATCH_API sinch_batch_call *sinch_batch_call_new_ref(sinch_batch_client *c,
                                                           const sinch_batch_request *req,
                                                           int64_t now_ms,
                                                           sinch_batch_error *err);
SINCH_BATCH_API void sinch_batch_call_free(sinch_batch_call *call);

/* What to do next.  The action's pointers stay valid until the next
 * next/feed/free on this call.  Calling next twice without feeding returns
 * the same PERFORM again. */
SINCH_BATCH_API int sinch_batch_call_next(sinch_batch_call *call, int64_t now_ms,
                                          sinch_batch_action *out);
/* The response to the last PERFORM.  SINCH_BATCH_OK when it was taken (the
 * call may now be DONE with an error); SINCH_BATCH_ERR (kind INTERNAL) when
 * no PERFORM is pending. */
SINCH_BATCH_API int sinch_batch_call_feed(sinch_batch_call *call, int64_t now_ms,
                                          const sinch_batch_response *resp);
/* The last PERFORM failed in transport.  sent = 1 when any byte of the
 * request may have reached the server: a send then ends DONE with
 * may_have_been_processed = 1 and is never retried.  message (the
 * transport's text, may be NULL) is quoted in the error with the call's
 * secrets redacted. */
SINCH_BATCH_API int sinch_batch_call_feed_error(sinch_batch_call *call, int64_t now_ms,
                                                sinch_batch_transport_error te, int sent,
                                                const char *message);
/* Never NULL; kind NONE while nothing failed. */
SINCH_BATCH_API const sinch_batch_error *sinch_batch_call_error(const sinch_batch_call *call);
SINCH_BATCH_API sinch_batch_op sinch_batch_call_op(const sinch_batch_call *call);

/* ------------------------------------------------------------- API rules */

/* The rules the client checks before anything is sent, each written once,
 * here; the binding exposes them to Lua (core.MAX_RECIPIENTS,
 * core.param_names, core.phone_ok, core.CHANNELS) and the sandbox uses the
 * parameter grammar too. */

/* Every transport (the libcurl driver, the nginx one) refuses an answer
 * larger than this: no API answer comes near it. */
#define SINCH_BATCH_MAX_RESPONSE ((size_t)64 * 1024 * 1024)

/* What can be a phone identity: an optional "+", then one or more digits
 * (the API reference calls the identity an MSISDN and states no format;
 * "+0987654321", its own example form, passes).  docs/api-rules.md. */
SINCH_BATCH_API int sinch_batch_phone_ok(const char *s, size_t len);
/* Our stricter check (not the API's; opt in with SINCH_BATCH_PLAN_E164 or
 * the CSV reader's check_e164 = 2): the E.164 shape, an optional "+" then 7
 * to 15 digits, the first not 0. */
SINCH_BATCH_API int sinch_batch_phone_e164(const char *s, size_t len);

/* The parameter grammar (ours: the reference shows "${name}" and no
 * grammar): "${" NAME "}" where NAME is one or more bytes, none of them "}",
 * not all of them blanks (so "${first name}" names "first name"; "${}" and
 * "${  }" are plain text).  Finds the next reference at or after *pos: returns 1
 * and sets *name / *name_len (pointing into s) and *pos past the "}", or 0
 * when there is none left. */
SINCH_BATCH_API int sinch_batch_param_next(const char *s, size_t len, size_t *pos,
                                           const char **name, size_t *name_len);

/* Known ConversationChannel names.  The list is open: callers (the Lua
 * recipient helpers) may know more; a table of channels can be handed to
 * the CSV reader.  flags: what the identity is. */
#define SINCH_BATCH_CHANNEL_PHONE 1u      /* the identity is a phone number */
#define SINCH_BATCH_CHANNEL_APP_SCOPED 2u /* the identity belongs to one app */
typedef struct sinch_batch_channel {
    const char *name;
    unsigned flags;
} sinch_batch_channel;
/* The built-in table, terminated by { NULL, 0 }. */
SINCH_BATCH_API const sinch_batch_channel *sinch_batch_channels(void);
/* The entry for name in table (NULL: the built-in one), or NULL. */
SINCH_BATCH_API const sinch_batch_channel *sinch_batch_channel_find(const sinch_batch_channel *table,
                                                                     const char *name,
                                                                     size_t len);

/* ------------------------------------------------------------- the builder */

/* Streams a send-batch request body:
 *   {"app_id":…,"message":<raw>,"recipient_and_params":[ … ],<fields>}
 * One builder per batch; reset() reuses it for the next chunk. */
typedef struct sinch_batch_builder sinch_batch_builder;

#define SINCH_BATCH_MAX_RECIPIENTS 1000

SINCH_BATCH_API sinch_batch_builder *sinch_batch_builder_new(const char *app_id,
                                                             const char *message_json,
                                                             size_t message_len,
                                                             size_t max_recipients,
                                                             sinch_batch_error *err);
SINCH_BATCH_API void sinch_batch_builder_free(sinch_batch_builder *b);
SINCH_BATCH_API const sinch_batch_error *sinch_batch_builder_error(const sinch_batch_builder *b);

/* A top-level field written after the recipients, as raw JSON
 * ("batch_metadata", "{\"campaign\":\"x\"}") or as a string. */
SINCH_BATCH_API int sinch_batch_builder_field_raw(sinch_batch_builder *b, const char *key,
                                                  const char *json, size_t len);
SINCH_BATCH_API int sinch_batch_builder_field_string(sinch_batch_builder *b, const char *key,
                                                     const char *value, size_t len);

/* One recipient_and_params entry:
 *   begin; contact | identity+ ; param* ; entry_raw* ; end
 * begin fails (kind INVALID) on recipient max+1 with
 * "recipients[1001]: a batch holds at most 1000 recipients". */
SINCH_BATCH_API int sinch_batch_builder_begin(sinch_batch_builder *b);
SINCH_BATCH_API int sinch_batch_builder_contact(sinch_batch_builder *b, const char *contact_id,
                                                size_t len);
SINCH_BATCH_API int sinch_batch_builder_identity(sinch_batch_builder *b, const char *channel,
                                                 const char *identity, size_t identity_len,
                                                 const char *app_id /* NULL */);
SINCH_BATCH_API int sinch_batch_builder_param(sinch_batch_builder *b, const char *key,
                                              size_t key_len, const char *value,
                                              size_t value_len);
/* "message_metadata" or "conversation_metadata" for this recipient, raw JSON. */
SINCH_BATCH_API int sinch_batch_builder_entry_raw(sinch_batch_builder *b, const char *key,
                                                  const char *json, size_t len);
SINCH_BATCH_API int sinch_batch_builder_end(sinch_batch_builder *b);

/* One whole entry in one call: the recipient {channel, identity} (no app_id)
 * and n parameters -- the same result and the same errors as begin,
 * identity(channel, identity, NULL), param x n, end, at about half the cost
 * (one buffer reserve, one escape pass per string). */
typedef struct sinch_batch_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} sinch_batch_param;
SINCH_BATCH_API int sinch_batch_builder_row(sinch_batch_builder *b, const char *channel,
                                            const char *identity, size_t identity_len,
                                            const sinch_batch_param *params, size_t n);

SINCH_BATCH_API size_t sinch_batch_builder_count(const sinch_batch_builder *b);

/* The builder's own checks, applied to every entry (steps and row alike):
 * it reads the ${name}s the message uses from the message JSON once.
 * Always: an empty parameter value is never sent -- for a name the message
 * uses it counts as missing, any other empty value is left out.  With
 * SINCH_BATCH_PLAN_PARAMS a missing name takes its default (below) or fails
 * the entry ("recipients[3].parameters: missing value for ${code}",
 * "recipients[3].parameters.code: empty; the message uses ${code}").
  * With SINCH_BATCH_PLAN_RECIPIENT each channel must be in `channels` (NULL: the
 * built-in table) and phone channels take phone identities
 * (sinch_batch_phone_ok; with SINCH_BATCH_PLAN_E164 also our stricter
 * sinch_batch_phone_e164).  SINCH_BATCH_PLAN_DISPATCH_ONLY: contact_id
 * recipients are refused (the API reference: DISPATCH mode takes
 * identified_by only).  `channels` must outlive the builder. */
#define SINCH_BATCH_PLAN_PARAMS 1u
#define SINCH_BATCH_PLAN_RECIPIENT 2u
#define SINCH_BATCH_PLAN_DISPATCH_ONLY 4u
#define SINCH_BATCH_PLAN_E164 8u
SINCH_BATCH_API int sinch_batch_builder_plan(sinch_batch_builder *b, unsigned flags,
                                             const sinch_batch_channel *channels);
/* The value a missing (or empty) ${name} takes; a name the message does not
 * use is ignored.  An empty value removes the default. */
SINCH_BATCH_API int sinch_batch_builder_default(sinch_batch_builder *b, const char *name,
                                                size_t name_len, const char *value,
                                                size_t value_len);
/* The i-th ${name} the message uses (from 0): 1 and *name, *len; or 0. */
SINCH_BATCH_API int sinch_batch_builder_param_name(const sinch_batch_builder *b, size_t i,
                                                   const char **name, size_t *len);
/* The i-th parameter name given since new()/reset() that the message never
 * uses: how many entries gave it (and *name, *len), or 0 past the end. */
SINCH_BATCH_API size_t sinch_batch_builder_unused(const sinch_batch_builder *b, size_t i,
                                                  const char **name, size_t *len);
/* Bytes of memory the builder holds (for a garbage collector's accounting). */
SINCH_BATCH_API size_t sinch_batch_builder_memory(const sinch_batch_builder *b);
/* Closes the body (idempotent) and returns it; NULL with the builder's error
 * set when the batch is empty or an entry is still open. */
SINCH_BATCH_API const char *sinch_batch_builder_body(sinch_batch_builder *b, size_t *len);
/* Drop the recipients, keep app_id, message and fields. */
SINCH_BATCH_API void sinch_batch_builder_reset(sinch_batch_builder *b);
/* Closes the body and hands it over without a copy: the caller owns it
 * (release it with free()) and the builder is reset, ready for the next
 * batch.  For a body that must outlive the builder's next batch, e.g. a send
 * still in flight (sinch_batch_call_new_ref).  NULL as for _body(). */
SINCH_BATCH_API char *sinch_batch_builder_take(sinch_batch_builder *b, size_t *len);

/* A SEND call whose body is the builder's body. */
SINCH_BATCH_API sinch_batch_call *sinch_batch_send(sinch_batch_client *c, sinch_batch_builder *b,
                                                   int64_t now_ms, sinch_batch_error *err);

/* ------------------------------------------------------------------ JSON */

/* Copies the top-level string member `key` of a JSON object into out
 * (outsz bytes, NUL-terminated).  len is always the length of json (which
 * need not be NUL-terminated; 0 is an empty document, never strlen).  Returns the string's length, or
 * SINCH_BATCH_ERR when json is not an object, the member is absent or not
 * a string, or it does not fit in outsz - 1 bytes.  For reading
 * "batch_id" and the like without a JSON library; thread-safe. */
SINCH_BATCH_API int sinch_batch_json_get_string(const char *json, size_t len, const char *key,
                                                char *out, size_t outsz);

/* --------------------------------------------------------------- webhooks */

#define SINCH_BATCH_SIGNATURE_LEN 44 /* base64 of 32 bytes, with padding */

/* base64(HMAC-SHA256(secret, body "." nonce "." timestamp)) into out
 * (at least SINCH_BATCH_SIGNATURE_LEN + 1 bytes, NUL-terminated).
 * SINCH_BATCH_ERR for an empty secret (anyone could sign with it) or a
 * NULL argument.  Thread-safe. */
SINCH_BATCH_API int sinch_batch_webhook_sign(const char *secret, size_t secret_len,
                                             const char *body, size_t body_len,
                                             const char *nonce, const char *timestamp,
                                             char *out);
/* 1 when signature matches (constant-time compare), 0 when not -- always
 * 0 for an empty secret.  Thread-safe. */
SINCH_BATCH_API int sinch_batch_webhook_check(const char *secret, size_t secret_len,
                                              const char *body, size_t body_len,
                                              const char *nonce, const char *timestamp,
                                              const char *signature, size_t signature_len);

/* ------------------------------------------------------ delivery receipts */

/* A piece of text: ptr NULL (len 0) when absent.  Not NUL-terminated. */
typedef struct sinch_batch_text {
    const char *ptr;
    size_t len;
} sinch_batch_text;

#define SINCH_BATCH_RECEIPT_OTHER 1 /* not a plain delivery receipt: parse it in full */

/* The fields of a delivery receipt a receipts store needs.  batch_id points
 * into scratch_ (message_metadata, unescaped), the others into the body:
 * valid while both live; do not copy the struct. */
typedef struct sinch_batch_receipt {
    sinch_batch_text batch_id;   /* message_metadata's batchId (or batch_id) */
    long long message_index;     /* message_metadata's messageIndex, >= 0 */
    sinch_batch_text message_id, status; /* message_delivery_report's */
    int has_reason;              /* the report's reason is an object ... */
    sinch_batch_text reason_code, reason_description; /* ... with these */
    sinch_batch_text event_time, accepted_time;       /* the envelope's */
    char scratch_[512];
} sinch_batch_receipt;

/* The fast path for a signed callback that is a plain delivery receipt:
 * one pass over the body (strict JSON, nothing allocated).  SINCH_BATCH_OK
 * with r filled in, or SINCH_BATCH_RECEIPT_OTHER for any other body and
 * anything unusual in one (a number or an escape where text goes, a key
 * given twice, a batch reference elsewhere than message_metadata, ...):
 * then parse it in full (sinch.batch.webhook's parse), whose rules the
 * fields given here always agree with.  Verify the signature first.
 * Thread-safe. */
SINCH_BATCH_API int sinch_batch_receipt_scan(const char *body, size_t len,
                                             sinch_batch_receipt *r);

/* ------------------------------------------------------------ CSV reader */

/* Reads CSV (RFC 4180: quoted fields with commas, quotes and line breaks;
 * CRLF or LF; a UTF-8 BOM is skipped) with libcsv and maps each row to one
 * recipient.  The core does no I/O: it is handed bytes, either pushed with
 * sinch_batch_csv_feed()/_finish() or pulled through opts.read (your
 * callback).  sinch_batch_csv_open() (sinch_batch_curl.h) reads a file.
 *
 * The first row is the header (column names, matched case-insensitively).
 * Spaces around unquoted fields are trimmed; quote a value to keep them.
 *
 * Columns: channel (or a fixed channel for every row), identity (or
 * "phone"), contact_id (a row with a non-empty contact_id is sent to that
 * contact), app_id (optional, never required); every other column is a
 * parameter, or only those listed in params.  Channel values are
 * upper-cased.
 *
 * A bad row (wrong number of fields, invalid UTF-8, empty identity, an
 * identity that is not a phone number (sinch_batch_phone_ok) on a phone
 * channel of opts.channels, a duplicate when dedupe is on) is skipped and
 * kept with its line number (the physical line where the row starts,
 * 1-based; the header is line 1) and the reason; reading goes on.  What
 * stops reading is an error: a field over 16 MiB, a row of more than
 * 65536 fields, a read error from opts.read, out of memory.
 *
 * Typical loop (pull):
 *
 *     sinch_batch_csv_opts o;  sinch_batch_csv_opts_init(&o);
 *     o.channel = "SMS";
 *     sinch_batch_csv *r = sinch_batch_csv_open("list.csv", &o, &err);
 *     while ((rc = sinch_batch_csv_fill(r, b, 1000, lines, &n)) == SINCH_BATCH_OK && n > 0)
 *         ... send b, then sinch_batch_builder_reset(b) ...
 *     sinch_batch_csv_close(r);
 *
 * Push: sinch_batch_csv_new(); then, whenever next()/fill() answer
 * SINCH_BATCH_CSV_MORE, sinch_batch_csv_feed() more bytes (any split,
 * even one byte at a time) or sinch_batch_csv_finish() at the end.
 * A reader is used from one thread at a time; readers are independent. */
typedef struct sinch_batch_csv sinch_batch_csv;

/* next()/fill()/header(): the fed bytes are used up; feed more or finish. */
#define SINCH_BATCH_CSV_MORE 2

/* A pull source: put up to cap bytes in buf and return how many, 0 at the
 * end of the input, or -1 on a read error (with a reason, no secret, in
 * why).  Called by next()/fill()/header() when they need bytes. */
typedef long (*sinch_batch_csv_read_fn)(void *ctx, char *buf, size_t cap, char *why,
                                        size_t whysz);

typedef struct sinch_batch_csv_opts {
    const char *channel;          /* fixed channel for every row ("SMS");
                                     NULL = read the channel column */
    const char *channel_column;   /* default "channel" */
    const char *identity_column;  /* default "identity", else "phone" */
    const char *contact_column;   /* default "contact_id" */
    const char *app_id_column;    /* default "app_id" */
    const char *const *params;    /* the parameter columns (n_params of
                                     them); NULL = every other column */
    size_t n_params;
    int dedupe;                   /* 1: skip a channel+identity (or contact)
                                     seen before, as "duplicate of line N" */
    int check_e164;               /* 1 (default): identities on a phone
                                     channel must pass sinch_batch_phone_ok
                                     ("+" optional, digits); 2: also our
                                     sinch_batch_phone_e164; 0: no check */
    char delimiter;               /* default ',' */
    const sinch_batch_channel *channels; /* which channels are phone channels;
                                     NULL = sinch_batch_channels().  Must
                                     outlive the reader; a channel it does
                                     not list is accepted, unchecked */
    sinch_batch_csv_read_fn read; /* pull source; NULL = push (feed) */
    void *read_ctx;               /* handed to read and read_close */
    void (*read_close)(void *ctx);/* called by sinch_batch_csv_close (and
                                     when new/open fails); may be NULL */
} sinch_batch_csv_opts;

/* One mapped row; its pointers stay valid until the next call on the
 * reader.  Either contact_id or channel+identity is set. */
typedef struct sinch_batch_csv_row {
    size_t line;                  /* where the row starts */
    const char *contact_id;       /* NULL unless a contact row */
    size_t contact_id_len;
    const char *channel;          /* upper-cased */
    const char *identity;
    size_t identity_len;
    const char *app_id;           /* NULL when none */
    size_t n_params;
    const char *const *param_names;
    const char *const *param_values;
    const size_t *param_lens;
} sinch_batch_csv_row;

/* Zero opts and fill in the defaults above. */
SINCH_BATCH_API void sinch_batch_csv_opts_init(sinch_batch_csv_opts *o);

/* A reader that has seen no byte yet (the options are copied; the
 * channels table and read_ctx are not).  NULL on error (err filled).
 * o may be NULL for the defaults. */
SINCH_BATCH_API sinch_batch_csv *sinch_batch_csv_new(const sinch_batch_csv_opts *o,
                                                     sinch_batch_error *err);
/* Push len bytes (copied as needed; any split is fine).  SINCH_BATCH_OK or
 * a negative code.  Row pointers handed out before are invalid after. */
SINCH_BATCH_API int sinch_batch_csv_feed(sinch_batch_csv *r, const char *bytes, size_t len);
/* The input is complete: the last row needs no line break.  An unclosed
 * quote here is a bad row ("a quoted field is not closed..."). */
SINCH_BATCH_API int sinch_batch_csv_finish(sinch_batch_csv *r);
/* Read the header now (needed before the column accessors answer):
 * SINCH_BATCH_OK, SINCH_BATCH_CSV_MORE, or a negative code (kind INVALID
 * for an empty input or a header that does not fit the options).
 * next()/fill() read it themselves. */
SINCH_BATCH_API int sinch_batch_csv_header(sinch_batch_csv *r);

/* sinch_batch_csv_open (a reader fed from a file) is in sinch_batch_curl.h:
 * libsinchbatch_curl does the file I/O. */
/* Frees the reader (and calls read_close).  NULL is ignored. */
SINCH_BATCH_API void sinch_batch_csv_close(sinch_batch_csv *r);
/* The error that stopped the reader (kind NONE while it is fine); valid
 * until the reader is closed. */
SINCH_BATCH_API const sinch_batch_error *sinch_batch_csv_error(const sinch_batch_csv *r);

/* The next good row: 1, 0 at the end of the input, SINCH_BATCH_CSV_MORE
 * (push mode: feed or finish, then call again), or a negative code. */
SINCH_BATCH_API int sinch_batch_csv_next(sinch_batch_csv *r, sinch_batch_csv_row *row);

/* Appends up to max good rows to b (begin; contact | identity; param*;
 * end) and writes each one's line into rows[i] (room for max).  Returns
 * SINCH_BATCH_OK with *n rows added -- *n < max only at the end of the
 * input -- SINCH_BATCH_CSV_MORE with *n rows added when the fed bytes ran
 * out (push mode), or a negative code (the reader's error says why,
 * builder errors included; a recipient the builder refuses is a bad row). */
SINCH_BATCH_API int sinch_batch_csv_fill(sinch_batch_csv *r, sinch_batch_builder *b, size_t max,
                                         size_t *rows, size_t *n);

/* Bad rows found so far, i from 0. bad_row returns SINCH_BATCH_ERR when i
 * is out of range; reason stays valid until the reader is closed. */
SINCH_BATCH_API size_t sinch_batch_csv_bad_count(const sinch_batch_csv *r);
SINCH_BATCH_API int sinch_batch_csv_bad_row(const sinch_batch_csv *r, size_t i, size_t *line,
                                            const char **reason);

/* The header's column names, i from 0 (NULL when out of range; 0 columns
 * before the header is read). */
SINCH_BATCH_API size_t sinch_batch_csv_column_count(const sinch_batch_csv *r);
SINCH_BATCH_API const char *sinch_batch_csv_column_name(const sinch_batch_csv *r, size_t i);
/* The parameter names (the columns mapped to parameters), i from 0. */
SINCH_BATCH_API size_t sinch_batch_csv_param_count(const sinch_batch_csv *r);
SINCH_BATCH_API const char *sinch_batch_csv_param_name(const sinch_batch_csv *r, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* SINCH_BATCH_H */
