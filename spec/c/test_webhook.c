/* test_webhook.c -- webhook signatures against the shared test vectors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sinch_batch.h"

#define VECTORS SINCH_BATCH_FIXTURES "/vectors/"

typedef struct vector {
    const char *secret;
    const char *nonce;
    const char *timestamp;
    const char *expected;
    const char *wrong_secret; /* NULL when the vector has none */
    char *body;
    size_t body_len;
} vector;

static json_t *vectors_json;
static vector vectors[2];
static size_t n_vectors;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data && fread(data, 1, (size_t)size, f) == (size_t)size) {
            data[size] = '\0';
            *len = (size_t)size;
        } else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static int load_vectors(void) {
    json_error_t jerr;
    json_t *list, *v;
    size_t i;
    vectors_json = json_load_file(VECTORS "conversation-webhook-signature-vectors.json", 0, &jerr);
    if (vectors_json == NULL) {
        fprintf(stderr, "cannot read the vectors: %s\n", jerr.text);
        return -1;
    }
    list = json_object_get(vectors_json, "vectors");
    json_array_foreach(list, i, v) {
        vector *t;
        const char *body = json_string_value(json_object_get(v, "body"));
        const char *file = json_string_value(json_object_get(v, "body_file"));
        if (n_vectors == sizeof vectors / sizeof vectors[0]) break;
        t = &vectors[n_vectors];
        t->secret = json_string_value(json_object_get(v, "secret"));
        t->nonce = json_string_value(json_object_get(v, "nonce"));
        t->timestamp = json_string_value(json_object_get(v, "timestamp"));
        t->expected = json_string_value(json_object_get(v, "expected_signature"));
        t->wrong_secret = json_string_value(json_object_get(v, "wrong_secret_must_fail"));
        if (body) {
            t->body_len = strlen(body);
            t->body = malloc(t->body_len + 1);
            if (t->body) memcpy(t->body, body, t->body_len + 1);
        } else if (file) {
            char path[1024];
            snprintf(path, sizeof path, VECTORS "%s", file);
            t->body = read_file(path, &t->body_len);
        }
        if (!t->secret || !t->nonce || !t->timestamp || !t->expected || !t->body) {
            fprintf(stderr, "vector %zu is incomplete\n", i + 1);
            return -1;
        }
        n_vectors++;
    }
    return n_vectors == 2 ? 0 : -1;
}

static int check_vector(const vector *t, const char *secret, const char *body, size_t body_len,
                        const char *nonce, const char *timestamp) {
    return sinch_batch_webhook_check(secret, strlen(secret), body, body_len, nonce, timestamp,
                                     t->expected, strlen(t->expected));
}

static void test_sign_matches_vectors(void) {
    size_t i;
    for (i = 0; i < n_vectors; i++) {
        const vector *t = &vectors[i];
        char sig[SINCH_BATCH_SIGNATURE_LEN + 1];
        memset(sig, 'x', sizeof sig);
        CHECK_INT(sinch_batch_webhook_sign(t->secret, strlen(t->secret), t->body, t->body_len,
                                           t->nonce, t->timestamp, sig),
                  SINCH_BATCH_OK);
        CHECK_STR(sig, t->expected);
        CHECK_INT(strlen(sig), SINCH_BATCH_SIGNATURE_LEN);
    }
}

static void test_check_accepts_vectors(void) {
    size_t i;
    for (i = 0; i < n_vectors; i++) {
        const vector *t = &vectors[i];
        CHECK_INT(check_vector(t, t->secret, t->body, t->body_len, t->nonce, t->timestamp), 1);
    }
}

static void test_multiline_body_is_723_bytes_with_trailing_lf(void) {
    CHECK_INT(vectors[1].body_len, 723);
    CHECK_INT(vectors[1].body[vectors[1].body_len - 1], '\n');
}

static void test_wrong_secret_fails(void) {
    const vector *t = &vectors[1];
    CHECK(t->wrong_secret != NULL);
    if (t->wrong_secret)
        CHECK_INT(check_vector(t, t->wrong_secret, t->body, t->body_len, t->nonce, t->timestamp),
                  0);
    /* a secret that is a prefix of the real one is a different key */
    CHECK_INT(check_vector(t, "foo_secret123", t->body, t->body_len, t->nonce, t->timestamp), 0);
}

static void test_each_tampered_input_fails(void) {
    size_t i, pos;
    for (i = 0; i < n_vectors; i++) {
        const vector *t = &vectors[i];
        char *body = malloc(t->body_len + 1);
        char nonce[64], ts[32];
        if (body == NULL) {
            CHECK(body != NULL);
            return;
        }
        /* one flipped bit anywhere in the body: first, middle, last byte */
        for (pos = 0; pos < t->body_len; pos += t->body_len / 2) {
            memcpy(body, t->body, t->body_len + 1);
            body[pos] ^= 0x01;
            CHECK_INT(check_vector(t, t->secret, body, t->body_len, t->nonce, t->timestamp), 0);
        }
        memcpy(body, t->body, t->body_len + 1);
        body[t->body_len - 1] ^= 0x01;
        CHECK_INT(check_vector(t, t->secret, body, t->body_len, t->nonce, t->timestamp), 0);
        /* a shortened body (e.g. the trailing newline stripped) */
        CHECK_INT(check_vector(t, t->secret, t->body, t->body_len - 1, t->nonce, t->timestamp), 0);
        free(body);

        snprintf(nonce, sizeof nonce, "%s", t->nonce);
        nonce[0] = nonce[0] == '0' ? '1' : '0';
        CHECK_INT(check_vector(t, t->secret, t->body, t->body_len, nonce, t->timestamp), 0);

        snprintf(ts, sizeof ts, "%s", t->timestamp);
        ts[strlen(ts) - 1] = ts[strlen(ts) - 1] == '3' ? '4' : '3';
        CHECK_INT(check_vector(t, t->secret, t->body, t->body_len, t->nonce, ts), 0);
        /* moving the separator between nonce and timestamp changes the data */
        snprintf(nonce, sizeof nonce, "%s.1", t->nonce);
        CHECK_INT(check_vector(t, t->secret, t->body, t->body_len, nonce, t->timestamp + 1), 0);
    }
}

