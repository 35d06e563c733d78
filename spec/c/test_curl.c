/* test_curl.c -- the libcurl driver against a real sinch-batch-mock on
 * 127.0.0.1: every operation through the blocking driver with the requests
 * the mock received checked; keep-alive; retries and the never-resend rule
 * under injected faults; timeouts; TLS verification with a certificate made
 * at test time; the multi driver. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "curl/driver.h"
#include "sinch_batch_curl.h"
#include "support/mockproc.h"

#define PROJECT "demo-project"
#define API "/v1/projects/" PROJECT
#define UA "sinch-batch-test/1 (C)"
#define MESSAGE "{\"text_message\":{\"text\":\"Hi ${name}\"}}"

static mockproc mock;

/* ------------------------------------------------------------ helpers */

typedef struct result {
    int rc;
    int status;
    int attempts;
    char *body;              /* malloc'd copy of the DONE response */
    int has_error;
    sinch_batch_error err;   /* copy of the DONE error */
} result;

static void result_free(result *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void client_config(sinch_batch_config *cfg, const char *url) {
    sinch_batch_config_init(cfg);
    cfg->project_id = PROJECT;
    cfg->base_url = url;
    cfg->auth_url = url;
    cfg->key_id = "demo-key";
    cfg->key_secret = "demo-secret";
    cfg->user_agent = UA;
    cfg->backoff_base_ms = 1;
    cfg->backoff_max_ms = 5;
}

static sinch_batch_client *new_client(const sinch_batch_config *cfg) {
    sinch_batch_error err;
    sinch_batch_client *c = sinch_batch_client_new(cfg, &err);
    if (c == NULL) fprintf(stderr, "client_new: %s\n", err.message);
    return c;
}

/* Run call to completion with the blocking driver; copy what DONE said. */
static result finish_call(sinch_batch_curl *d, sinch_batch_call *call) {
    result r;
    sinch_batch_action done;
    memset(&r, 0, sizeof r);
    if (call == NULL) {
        r.rc = -100;
        return r;
    }
    r.rc = sinch_batch_curl_perform(d, call, &done);
    r.status = done.status;
    r.attempts = done.attempts;
    r.body = strndup(done.response ? done.response : "", done.response_len);
    if (done.error) {
        r.has_error = 1;
        r.err = *done.error;
    }
    sinch_batch_call_free(call);
    return r;
}

static result run(sinch_batch_curl *d, sinch_batch_client *c, sinch_batch_op op,
                  const char *body, const char *batch_id, const char *key, const char *value) {
    sinch_batch_request req;
    sinch_batch_error err;
    sinch_batch_call *call;
    memset(&req, 0, sizeof req);
    req.op = op;
    req.body = body;
    req.batch_id = batch_id;
    req.metadata_key = key;
    req.metadata_value = value;
    call = sinch_batch_call_new(c, &req, sb_curl_now_ms(), &err);
    if (call == NULL) fprintf(stderr, "call_new: %s\n", err.message);
    return finish_call(d, call);
}

/* A two-recipient batch tagged batch_metadata {"campaign": campaign}. */
static sinch_batch_builder *new_batch(const char *campaign) {
    char meta[128];
    sinch_batch_builder *b = sinch_batch_builder_new("demo-app", MESSAGE, 0, 0, NULL);
    static const char *const phones[] = {"+46700000001", "+46700000002"};
    static const char *const names[] = {"Ann", "Bo"};
    int i;
    if (b == NULL) return NULL;
    for (i = 0; i < 2; i++) {
        sinch_batch_builder_begin(b);
        sinch_batch_builder_identity(b, "SMS", phones[i], strlen(phones[i]), NULL);
        sinch_batch_builder_param(b, "name", 4, names[i], strlen(names[i]));
        sinch_batch_builder_end(b);
    }
    snprintf(meta, sizeof meta, "{\"campaign\":\"%s\"}", campaign);
    sinch_batch_builder_field_raw(b, "batch_metadata", meta, strlen(meta));
    return b;
}

static result send_batch(sinch_batch_curl *d, sinch_batch_client *c, const char *campaign,
                         char **body_out) {
    sinch_batch_builder *b = new_batch(campaign);
    sinch_batch_error err;
    sinch_batch_call *call = b ? sinch_batch_send(c, b, sb_curl_now_ms(), &err) : NULL;
    if (b && call == NULL) fprintf(stderr, "send: %s\n", err.message);
    if (body_out) {
        size_t len = 0;
        const char *body = b ? sinch_batch_builder_body(b, &len) : NULL;
        *body_out = body ? strndup(body, len) : NULL;
    }
    sinch_batch_builder_free(b);
    return finish_call(d, call);
}

static json_t *mock_json(const char *path) {
    char *body = mockproc_get(&mock, path);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* The requests the mock received (a new reference, or NULL). */
static json_t *mock_requests(void) {
    json_t *j = mock_json("/_mock/requests"), *r;
    if (j == NULL) return NULL;
    r = json_incref(json_object_get(j, "requests"));
    json_decref(j);
    return r;
}

static long long mock_stat(const char *key) {
    json_t *j = mock_json("/_mock/stats");
    long long v = j ? json_integer_value(json_object_get(j, key)) : -1;
    json_decref(j);
    return v;
}

static long long mock_metadata_batches(const char *key_value) {
    json_t *j = mock_json("/_mock/stats");
    long long v = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, "by_metadata"), key_value), "batches"));
    json_decref(j);
    return v;
}

