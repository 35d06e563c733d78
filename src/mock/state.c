/* state.c -- everything sinch-batch-mock remembers, behind one mutex:
 * tokens, batches, contacts, consent records, queued faults, the request
 * log and the counters of GET /_mock/stats.  Every collection is bounded;
 * past its bound the oldest entry is dropped. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "mock.h"

#define MAX_TOKENS 10000
#define MAX_CONTACTS 100000
#define MAX_CONSENTS 100000
#define MAX_REQUESTS 2000
#define MAX_REQUEST_BYTES (64L * 1024 * 1024)

#define MAX_OFFSET_MS (1000LL * 365 * 24 * 3600 * 1000) /* the clock runs <= 1000 years ahead */

typedef mock_batch batch;
#define B_READY MOCK_B_READY
#define B_SCHEDULED MOCK_B_SCHEDULED
#define B_PROCESSED MOCK_B_PROCESSED
#define B_CANCELLED MOCK_B_CANCELLED
static const char *const status_names[] = {"READY", "SCHEDULED", "PROCESSED", "CANCELLED"};

typedef struct token {
    char value[64];
    int64_t expires_ms;
    int index;
} token;

static struct {
    pthread_mutex_t lock;
    int64_t clock_offset_ms;
    token *tokens;
    size_t ntokens;
    int tokens_issued_total;
    batch **batches;
    size_t nbatches, batches_cap;
    json_t *contacts;        /* id -> {"project":…, "contact":{…}} */
    json_t *consents;        /* array of records */
    mock_fault *faults, *faults_tail;
    json_t *requests;        /* array */
    size_t request_bytes;
    long batches_accepted, recipients_accepted, tokens_issued;
    json_t *by_metadata;
    json_t *unknown_fields;  /* path -> count */
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

void mock_lock(void) { pthread_mutex_lock(&S.lock); }
void mock_unlock(void) { pthread_mutex_unlock(&S.lock); }

int64_t mock_now_ms(void) {
    return mock_real_ms() + __atomic_load_n(&S.clock_offset_ms, __ATOMIC_SEQ_CST);
}

void mock_state_init(void) {
    S.contacts = json_object();
    S.consents = json_array();
    S.requests = json_array();
    S.by_metadata = json_object();
    S.unknown_fields = json_object();
    mock_outcomes_reset();
}

static void batch_free(batch *b) {
    if (!b) return;
    free(b->project);
    json_decref(b->meta);
    json_decref(b->body);
    json_decref(b->unknown);
    free(b);
}

static void faults_clear(void) {
    mock_fault *f = S.faults, *next;
    for (; f; f = next) {
        next = f->next;
        mock_fault_free(f);
    }
    S.faults = S.faults_tail = NULL;
}

static void batches_clear(void) {
    size_t i;
    for (i = 0; i < S.nbatches; i++) batch_free(S.batches[i]);
    S.nbatches = 0;
}

void mock_state_free(void) {
    batches_clear();
    free(S.batches);
    free(S.tokens);
    faults_clear();
    json_decref(S.contacts);
    json_decref(S.consents);
    json_decref(S.requests);
    json_decref(S.by_metadata);
    json_decref(S.unknown_fields);
    mock_outcomes_free();
}

void mock_reset(void) {
    batches_clear();
    faults_clear();
    json_object_clear(S.contacts);
    json_array_clear(S.consents);
    json_array_clear(S.requests);
    S.request_bytes = 0;
    json_object_clear(S.by_metadata);
    json_object_clear(S.unknown_fields);
    mock_outcomes_reset();
    S.batches_accepted = S.recipients_accepted = S.tokens_issued = 0;
    mock_webhook_clear();
}

int mock_advance(int64_t ms) {
    int64_t off = __atomic_load_n(&S.clock_offset_ms, __ATOMIC_SEQ_CST);
    if (ms < 0 || ms > MAX_OFFSET_MS - off) return -1; /* never overflows */
    __atomic_add_fetch(&S.clock_offset_ms, ms, __ATOMIC_SEQ_CST);
    mock_process_due();
    return 0;
}

int mock_project_known(const char *project_id) {
    int i;
    for (i = 0; i < mock_cfg.nprojects; i++)
        if (strcmp(mock_cfg.projects[i], project_id) == 0) return 1;
    return 0;
}

/* --------------------------------------------------------------- tokens */

const char *mock_token_issue(int64_t *expires_in_s) {
    char a[27], b[27];
    token *t;
    if (S.ntokens == MAX_TOKENS) {
        memmove(S.tokens, S.tokens + 1, (S.ntokens - 1) * sizeof *S.tokens);
        S.ntokens--;
    }
    if (!S.tokens) S.tokens = calloc(MAX_TOKENS, sizeof *S.tokens);
    if (!S.tokens) return NULL;
    t = &S.tokens[S.ntokens++];
    mock_ulid(a, mock_real_ms());
    mock_ulid(b, 0);
    snprintf(t->value, sizeof t->value, "mock.%s.%s", a + 10, b + 10);
    t->expires_ms = mock_now_ms() + mock_cfg.token_ttl * 1000;
    t->index = ++S.tokens_issued_total;
    S.tokens_issued++;
    *expires_in_s = mock_cfg.token_ttl;
    return t->value;
}

int mock_token_check(const char *value, int *index) {
    size_t i, n = strlen(value);
    *index = 0;
    for (i = 0; i < S.ntokens; i++) {
        token *t = &S.tokens[i];
        if (strlen(t->value) == n && CRYPTO_memcmp(t->value, value, n) == 0) {
            *index = t->index;
            return mock_now_ms() < t->expires_ms ? 1 : -1;
        }
    }
    return 0;
}

/* -------------------------------------------------------------- batches */

static void batch_process(batch *b) {
    b->status = B_PROCESSED;
    if (mock_cfg.webhook_url) {
        mock_emit_status(b, "BATCH_STATUS_PROCESSED");
        mock_emit_deliveries(b);
    }
    json_decref(b->body);
    b->body = NULL;
}

static void cancel_now(batch *b) {
    b->status = B_CANCELLED;
    if (mock_cfg.webhook_url) mock_emit_status(b, "BATCH_STATUS_CANCELLED");
    json_decref(b->body);
    b->body = NULL;
}

void mock_process_due(void) {
    int64_t now = mock_now_ms();
    size_t i;
    for (i = 0; i < S.nbatches; i++) {
        batch *b = S.batches[i];
        /* a cancel takes effect later (the API cancels asynchronously), and
         * only if the batch is still scheduled by then */
        if (b->status == B_SCHEDULED && b->cancel_ms && b->cancel_ms <= now &&
            b->cancel_ms < b->send_after_ms)
            cancel_now(b);
        if (b->status == B_SCHEDULED && b->send_after_ms <= now) {
            b->status = B_READY;
            b->due_ms = b->send_after_ms + mock_cfg.process_delay_ms;
        }
        if (b->status == B_READY && b->due_ms <= now) batch_process(b);
    }
}

const char *mock_batch_accept(const char *project_id, json_t *body, int64_t send_after_ms,
                              json_t *unknown) {
    batch *b = calloc(1, sizeof *b);
    json_t *meta = json_object_get(body, "batch_metadata"), *v;
    const char *k;
    size_t n = json_array_size(json_object_get(body, "recipient_and_params"));
    int64_t now = mock_now_ms();
    if (!b || !(b->project = strdup(project_id))) {
        free(b);
        return NULL;
    }
    if (S.nbatches == S.batches_cap) {
        size_t cap = S.batches_cap ? S.batches_cap * 2 : 64;
        batch **nb = realloc(S.batches, cap * sizeof *nb);
        if (!nb) {
            batch_free(b);
            return NULL;
        }
        S.batches = nb;
        S.batches_cap = cap;
    }
    mock_ulid(b->id, mock_real_ms());
    /* body may live in the request's scratch arena: keep copies only */
    b->meta = meta ? json_deep_copy(meta) : json_object();
    b->body = json_incref(body); /* borrowed until the end of this call */
    b->unknown = unknown ? json_incref(unknown) : json_array();
    b->send_after_ms = send_after_ms;
    b->status = send_after_ms > now ? B_SCHEDULED : B_READY;
    b->due_ms = now + mock_cfg.process_delay_ms;
    S.batches[S.nbatches++] = b;
    while (S.nbatches > (size_t)mock_cfg.max_batches) {
        batch_free(S.batches[0]);
        memmove(S.batches, S.batches + 1, (S.nbatches - 1) * sizeof *S.batches);
        S.nbatches--;
    }
    S.batches_accepted++;
    S.recipients_accepted += (long)n;
    mock_unknown_fields_count(b->unknown);
    json_object_foreach(b->meta, k, v) {
        char key[600];
        json_t *entry;
        snprintf(key, sizeof key, "%s=%s", k, json_string_value(v));
        entry = json_object_get(S.by_metadata, key);
        if (!entry) {
            entry = json_pack("{s:i, s:i}", "batches", 0, "recipients", 0);
            json_object_set_new(S.by_metadata, key, entry);
        }
        json_object_set_new(entry, "batches",
                            json_integer(json_integer_value(json_object_get(entry, "batches")) + 1));
        json_object_set_new(entry, "recipients",
                            json_integer(json_integer_value(json_object_get(entry, "recipients")) +
                                         (json_int_t)n));
    }
    mock_process_due();
    if (b->body) { /* not processed yet: copy what its callbacks will need */
        json_decref(b->body);
        b->body = mock_cfg.webhook_url ? json_deep_copy(body) : NULL;
    }
    return b->id;
}

static batch *batch_get(const char *project_id, const char *id) {
    size_t i;
    for (i = 0; i < S.nbatches; i++)
        if (strcmp(S.batches[i]->id, id) == 0 && strcmp(S.batches[i]->project, project_id) == 0)
            return S.batches[i];
    return NULL;
}

static json_t *batch_json(batch *b) {
    json_t *o = json_pack("{s:s, s:O, s:s}", "batch_id", b->id, "meta_data", b->meta,
                          "status", status_names[b->status]);
    /* not an API field: what this sandbox accepted without knowing it */
    if (json_array_size(b->unknown))
        json_object_set(o, "unknown_fields", b->unknown);
    if (b->send_after_ms) {
        char t[40];
        mock_format_time(t, sizeof t, b->send_after_ms, 0);
        json_object_set_new(o, "send_after", json_string(t));
    }
    return o;
}

json_t *mock_batch_json(const char *project_id, const char *batch_id) {
    batch *b;
    mock_process_due();
    b = batch_get(project_id, batch_id);
    return b ? batch_json(b) : NULL;
}

static int meta_matches(batch *b, const char *key, const char *value) {
    const char *v = json_string_value(json_object_get(b->meta, key));
    return v && strcmp(v, value) == 0;
}

json_t *mock_batch_find(const char *project_id, const char *key, const char *value) {
    json_t *out = json_array();
    size_t i;
    mock_process_due();
    for (i = 0; i < S.nbatches; i++) {
        batch *b = S.batches[i];
        if (strcmp(b->project, project_id) == 0 && meta_matches(b, key, value))
            json_array_append_new(out, batch_json(b));
    }
    return out;
}

/* The API answers 200 at once and cancels later: the batch stays SCHEDULED
 * for --cancel-delay-ms of the sandbox's clock (mock_process_due). */
static void cancel_one(batch *b) {
    if (!b || b->status != B_SCHEDULED) return; /* only before send_after */
    if (!b->cancel_ms) b->cancel_ms = mock_now_ms() + mock_cfg.cancel_delay_ms;
}

void mock_batch_cancel(const char *project_id, json_t *body) {
    json_t *v, *id;
    size_t i;
    mock_process_due();
    if ((v = json_object_get(body, "batch_id")))
        cancel_one(batch_get(project_id, json_string_value(v)));
    if ((v = json_object_get(body, "batch_ids")))
        json_array_foreach(v, i, id) cancel_one(batch_get(project_id, json_string_value(id)));
    if ((v = json_object_get(body, "metadata_key"))) {
        const char *val = json_string_value(json_object_get(body, "metadata_value"));
        for (i = 0; i < S.nbatches; i++)
            if (strcmp(S.batches[i]->project, project_id) == 0 &&
                meta_matches(S.batches[i], json_string_value(v), val))
                cancel_one(S.batches[i]);
    }
    if ((v = json_object_get(body, "batch_metadata"))) {
        for (i = 0; i < S.nbatches; i++) {
            const char *k;
            json_t *x;
            int all = 1;
            if (strcmp(S.batches[i]->project, project_id) != 0) continue;
            json_object_foreach(v, k, x) all = all && meta_matches(S.batches[i], k,
                                                                     json_string_value(x));
            if (all) cancel_one(S.batches[i]);
        }
    }
    mock_process_due();
}

/* ------------------------------------------------------------- contacts */

void mock_contacts_create(const char *project_id, json_t *contacts) {
    size_t i;
    json_t *c;
    json_array_foreach(contacts, i, c) {
        char id[27];
        json_t *stored = json_deep_copy(c);
        mock_ulid(id, mock_real_ms());
        json_object_set_new(stored, "id", json_string(id));
        if (!json_object_get(stored, "display_name"))
            json_object_set_new(stored, "display_name", json_string("Unknown"));
        if (!json_object_get(stored, "email")) json_object_set_new(stored, "email", json_string(""));
        if (!json_object_get(stored, "external_id"))
            json_object_set_new(stored, "external_id", json_string(""));
        if (!json_object_get(stored, "metadata"))
            json_object_set_new(stored, "metadata", json_string(""));
        if (json_object_size(S.contacts) >= MAX_CONTACTS) {
            void *it = json_object_iter(S.contacts);
            json_object_del(S.contacts, json_object_iter_key(it));
        }
        json_object_set_new(S.contacts, id,
                            json_pack("{s:s, s:O}", "project", project_id, "contact", stored));
        if (mock_cfg.webhook_url) mock_emit_contact(project_id, "contact_create_notification", stored);
        json_decref(stored);
    }
}

void mock_contacts_delete(const char *project_id, json_t *ids) {
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *entry = json_object_get(S.contacts, json_string_value(id));
        if (!entry || strcmp(json_string_value(json_object_get(entry, "project")), project_id))
            continue;
        json_incref(entry);
        json_object_del(S.contacts, json_string_value(id));
        if (mock_cfg.webhook_url)
            mock_emit_contact(project_id, "contact_delete_notification",
                         json_object_get(entry, "contact"));
        json_decref(entry);
    }
}

