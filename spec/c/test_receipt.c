/* test_receipt.c -- the delivery receipt fast path: the fields of plain
 * receipts, and a decline for each kind of body only the full parser may
 * judge (spec/unit/webhook_receipt_spec.lua compares it with that parser). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sinch_batch.h"

#define META(batch, index) "\"message_metadata\":\"{\\\"batchId\\\":\\\"" batch "\\\",\\\"messageIndex\\\":" index "}\""

static int scan(const char *body, sinch_batch_receipt *r) {
    return sinch_batch_receipt_scan(body, strlen(body), r);
}

static int text_is(sinch_batch_text t, const char *want) {
    if (want == NULL) return t.ptr == NULL;
    return t.ptr != NULL && t.len == strlen(want) && memcmp(t.ptr, want, t.len) == 0;
}

static void test_plain_receipts(void) {
    sinch_batch_receipt r;
    CHECK_INT(scan("{\"event_time\":\"2026-11-29T10:00:00Z\",\"message_delivery_report\":"
                   "{\"message_id\":\"M1\",\"status\":\"DELIVERED\"}," META("B0", "17") "}",
                   &r),
              SINCH_BATCH_OK);
    CHECK(text_is(r.batch_id, "B0"));
    CHECK_INT(r.message_index, 17);
    CHECK(text_is(r.message_id, "M1"));
    CHECK(text_is(r.status, "DELIVERED"));
    CHECK(text_is(r.event_time, "2026-11-29T10:00:00Z"));
    CHECK(text_is(r.accepted_time, NULL));
    CHECK_INT(r.has_reason, 0);

    /* Sinch's layout: white space, nested objects, other members anywhere;
     * batch_id / message_index when batchId / messageIndex are not there */
    CHECK_INT(scan("{\n  \"app_id\": \"01E\",\n  \"accepted_time\": \"T0\",\n"
                   "  \"message_delivery_report\": {\n    \"message_id\": \"01EN\",\n"
                   "    \"channel_identity\": {\"channel\": \"SMS\", \"identity\": \"467\"},\n"
                   "    \"status\": \"FAILED\", \"list\": [1, -2.5e3, true, null, {}],\n"
                   "    \"reason\": {\"code\": \"RECIPIENT_NOT_REACHABLE\", \"description\": null}\n"
                   "  },\n  \"message_metadata\": \"{\\\"batch_id\\\": \\\"01B\\\", "
                   "\\\"messageIndex\\\": null, \\\"message_index\\\": 0}\"\n}\n",
                   &r),
              SINCH_BATCH_OK);
    CHECK(text_is(r.batch_id, "01B"));
    CHECK_INT(r.message_index, 0);
    CHECK(text_is(r.status, "FAILED"));
    CHECK(text_is(r.accepted_time, "T0"));
    CHECK(text_is(r.event_time, NULL));
    CHECK_INT(r.has_reason, 1);
    CHECK(text_is(r.reason_code, "RECIPIENT_NOT_REACHABLE"));
    CHECK(text_is(r.reason_description, NULL));

    /* raw UTF-8 and bytes that are not (the full parser passes both) */
    CHECK_INT(scan("{\"message_delivery_report\":{\"status\":\"D\xc3\xa9\xff\"}," META("B", "1") "}",
                   &r),
              SINCH_BATCH_OK);
    CHECK(text_is(r.status, "D\xc3\xa9\xff"));
    /* a string where an object goes, an object where a string goes: none */
    CHECK_INT(scan("{\"message_delivery_report\":{\"status\":{},\"reason\":\"x\"},"
                   "\"event_time\":[]," META("B", "1") "}",
                   &r),
              SINCH_BATCH_OK);
    CHECK(text_is(r.status, NULL) && text_is(r.event_time, NULL) && r.has_reason == 0);
}

