/* fuzz_receipt.c -- the delivery receipt fast path (src/core/receipt.c)
 * against jansson's reading of the same body.
 *
 * Whenever sinch_batch_receipt_scan answers, the body is JSON jansson takes
 * (an object), its message_delivery_report is an object, and every field
 * given is what jansson finds: message_metadata a string of JSON whose
 * batchId (or batch_id) and messageIndex (or message_index) are the ones
 * given, the report's message_id, status and reason, the envelope's times.
 * Every piece given lies inside the body or the result's own buffer.  The
 * input is taken as the body itself, so the seeds are plain receipts.
 * jansson refuses invalid UTF-8 and numbers beyond a double or a 64-bit
 * integer, which the fast path (like lua-cjson, the full parser) passes
 * through: such bodies are checked for bounds only.
 */
#include "fuzz.h"

#include <jansson.h>

#include "json.h" /* sb_json_utf8_check */
#include "sinch_batch.h"

static int inside(sinch_batch_text t, const char *from, size_t n) {
    return t.ptr == NULL || (t.ptr >= from && t.ptr + t.len <= from + n);
}

/* the piece equals jansson's member: both absent (or not a string), or the
 * same bytes */
static void same(sinch_batch_text t, json_t *obj, const char *key) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!json_is_string(v)) {
        FZ_CHECK(t.ptr == NULL, "%s given, but jansson finds no string", key);
        return;
    }
    FZ_CHECK(t.ptr != NULL, "%s missing, jansson finds \"%s\"", key, json_string_value(v));
    FZ_CHECK(t.len == json_string_length(v) && memcmp(t.ptr, json_string_value(v), t.len) == 0,
             "%s differs from jansson's", key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    sinch_batch_receipt r;
    json_t *root, *report, *md, *id, *index, *reason;
    json_error_t jerr;

    if (sinch_batch_receipt_scan(body, size, &r) != SINCH_BATCH_OK) return 0;

    FZ_CHECK(inside(r.message_id, body, size) && inside(r.status, body, size) &&
                 inside(r.reason_code, body, size) && inside(r.reason_description, body, size) &&
                 inside(r.event_time, body, size) && inside(r.accepted_time, body, size),
             "a field points outside the body");
    FZ_CHECK(r.batch_id.ptr != NULL && r.batch_id.len > 0 &&
                 inside(r.batch_id, r.scratch_, sizeof r.scratch_),
             "the batch id is empty or outside the buffer");
    FZ_CHECK(r.message_index >= 0, "index %lld", r.message_index);

    if (sb_json_utf8_check(body, size) != size) return 0;
    root = json_loadb(body, size, JSON_ALLOW_NUL, &jerr);
    if (root == NULL && (strstr(jerr.text, "overflow") || strstr(jerr.text, "too big"))) return 0;
    FZ_CHECK(json_is_object(root), "taken, but jansson refuses it: %s", jerr.text);
    report = json_object_get(root, "message_delivery_report");
    FZ_CHECK(json_is_object(report), "no report object");
    same(r.message_id, report, "message_id");
    same(r.status, report, "status");
    same(r.event_time, root, "event_time");
    same(r.accepted_time, root, "accepted_time");
    reason = json_object_get(report, "reason");
    FZ_CHECK(r.has_reason == json_is_object(reason), "reason object: %d", r.has_reason);
    if (r.has_reason) {
        same(r.reason_code, reason, "code");
        same(r.reason_description, reason, "description");
    }

    md = json_object_get(root, "message_metadata");
    FZ_CHECK(json_is_string(md), "message_metadata is not a string");
    md = json_loadb(json_string_value(md), json_string_length(md), 0, &jerr);
    FZ_CHECK(json_is_object(md), "message_metadata is not an object: %s", jerr.text);
    id = json_object_get(md, "batchId");
    if (!json_is_string(id)) id = json_object_get(md, "batch_id");
    FZ_CHECK(json_is_string(id) && json_string_length(id) == r.batch_id.len &&
                 memcmp(json_string_value(id), r.batch_id.ptr, r.batch_id.len) == 0,
             "batch id differs from jansson's");
    index = json_object_get(md, "messageIndex");
    if (index == NULL || json_is_null(index)) index = json_object_get(md, "message_index");
    FZ_CHECK(json_is_integer(index) && json_integer_value(index) == r.message_index,
             "index %lld differs from jansson's", r.message_index);
    json_decref(md);
    json_decref(root);
    return 0;
}
