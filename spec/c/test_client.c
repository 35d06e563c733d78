/* test_client.c -- client configuration and validation, the error helpers
 * and the JSON string reader. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core.h"
#include "sinch_batch.h"

#define SECRET "s3cr3t-KEY"

static sinch_batch_config config(void) {
    sinch_batch_config cfg;
    sinch_batch_config_init(&cfg);
    cfg.project_id = "proj-1";
    cfg.region = "us";
    cfg.key_id = "kid";
    cfg.key_secret = SECRET;
    return cfg;
}

/* client_new must fail with kind INVALID and exactly this message. */
static void expect_invalid(const sinch_batch_config *cfg, const char *message) {
    sinch_batch_error err;
    sinch_batch_client *c = sinch_batch_client_new(cfg, &err);
    CHECK(c == NULL);
    CHECK_INT(err.kind, SINCH_BATCH_ERROR_INVALID);
    CHECK_STR(err.message, message);
    CHECK(strstr(err.message, SECRET) == NULL);
    sinch_batch_client_free(c);
}

static void test_defaults(void) {
    sinch_batch_config cfg;
    memset(&cfg, 0x55, sizeof cfg);
    sinch_batch_config_init(&cfg);
    CHECK(cfg.region == NULL && cfg.auth_url == NULL);
    CHECK(cfg.project_id == NULL && cfg.base_url == NULL && cfg.token == NULL);
    CHECK(cfg.key_id == NULL && cfg.key_secret == NULL && cfg.user_agent == NULL);
    CHECK_INT(cfg.max_attempts, 3);
    CHECK_INT(cfg.timeout_ms, 30000);
    CHECK_INT(cfg.deadline_ms, 60000);
    CHECK_INT(cfg.backoff_base_ms, 500);
    CHECK_INT(cfg.backoff_max_ms, 20000);
    CHECK_INT(cfg.refresh_ahead_ms, 60000);
    CHECK_INT(cfg.seed, 0);
}

static void test_regions_and_urls(void) {
    static const char *regions[] = {"us", "eu", "br"};
    sinch_batch_config cfg = config();
    sinch_batch_error err;
    sinch_batch_client *c;
    size_t i;
    char want[100];

    for (i = 0; i < 3; i++) {
        cfg.region = regions[i];
        c = sinch_batch_client_new(&cfg, &err);
        CHECK(c != NULL);
        if (c == NULL) continue;
        CHECK_INT(err.kind, SINCH_BATCH_ERROR_NONE);
        snprintf(want, sizeof want, "https://%s.conversationbatch.api.sinch.com", regions[i]);
        CHECK_STR(sinch_batch_client_base_url(c), want);
        CHECK_STR(sinch_batch_client_region(c), regions[i]);
        CHECK_STR(sinch_batch_client_project_id(c), "proj-1");
        sinch_batch_client_free(c);
    }

    /* no region and no base_url: refused, as in Lua and the CLI */
    cfg.region = NULL;
    c = sinch_batch_client_new(&cfg, &err);
    CHECK(c == NULL);
    CHECK_STR(err.message, "region: required, one of us, eu, br (the region of your "
                           "Conversation API app), or give base_url");
    cfg.region = "";
    CHECK(sinch_batch_client_new(&cfg, NULL) == NULL);

    /* base_url wins over the region, trailing slashes dropped */
    cfg.region = "xx";
    cfg.base_url = "http://127.0.0.1:8080//";
    c = sinch_batch_client_new(&cfg, &err);
    CHECK(c != NULL);
    CHECK_STR(sinch_batch_client_base_url(c), "http://127.0.0.1:8080");
    CHECK_STR(sinch_batch_client_region(c), "xx");
    sinch_batch_client_free(c);
}

static void test_strings_are_copied(void) {
    char project[] = "proj-1", secret[] = "abc", url[] = "http://127.0.0.1:1";
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    cfg.project_id = project;
    cfg.key_secret = secret;
    cfg.base_url = url;
    c = sinch_batch_client_new(&cfg, NULL);
    memset(project, 'Z', sizeof project - 1);
    memset(url, 'Z', sizeof url - 1);
    CHECK_STR(sinch_batch_client_project_id(c), "proj-1");
    CHECK_STR(sinch_batch_client_base_url(c), "http://127.0.0.1:1");
    sinch_batch_client_free(c);
}

