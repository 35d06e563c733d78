/* send_batch.c -- send one batch from C with sinch_batch_curl.h alone: three
 * recipients with ${name} substitution, then read the batch's status.
 *
 * Against the built-in sandbox:
 *   sinch-batch-mock --port 8080 &
 *   SINCH_BATCH_BASE_URL=http://127.0.0.1:8080 ./example_send_batch
 * Against Sinch: set SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET,
 * SINCH_APP_ID and SINCH_REGION (us, eu, br) instead of SINCH_BATCH_BASE_URL.
 *
 * Build, after `cmake --install` (docs/install.md; add the prefix's lib/pkgconfig to
 * PKG_CONFIG_PATH unless it is /usr or /usr/local):
 *   cc send_batch.c $(pkg-config --cflags --libs sinch-batch-curl) -o send_batch
 * It runs as it is, from any prefix: the flags carry an rpath to the
 * prefix's lib (no LD_LIBRARY_PATH; SINCH_BATCH_RPATH=OFF drops it).
 * Exit status 0 on success; otherwise the error's kind and message are
 * printed on stderr. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinch_batch_curl.h" /* the libcurl driver; it includes sinch_batch.h */

static const char *env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(const char *what, const sinch_batch_error *e) {
    fprintf(stderr, "%s failed: %s: %s\n", what,
            sinch_batch_error_kind_name(e ? e->kind : SINCH_BATCH_ERROR_INTERNAL),
            e ? e->message : "unknown error");
    if (e && e->may_have_been_processed)
        fprintf(stderr, "the server may have processed it: look it up before resending\n");
    return 1;
}

/* One recipient: an SMS identity and its ${name}. */
static int add_recipient(sinch_batch_builder *b, const char *phone, const char *name) {
    if (sinch_batch_builder_begin(b) != SINCH_BATCH_OK ||
        sinch_batch_builder_identity(b, "SMS", phone, strlen(phone), NULL) != SINCH_BATCH_OK ||
        sinch_batch_builder_param(b, "name", 4, name, strlen(name)) != SINCH_BATCH_OK ||
        sinch_batch_builder_end(b) != SINCH_BATCH_OK)
        return -1;
    return 0;
}

int main(void) {
    static const char message[] = "{\"text_message\":{\"text\":\"Hi ${name}, your batch is on its way\"}}";
    static const char metadata[] = "{\"campaign\":\"c-example\"}";
    const char *base_url = env("SINCH_BATCH_BASE_URL", NULL);
    sinch_batch_config cfg;
    sinch_batch_error err;
    sinch_batch_client *client = NULL;
    sinch_batch_curl *driver = NULL;
    sinch_batch_builder *builder = NULL;
    sinch_batch_call *call = NULL;
    sinch_batch_request req;
    sinch_batch_action done;
    char user_agent[128], batch_id[64], status[32];
    int rc = 1;

    snprintf(user_agent, sizeof user_agent, "sinch-batch/%s (C; %s)", SINCH_BATCH_VERSION,
             sinch_batch_curl_version());
    sinch_batch_config_init(&cfg);
    cfg.project_id = env("SINCH_PROJECT_ID", "demo-project");
    cfg.region = env("SINCH_REGION", "us");
    cfg.base_url = base_url;
    cfg.auth_url = env("SINCH_BATCH_AUTH_URL", base_url);
    cfg.key_id = env("SINCH_KEY_ID", "demo-key");
    cfg.key_secret = env("SINCH_KEY_SECRET", "demo-secret");
    cfg.user_agent = user_agent;

    client = sinch_batch_client_new(&cfg, &err);
    if (client == NULL) return fail("client", &err);
    driver = sinch_batch_curl_new(NULL, &err); /* TLS verification on */
    if (driver == NULL) {
        rc = fail("driver", &err);
        goto out;
    }

    /* the batch: one message, three recipients, a tag to find it by */
    builder = sinch_batch_builder_new(env("SINCH_APP_ID", "01DEMOAPP00000000000000000"),
                                      message, 0, 0, &err);
    if (builder == NULL) {
        rc = fail("builder", &err);
        goto out;
    }
    if (add_recipient(builder, "+46700000001", "Ann") != 0 ||
        add_recipient(builder, "+46700000002", "Bo") != 0 ||
        add_recipient(builder, "+46700000003", "Cy") != 0 ||
        sinch_batch_builder_field_raw(builder, "batch_metadata", metadata,
                                      strlen(metadata)) != SINCH_BATCH_OK) {
        rc = fail("builder", sinch_batch_builder_error(builder));
        goto out;
    }

    /* send it: blocks until the API answered (token fetch and retries included) */
    call = sinch_batch_send(client, builder, now_ms(), &err);
    if (call == NULL) {
        rc = fail("send", &err);
        goto out;
    }
    if (sinch_batch_curl_perform(driver, call, &done) != SINCH_BATCH_OK) {
        rc = fail("send", done.error);
        goto out;
    }
    if (sinch_batch_json_get_string(done.response, done.response_len, "batch_id", batch_id,
                                    sizeof batch_id) < 0) {
        fprintf(stderr, "send: the answer has no batch_id: %.*s\n", (int)done.response_len,
                done.response);
        goto out;
    }
    printf("batch_id=%s recipients=%zu\n", batch_id, sinch_batch_builder_count(builder));
    sinch_batch_call_free(call);

    /* and its status */
    memset(&req, 0, sizeof req);
    req.op = SINCH_BATCH_OP_STATUS;
    req.batch_id = batch_id;
    call = sinch_batch_call_new(client, &req, now_ms(), &err);
    if (call == NULL) {
        rc = fail("status", &err);
        goto out;
    }
    if (sinch_batch_curl_perform(driver, call, &done) != SINCH_BATCH_OK) {
        rc = fail("status", done.error);
        goto out;
    }
    if (sinch_batch_json_get_string(done.response, done.response_len, "status", status,
                                    sizeof status) < 0)
        snprintf(status, sizeof status, "?");
    printf("status=%s\n", status);
    rc = 0;

out:
    sinch_batch_call_free(call);
    sinch_batch_builder_free(builder);
    sinch_batch_curl_free(driver);
    sinch_batch_client_free(client);
    return rc;
}
