/* test_call.c -- the call state machine fed with canned responses: no
 * network, and a clock (now) that the tests advance themselves. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sinch_batch.h"

#define T0 1700000000000LL /* Tue, 14 Nov 2023 22:13:20 GMT */
#define SECRET "s3cr3t-KEY"
#define BASIC "Basic a2lkOnMzY3IzdC1LRVk=" /* base64("kid:s3cr3t-KEY") */
#define API "http://127.0.0.1:9/api/v1/projects/proj"
#define TOKEN_URL "http://127.0.0.1:9/auth/oauth2/token"
#define EXPIRED_HDR "Bearer realm=\"sinch\", error=\"invalid_token\", error_description=\"expired\""

static sinch_batch_config config(void) {
    sinch_batch_config cfg;
    sinch_batch_config_init(&cfg);
    cfg.project_id = "proj";
    cfg.base_url = "http://127.0.0.1:9/api/";
    cfg.auth_url = "http://127.0.0.1:9/auth";
    cfg.key_id = "kid";
    cfg.key_secret = SECRET;
    cfg.seed = 42;
    return cfg;
}

static sinch_batch_client *client_with(const sinch_batch_config *cfg) {
    sinch_batch_error err;
    sinch_batch_client *c = sinch_batch_client_new(cfg, &err);
    if (c == NULL) fprintf(stderr, "client_new: %s\n", err.message);
    return c;
}

static sinch_batch_client *client(void) {
    sinch_batch_config cfg = config();
    return client_with(&cfg);
}

static sinch_batch_call *call_op(sinch_batch_client *c, sinch_batch_op op, int64_t now) {
    sinch_batch_request req;
    sinch_batch_error err;
    sinch_batch_call *call;
    memset(&req, 0, sizeof req);
    req.op = op;
    req.batch_id = "01BATCH";
    req.metadata_key = "campaign";
    req.metadata_value = "spring";
    if (op != SINCH_BATCH_OP_STATUS && op != SINCH_BATCH_OP_FIND) req.body = "{\"x\":1}";
    call = sinch_batch_call_new(c, &req, now, &err);
    if (call == NULL) fprintf(stderr, "call_new: %s\n", err.message);
    return call;
}

static const char *header(const sinch_batch_action *a, const char *name) {
    size_t i;
    for (i = 0; i < a->n_headers; i++)
        if (strcasecmp(a->headers[i].name, name) == 0) return a->headers[i].value;
    return NULL;
}

static sinch_batch_action_kind next(sinch_batch_call *call, int64_t now, sinch_batch_action *a) {
    int rc = sinch_batch_call_next(call, now, a);
    CHECK_INT(rc, SINCH_BATCH_OK);
    return a->kind;
}

static void feed(sinch_batch_call *call, int64_t now, int status, const char *body,
                 const char *hname, const char *hvalue) {
    sinch_batch_header h = {hname, hvalue};
    sinch_batch_response r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.headers = hname ? &h : NULL;
    r.n_headers = hname ? 1 : 0;
    CHECK_INT(sinch_batch_call_feed(call, now, &r), SINCH_BATCH_OK);
}

