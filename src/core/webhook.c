/* webhook.c -- Sinch webhook signatures.
 *
 *   signature = base64(HMAC-SHA256(secret, body "." nonce "." timestamp))
 *
 * The signed data is fed to the MAC in pieces, so the body (which can be
 * large) is never copied.  The check compares in constant time; only the
 * length of the given signature, which is public, may end it early.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sinch_batch.h"

#define MAC_LEN 32 /* SHA-256 */

/* An HMAC-SHA256 context without a key, made once: each MAC is a copy of
 * it.  Fetching HMAC and SHA-256 for every callback (locks and lookups in
 * the provider's store) cost about as much as the MAC of a receipt. */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void make_template(void) {
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx != NULL && !EVP_MAC_CTX_set_params(ctx, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    EVP_MAC_free(alg); /* (the context holds its own reference) */
    hmac_template = ctx;
}

/* HMAC-SHA256 over body "." nonce "." timestamp into mac[MAC_LEN]. */
static int hmac_signed_data(const char *secret, size_t secret_len, const char *body,
                            size_t body_len, const char *nonce, const char *timestamp,
                            unsigned char *mac) {
    EVP_MAC_CTX *ctx = NULL;
    size_t out_len = 0;
    int ok = 0;
    /* HMAC keys may be empty, but the init call wants a non-NULL pointer */
    static const unsigned char empty_key[1] = {0};
    const unsigned char *key = secret_len ? (const unsigned char *)secret : empty_key;

    if (pthread_once(&hmac_once, make_template) != 0 || hmac_template == NULL)
        return SINCH_BATCH_ERR;
    ctx = EVP_MAC_CTX_dup(hmac_template);
    if (ctx == NULL) goto out;
    if (!EVP_MAC_init(ctx, key, secret_len, NULL)) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)body, body_len)) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)".", 1)) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)nonce, strlen(nonce))) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)".", 1)) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp))) goto out;
    if (!EVP_MAC_final(ctx, mac, &out_len, MAC_LEN) || out_len != MAC_LEN) goto out;
    ok = 1;
out:
    EVP_MAC_CTX_free(ctx);
    return ok ? SINCH_BATCH_OK : SINCH_BATCH_ERR;
}

SINCH_BATCH_API int sinch_batch_webhook_sign(const char *secret, size_t secret_len,
                                             const char *body, size_t body_len,
                                             const char *nonce, const char *timestamp,
                                             char *out) {
    unsigned char mac[MAC_LEN];
    /* an empty secret is an HMAC key anyone can sign with: refused */
    if (secret == NULL || secret_len == 0 || (body == NULL && body_len) || nonce == NULL ||
        timestamp == NULL || out == NULL)
        return SINCH_BATCH_ERR;
    if (body == NULL) body = "";
    if (hmac_signed_data(secret, secret_len, body, body_len, nonce, timestamp, mac) != 0)
        return SINCH_BATCH_ERR;
    /* EVP_EncodeBlock pads with '=' and NUL-terminates: 44 chars + NUL */
    EVP_EncodeBlock((unsigned char *)out, mac, MAC_LEN);
    OPENSSL_cleanse(mac, sizeof mac);
    return SINCH_BATCH_OK;
}

SINCH_BATCH_API int sinch_batch_webhook_check(const char *secret, size_t secret_len,
                                              const char *body, size_t body_len,
                                              const char *nonce, const char *timestamp,
                                              const char *signature, size_t signature_len) {
    char expected[SINCH_BATCH_SIGNATURE_LEN + 1];
    int match;
    if (signature == NULL || signature_len != SINCH_BATCH_SIGNATURE_LEN) return 0;
    if (sinch_batch_webhook_sign(secret, secret_len, body, body_len, nonce, timestamp,
                                 expected) != SINCH_BATCH_OK)
        return 0;
    match = CRYPTO_memcmp(expected, signature, SINCH_BATCH_SIGNATURE_LEN) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    return match;
}
