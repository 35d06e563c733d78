/* fuzz_webhook.c -- webhook signatures: what sign() makes, check() takes;
 * any change to the body, nonce, timestamp, secret or signature is refused;
 * arbitrary signatures of any length never crash or pass; nothing verifies
 * under an empty secret. */
#include "fuzz.h"

#include "sinch_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz in = {data, size};
    size_t sl, nl, tl, gl, bl;
    const char *secret = fz_bytes(&in, 80, &sl);
    const char *nonce_b = fz_bytes(&in, 60, &nl);
    const char *ts_b = fz_bytes(&in, 20, &tl);
    const char *given = fz_bytes(&in, 60, &gl);
    unsigned flip = fz_u16(&in);
    const char *body = fz_rest(&in, &bl);
    char nonce[61], ts[21], sig[SINCH_BATCH_SIGNATURE_LEN + 1], bad[SINCH_BATCH_SIGNATURE_LEN];
    char *copy;

    memcpy(nonce, nonce_b, nl);
    nonce[nl] = '\0';
    memcpy(ts, ts_b, tl);
    ts[tl] = '\0';

    if (sl == 0) {
        /* an empty secret: anyone can sign with it, so it signs nothing and
         * nothing verifies under it */
        FZ_CHECK(sinch_batch_webhook_sign(secret, sl, body, bl, nonce, ts, sig) != SINCH_BATCH_OK,
                 "signed with an empty secret");
        FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, given, gl),
                 "a signature passed with an empty secret");
        return 0;
    }

    /* arbitrary signatures: no crash, and a match only by a real signature */
    if (sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, given, gl))
        FZ_CHECK(gl == SINCH_BATCH_SIGNATURE_LEN, "a %zu-byte signature passed", gl);

    FZ_CHECK(sinch_batch_webhook_sign(secret, sl, body, bl, nonce, ts, sig) == SINCH_BATCH_OK,
             "sign failed");
    FZ_CHECK(strlen(sig) == SINCH_BATCH_SIGNATURE_LEN && sig[43] == '=', "signature shape: %s",
             sig);
    FZ_CHECK(sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, sig,
                                       SINCH_BATCH_SIGNATURE_LEN) == 1,
             "own signature refused");
    if (gl == SINCH_BATCH_SIGNATURE_LEN && memcmp(given, sig, gl) != 0)
        FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, given, gl),
                 "another signature passed");
    /* shorter or longer signatures are refused */
    FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, sig,
                                        SINCH_BATCH_SIGNATURE_LEN - 1),
             "a cut signature passed");

    /* one flipped bit in the signature */
    memcpy(bad, sig, sizeof bad);
    bad[flip % SINCH_BATCH_SIGNATURE_LEN] ^= (char)(1u << ((flip >> 8) % 7));
    FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, bad, sizeof bad),
             "a changed signature passed");

    /* one changed byte of the body */
    if (bl > 0) {
        copy = malloc(bl);
        FZ_CHECK(copy != NULL, "out of memory");
        memcpy(copy, body, bl);
        copy[flip % bl] ^= 1;
        FZ_CHECK(!sinch_batch_webhook_check(secret, sl, copy, bl, nonce, ts, sig,
                                            SINCH_BATCH_SIGNATURE_LEN),
                 "a changed body passed");
        /* a body one byte shorter */
        FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl - 1, nonce, ts, sig,
                                            SINCH_BATCH_SIGNATURE_LEN),
                 "a shorter body passed");
        free(copy);
    }
    /* another timestamp or nonce */
    {
        char ts2[23];
        snprintf(ts2, sizeof ts2, "%s1", ts);
        FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts2, sig,
                                            SINCH_BATCH_SIGNATURE_LEN),
                 "another timestamp passed");
    }
    /* another secret (HMAC pads short keys with zeros: change a byte that is
     * there, or add one that is not zero) */
    {
        char sec2[81];
        size_t l2 = sl;
        memcpy(sec2, secret, sl);
        if (sl > 0)
            sec2[flip % sl] ^= 0x20;
        else
            sec2[l2++] = 'x';
        FZ_CHECK(!sinch_batch_webhook_check(sec2, l2, body, bl, nonce, ts, sig,
                                            SINCH_BATCH_SIGNATURE_LEN),
                 "another secret passed");
    }
    /* NULL arguments are refused, never crash */
    FZ_CHECK(!sinch_batch_webhook_check(secret, sl, body, bl, nonce, ts, NULL, 44), "NULL sig");
    FZ_CHECK(sinch_batch_webhook_sign(secret, sl, NULL, 1, nonce, ts, sig) != SINCH_BATCH_OK,
             "NULL body with a length signed");
    return 0;
}