/* Expect a token request and answer it with token tok (expires_in secs). */
static void answer_token(sinch_batch_call *call, int64_t now, const char *tok, int secs) {
    sinch_batch_action a;
    char body[200];
    CHECK_INT(next(call, now, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    snprintf(body, sizeof body,
             "{\"access_token\":\"%s\",\"expires_in\":%d,\"scope\":\"\",\"token_type\":\"bearer\"}",
             tok, secs);
    feed(call, now, 200, body, NULL, NULL);
}

/* Expect the API request, carrying "Bearer tok". */
static void expect_api(sinch_batch_call *call, int64_t now, const char *tok) {
    sinch_batch_action a;
    char want[100];
    CHECK_INT(next(call, now, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 0);
    snprintf(want, sizeof want, "Bearer %s", tok);
    CHECK_STR(header(&a, "Authorization"), want);
}

/* ------------------------------------------------------------- tokens */

static void test_first_token_fetch(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;

    CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    CHECK_STR(a.method, "POST");
    CHECK_STR(a.url, TOKEN_URL);
    CHECK_STR(header(&a, "Authorization"), BASIC);
    CHECK_STR(header(&a, "Content-Type"), "application/x-www-form-urlencoded");
    CHECK_STR(header(&a, "Accept"), "application/json");
    CHECK_STR(header(&a, "User-Agent"), "sinch-batch/0.1.0 (C)");
    CHECK_INT(a.body_len, strlen("grant_type=client_credentials"));
    CHECK(a.body && memcmp(a.body, "grant_type=client_credentials", a.body_len) == 0);
    CHECK_INT(a.timeout_ms, 30000);
    /* asking again without feeding gives the same request */
    CHECK_INT(next(call, T0 + 5, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    feed(call, T0 + 10, 200, "{\"access_token\":\"tok-1\",\"expires_in\":3600}", NULL, NULL);

    CHECK_INT(next(call, T0 + 10, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 0);
    CHECK_STR(a.method, "GET");
    CHECK_STR(a.url, API "/messages/01BATCH");
    CHECK_STR(header(&a, "Authorization"), "Bearer tok-1");
    CHECK_STR(header(&a, "Accept"), "application/json");
    CHECK(header(&a, "Content-Type") == NULL);
    CHECK(a.body == NULL);
    feed(call, T0 + 20, 200, "{\"batch_id\":\"01BATCH\",\"status\":\"PROCESSED\"}", NULL, NULL);

    CHECK_INT(next(call, T0 + 20, &a), SINCH_BATCH_DONE);
    CHECK(a.error == NULL);
    CHECK_INT(a.status, 200);
    CHECK_INT(a.attempts, 1);
    CHECK_STR(a.response, "{\"batch_id\":\"01BATCH\",\"status\":\"PROCESSED\"}");
    CHECK_INT(a.response_len, strlen(a.response));
    CHECK_INT(sinch_batch_call_error(call)->kind, SINCH_BATCH_ERROR_NONE);
    /* DONE stays DONE */
    CHECK_INT(next(call, T0 + 30, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.status, 200);
    sinch_batch_call_free(call);

    /* the token is cached in the client: the next call goes straight out */
    call = call_op(c, SINCH_BATCH_OP_FIND, T0 + 40);
    expect_api(call, T0 + 40, "tok-1");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_refresh_ahead_of_expiry(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;
    int64_t expiry = T0 + 3600 * 1000LL;

    answer_token(call, T0, "tok-1", 3600);
    expect_api(call, T0, "tok-1");
    sinch_batch_call_free(call);

    /* 61 s before expiry: still used */
    call = call_op(c, SINCH_BATCH_OP_STATUS, expiry - 61000);
    expect_api(call, expiry - 61000, "tok-1");
    sinch_batch_call_free(call);

    /* 59 s before expiry: a new token first, though the old one still works */
    call = call_op(c, SINCH_BATCH_OP_STATUS, expiry - 59000);
    CHECK_INT(next(call, expiry - 59000, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    feed(call, expiry - 59000, 200, "{\"access_token\":\"tok-2\",\"expires_in\":3600}", NULL,
         NULL);
    expect_api(call, expiry - 59000, "tok-2");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_token_get_set(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    char buf[64];
    int64_t exp = 0;

    CHECK_INT(sinch_batch_client_get_token(c, T0, buf, sizeof buf, &exp), 0);
    answer_token(call, T0, "tok-1", 100);
    CHECK_INT(sinch_batch_client_get_token(c, T0, buf, sizeof buf, &exp), 5);
    CHECK_STR(buf, "tok-1");
    CHECK_INT(exp, T0 + 100000);
    CHECK_INT(sinch_batch_client_get_token(c, T0, buf, 5, &exp), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_client_get_token(c, T0 + 100000, buf, sizeof buf, &exp), 0);
    sinch_batch_call_free(call);

    /* a token installed from elsewhere is used without a fetch */
    CHECK_INT(sinch_batch_client_set_token(c, "shared", T0 + 3600000), SINCH_BATCH_OK);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0 + 1000);
    expect_api(call, T0 + 1000, "shared");
    sinch_batch_call_free(call);
    CHECK_INT(sinch_batch_client_set_token(c, "bad\r\nX: y", T0 + 3600000), SINCH_BATCH_ERR);
    sinch_batch_client_free(c);
}

static void test_short_lived_token_is_used(void) {
    /* expires_in shorter than the refresh margin: the fetching call still
     * uses it, and so do others for the first half of its life */
    sinch_batch_client *c = client();
    sinch_batch_call *a1 = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_call *a2;
    answer_token(a1, T0, "short", 30);
    expect_api(a1, T0, "short");
    a2 = call_op(c, SINCH_BATCH_OP_STATUS, T0 + 14000);
    expect_api(a2, T0 + 14000, "short");
    sinch_batch_call_free(a2);
    a2 = call_op(c, SINCH_BATCH_OP_STATUS, T0 + 16000);
    answer_token(a2, T0 + 16000, "short-2", 30);
    sinch_batch_call_free(a2);
    sinch_batch_call_free(a1);
    sinch_batch_client_free(c);
}

static void test_single_flight(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *x = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_call *y = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    CHECK_INT(next(x, T0, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    /* y waits while x fetches */
    CHECK_INT(next(y, T0, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 50);
    CHECK_INT(next(y, T0 + 50, &a), SINCH_BATCH_WAIT);
    feed(x, T0 + 60, 200, "{\"access_token\":\"tok-1\",\"expires_in\":3600}", NULL, NULL);
    /* both use the one token */
    expect_api(y, T0 + 100, "tok-1");
    expect_api(x, T0 + 100, "tok-1");
    sinch_batch_call_free(x);
    sinch_batch_call_free(y);
    sinch_batch_client_free(c);
}

static void test_single_flight_lease_and_release(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *x = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_call *y = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_call *z;
    sinch_batch_action a;

    CHECK_INT(next(x, T0, &a), SINCH_BATCH_PERFORM);
    /* the lease (timeout_ms = 30000) lapses: y takes over */
    CHECK_INT(next(y, T0 + 29999, &a), SINCH_BATCH_WAIT);
    CHECK_INT(next(y, T0 + 30000, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    /* a freed refresher releases the refresh at once */
    z = call_op(c, SINCH_BATCH_OP_STATUS, T0 + 30001);
    CHECK_INT(next(z, T0 + 30001, &a), SINCH_BATCH_WAIT);
    sinch_batch_call_free(y);
    CHECK_INT(next(z, T0 + 30002, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    /* x's late answer is still a good token */
    feed(x, T0 + 30003, 200, "{\"access_token\":\"late\"}", NULL, NULL);
    expect_api(x, T0 + 30003, "late");
    sinch_batch_call_free(x);
    sinch_batch_call_free(z);
    sinch_batch_client_free(c);
}

/* --------------------------------------------------------------- 401 */

static void test_401_expired_refreshes_and_retries_once(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    answer_token(call, T0, "tok-1", 3600);
    expect_api(call, T0, "tok-1");
    feed(call, T0 + 10, 401, "", "www-authenticate", EXPIRED_HDR);
    answer_token(call, T0 + 10, "tok-2", 3600);
    expect_api(call, T0 + 20, "tok-2");
    feed(call, T0 + 30, 200, "{\"batch_id\":\"B\"}", NULL, NULL);
    CHECK_INT(next(call, T0 + 30, &a), SINCH_BATCH_DONE);
    CHECK(a.error == NULL);
    CHECK_INT(a.attempts, 2);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_401_twice_is_auth(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;

    answer_token(call, T0, "tok-1", 3600);
    expect_api(call, T0, "tok-1");
    feed(call, T0, 401, "", "WWW-Authenticate", "Bearer error=\"expired\"");
    answer_token(call, T0, "tok-2", 3600);
    expect_api(call, T0, "tok-2");
    feed(call, T0, 401,
         "{\"error\":{\"code\":401,\"message\":\"Jwt expired\",\"status\":\"UNAUTHENTICATED\"}}",
         "WWW-Authenticate", "Bearer error=\"expired\"");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK(a.error != NULL);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_AUTH);
    CHECK_INT(a.error->status, 401);
    CHECK_STR(a.error->api_status, "UNAUTHENTICATED");
    CHECK_STR(a.error->message,
              "HTTP 401 UNAUTHENTICATED: Jwt expired; a fresh token was refused too");
    CHECK_INT(a.attempts, 2);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_401_not_expired_no_retry(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;
    char buf[32];

    answer_token(call, T0, "tok-1", 3600);
    expect_api(call, T0, "tok-1");
    feed(call, T0, 401, "", "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK(a.error != NULL);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_AUTH);
    CHECK_INT(a.error->status, 401);
    CHECK_STR(a.error->message, "HTTP 401");
    CHECK_INT(a.attempts, 1);
    /* the token was not dropped */
    CHECK_INT(sinch_batch_client_get_token(c, T0, buf, sizeof buf, NULL), 5);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_401_drops_only_the_failed_token(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *x = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_call *y = call_op(c, SINCH_BATCH_OP_STATUS, T0);

    answer_token(x, T0, "tok-1", 3600);
    expect_api(x, T0, "tok-1");
    expect_api(y, T0, "tok-1");
    feed(x, T0, 401, "", "WWW-Authenticate", EXPIRED_HDR);
    answer_token(x, T0, "tok-2", 3600);
    expect_api(x, T0, "tok-2");
    /* y's 401 is for tok-1, which is gone: tok-2 stays, y retries with it */
    feed(y, T0, 401, "", "WWW-Authenticate", EXPIRED_HDR);
    expect_api(y, T0, "tok-2");
    sinch_batch_call_free(x);
    sinch_batch_call_free(y);
    sinch_batch_client_free(c);
}

static void test_static_token(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;

    cfg.key_id = cfg.key_secret = NULL;
    cfg.token = "static-tok";
    c = client_with(&cfg);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "static-tok");
    feed(call, T0, 401, "", "WWW-Authenticate", EXPIRED_HDR);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_AUTH);
    CHECK_STR(a.error->message, "HTTP 401; the static token was refused");
    CHECK(strstr(a.error->message, "static-tok") == NULL);
    CHECK_INT(a.attempts, 1);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

/* ----------------------------------------------------- 429, 503, 5xx */

/* A client whose token is already cached. */
static sinch_batch_client *ready_client(sinch_batch_config *cfg) {
    sinch_batch_client *c = client_with(cfg);
    sinch_batch_client_set_token(c, "tok", T0 + 24 * 3600 * 1000LL);
    return c;
}

/* call_new copies the body; call_new_ref reads the caller's in place. */
static void test_body_copied_or_referenced(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    static const char body[] = "{\"app_id\":\"A\"}";
    sinch_batch_request req;
    sinch_batch_error err;
    sinch_batch_action a;
    int ref;
    for (ref = 0; ref <= 1; ref++) {
        sinch_batch_call *call;
        memset(&req, 0, sizeof req);
        req.op = SINCH_BATCH_OP_SEND;
        req.body = body;
        call = ref ? sinch_batch_call_new_ref(c, &req, 1000, &err)
                   : sinch_batch_call_new(c, &req, 1000, &err);
        CHECK(call != NULL);
        if (call == NULL) continue;
        CHECK_INT(next(call, 1000, &a), SINCH_BATCH_PERFORM);
        CHECK_INT(a.body_len, sizeof body - 1);
        CHECK(a.body != NULL && memcmp(a.body, body, sizeof body - 1) == 0);
        CHECK(ref ? a.body == body : a.body != body);
        sinch_batch_call_free(call);
    }
    sinch_batch_client_free(c);
}

static void test_429_retry_after_seconds(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    expect_api(call, T0, "tok");
    feed(call, T0 + 100, 429, "", "Retry-After", "7");
    CHECK_INT(next(call, T0 + 100, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 7000);
    CHECK_INT(next(call, T0 + 3100, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 4000);
    expect_api(call, T0 + 7100, "tok");
    feed(call, T0 + 7200, 202, "{\"batch_id\":\"B\"}", NULL, NULL);
    CHECK_INT(next(call, T0 + 7200, &a), SINCH_BATCH_DONE);
    CHECK(a.error == NULL);
    CHECK_INT(a.status, 202);
    CHECK_INT(a.attempts, 2);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_429_retry_after_date(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    expect_api(call, T0, "tok");
    feed(call, T0, 429, "", "retry-after", "Tue, 14 Nov 2023 22:13:32 GMT");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 12000);
    sinch_batch_call_free(call);

    /* a date in the past: retry at once */
    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 429, "", "Retry-After", "Tue, 14 Nov 2023 22:13:00 GMT");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_429_without_retry_after(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;
    int64_t now = T0;

    cfg.max_attempts = 3;
    c = ready_client(&cfg);
    call = call_op(c, SINCH_BATCH_OP_SEND, now);
    expect_api(call, now, "tok");
    feed(call, now, 429, "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}",
         "Retry-After", "soon"); /* unreadable: ignored */
    CHECK_INT(next(call, now, &a), SINCH_BATCH_WAIT);
    CHECK(a.wait_ms >= 0 && a.wait_ms <= 500);
    now += a.wait_ms;
    expect_api(call, now, "tok");
    feed(call, now, 429, "", NULL, NULL);
    if (next(call, now, &a) == SINCH_BATCH_WAIT) {
        CHECK(a.wait_ms >= 0 && a.wait_ms <= 1000);
        now += a.wait_ms;
    }
    expect_api(call, now, "tok");
    feed(call, now, 429, "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}", NULL,
         NULL);
    /* three attempts made: done, retryable */
    CHECK_INT(next(call, now, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(a.error->status, 429);
    CHECK_INT(a.error->retryable, 1);
    CHECK_INT(a.error->may_have_been_processed, 0);
    CHECK_STR(a.error->message, "HTTP 429 RESOURCE_EXHAUSTED");
    CHECK_INT(a.attempts, 3);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_503_retry(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    expect_api(call, T0, "tok");
    feed(call, T0, 503, "upstream unavailable", "Retry-After", "1");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 1000);
    expect_api(call, T0 + 1000, "tok");
    feed(call, T0 + 1000, 200, "{}", NULL, NULL);
    CHECK_INT(next(call, T0 + 1000, &a), SINCH_BATCH_DONE);
    CHECK(a.error == NULL);
    CHECK_INT(a.attempts, 2);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_500_on_send_is_not_resent(void) {
    static const sinch_batch_op posts[] = {SINCH_BATCH_OP_SEND, SINCH_BATCH_OP_CREATE_CONTACTS,
                                           SINCH_BATCH_OP_INSERT_CONSENTS};
    static const int statuses[] = {500, 502, 504};
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    size_t i, j;

    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) {
            sinch_batch_call *call = call_op(c, posts[i], T0);
            sinch_batch_action a;
            expect_api(call, T0, "tok");
            feed(call, T0, statuses[j],
                 "{\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}", NULL,
                 NULL);
            CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
            CHECK_INT(a.attempts, 1);
            CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
            CHECK_INT(a.error->status, statuses[j]);
            CHECK_INT(a.error->may_have_been_processed, 1);
            CHECK_INT(a.error->retryable, 0);
            CHECK_CONTAINS(a.error->message, "INTERNAL: boom; ");
            if (posts[i] == SINCH_BATCH_OP_SEND)
                CHECK_CONTAINS(a.error->message, "the batch may have been accepted: look it up "
                                                 "by its batch_metadata before any resend");
            else
                CHECK_CONTAINS(a.error->message, "may have processed the request");
            sinch_batch_call_free(call);
        }
    }
    sinch_batch_client_free(c);
}

static void test_5xx_on_get_and_delete_retried(void) {
    static const sinch_batch_op ops[] = {SINCH_BATCH_OP_STATUS, SINCH_BATCH_OP_FIND,
                                         SINCH_BATCH_OP_CANCEL, SINCH_BATCH_OP_DELETE_CONTACTS};
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    size_t i;

    for (i = 0; i < 4; i++) {
        sinch_batch_call *call = call_op(c, ops[i], T0);
        sinch_batch_action a;
        expect_api(call, T0, "tok");
        feed(call, T0, 500, "", NULL, NULL);
        CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
        CHECK(a.wait_ms <= 500);
        expect_api(call, T0 + a.wait_ms, "tok");
        feed(call, T0 + 600, 504, "", NULL, NULL);
        CHECK_INT(next(call, T0 + 600, &a), SINCH_BATCH_WAIT);
        expect_api(call, T0 + 600 + a.wait_ms, "tok");
        feed(call, T0 + 2000, 200, "[]", NULL, NULL);
        CHECK_INT(next(call, T0 + 2000, &a), SINCH_BATCH_DONE);
        CHECK(a.error == NULL);
        CHECK_INT(a.attempts, 3);
        sinch_batch_call_free(call);
    }
    sinch_batch_client_free(c);
}

static void test_other_4xx_not_retried(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;

    expect_api(call, T0, "tok");
    feed(call, T0, 404,
         "{\"error\":{\"code\":404,\"message\":\"Batch not found\",\"status\":\"NOT_FOUND\","
         "\"details\":[]}}",
         NULL, NULL);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(a.error->status, 404);
    CHECK_INT(a.error->code, 404);
    CHECK_STR(a.error->api_status, "NOT_FOUND");
    CHECK_STR(a.error->message, "HTTP 404 NOT_FOUND: Batch not found");
    CHECK_INT(a.error->retryable, 0);
    CHECK_INT(a.attempts, 1);
    CHECK_INT(a.status, 404);
    CHECK_CONTAINS(a.response, "Batch not found");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

/* ------------------------------------------------- transport failures */

static void test_transport_errors(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call;
    sinch_batch_action a;

    /* connect failure on a send: nothing went out, retried */
    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, "tok");
    CHECK_INT(sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_CONNECT, 0, "refused"),
              SINCH_BATCH_OK);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
    expect_api(call, T0 + a.wait_ms, "tok");
    sinch_batch_call_free(call);

    /* IO failure before sending: retried too */
    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, "tok");
    sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_IO, 0, "reset");
    CHECK_INT(next(call, T0 + 1000, &a), SINCH_BATCH_PERFORM);
    sinch_batch_call_free(call);

    /* timeout after the body went out on a send: never resent */
    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, "tok");
    sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_TIMEOUT, 1, "no answer in 30000 ms");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_INT(a.error->may_have_been_processed, 1);
    CHECK_INT(a.error->retryable, 0);
    CHECK_INT(a.attempts, 1);
    CHECK_INT(a.status, 0);
    CHECK_CONTAINS(a.error->message, "POST " API "/messages: timed out: no answer in 30000 ms; "
                                     "the batch may have been accepted");
    sinch_batch_call_free(call);

    /* the same on a GET is retried */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_IO, 1, "reset by peer");
    CHECK_INT(next(call, T0 + 1000, &a), SINCH_BATCH_PERFORM);
    sinch_batch_call_free(call);

    /* TLS: not retried */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_TLS, 0, "certificate verify failed");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TLS);
    CHECK_INT(a.error->retryable, 0);
    CHECK_CONTAINS(a.error->message, "certificate verify failed");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

/* ------------------------------------------------------------- bounds */

static void test_attempts_bound(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;
    int64_t now = T0;
    int performs = 0;

    cfg.max_attempts = 4;
    cfg.deadline_ms = 3600000;
    c = ready_client(&cfg);
    call = call_op(c, SINCH_BATCH_OP_STATUS, now);
    while (next(call, now, &a) != SINCH_BATCH_DONE && performs < 100) {
        if (a.kind == SINCH_BATCH_WAIT) {
            now += a.wait_ms;
            continue;
        }
        performs++;
        feed(call, now, 503, "", NULL, NULL);
    }
    CHECK_INT(performs, 4);
    CHECK_INT(a.attempts, 4);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(a.error->status, 503);
    CHECK_INT(a.error->retryable, 1);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_deadline_bound(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;

    cfg.max_attempts = 10;
    cfg.deadline_ms = 10000;
    c = ready_client(&cfg);

    /* Retry-After of 4 s: attempts at 0, 4 and 8 s; 12 s is past the deadline */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 429, "", "Retry-After", "4");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
    expect_api(call, T0 + 4000, "tok");
    feed(call, T0 + 4000, 429, "", "Retry-After", "4");
    CHECK_INT(next(call, T0 + 4000, &a), SINCH_BATCH_WAIT);
    CHECK_INT(next(call, T0 + 8000, &a), SINCH_BATCH_PERFORM);
    /* the request itself may only use what is left */
    CHECK_INT(a.timeout_ms, 2000);
    feed(call, T0 + 8000, 429, "", "Retry-After", "4");
    CHECK_INT(next(call, T0 + 8000, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.attempts, 3);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_INT(a.error->status, 429);
    CHECK_INT(a.error->retryable, 1);
    CHECK_CONTAINS(a.error->message, "deadline of 10000 ms reached");
    CHECK_CONTAINS(a.error->message, "last error: HTTP 429");
    sinch_batch_call_free(call);

    /* a driver that comes back after the deadline gets DONE, not a request */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 503, "", "Retry-After", "1");
    CHECK_INT(next(call, T0 + 10000, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_INT(a.attempts, 1);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);

    /* the count in the message is of API attempts: token requests are not
     * attempts (one API attempt after two token requests says 1) */
    cfg = config();
    cfg.max_attempts = 10;
    cfg.deadline_ms = 10000;
    c = client_with(&cfg);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(a.is_token_request, 1);
    feed(call, T0, 503, "", "Retry-After", "1");
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_WAIT);
    answer_token(call, T0 + 1000, "tok", 3600);
    expect_api(call, T0 + 1000, "tok");
    feed(call, T0 + 1000, 503, "", "Retry-After", "20");
    CHECK_INT(next(call, T0 + 1000, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TIMEOUT);
    CHECK_CONTAINS(a.error->message, "after 1 attempt(s)");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_backoff_bounds(void) {
    /* base 100, max 1000: caps 100, 200, 400, 800, 1000, 1000 */
    static const long caps[] = {100, 200, 400, 800, 1000, 1000};
    long lo[6], hi[6];
    uint64_t seed;
    int i;

    for (i = 0; i < 6; i++) {
        lo[i] = 1L << 30;
        hi[i] = -1;
    }
    for (seed = 1; seed <= 500; seed++) {
        sinch_batch_config cfg = config();
        sinch_batch_client *c;
        sinch_batch_call *call;
        sinch_batch_action a;
        int64_t now = T0;

        cfg.seed = seed;
        cfg.max_attempts = 7;
        cfg.backoff_base_ms = 100;
        cfg.backoff_max_ms = 1000;
        cfg.deadline_ms = 3600000;
        c = ready_client(&cfg);
        call = call_op(c, SINCH_BATCH_OP_STATUS, now);
        for (i = 0; i < 6; i++) {
            expect_api(call, now, "tok");
            feed(call, now, 503, "", NULL, NULL);
            if (next(call, now, &a) == SINCH_BATCH_WAIT) {
                if (a.wait_ms < lo[i]) lo[i] = a.wait_ms;
                if (a.wait_ms > hi[i]) hi[i] = a.wait_ms;
                now += a.wait_ms;
            } else {
                CHECK_INT(a.kind, SINCH_BATCH_PERFORM); /* a wait of 0 */
                lo[i] = 0;
            }
        }
        sinch_batch_call_free(call);
        sinch_batch_client_free(c);
    }
    for (i = 0; i < 6; i++) {
        /* within [0, cap], and spread over it (full jitter) */
        CHECK(lo[i] >= 0);
        CHECK(hi[i] <= caps[i]);
        CHECK(lo[i] <= caps[i] / 10);
        CHECK(hi[i] >= caps[i] * 9 / 10);
    }
}

/* ------------------------------------------------------ token endpoint */

static void test_token_endpoint_refuses(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
    feed(call, T0, 401,
         "{\"error\":\"invalid_client\",\"error_description\":\"bad secret " SECRET
         " for kid\"}",
         NULL, NULL);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_AUTH);
    CHECK_INT(a.error->status, 401);
    CHECK_INT(a.error->retryable, 0);
    CHECK_INT(a.attempts, 0);
    CHECK_STR(a.error->message, "token request refused by " TOKEN_URL
                                ": HTTP 401: invalid_client: bad secret [redacted] for kid; "
                                "check key_id and key_secret");
    CHECK(strstr(a.error->message, SECRET) == NULL);
    CHECK(strstr(a.error->message, "a2lkOnMzY3IzdC1LRVk") == NULL);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_token_endpoint_retried(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;
    int64_t now = T0;

    c = client_with(&cfg);
    call = call_op(c, SINCH_BATCH_OP_SEND, now);
    CHECK_INT(next(call, now, &a), SINCH_BATCH_PERFORM);
    feed(call, now, 429, "", "Retry-After", "2");
    CHECK_INT(next(call, now, &a), SINCH_BATCH_WAIT);
    CHECK_INT(a.wait_ms, 2000);
    now += 2000;
    CHECK_INT(next(call, now, &a), SINCH_BATCH_PERFORM);
    CHECK_INT(sinch_batch_call_feed_error(call, now, SINCH_BATCH_TE_CONNECT, 0, "refused"),
              SINCH_BATCH_OK);
    if (next(call, now, &a) == SINCH_BATCH_WAIT) now += a.wait_ms;
    answer_token(call, now, "tok-1", 3600);
    expect_api(call, now, "tok-1");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);

    /* token attempts run out: the last error, retryable */
    c = client_with(&cfg);
    call = call_op(c, SINCH_BATCH_OP_SEND, now);
    while (next(call, now, &a) != SINCH_BATCH_DONE) {
        if (a.kind == SINCH_BATCH_WAIT) {
            now += a.wait_ms;
            continue;
        }
        CHECK_INT(a.is_token_request, 1);
        feed(call, now, 503, "<html>busy</html>", NULL, NULL);
    }
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(a.error->status, 503);
    CHECK_INT(a.error->retryable, 1);
    CHECK_INT(a.attempts, 0);
    CHECK_STR(a.error->message, "token request to " TOKEN_URL ": HTTP 503: <html>busy</html>");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_token_response_unreadable(void) {
    sinch_batch_client *c = client();
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    sinch_batch_action a;

    next(call, T0, &a);
    feed(call, T0, 200, "{\"token_type\":\"bearer\"}", NULL, NULL);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_JSON);
    CHECK_STR(a.error->message, "token response has no access_token string (from " TOKEN_URL ")");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

/* -------------------------------------------------------- error bodies */

static void test_error_bodies(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;
    char big[600];

    cfg.max_attempts = 1;
    c = ready_client(&cfg);

    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 400,
         "{\"error\":{\"code\":400,\"message\":\"Invalid argument\",\"status\":\"INVALID_ARGUMENT\","
         "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\"}]}}",
         NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(a.error->code, 400);
    CHECK_STR(a.error->api_status, "INVALID_ARGUMENT");
    CHECK_STR(a.error->message, "HTTP 400 INVALID_ARGUMENT: Invalid argument");
    CHECK_INT(a.error->retryable, 0);
    CHECK_INT(a.error->may_have_been_processed, 0);
    sinch_batch_call_free(call);

    /* a gateway's HTML, newlines flattened */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 502, "<html>\r\nBad gateway\n</html>", NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(a.error->status, 502);
    CHECK_STR(a.error->api_status, "");
    CHECK_STR(a.error->message, "HTTP 502: <html>  Bad gateway </html>");
    sinch_batch_call_free(call);

    /* a long body: the first 200 bytes */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 418, big, NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(strlen(a.error->message), strlen("HTTP 418: ") + 200);
    CHECK_INT(a.response_len, sizeof big - 1);
    sinch_batch_call_free(call);

    /* JSON of another shape, and an empty body */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 403, "{\"error\":\"nope\"}", NULL, NULL);
    next(call, T0, &a);
    CHECK_STR(a.error->message, "HTTP 403");
    sinch_batch_call_free(call);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, "tok");
    feed(call, T0, 409, NULL, NULL, NULL);
    next(call, T0, &a);
    CHECK_STR(a.error->message, "HTTP 409");
    CHECK_STR(a.response, "");
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

/* ------------------------------------------------ requests of each op */

/* A secret a server echoes is cut out before the text is shortened to fit
 * a message: none of its bytes may remain, not even the half that fits. */
#define LONG_TOKEN "LONGTOKEN-0123456789abcdefghij"
#define SLASH_TOKEN "tok/en/ABCDEFGHIJKLMNOPQRSTU"

static void no_token_prefix(const char *msg) {
    CHECK(strstr(msg, "LONGTOKEN") == NULL);
    CHECK(strstr(msg, "LONGTOK") == NULL);
}

static void test_echoed_secrets_cut_before_truncation(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    sinch_batch_call *call;
    sinch_batch_action a;
    char body[1200];

    cfg.max_attempts = 1;
    c = client_with(&cfg);
    CHECK_INT(sinch_batch_client_set_token(c, LONG_TOKEN, T0 + 24 * 3600 * 1000LL), 0);

    /* a non-JSON body: the token straddles the 200-byte snippet's end
     * (it starts at byte 190) */
    memset(body, 'x', 183);
    strcpy(body + 183, "Bearer " LONG_TOKEN);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, LONG_TOKEN);
    feed(call, T0, 418, body, NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(a.error->status, 418);
    no_token_prefix(a.error->message);
    sinch_batch_call_free(call);

    /* a JSON message whose end is cut by the message buffer, and a note
     * appended after it (an ambiguous send) */
    memset(body, 0, sizeof body);
    strcpy(body, "{\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":\"");
    memset(body + strlen(body), 'm', 470);
    strcat(body, " Bearer " LONG_TOKEN "\"}}");
    call = call_op(c, SINCH_BATCH_OP_SEND, T0);
    expect_api(call, T0, LONG_TOKEN);
    feed(call, T0, 500, body, NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(a.error->may_have_been_processed, 1);
    CHECK_CONTAINS(a.error->message, "look it up by its batch_metadata");
    no_token_prefix(a.error->message);
    sinch_batch_call_free(call);

    /* the token in the API's error.status */
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, LONG_TOKEN);
    feed(call, T0, 400, "{\"error\":{\"code\":400,\"status\":\"" LONG_TOKEN "\",\"message\":\"no\"}}",
         NULL, NULL);
    next(call, T0, &a);
    CHECK_STR(a.error->api_status, "[redacted]");
    no_token_prefix(a.error->message);
    sinch_batch_call_free(call);

    /* a transport's message, cut at 300 bytes in the middle of the token */
    memset(body, 'e', 280);
    strcpy(body + 280, LONG_TOKEN);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    expect_api(call, T0, LONG_TOKEN);
    CHECK_INT(sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_TLS, 0, body), 0);
    next(call, T0, &a);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_TLS);
    CHECK_CONTAINS(a.error->message, "[redacted]");
    no_token_prefix(a.error->message);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);

    /* a token with "/" echoed JSON-escaped ("\/") or URL-encoded inside a
     * long error: redacted in the decoded text, before the cut */
    c = client_with(&cfg);
    CHECK_INT(sinch_batch_client_set_token(c, SLASH_TOKEN, T0 + 24 * 3600 * 1000LL), 0);
    {
        static const char *const echoes[] = {
            /* JSON: jansson decodes \/ and \u0041 before the cut */
            "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"message\":\"%s "
            "tok\\/en\\/\\u0041BCDEFGHIJKLMNOPQRSTU\"}}",
            /* not JSON: the escaped spelling stays as it came */
            "%s tok\\/en\\/ABCDEFGHIJKLMNOPQRSTU",
            "%s tok%%2Fen%%2FABCDEFGHIJKLMNOPQRSTU",
            "%s tok%%2fen%%2fABCDEFGHIJKLMNOPQRSTU",
        };
        size_t k;
        char pad[480];
        memset(pad, 'p', sizeof pad - 1);
        pad[sizeof pad - 1] = '\0';
        for (k = 0; k < sizeof echoes / sizeof echoes[0]; k++) {
            /* the token starts just before the 512-byte message (JSON) or
             * the 200-byte snippet (not JSON) is cut */
            snprintf(body, sizeof body, echoes[k], pad + (k == 0 ? 0 : 300));
            call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
            expect_api(call, T0, SLASH_TOKEN);
            feed(call, T0, 400, body, NULL, NULL);
            next(call, T0, &a);
            CHECK(a.error != NULL);
            if (a.error) {
                CHECK(strstr(a.error->message, "tok") == NULL);
                CHECK(strstr(a.error->message, "ABCD") == NULL);
                CHECK(strstr(a.error->message, "en\\/") == NULL);
            }
            sinch_batch_call_free(call);
        }
    }
    sinch_batch_client_free(c);

    /* the token endpoint echoing the key secret past its 256-byte cut */
    c = client_with(&cfg);
    call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
    memset(body, 0, sizeof body);
    strcpy(body, "{\"error\":\"invalid_client\",\"error_description\":\"");
    memset(body + strlen(body), 'd', 250);
    strcat(body, " " SECRET "\"}");
    feed(call, T0, 401, body, NULL, NULL);
    next(call, T0, &a);
    CHECK_INT(a.error->kind, SINCH_BATCH_ERROR_AUTH);
    CHECK(strstr(a.error->message, "s3cr3t") == NULL);
    CHECK(strstr(a.error->message, "s3c") == NULL);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_requests_of_each_op(void) {
    static const struct {
        sinch_batch_op op;
        const char *method, *url;
    } want[] = {
        {SINCH_BATCH_OP_SEND, "POST", API "/messages"},
        {SINCH_BATCH_OP_CANCEL, "DELETE", API "/messages"},
        {SINCH_BATCH_OP_STATUS, "GET", API "/messages/01%2FB%20C"},
        {SINCH_BATCH_OP_FIND, "GET", API "/messages?metadataKey=a%20b%26c&metadataValue=x%2Fy%3Dz%C3%A9"},
        {SINCH_BATCH_OP_CREATE_CONTACTS, "POST", API "/contacts"},
        {SINCH_BATCH_OP_DELETE_CONTACTS, "DELETE", API "/contacts"},
        {SINCH_BATCH_OP_INSERT_CONSENTS, "POST", API "/consents"},
    };
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    size_t i;

    cfg.user_agent = "sinch-batch/0.1.0 (Lua 5.4; libcurl/7.88.1)";
    c = ready_client(&cfg);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        sinch_batch_request req;
        sinch_batch_error err;
        sinch_batch_call *call;
        sinch_batch_action a;
        int has_body = want[i].op != SINCH_BATCH_OP_STATUS && want[i].op != SINCH_BATCH_OP_FIND;

        memset(&req, 0, sizeof req);
        req.op = want[i].op;
        req.batch_id = "01/B C";
        req.metadata_key = "a b&c";
        req.metadata_value = "x/y=z\xc3\xa9";
        req.body = has_body ? "{\"ids\":[\"1\"]}trailing" : NULL;
        req.body_len = has_body ? 13 : 0;
        call = sinch_batch_call_new(c, &req, T0, &err);
        CHECK(call != NULL);
        if (call == NULL) continue;
        CHECK_INT(sinch_batch_call_op(call), want[i].op);
        CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
        CHECK_STR(a.method, want[i].method);
        CHECK_STR(a.url, want[i].url);
        CHECK_STR(header(&a, "Authorization"), "Bearer tok");
        CHECK_STR(header(&a, "Accept"), "application/json");
        CHECK_STR(header(&a, "User-Agent"), "sinch-batch/0.1.0 (Lua 5.4; libcurl/7.88.1)");
        if (has_body) {
            CHECK_STR(header(&a, "Content-Type"), "application/json");
            CHECK_INT(a.body_len, 13);
            CHECK(a.body && memcmp(a.body, "{\"ids\":[\"1\"]}", 13) == 0);
        } else {
            CHECK(header(&a, "Content-Type") == NULL);
            CHECK(a.body == NULL);
            CHECK_INT(a.body_len, 0);
        }
        sinch_batch_call_free(call);
    }
    sinch_batch_client_free(c);
}

/* base_url and auth_url name every request in messages: no credentials in
 * them, and no byte that would break the request line. */
static void expect_config_invalid(const sinch_batch_config *cfg, const char *msg) {
    sinch_batch_error err;
    sinch_batch_client *c = sinch_batch_client_new(cfg, &err);
    CHECK(c == NULL);
    CHECK_INT(err.kind, SINCH_BATCH_ERROR_INVALID);
    CHECK_STR(err.message, msg);
    sinch_batch_client_free(c);
}

static void test_config_urls(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;

    cfg.base_url = "https://user:pa55word@api.example.com";
    expect_config_invalid(&cfg, "base_url: must not hold credentials (user:password@); give "
                                "key_id and key_secret, or token");
    cfg = config();
    cfg.auth_url = "https://kid:" SECRET "@auth.example.com/";
    expect_config_invalid(&cfg, "auth_url: must not hold credentials (user:password@); give "
                                "key_id and key_secret, or token");
    cfg = config();
    cfg.base_url = "http://127.0.0.1:9/a b";
    expect_config_invalid(&cfg, "base_url: must be an http:// or https:// URL without spaces");
    cfg = config();
    cfg.auth_url = "http://127.0.0.1:9/\xc3\xa9";
    expect_config_invalid(&cfg, "auth_url: must be an http:// or https:// URL without spaces");

    /* an '@' after the authority is only a path byte */
    cfg = config();
    cfg.base_url = "http://127.0.0.1:9/api@v1";
    c = client_with(&cfg);
    CHECK(c != NULL);
    sinch_batch_client_free(c);
}

static void test_call_new_validation(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_request req;
    sinch_batch_error err;

    memset(&req, 0, sizeof req);
    req.op = SINCH_BATCH_OP_SEND;
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_INT(err.kind, SINCH_BATCH_ERROR_INVALID);
    CHECK_STR(err.message, "body: required for SEND, a JSON text");
    req.op = SINCH_BATCH_OP_DELETE_CONTACTS;
    req.body = "";
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "body: required for DELETE_CONTACTS, a JSON text");
    req.op = SINCH_BATCH_OP_STATUS;
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "batch_id: required for STATUS, a non-empty string");
    /* dot segments would become GET .../projects/proj/ once normalised */
    req.batch_id = "..";
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "batch_id: \"..\" is a dot segment, not an id");
    req.batch_id = ".";
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "batch_id: \".\" is a dot segment, not an id");
    {
        /* other ids are percent-encoded: they stay one segment */
        sinch_batch_action a;
        sinch_batch_call *call;
        req.batch_id = ".../a/../b c";
        call = sinch_batch_call_new(c, &req, T0, &err);
        CHECK(call != NULL);
        if (call) {
            CHECK_INT(next(call, T0, &a), SINCH_BATCH_PERFORM);
            CHECK_STR(a.url, "http://127.0.0.1:9/api/v1/projects/proj/messages/...%2Fa%2F..%2Fb%20c");
            sinch_batch_call_free(call);
        }
    }
    req.batch_id = NULL;
    req.op = SINCH_BATCH_OP_FIND;
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "metadata_key: required for FIND, a non-empty string");
    req.metadata_key = "k";
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "metadata_value: required for FIND, a string");
    req.op = (sinch_batch_op)99;
    CHECK(sinch_batch_call_new(c, &req, T0, &err) == NULL);
    CHECK_STR(err.message, "op: 99 is not a known operation");
    CHECK(sinch_batch_call_new(c, NULL, T0, &err) == NULL);
    CHECK_STR(err.message, "request: required");
    sinch_batch_client_free(c);
}

static void test_feed_misuse(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_response r;
    sinch_batch_action a;

    memset(&r, 0, sizeof r);
    r.status = 200;
    CHECK_INT(sinch_batch_call_feed(call, T0, &r), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_call_error(call)->kind, SINCH_BATCH_ERROR_INTERNAL);
    CHECK_STR(sinch_batch_call_error(call)->message, "feed without a pending request");
    CHECK_INT(sinch_batch_call_feed_error(call, T0, SINCH_BATCH_TE_IO, 0, NULL),
              SINCH_BATCH_ERR);
    CHECK_STR(sinch_batch_call_error(call)->message, "feed_error without a pending request");
    /* the call still works */
    expect_api(call, T0, "tok");
    feed(call, T0, 404, "", NULL, NULL);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    /* feeding a finished call fails and keeps its error */
    CHECK_INT(sinch_batch_call_feed(call, T0, &r), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_call_error(call)->kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_INT(sinch_batch_call_error(call)->status, 404);
    sinch_batch_call_free(call);
    sinch_batch_client_free(c);
}

static void test_client_freed_before_call(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c = ready_client(&cfg);
    sinch_batch_call *call = call_op(c, SINCH_BATCH_OP_STATUS, T0);
    sinch_batch_action a;

    sinch_batch_client_free(c); /* the call keeps it alive */
    expect_api(call, T0, "tok");
    feed(call, T0, 200, "{}", NULL, NULL);
    CHECK_INT(next(call, T0, &a), SINCH_BATCH_DONE);
    CHECK(a.error == NULL);
    sinch_batch_call_free(call);
}

int main(void) {
    RUN(test_first_token_fetch);
    RUN(test_refresh_ahead_of_expiry);
    RUN(test_token_get_set);
    RUN(test_short_lived_token_is_used);
    RUN(test_single_flight);
    RUN(test_single_flight_lease_and_release);
    RUN(test_401_expired_refreshes_and_retries_once);
    RUN(test_401_twice_is_auth);
    RUN(test_401_not_expired_no_retry);
    RUN(test_401_drops_only_the_failed_token);
    RUN(test_static_token);
    RUN(test_body_copied_or_referenced);
    RUN(test_429_retry_after_seconds);
    RUN(test_429_retry_after_date);
    RUN(test_429_without_retry_after);
    RUN(test_503_retry);
    RUN(test_500_on_send_is_not_resent);
    RUN(test_5xx_on_get_and_delete_retried);
    RUN(test_other_4xx_not_retried);
    RUN(test_transport_errors);
    RUN(test_attempts_bound);
    RUN(test_deadline_bound);
    RUN(test_backoff_bounds);
    RUN(test_token_endpoint_refuses);
    RUN(test_token_endpoint_retried);
    RUN(test_token_response_unreadable);
    RUN(test_error_bodies);
    RUN(test_echoed_secrets_cut_before_truncation);
    RUN(test_requests_of_each_op);
    RUN(test_call_new_validation);
    RUN(test_config_urls);
    RUN(test_feed_misuse);
    RUN(test_client_freed_before_call);
    CHECK_DONE();
}