json_t *mock_contact_get(const char *contact_id) {
    return contact_id ? json_object_get(S.contacts, contact_id) : NULL;
}

void mock_unknown_fields_count(json_t *paths) {
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) {
        const char *k = json_string_value(p);
        json_t *c = json_object_get(S.unknown_fields, k);
        json_object_set_new(S.unknown_fields, k, json_integer(json_integer_value(c) + 1));
    }
}

json_t *mock_contacts_json(void) {
    json_t *out = json_array(), *entry;
    const char *id;
    json_object_foreach(S.contacts, id, entry)
        json_array_append(out, json_object_get(entry, "contact"));
    return out;
}

const char *mock_consents_insert(const char *project_id, json_t *body) {
    static __thread char id[27];
    size_t i;
    json_t *r;
    mock_ulid(id, mock_real_ms());
    json_array_foreach(json_object_get(body, "consent_records"), i, r) {
        json_t *rec = json_deep_copy(r);
        json_object_set_new(rec, "project_id", json_string(project_id));
        json_object_set(rec, "app_id", json_object_get(body, "app_id"));
        json_object_set_new(rec, "batch_id", json_string(id));
        if (json_array_size(S.consents) >= MAX_CONSENTS) json_array_remove(S.consents, 0);
        json_array_append_new(S.consents, rec);
    }
    return id;
}

