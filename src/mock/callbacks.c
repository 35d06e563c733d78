/* callbacks.c -- what a batch sends to the webhook: a status update, and
 * one delivery report per recipient, shaped by outcomes.c (failures,
 * duplicates, order).  A recipient fails with the API's BAD_REQUEST text
 * when a parameter value is empty or a parameter the message uses has no
 * value (the API does that after accepting the batch). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define EMPTY_PARAM "Parameter key cannot be blank and value cannot be empty"

static json_t *envelope(const char *app_id, const char *project_id) {
    char now[40];
    mock_format_time(now, sizeof now, mock_now_ms(), 1);
    return json_pack("{s:s, s:s, s:s, s:s}", "app_id", app_id ? app_id : "",
                     "accepted_time", now, "event_time", now, "project_id", project_id);
}

static void emit(json_t *ev) {
    char *s = mock_dumps(ev);
    json_decref(ev);
    if (s) mock_webhook_enqueue(s);
}

void mock_emit_status(mock_batch *b, const char *status) {
    const char *app = json_string_value(json_object_get(b->body, "app_id"));
    json_t *ev = envelope(app, b->project), *data;
    data = json_pack("{s:O}", "batch_metadata", b->meta);
    if (b->send_after_ms) {
        char t[40];
        mock_format_time(t, sizeof t, b->send_after_ms, 1);
        json_object_set_new(data, "send_after", json_string(t));
    }
    json_object_set_new(ev, "batch_status_update_notification",
                        json_pack("{s:s, s:s, s:s, s:{s:o}}", "batch_id", b->id,
                                  "batch_status", status, "batch_type",
                                  "BATCH_TYPE_MESSAGES", "additional_data",
                                  "message_batch_data", data));
    json_object_set_new(ev, "message_metadata", json_string(""));
    emit(ev);
}

void mock_emit_contact(const char *project_id, const char *key, json_t *contact) {
    json_t *ev = envelope("", project_id);
    json_object_set_new(ev, key, json_pack("{s:O}", "contact", contact));
    json_object_set_new(ev, "message_metadata", json_string(""));
    emit(ev);
}

/* The identity a delivery report names for a recipient. */
static json_t *recipient_identity(mock_batch *b, json_t *r, size_t i) {
    json_t *cid = json_object_get(r, "contact_id"), *ci;
    if (cid) {
        json_t *c = mock_contact_get(json_string_value(cid));
        ci = json_array_get(json_object_get(json_object_get(c, "contact"),
                                            "channel_identities"), 0);
        if (ci && strcmp(json_string_value(json_object_get(c, "project")), b->project) == 0)
            return json_pack("{s:O, s:O, s:s}", "channel", json_object_get(ci, "channel"),
                             "identity", json_object_get(ci, "identity"), "app_id", "");
        char made_up[32];
        snprintf(made_up, sizeof made_up, "+4670%07zu", i);
        return json_pack("{s:s, s:s, s:s}", "channel", "SMS", "identity", made_up,
                         "app_id", "");
    }
    ci = json_array_get(json_object_get(json_object_get(r, "identified_by"),
                                        "channel_identities"), 0);
    return json_pack("{s:O, s:O, s:s}", "channel", json_object_get(ci, "channel"),
                     "identity", json_object_get(ci, "identity"), "app_id",
                     json_string_value(json_object_get(ci, "app_id"))
                         ? json_string_value(json_object_get(ci, "app_id")) : "");
}

/* Why the API would fail this recipient's parameters ("" when it would not). */
static void param_problem(json_t *used, json_t *rparams, char *out, size_t n) {
    const char *name;
    size_t len;
    json_t *v;
    out[0] = '\0';
    if (json_is_object(rparams)) {
        json_object_keylen_foreach(rparams, name, len, v) {
            if (len == 0 || (json_is_string(v) && json_string_length(v) == 0)) {
                snprintf(out, n, "%s", EMPTY_PARAM);
                return;
            }
        }
    }
    json_object_keylen_foreach(used, name, len, v) {
        if (!json_is_string(json_object_getn(rparams, name, len))) {
            snprintf(out, n, "parameter '%.*s' has no value", len > 200 ? 200 : (int)len,
                     name);
            return;
        }
    }
}