static void mock_reset(void) { CHECK_INT(mockproc_post(&mock, "/_mock/reset", "{}"), 200); }

static void mock_fault(const char *json) {
    int status = mockproc_post(&mock, "/_mock/faults", json);
    CHECK(status >= 200 && status < 300);
}

static const char *str_at(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static const char *header_of(json_t *rec, const char *name) {
    return json_string_value(json_object_get(json_object_get(rec, "headers"), name));
}

static int count_requests(json_t *reqs, const char *method, const char *path) {
    size_t i;
    int n = 0;
    for (i = 0; i < json_array_size(reqs); i++) {
        json_t *r = json_array_get(reqs, i);
        const char *m = str_at(r, "method"), *p = str_at(r, "path");
        if (m && p && strcmp(m, method) == 0 && strcmp(p, path) == 0) n++;
    }
    return n;
}

/* An API request as recorded: method, path, redacted bearer, our
 * User-Agent, the token it used, no Expect header, and its body. */
static void check_api_request(json_t *rec, const char *method, const char *path,
                              const char *body) {
    CHECK_STR(str_at(rec, "method"), method);
    CHECK_STR(str_at(rec, "path"), path);
    CHECK_STR(header_of(rec, "authorization"), "Bearer <redacted>");
    CHECK_STR(header_of(rec, "user-agent"), UA);
    CHECK_STR(header_of(rec, "accept"), "application/json");
    CHECK(header_of(rec, "expect") == NULL);
    CHECK_INT(json_integer_value(json_object_get(rec, "token_index")), 1);
    if (body) {
        CHECK_STR(header_of(rec, "content-type"), "application/json");
        CHECK_STR(str_at(rec, "body"), body);
    } else {
        CHECK_STR(str_at(rec, "body"), "");
    }
}

/* -------------------------------------------------------------- tests */

static void test_version(void) {
    const char *v = sinch_batch_curl_version();
    CHECK(strncmp(v, "libcurl/", 8) == 0);
    CHECK(strlen(v) > 8);
    CHECK(v == sinch_batch_curl_version());
}

static void test_every_operation(void) {
    static const char contacts[] =
        "{\"contacts\":[{\"channel_identities\":[{\"channel\":\"SMS\",\"identity\":"
        "\"+46700000009\"}],\"language\":\"EN_US\"}]}";
    static const char contact_ids[] = "{\"contact_ids\":[\"01CONTACT0000000000000000A\"]}";
    static const char consents[] =
        "{\"app_id\":\"demo-app\",\"consent_records\":[{\"identification\":\"+46700000001\","
        "\"consent_type\":\"OPT_OUT_MARKETING\"}]}";
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;
    char id[64] = "", path[128], cancel[128], *sent_body = NULL;
    json_t *reqs, *rec;

    mock_reset();
    client_config(&cfg, mock.url);
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    CHECK(c != NULL && d != NULL);
    if (!c || !d) goto out;

    r = send_batch(d, c, "c-ops", &sent_body);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.attempts, 1);
    CHECK_INT(sinch_batch_json_get_string(r.body, strlen(r.body), "batch_id", id, sizeof id), 26);
    result_free(&r);

    r = run(d, c, SINCH_BATCH_OP_STATUS, NULL, id, NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_CONTAINS(r.body, id);
    CHECK_CONTAINS(r.body, "\"campaign\":\"c-ops\"");
    result_free(&r);

    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "c-ops");
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK(r.body[0] == '[');
    CHECK_CONTAINS(r.body, id);
    result_free(&r);

    snprintf(cancel, sizeof cancel, "{\"batch_id\":\"%s\"}", id);
    r = run(d, c, SINCH_BATCH_OP_CANCEL, cancel, NULL, NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    result_free(&r);

    r = run(d, c, SINCH_BATCH_OP_CREATE_CONTACTS, contacts, NULL, NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    result_free(&r);

    r = run(d, c, SINCH_BATCH_OP_DELETE_CONTACTS, contact_ids, NULL, NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    result_free(&r);

    r = run(d, c, SINCH_BATCH_OP_INSERT_CONSENTS, consents, NULL, NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "\"batch_id\"");
    result_free(&r);

    /* what the mock received, in order: one token fetch, then the calls */
    reqs = mock_requests();
    CHECK_INT(json_array_size(reqs), 8);
    if (json_array_size(reqs) == 8) {
        rec = json_array_get(reqs, 0);
        CHECK_STR(str_at(rec, "method"), "POST");
        CHECK_STR(str_at(rec, "path"), "/oauth2/token");
        CHECK_STR(header_of(rec, "authorization"), "Basic <redacted>");
        CHECK_STR(header_of(rec, "content-type"), "application/x-www-form-urlencoded");
        CHECK_STR(str_at(rec, "body"), "grant_type=client_credentials");

        check_api_request(json_array_get(reqs, 1), "POST", API "/messages", sent_body);
        snprintf(path, sizeof path, API "/messages/%s", id);
        check_api_request(json_array_get(reqs, 2), "GET", path, NULL);
        rec = json_array_get(reqs, 3);
        check_api_request(rec, "GET", API "/messages", NULL);
        CHECK_STR(str_at(rec, "query"), "metadataKey=campaign&metadataValue=c-ops");
        check_api_request(json_array_get(reqs, 4), "DELETE", API "/messages", cancel);
        check_api_request(json_array_get(reqs, 5), "POST", API "/contacts", contacts);
        check_api_request(json_array_get(reqs, 6), "DELETE", API "/contacts", contact_ids);
        check_api_request(json_array_get(reqs, 7), "POST", API "/consents", consents);
    }
    json_decref(reqs);

    /* one token for all seven calls; one connection for all eight requests */
    CHECK_INT(mock_stat("tokens_issued"), 1);
    CHECK_INT(mock_stat("batches_accepted"), 1);
    CHECK_INT(sb_curl_connections_opened(d), 1);
out:
    free(sent_body);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

static void test_429_is_retried(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;
    json_t *reqs;

    mock_reset();
    mock_fault("{\"method\":\"POST\",\"path\":\"" API "/messages\",\"kind\":\"status\","
               "\"status\":429,\"retry_after\":\"0\"}");
    client_config(&cfg, mock.url);
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    r = send_batch(d, c, "c-429", NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.attempts, 2);
    result_free(&r);
    reqs = mock_requests();
    CHECK_INT(count_requests(reqs, "POST", API "/messages"), 2);
    json_decref(reqs);
    CHECK_INT(mock_stat("batches_accepted"), 1);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

static void test_500_on_send_is_not_resent(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;
    json_t *reqs;

    mock_reset();
    mock_fault("{\"method\":\"POST\",\"path\":\"" API "/messages\","
               "\"kind\":\"accept_then_error\",\"status\":500}");
    client_config(&cfg, mock.url);
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    r = send_batch(d, c, "c-500", NULL);
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.has_error, 1);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(r.err.status, 500);
    CHECK_INT(r.err.may_have_been_processed, 1);
    CHECK_INT(r.attempts, 1);
    result_free(&r);
    reqs = mock_requests();
    CHECK_INT(count_requests(reqs, "POST", API "/messages"), 1);
    json_decref(reqs);
    CHECK_INT(mock_stat("batches_accepted"), 1);
    CHECK_INT(mock_metadata_batches("campaign=c-500"), 1);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

/* The mock closes the connection without answering.  The POST went out on
 * the connection the token fetch opened: libcurl would resend it on its own
 * ("connection died") unless the driver refuses, and the core must report
 * the ambiguity instead of retrying. */
static void test_dropped_send_is_not_resent(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;
    json_t *reqs;

    mock_reset();
    mock_fault("{\"method\":\"POST\",\"path\":\"" API "/messages\",\"kind\":\"drop\"}");
    client_config(&cfg, mock.url);
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    r = send_batch(d, c, "c-drop", NULL);
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_NETWORK);
    CHECK_INT(r.err.may_have_been_processed, 1);
    CHECK_INT(r.err.status, 0);
    CHECK_INT(r.attempts, 1);
    result_free(&r);
    reqs = mock_requests();
    CHECK_INT(count_requests(reqs, "POST", API "/messages"), 1);
    json_decref(reqs);
    CHECK_INT(mock_stat("batches_accepted"), 0);

    /* a GET may be resent: the same fault on a status call is survived */
    mock_fault("{\"method\":\"GET\",\"kind\":\"drop\"}");
    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "c-drop");
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "[]");
    result_free(&r);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

static void test_connection_refused(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;
    char url[64];
    int port = mockproc_closed_port();

    CHECK(port > 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    client_config(&cfg, url);
    cfg.key_id = cfg.key_secret = NULL;
    cfg.token = "static-token-for-the-test";
    cfg.max_attempts = 3;
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    r = run(d, c, SINCH_BATCH_OP_STATUS, NULL, "01BATCH", NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_NETWORK);
    CHECK_INT(r.err.may_have_been_processed, 0);
    CHECK_INT(r.err.retryable, 1);
    CHECK_INT(r.attempts, 3);
    CHECK_CONTAINS(r.err.message, "127.0.0.1");
    CHECK(strstr(r.err.message, "static-token-for-the-test") == NULL);
    result_free(&r);

    /* a send that never reached a server was certainly not processed */
    r = send_batch(d, c, "c-refused", NULL);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_NETWORK);
    CHECK_INT(r.err.may_have_been_processed, 0);
    result_free(&r);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

static void test_timeout(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;

    mock_reset();
    client_config(&cfg, mock.url);
    cfg.timeout_ms = 300;
    cfg.max_attempts = 1;
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);

    /* fetch the token first, so the delays below hit the API requests */
    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "c-timeout");
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    result_free(&r);

    mock_fault("{\"method\":\"GET\",\"kind\":\"delay\",\"delay_ms\":5000}");
    r = run(d, c, SINCH_BATCH_OP_STATUS, NULL, "01BATCHTIMEOUT", NULL, NULL);
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_INT(r.err.status, 0);
    result_free(&r);

    /* a send that timed out after its body went out may have been accepted */
    mock_fault("{\"method\":\"POST\",\"path\":\"" API "/messages\",\"kind\":\"delay\","
               "\"delay_ms\":5000}");
    r = send_batch(d, c, "c-timeout", NULL);
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_INT(r.err.may_have_been_processed, 1);
    result_free(&r);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

static void test_bad_credentials(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl *d;
    result r;

    mock_reset();
    client_config(&cfg, mock.url);
    cfg.key_secret = "wrong-secret-value";
    c = new_client(&cfg);
    d = sinch_batch_curl_new(NULL, NULL);
    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "x");
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_AUTH);
    CHECK_INT(r.err.status, 401);
    CHECK_CONTAINS(r.err.message, "invalid_client");
    CHECK(strstr(r.err.message, "wrong-secret-value") == NULL);
    result_free(&r);
    sinch_batch_curl_free(d);
    sinch_batch_client_free(c);
}

/* ------------------------------------------------------------------ TLS */

static int make_cert(char *dir, char *cert, char *key, size_t n) {
    char cmd[1024];
    snprintf(cert, n, "%s/cert.pem", dir);
    snprintf(key, n, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1",
             key, cert);
    return system(cmd);
}

static void test_tls(void) {
    char dir[] = "/tmp/sinch-batch-tls-XXXXXX", cert[256], key[256];
    const char *extra[5];
    mockproc tls;
    sinch_batch_config cfg;
    sinch_batch_client *c = NULL;
    sinch_batch_curl *d;
    sinch_batch_curl_opts opts;
    result r;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(make_cert(dir, cert, key, sizeof cert), 0);
    extra[0] = "--tls-cert";
    extra[1] = cert;
    extra[2] = "--tls-key";
    extra[3] = key;
    extra[4] = NULL;
    if (mockproc_start(&tls, NULL, extra, 1) != 0) {
        CHECK(!"the TLS mock started");
        goto out;
    }
    CHECK(strncmp(tls.url, "https://", 8) == 0);
    client_config(&cfg, tls.url);
    cfg.max_attempts = 1;
    c = new_client(&cfg);

    /* default: verification on, and the test certificate is not trusted */
    d = sinch_batch_curl_new(NULL, NULL);
    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "c-tls");
    CHECK_INT(r.rc, SINCH_BATCH_ERR);
    CHECK_INT(r.err.kind, SINCH_BATCH_ERROR_TLS);
    CHECK_INT(r.err.may_have_been_processed, 0);
    result_free(&r);
    sinch_batch_curl_free(d);

    /* trusting exactly that certificate */
    memset(&opts, 0, sizeof opts);
    opts.ca_file = cert;
    d = sinch_batch_curl_new(&opts, NULL);
    r = send_batch(d, c, "c-tls", NULL);
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    result_free(&r);
    sinch_batch_curl_free(d);

    /* verification explicitly off */
    memset(&opts, 0, sizeof opts);
    opts.insecure = 1;
    d = sinch_batch_curl_new(&opts, NULL);
    r = run(d, c, SINCH_BATCH_OP_FIND, NULL, NULL, "campaign", "c-tls");
    CHECK_INT(r.rc, SINCH_BATCH_OK);
    CHECK_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "\"batch_id\"");
    result_free(&r);
    sinch_batch_curl_free(d);

    CHECK_INT(mockproc_stop(&tls), 0);