/* --------------------------------------------------------------- faults */

void mock_fault_free(mock_fault *f) {
    if (!f) return;
    free(f->body);
    json_decref(f->headers);
    free(f);
}

void mock_fault_add(mock_fault *f) {
    f->next = NULL;
    if (S.faults_tail) S.faults_tail->next = f;
    else S.faults = f;
    S.faults_tail = f;
}

static int fault_matches(const mock_fault *f, const char *method, const char *path) {
    int token_path = strncmp(path, "/oauth2/", 8) == 0;
    if (f->method[0] && strcasecmp(f->method, method) != 0) return 0;
    if (!f->path[0]) return !token_path;
    if (token_path && strncmp(f->path, "/oauth2/token", 13) != 0) return 0;
    return strncmp(path, f->path, strlen(f->path)) == 0;
}

mock_fault *mock_fault_take(const char *method, const char *path) {
    mock_fault *f, *prev = NULL, *copy;
    for (f = S.faults; f; prev = f, f = f->next)
        if (fault_matches(f, method, path)) break;
    if (!f) return NULL;
    copy = malloc(sizeof *copy);
    if (!copy) return NULL;
    *copy = *f;
    copy->next = NULL;
    copy->body = f->body ? strdup(f->body) : NULL;
    copy->headers = f->headers ? json_incref(f->headers) : NULL;
    if (--f->times <= 0) {
        if (prev) prev->next = f->next;
        else S.faults = f->next;
        if (S.faults_tail == f) S.faults_tail = prev;
        mock_fault_free(f);
    }
    return copy;
}