static void test_validation_messages(void) {
    sinch_batch_config cfg = config();

    cfg.project_id = NULL;
    expect_invalid(&cfg, "project_id: required, a non-empty string");
    cfg.project_id = "";
    expect_invalid(&cfg, "project_id: required, a non-empty string");
    cfg.project_id = "ab/c";
    expect_invalid(&cfg,
                   "project_id: character 3 is not allowed; use letters, digits, '-', '_', "
                   "'.' or '~'");
    cfg = config();
    cfg.region = "xx";
    expect_invalid(&cfg, "region: \"xx\" is not one of us, eu, br");
    cfg.region = "EU";
    expect_invalid(&cfg, "region: \"EU\" is not one of us, eu, br");
    cfg = config();
    cfg.base_url = "ftp://example";
    expect_invalid(&cfg, "base_url: must be an http:// or https:// URL without spaces");
    cfg = config();
    cfg.auth_url = "auth.sinch.com";
    expect_invalid(&cfg, "auth_url: must be an http:// or https:// URL without spaces");

    cfg = config();
    cfg.key_id = cfg.key_secret = NULL;
    expect_invalid(&cfg,
                   "key_id, key_secret: credentials required (key_id and key_secret, or token)");
    cfg.key_id = "kid";
    expect_invalid(&cfg, "key_secret: required with key_id");
    cfg.key_id = NULL;
    cfg.key_secret = SECRET;
    expect_invalid(&cfg, "key_id: required with key_secret");
    cfg.key_id = "kid";
    cfg.token = "tok";
    expect_invalid(&cfg, "token: give either token or key_id and key_secret, not both");
    cfg.key_id = cfg.key_secret = NULL;
    cfg.token = "tok\nX-Evil: 1";
    expect_invalid(&cfg, "token: character 4 is a control or non-ASCII character");
    cfg = config();
    cfg.key_id = "k:id";
    expect_invalid(&cfg, "key_id: must be printable ASCII without ':'");
    cfg = config();
    cfg.user_agent = "ua\r\n";
    expect_invalid(&cfg, "user_agent: character 3 is a control or non-ASCII character");
    cfg = config();
    cfg.max_attempts = -1;
    expect_invalid(&cfg, "max_attempts: must be >= 0 (got -1)");
    cfg = config();
    cfg.deadline_ms = -5;
    expect_invalid(&cfg, "deadline_ms: must be 0 to 604800000 ms (got -5)");
    /* near LONG_MAX a refresh lease (now + timeout) would overflow */
    cfg = config();
    cfg.timeout_ms = LONG_MAX;
    expect_invalid(&cfg, "timeout_ms: must be 0 to 604800000 ms (got 9223372036854775807)");
    cfg = config();
    cfg.deadline_ms = LONG_MAX - 1;
    expect_invalid(&cfg, "deadline_ms: must be 0 to 604800000 ms (got 9223372036854775806)");
    cfg = config();
    cfg.refresh_ahead_ms = SINCH_BATCH_MAX_DURATION_MS + 1;
    expect_invalid(&cfg, "refresh_ahead_ms: must be 0 to 604800000 ms (got 604800001)");
    cfg = config();
    cfg.backoff_max_ms = cfg.backoff_base_ms = cfg.timeout_ms = cfg.deadline_ms =
        SINCH_BATCH_MAX_DURATION_MS;
    {
        sinch_batch_error err;
        sinch_batch_client *c = sinch_batch_client_new(&cfg, &err);
        CHECK(c != NULL);
        sinch_batch_client_free(c);
    }
    cfg = config();
    cfg.project_id = "..";
    expect_invalid(&cfg, "project_id: \"..\" is a dot segment, not an id");
    cfg.project_id = ".";
    expect_invalid(&cfg, "project_id: \".\" is a dot segment, not an id");
    expect_invalid(NULL, "config: required");
}

static void test_token_mode(void) {
    sinch_batch_config cfg = config();
    sinch_batch_client *c;
    char buf[32];
    int64_t exp = 0;

    cfg.key_id = cfg.key_secret = NULL;
    cfg.token = "static";
    c = sinch_batch_client_new(&cfg, NULL);
    CHECK(c != NULL);
    CHECK_INT(sinch_batch_client_get_token(c, 0, buf, sizeof buf, &exp), 6);
    CHECK_STR(buf, "static");
    CHECK_INT(exp, INT64_MAX);
    sinch_batch_client_free(c);
}