void mock_emit_deliveries(mock_batch *b) {
    json_t *body = b->body, *list = json_object_get(body, "recipient_and_params"), *rp;
    json_t *params = mock_message_params(json_object_get(body, "message"));
    const char *app = json_string_value(json_object_get(body, "app_id"));
    const char *corr = json_string_value(json_object_get(body, "correlation_id"));
    const char *strategy = json_string_value(json_object_get(body, "processing_strategy"));
    int dispatch = strategy && strcmp(strategy, "DISPATCH_ONLY") == 0;
    size_t i, nev = 0;
    json_t **evs = malloc((2 * json_array_size(list) + 1) * sizeof *evs);
    if (!evs) {
        json_decref(params);
        return;
    }
    json_array_foreach(list, i, rp) {
        json_t *r = json_object_get(rp, "recipient"), *ev, *report, *meta, *mm, *who;
        char mid[27], conv[27], problem[300];
        char *meta_s, *mm_s;
        mock_receipt_fate fate;
        param_problem(params, json_object_get(rp, "parameters"), problem, sizeof problem);
        who = recipient_identity(b, r, i);
        fate = mock_outcomes_decide(json_string_value(json_object_get(who, "identity")));
        if (problem[0]) fate.fail_code = "BAD_REQUEST";
        meta = json_object();
        if (json_is_object(json_object_get(body, "message_metadata")))
            json_object_update(meta, json_object_get(body, "message_metadata"));
        if (json_is_object(json_object_get(rp, "message_metadata")))
            json_object_update(meta, json_object_get(rp, "message_metadata"));
        json_object_set_new(meta, "_batch_id", json_string(b->id));
        meta_s = mock_dumps(meta);
        json_decref(meta);
        mm = json_pack("{s:s, s:I}", "batchId", b->id, "messageIndex", (json_int_t)i);
        mm_s = mock_dumps(mm);
        json_decref(mm);
        mock_ulid(mid, mock_now_ms());
        mock_ulid(conv, mock_now_ms());
        report = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "message_id", mid,
                           "conversation_id", dispatch ? "" : conv, "status",
                           fate.fail_code ? "FAILED" : "DELIVERED", "channel_identity", who,
                           "contact_id",
                           json_string_value(json_object_get(r, "contact_id"))
                               ? json_string_value(json_object_get(r, "contact_id")) : "",
                           "metadata", meta_s ? meta_s : "", "processing_mode",
                           dispatch ? "DISPATCH" : "CONVERSATION");
        if (fate.fail_code) {
            char desc[700];
            if (problem[0])
                snprintf(desc, sizeof desc,
                         "Validation failed after parameters substitution for batch [%s] and "
                         "message at index [%zu]. Details: [%s]", b->id, i, problem);
            else
                snprintf(desc, sizeof desc, "sandbox outcome: %s (set by /_mock/outcomes)",
                         fate.fail_code);
            json_object_set_new(report, "reason",
                                json_pack("{s:s, s:s, s:s}", "code", fate.fail_code,
                                          "description", desc, "sub_code",
                                          "UNSPECIFIED_SUB_CODE"));
        }
        ev = envelope(app, b->project);
        json_object_set_new(ev, "message_delivery_report", report);
        json_object_set_new(ev, "message_metadata", json_string(mm_s ? mm_s : ""));
        json_object_set_new(ev, "correlation_id", json_string(corr ? corr : ""));
        free(meta_s);
        free(mm_s);
        mock_outcomes_count(fate.fail_code ? "FAILED" : "DELIVERED", fate.fail_code,
                            fate.duplicate);
        evs[nev++] = ev;
        if (fate.duplicate) evs[nev++] = json_incref(ev); /* a retry: the same receipt */
    }
    mock_outcomes_shuffle(evs, nev);
    for (i = 0; i < nev; i++) emit(evs[i]);
    free(evs);
    json_decref(params);
}