/* ------------------------------------------------------ requests, stats */

static size_t record_bytes(json_t *rec) {
    return json_string_length(json_object_get(rec, "body")) + 256;
}

void mock_requests_record(json_t *rec) {
    S.request_bytes += record_bytes(rec);
    json_array_append_new(S.requests, rec);
    while (json_array_size(S.requests) > 1 &&
           (json_array_size(S.requests) > MAX_REQUESTS || S.request_bytes > MAX_REQUEST_BYTES)) {
        S.request_bytes -= record_bytes(json_array_get(S.requests, 0));
        json_array_remove(S.requests, 0);
    }
}

json_t *mock_requests_json(void) {
    return json_pack("{s:O}", "requests", S.requests);
}

json_t *mock_stats_json(void) {
    long delivered, failed;
    mock_webhook_counts(&delivered, &failed);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:I, s:O, s:o}",
                     "batches_accepted", (json_int_t)S.batches_accepted,
                     "recipients_accepted", (json_int_t)S.recipients_accepted,
                     "tokens_issued", (json_int_t)S.tokens_issued,
                     "webhooks_delivered", (json_int_t)delivered,
                     "webhooks_failed", (json_int_t)failed,
                     "by_metadata", S.by_metadata,
                     "batches_stored", (json_int_t)S.nbatches,
                     "contacts", (json_int_t)json_object_size(S.contacts),
                     "consent_records", (json_int_t)json_array_size(S.consents),
                     "unknown_fields", S.unknown_fields,
                     "outcomes", mock_outcomes_stats());
}