static void test_tampered_signature_fails(void) {
    const vector *t = &vectors[0];
    char sig[SINCH_BATCH_SIGNATURE_LEN + 2];
    size_t pos;
    for (pos = 0; pos < SINCH_BATCH_SIGNATURE_LEN - 1; pos += 7) {
        snprintf(sig, sizeof sig, "%s", t->expected);
        sig[pos] = sig[pos] == 'A' ? 'B' : 'A';
        CHECK_INT(sinch_batch_webhook_check(t->secret, strlen(t->secret), t->body, t->body_len,
                                            t->nonce, t->timestamp, sig, strlen(sig)),
                  0);
    }
    /* truncated, padded, empty and NULL signatures */
    CHECK_INT(sinch_batch_webhook_check(t->secret, strlen(t->secret), t->body, t->body_len,
                                        t->nonce, t->timestamp, t->expected,
                                        SINCH_BATCH_SIGNATURE_LEN - 1),
              0);
    snprintf(sig, sizeof sig, "%s=", t->expected);
    CHECK_INT(sinch_batch_webhook_check(t->secret, strlen(t->secret), t->body, t->body_len,
                                        t->nonce, t->timestamp, sig, strlen(sig)),
              0);
    CHECK_INT(sinch_batch_webhook_check(t->secret, strlen(t->secret), t->body, t->body_len,
                                        t->nonce, t->timestamp, "", 0),
              0);
    CHECK_INT(sinch_batch_webhook_check(t->secret, strlen(t->secret), t->body, t->body_len,
                                        t->nonce, t->timestamp, NULL, 0),
              0);
}

static void test_binary_body_and_empty_secret(void) {
    /* the body is bytes, not a C string: an embedded NUL is signed too */
    static const char body_a[] = {'{', '\0', 'a', '}'};
    static const char body_b[] = {'{', '\0', 'b', '}'};
    char sig_a[SINCH_BATCH_SIGNATURE_LEN + 1], sig_b[SINCH_BATCH_SIGNATURE_LEN + 1];
    char sig_empty[SINCH_BATCH_SIGNATURE_LEN + 1];
    CHECK_INT(sinch_batch_webhook_sign("k", 1, body_a, sizeof body_a, "n", "1", sig_a), 0);
    CHECK_INT(sinch_batch_webhook_sign("k", 1, body_b, sizeof body_b, "n", "1", sig_b), 0);
    CHECK(strcmp(sig_a, sig_b) != 0);
    CHECK_INT(sinch_batch_webhook_check("k", 1, body_a, sizeof body_a, "n", "1", sig_a,
                                        strlen(sig_a)),
              1);
    /* an empty body is fine; an empty secret, which anyone can sign with,
     * is refused: the signature of an empty key never verifies */
    CHECK_INT(sinch_batch_webhook_sign("k", 1, "", 0, "n", "1", sig_empty), 0);
    CHECK_INT(sinch_batch_webhook_check("k", 1, NULL, 0, "n", "1", sig_empty, strlen(sig_empty)),
              1);
    CHECK_INT(sinch_batch_webhook_sign("", 0, "", 0, "n", "1", sig_empty), SINCH_BATCH_ERR);
    /* base64(HMAC-SHA256("", "b.n.1")), computed with the empty key */
    {
        static const char forged[] = "jnv1LJac84+RzK1bK/RjAmVnW0JJCc4OBOIJOMhPPNg=";
        CHECK_INT(strlen(forged), SINCH_BATCH_SIGNATURE_LEN);
        CHECK_INT(sinch_batch_webhook_check("", 0, "b", 1, "n", "1", forged, strlen(forged)), 0);
    }
}

static void test_misuse_is_refused(void) {
    char sig[SINCH_BATCH_SIGNATURE_LEN + 1];
    CHECK_INT(sinch_batch_webhook_sign(NULL, 0, "b", 1, "n", "1", sig), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_webhook_sign("k", 1, NULL, 1, "n", "1", sig), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_webhook_sign("k", 1, "b", 1, NULL, "1", sig), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_webhook_sign("k", 1, "b", 1, "n", NULL, sig), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_webhook_sign("k", 1, "b", 1, "n", "1", NULL), SINCH_BATCH_ERR);
}

int main(void) {
    size_t i;
    if (load_vectors() != 0) {
        fprintf(stderr, "FAIL load_vectors from %s\n", VECTORS);
        return 1;
    }
    RUN(test_sign_matches_vectors);
    RUN(test_check_accepts_vectors);
    RUN(test_multiline_body_is_723_bytes_with_trailing_lf);
    RUN(test_wrong_secret_fails);
    RUN(test_each_tampered_input_fails);
    RUN(test_tampered_signature_fails);
    RUN(test_binary_body_and_empty_secret);
    RUN(test_misuse_is_refused);
    for (i = 0; i < n_vectors; i++) free(vectors[i].body);
    json_decref(vectors_json);
    CHECK_DONE();
}