static void test_declines(void) {
    static const char *bodies[] = {
        "",
        "[]",
        "{}",
        "{\"message_delivery_report\":{}}", /* no metadata */
        "{\"message_delivery_report\":null," META("B", "1") "}",
        "{\"batch_status_update\":{}," META("B", "1") "}",
        /* syntax the strict reading refuses: the full parser judges */
        "{\"message_delivery_report\":{}," META("B", "1") "} x",
        "{\"message_delivery_report\":{}," META("B", "1") ",}",
        "\xef\xbb\xbf{\"message_delivery_report\":{}," META("B", "1") "}",
        "\f{\"message_delivery_report\":{}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"x\":007}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"x\":\"a\nb\"}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"x\":\"\\ud83d\\ude00\"}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}," META("B", "1") "}",
        /* numbers or escapes where text goes */
        "{\"message_delivery_report\":{\"status\":5}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"status\":\"\\\"D\\\"\"}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"reason\":{\"code\":404}}," META("B", "1") "}",
        "{\"message_delivery_report\":{\"reason\":[]}," META("B", "1") "}",
        "{\"event_time\":1700000000,\"message_delivery_report\":{}," META("B", "1") "}",
        /* keys given twice, or spelt with escapes */
        "{\"message_delivery_report\":{\"status\":\"A\",\"status\":\"B\"}," META("B", "1") "}",
        "{\"message_delivery_report\":{}," META("B", "1") "," META("C", "2") "}",
        "{\"message_delivery_report\":{\"st\\u0061tus\":\"A\"}," META("B", "1") "}",
        /* the batch reference: elsewhere, empty, a number, odd indexes */
        "{\"message_delivery_report\":{\"batch_id\":\"B\"},\"message_metadata\":\"\"}",
        "{\"message_delivery_report\":{},\"message_metadata\":\"{}\"}",
        "{\"message_delivery_report\":{},\"message_metadata\":{\"batchId\":\"B\"}}",
        "{\"message_delivery_report\":{}," META("", "1") "}",
        "{\"message_delivery_report\":{},\"message_metadata\":\"{\\\"batchId\\\":7,\\\"messageIndex\\\":1}\"}",
        "{\"message_delivery_report\":{}," META("B", "-1") "}",
        "{\"message_delivery_report\":{}," META("B", "1.0") "}",
        "{\"message_delivery_report\":{}," META("B", "1e2") "}",
        "{\"message_delivery_report\":{}," META("B", "\\\"1\\\"") "}",
        "{\"message_delivery_report\":{}," META("B", "1234567890123456") "}",
        "{\"message_delivery_report\":{}," META("B", "1") "x\"}",
    };
    size_t i;
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        sinch_batch_receipt r;
        int rc = scan(bodies[i], &r);
        if (rc != SINCH_BATCH_RECEIPT_OTHER) fprintf(stderr, "  body %zu: %s\n", i, bodies[i]);
        CHECK_INT(rc, SINCH_BATCH_RECEIPT_OTHER);
    }
    /* a NUL inside, and misuse */
    {
        static const char nul[] = "{\"message_delivery_report\":{\"status\":\"a\0b\"}," META("B", "1") "}";
        sinch_batch_receipt r;
        CHECK_INT(sinch_batch_receipt_scan(nul, sizeof nul - 1, &r), SINCH_BATCH_RECEIPT_OTHER);
        CHECK_INT(sinch_batch_receipt_scan(NULL, 0, &r), SINCH_BATCH_RECEIPT_OTHER);
        CHECK_INT(sinch_batch_receipt_scan("{}", 2, NULL), SINCH_BATCH_RECEIPT_OTHER);
    }
}

/* every prefix of a plain receipt is declined, never read past its end */
static void test_prefixes(void) {
    static const char body[] = "{\"message_delivery_report\":{\"message_id\":\"M\",\"status\":\"D\","
                               "\"reason\":{\"code\":\"C\"}}," META("B", "12") "}";
    size_t n;
    sinch_batch_receipt r;
    for (n = 0; n < sizeof body - 1; n++) {
        char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees any read past them */
        memcpy(copy, body, n);
        CHECK_INT(sinch_batch_receipt_scan(copy, n, &r), SINCH_BATCH_RECEIPT_OTHER);
        free(copy);
    }
    CHECK_INT(sinch_batch_receipt_scan(body, sizeof body - 1, &r), SINCH_BATCH_OK);
    CHECK_INT(r.message_index, 12);
}

int main(void) {
    RUN(test_plain_receipts);
    RUN(test_declines);
    RUN(test_prefixes);
    CHECK_DONE();
}