out:
    sinch_batch_client_free(c);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---------------------------------------------------------------- multi */

#define N_MULTI 20

static void test_multi_twenty_calls(void) {
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl_multi *m;
    sinch_batch_builder *b = new_batch("c-multi");
    int seen[N_MULTI] = {0}, ok = 0, finished = 0, i, rounds, running = -1;
    sinch_batch_error err;

    mock_reset();
    client_config(&cfg, mock.url);
    c = new_client(&cfg);
    m = sinch_batch_curl_multi_new(NULL, &err);
    CHECK(m != NULL && b != NULL && c != NULL);
    if (!m || !b || !c) goto out;
    for (i = 0; i < N_MULTI; i++) {
        sinch_batch_call *call = sinch_batch_send(c, b, sb_curl_now_ms(), &err);
        CHECK(call != NULL);
        if (call) CHECK_INT(sinch_batch_curl_multi_add(m, call, &seen[i]), SINCH_BATCH_OK);
    }
    for (rounds = 0; finished < N_MULTI && rounds < 100000; rounds++) {
        sinch_batch_call *call;
        sinch_batch_action done;
        void *ud = NULL;
        running = sinch_batch_curl_multi_poll(m, 1000);
        CHECK(running >= 0);
        if (running < 0) break;
        while ((call = sinch_batch_curl_multi_done(m, &done, &ud)) != NULL) {
            finished++;
            if (done.error == NULL && done.status == 200) ok++;
            else fprintf(stderr, "multi call: %s\n", done.error ? done.error->message : "?");
            (*(int *)ud)++;
            sinch_batch_call_free(call);
        }
    }
    CHECK_INT(finished, N_MULTI);
    CHECK_INT(ok, N_MULTI);
    CHECK_INT(running, 0);
    for (i = 0; i < N_MULTI; i++) CHECK_INT(seen[i], 1);
    CHECK_INT(sinch_batch_curl_multi_poll(m, 0), 0);
    CHECK(sinch_batch_curl_multi_done(m, NULL, NULL) == NULL);
    /* twenty batches, one token fetched for all of them */
    CHECK_INT(mock_stat("batches_accepted"), N_MULTI);
    CHECK_INT(mock_metadata_batches("campaign=c-multi"), N_MULTI);
    CHECK_INT(mock_stat("tokens_issued"), 1);
out:
    sinch_batch_builder_free(b);
    sinch_batch_curl_multi_free(m);
    sinch_batch_client_free(c);
}