static void test_error_helpers(void) {
    sinch_batch_error e;
    static const char *names[] = {"none", "network", "timeout", "tls", "http",
                                  "auth", "invalid", "json", "internal"};
    int k;

    for (k = SINCH_BATCH_ERROR_NONE; k <= SINCH_BATCH_ERROR_INTERNAL; k++)
        CHECK_STR(sinch_batch_error_kind_name((sinch_batch_error_kind)k), names[k]);

    sb_error_set(&e, SINCH_BATCH_ERROR_HTTP, "HTTP %d: %s", 500, "x");
    CHECK_INT(e.kind, SINCH_BATCH_ERROR_HTTP);
    CHECK_STR(e.message, "HTTP 500: x");
    CHECK_INT(e.status, 0);
    sb_error_set(NULL, SINCH_BATCH_ERROR_HTTP, "ignored");

    {
        sb_secrets one = {{"sec", NULL, NULL, NULL}, 4}, d = {{NULL, "d", NULL, NULL}, 2};
        sb_secrets slash = {{"ab/c\"d", NULL, NULL, NULL}, 1};
        const char *in = "1 ab/c\"d 2 ab\\/c\\\"d 3 ab%2Fc%22d 4 ab%2fc%22d 5 ab/c";
        const char *esc = "xx ab\\/c\\\"d";
        sb_buf out;
        char text[64];
        sb_error_set(&e, SINCH_BATCH_ERROR_AUTH, "a sec and sec again, sec");
        sb_error_redact(&e, &one);
        CHECK_STR(e.message, "a [redacted] and [redacted] again, [redacted]");
        /* a secret that occurs in the mark itself does not loop */
        sb_error_redact(&e, &d);
        CHECK_STR(e.message, "a [re[redacted]acte[redacted]] an[redacted] "
                             "[re[redacted]acte[redacted]] again, [re[redacted]acte[redacted]]");
        /* every spelling: raw, JSON-escaped, URL-encoded in either case */
        sb_buf_init(&out);
        CHECK_INT(sb_redact(&out, in, strlen(in), &slash), 1);
        CHECK_STR(out.data, "1 [redacted] 2 [redacted] 3 [redacted] 4 [redacted] 5 ab/c");
        CHECK_INT(sb_redact(&out, "nothing here", 12, &slash), 0);
        /* any JSON escaping, mixed as encoders mix it: \" and \\ and \u0026 */
        {
            sb_secrets amp = {{"k&y\"z\\w/v", NULL, NULL, NULL}, 1};
            const char *mixed = "a k\\u0026y\\\"z\\\\w/v b k\\u0026y\\\"z\\\\w\\/v c k&y\"z\\w/v "
                                "d k\\u0026Y";
            CHECK_INT(sb_redact(&out, mixed, strlen(mixed), &amp), 1);
            CHECK_STR(out.data, "a [redacted] b [redacted] c [redacted] d k\\u0026Y");
        }
        sb_buf_free(&out);
        /* redacted before the cut: not even the first bytes stay */
        sb_clean(text, 8, esc, strlen(esc), &slash);
        CHECK_STR(text, "xx [red");
    }
}

static void test_json_get_string(void) {
    static const char doc[] = "{\"batch_id\":\"01ABC\",\"n\":1,\"nested\":{\"batch_id\":\"no\"}}";
    char out[16];
    CHECK_INT(sinch_batch_json_get_string(doc, strlen(doc), "batch_id", out, sizeof out), 5);
    CHECK_STR(out, "01ABC");
    CHECK_INT(sinch_batch_json_get_string(doc, strlen(doc), "n", out, sizeof out),
              SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_json_get_string(doc, strlen(doc), "missing", out, sizeof out), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_json_get_string(doc, strlen(doc), "batch_id", out, 5), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_json_get_string(doc, strlen(doc), "batch_id", out, 6), 5);
    CHECK_INT(sinch_batch_json_get_string("not json", 8, "batch_id", out, sizeof out),
              SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_json_get_string("[\"batch_id\"]", 12, "batch_id", out, sizeof out),
              SINCH_BATCH_ERR);
    /* len is always taken: 0 is an empty document, never strlen of a buffer
     * that need not end in NUL */
    {
        static const char doc2[] = "{\"a\":\"bcd\"}";
        char unterminated[sizeof doc2 - 1];
        memcpy(unterminated, doc2, sizeof unterminated);
        CHECK_INT(sinch_batch_json_get_string(unterminated, 0, "a", out, sizeof out),
                  SINCH_BATCH_ERR);
        CHECK_INT(sinch_batch_json_get_string(unterminated, sizeof unterminated, "a", out,
                                              sizeof out), 3);
        CHECK_STR(out, "bcd");
    }
}

int main(void) {
    RUN(test_defaults);
    RUN(test_regions_and_urls);
    RUN(test_strings_are_copied);
    RUN(test_validation_messages);
    RUN(test_token_mode);
    RUN(test_error_helpers);
    RUN(test_json_get_string);
    CHECK_DONE();
}