/* A server that accepts the connection (the kernel does) and never answers:
 * poll(m, 0) must come back at once with the call still running. */
static void test_multi_poll_does_not_block(void) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[64];
    sinch_batch_config cfg;
    sinch_batch_client *c;
    sinch_batch_curl_multi *m;
    sinch_batch_request req;
    sinch_batch_call *call;
    sinch_batch_action done;
    int i;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0 &&
          getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    client_config(&cfg, url);
    cfg.key_id = cfg.key_secret = NULL;
    cfg.token = "static-token-for-the-test";
    c = new_client(&cfg);
    m = sinch_batch_curl_multi_new(NULL, NULL);
    memset(&req, 0, sizeof req);
    req.op = SINCH_BATCH_OP_STATUS;
    req.batch_id = "01SILENT";
    call = sinch_batch_call_new(c, &req, sb_curl_now_ms(), NULL);
    CHECK(call != NULL);
    CHECK_INT(sinch_batch_curl_multi_add(m, call, NULL), SINCH_BATCH_OK);
    for (i = 0; i < 5; i++) CHECK_INT(sinch_batch_curl_multi_poll(m, 0), 1);
    CHECK(sinch_batch_curl_multi_done(m, &done, NULL) == NULL);
    /* freeing the driver with a call in flight leaves the call to us */
    sinch_batch_curl_multi_free(m);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
    close(fd);
}

int main(void) {
    if (mockproc_start(&mock, NULL, NULL, 0) != 0) {
        fprintf(stderr, "cannot start the mock\n");
        return 1;
    }
    RUN(test_version);
    RUN(test_every_operation);
    RUN(test_429_is_retried);
    RUN(test_500_on_send_is_not_resent);
    RUN(test_dropped_send_is_not_resent);
    RUN(test_connection_refused);
    RUN(test_timeout);
    RUN(test_bad_credentials);
    RUN(test_tls);
    RUN(test_multi_twenty_calls);
    RUN(test_multi_poll_does_not_block);
    CHECK_INT(mockproc_stop(&mock), 0);
    CHECK_DONE();
}
