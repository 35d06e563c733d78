/* builder.c -- streams a send-batch request body into one buffer.
 *
 *   {"app_id":"…","message":<raw>,"recipient_and_params":[<entry>,…]<fields>}
 *
 * The head (app_id, message) is written once by new(); each entry is
 * appended in place by begin … end; body() closes the array and writes the
 * top-level fields after it.  An entry is only ever complete or absent: any
 * error inside an entry drops it (the buffer goes back to the end of the
 * previous entry) and leaves the builder ready for the next begin().
 * The plan (plan.c) adds the per-recipient rules to the steps; row() and
 * the plan's API are in builder_row.c, the top-level fields in
 * builder_fields.c.
 */
#include "builder_int.h"

static int in_entry(const sinch_batch_builder *b) {
    return b->state != S_OPEN && b->state != S_CLOSED;
}

/* Drop the open entry (if any) so the builder can take the next one. */
static void drop_entry(sinch_batch_builder *b) {
    if (!in_entry(b)) return;
    b->body.len = b->entries_len;
    b->body.data[b->body.len] = '\0';
    b->state = S_OPEN;
}

int sb_builder_invalid(sinch_batch_builder *b, const char *fmt, ...) {
    va_list ap;
    drop_entry(b);
    va_start(ap, fmt);
    sb_error_vset(&b->err, SINCH_BATCH_ERROR_INVALID, fmt, ap);
    va_end(ap);
    return SINCH_BATCH_ERR;
}

int sb_builder_nomem(sinch_batch_builder *b) {
    drop_entry(b);
    return sb_error_nomem(&b->err, "batch builder");
}

/* A JSON writer's failure on the string at `what` (a printf'd path). */
static int json_failed(sinch_batch_builder *b, int rc, size_t bad, const char *what) {
    if (rc == SB_JSON_EUTF8) return invalid(b, "%s: invalid UTF-8 at byte %zu", what, bad + 1);
    return nomem(b);
}

const char *sb_builder_name(char *out, size_t outsz, const char *s, size_t n) {
    sb_sanitize(out, outsz < 65 ? outsz : 65, s, n);
    return out;
}

/* Checks shared by the entry functions: an entry is open and accepts `what`
 * in its current state.  Returns 0 or the error. */
static int need_entry(sinch_batch_builder *b) {
    if (b->state == S_CLOSED) return invalid(b, "batch already closed; reset() it first");
    if (b->state == S_OPEN) return invalid(b, "recipients[%zu]: begin() the entry first", pos(b));
    return 0;
}

/* ---------------------------------------------------------------- lifetime */

sinch_batch_builder *sinch_batch_builder_new(const char *app_id, const char *message_json,
                                             size_t message_len, size_t max_recipients,
                                             sinch_batch_error *err) {
    sinch_batch_builder *b;
    size_t bad = 0;
    int rc;
    if (app_id == NULL || app_id[0] == '\0') {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "app_id: must not be empty");
        return NULL;
    }
    if (message_json != NULL && message_len == 0) message_len = strlen(message_json);
    if (!sb_json_is_object(message_json, message_len)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "message: expected a JSON object ({...}) encoded once for the batch");
        return NULL;
    }
    if (max_recipients == 0) max_recipients = SINCH_BATCH_MAX_RECIPIENTS;
    if (max_recipients > SINCH_BATCH_MAX_RECIPIENTS) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "max_recipients: a batch holds at most %d recipients, got %zu",
                     SINCH_BATCH_MAX_RECIPIENTS, max_recipients);
        return NULL;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        sb_error_nomem(err, "batch builder");
        return NULL;
    }
    sb_buf_init(&b->body);
    b->max = max_recipients;
    rc = sb_buf_grow(&b->body, message_len + 256) == 0 ? SB_JSON_OK : SB_JSON_ENOMEM;
    if (rc == SB_JSON_OK) rc = sb_json_raw(&b->body, "{\"app_id\":", 10);
    if (rc == SB_JSON_OK) rc = sb_json_str(&b->body, app_id, strlen(app_id), &bad);
    if (rc == SB_JSON_OK) rc = sb_json_raw(&b->body, ",\"message\":", 11);
    if (rc == SB_JSON_OK) rc = sb_json_raw(&b->body, message_json, message_len);
    if (rc == SB_JSON_OK) rc = sb_json_raw(&b->body, ",\"recipient_and_params\":[", 25);
    if (rc != SB_JSON_OK) {
        if (rc == SB_JSON_EUTF8)
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "app_id: invalid UTF-8 at byte %zu",
                         bad + 1);
        else
            sb_error_nomem(err, "batch builder");
        sinch_batch_builder_free(b);
        return NULL;
    }
    if (sb_plan_init(&b->plan, message_json, message_len) != 0 ||
        (b->extra = calloc(b->plan.n_names + 1, sizeof *b->extra)) == NULL) {
        sb_error_nomem(err, "batch builder");
        sinch_batch_builder_free(b);
        return NULL;
    }
    b->head_len = b->entries_len = b->body.len;
    b->state = S_OPEN;
    return b;
}

void sinch_batch_builder_free(sinch_batch_builder *b) {
    size_t i;
    if (b == NULL) return;
    for (i = 0; i < b->n_fields; i++) {
        free(b->fields[i].key);
        free(b->fields[i].json);
    }
    free(b->fields);
    sb_buf_free(&b->body);
    sb_plan_free(&b->plan);
    free(b->extra);
    free(b);
}

const sinch_batch_error *sinch_batch_builder_error(const sinch_batch_builder *b) {
    return b ? &b->err : NULL;
}

size_t sinch_batch_builder_count(const sinch_batch_builder *b) { return b ? b->count : 0; }

void sinch_batch_builder_reset(sinch_batch_builder *b) {
    if (b == NULL) return;
    b->body.len = b->entries_len = b->head_len;
    b->body.data[b->body.len] = '\0';
    b->count = 0;
    b->state = S_OPEN;
    sb_plan_clear_unused(&b->plan);
}

/* ---------------------------------------------------------------- entries */

int sinch_batch_builder_begin(sinch_batch_builder *b) {
    if (b == NULL) return SINCH_BATCH_ERR;
    if (b->state == S_CLOSED) return invalid(b, "batch already closed; reset() it first");
    if (in_entry(b))
        return invalid(b, "recipients[%zu]: the entry is not ended (it is dropped); call end() "
                          "before the next begin()", pos(b));
    if (b->count >= b->max)
        return invalid(b, "recipients[%zu]: a batch holds at most %zu recipients", pos(b), b->max);
    if ((b->count && PUTC(&b->body, ",") != 0) || LIT(&b->body, "{\"recipient\":{") != 0)
        return nomem(b);
    b->state = S_BEGUN;
    b->n_ids = 0;
    b->raw_seen = 0;
    if (b->plan.n_names) memset(b->plan.seen, SB_SEEN_NONE, b->plan.n_names);
    return SINCH_BATCH_OK;
}

#define ID_PATH "recipients[%zu].recipient.identified_by.channel_identities[%d]"

/* The plan's recipient rule for identity k: a known channel, and a phone
 * number where the channel takes one. */
static int check_identity(sinch_batch_builder *b, const char *channel, const char *identity,
                          size_t identity_len, int k) {
    char name[65], list[512];
    const sinch_batch_channel *c = sb_plan_channel(&b->plan, channel, strlen(channel));
    if (c == NULL) {
        sb_plan_channel_list(&b->plan, list, sizeof list);
        return invalid(b, ID_PATH ".channel: unknown channel \"%s\" (known: %s)", pos(b), k,
                       quote_name(name, sizeof name, channel, strlen(channel)), list);
    }
    if ((c->flags & SINCH_BATCH_CHANNEL_PHONE) && !sinch_batch_phone_ok(identity, identity_len))
        return invalid(b, ID_PATH ".identity: \"%s\" is not a phone number (an optional +, "
                          "then digits) for channel %s", pos(b), k,
                       quote_name(name, sizeof name, identity, identity_len), c->name);
    if ((c->flags & SINCH_BATCH_CHANNEL_PHONE) && (b->plan.flags & SINCH_BATCH_PLAN_E164) &&
        !sinch_batch_phone_e164(identity, identity_len))
        return invalid(b, ID_PATH ".identity: \"%s\" is not in E.164 shape (an optional +, "
                          "then 7 to 15 digits, the first not 0; our check, strict_phone) for "
                          "channel %s", pos(b), k,
                       quote_name(name, sizeof name, identity, identity_len), c->name);
    return 0;
}

/* The recipient part may only be written right after begin() (or, for
 * identities, after another identity). */
static int check_recipient_order(sinch_batch_builder *b, int identity) {
    int rc = need_entry(b);
    if (rc) return rc;
    if (b->state == S_BEGUN || (identity && b->state == S_IDS)) return 0;
    if (b->state == S_CONTACT && !identity)
        return invalid(b, "recipients[%zu].recipient: contact_id given twice", pos(b));
    if (b->state == S_CONTACT || b->state == S_IDS)
        return invalid(b, "recipients[%zu].recipient: a contact_id or channel identities, "
                          "not both", pos(b));
    return invalid(b, "recipients[%zu].recipient: the recipient comes before parameters and "
                      "metadata", pos(b));
}

int sinch_batch_builder_contact(sinch_batch_builder *b, const char *contact_id, size_t len) {
    char what[64];
    size_t bad = 0;
    int rc;
    if (b == NULL) return SINCH_BATCH_ERR;
    if ((rc = check_recipient_order(b, 0)) != 0) return rc;
    if (contact_id == NULL) contact_id = "", len = 0;
    if (len == 0)
        return invalid(b, "recipients[%zu].recipient.contact_id: must not be empty", pos(b));
    if (b->plan.flags & SINCH_BATCH_PLAN_DISPATCH_ONLY)
        return invalid(b, "recipients[%zu].recipient.contact_id: processing_strategy "
                          "DISPATCH_ONLY takes identified_by recipients only", pos(b));
    if (LIT(&b->body, "\"contact_id\":") != 0) return nomem(b);
    rc = sb_json_str(&b->body, contact_id, len, &bad);
    if (rc != SB_JSON_OK) {
        snprintf(what, sizeof what, "recipients[%zu].recipient.contact_id", pos(b));
        return json_failed(b, rc, bad, what);
    }
    if (PUTC(&b->body, "}") != 0) return nomem(b);
    b->state = S_CONTACT;
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_identity(sinch_batch_builder *b, const char *channel,
                                 const char *identity, size_t identity_len, const char *app_id) {
    char what[96];
    size_t bad = 0, n = 0;
    int rc, k;
    if (b == NULL) return SINCH_BATCH_ERR;
    if ((rc = check_recipient_order(b, 1)) != 0) return rc;
    k = b->n_ids + 1;
    if (channel == NULL || channel[0] == '\0')
        return invalid(b, ID_PATH ".channel: must not be empty", pos(b), k);
    if (identity == NULL) identity = "", identity_len = 0;
    if (identity_len == 0) return invalid(b, ID_PATH ".identity: must not be empty", pos(b), k);
    if (app_id != NULL && app_id[0] == '\0')
        return invalid(b, ID_PATH ".app_id: must not be empty (or left out)", pos(b), k);
    if ((b->plan.flags & SINCH_BATCH_PLAN_RECIPIENT) &&
        (rc = check_identity(b, channel, identity, identity_len, k)) != 0)
        return rc;
    rc = b->state == S_BEGUN
             ? LIT(&b->body, "\"identified_by\":{\"channel_identities\":[{\"channel\":")
             : LIT(&b->body, ",{\"channel\":");
    if (rc != 0) return nomem(b);
    rc = sb_json_str(&b->body, channel, strlen(channel), &bad);
    if (rc == SB_JSON_OK) {
        n = 1;
        rc = LIT(&b->body, ",\"identity\":") ? SB_JSON_ENOMEM
                                               : sb_json_str(&b->body, identity, identity_len, &bad);
    }
    if (rc == SB_JSON_OK && app_id != NULL) {
        n = 2;
        rc = LIT(&b->body, ",\"app_id\":") ? SB_JSON_ENOMEM
                                             : sb_json_str(&b->body, app_id, strlen(app_id), &bad);
    }
    if (rc != SB_JSON_OK) {
        snprintf(what, sizeof what, ID_PATH ".%s", pos(b), k,
                 n == 0 ? "channel" : n == 1 ? "identity" : "app_id");
        return json_failed(b, rc, bad, what);
    }
    if (PUTC(&b->body, "}") != 0) return nomem(b);
    b->n_ids = k;
    b->state = S_IDS;
    return SINCH_BATCH_OK;
}

/* Close the recipient object when it is still open (identities). */
static int close_recipient(sinch_batch_builder *b) {
    if (b->state == S_IDS && LIT(&b->body, "]}}") != 0) return nomem(b);
    return 0;
}

/* Write one parameter (the entry is past its recipient, before metadata). */
static int put_param(sinch_batch_builder *b, const char *key, size_t key_len, const char *value,
                     size_t value_len) {
    char what[128], name[65];
    size_t bad = 0;
    int rc;
    if ((rc = close_recipient(b)) != 0) return rc;
    rc = b->state == S_PARAMS ? PUTC(&b->body, ",") : LIT(&b->body, ",\"parameters\":{");
    if (rc != 0) return nomem(b);
    rc = sb_json_key(&b->body, key, key_len, &bad);
    if (rc == SB_JSON_EUTF8)
        return invalid(b, "recipients[%zu].parameters: a parameter name is not valid UTF-8 "
                          "(byte %zu)", pos(b), bad + 1);
    if (rc == SB_JSON_OK) rc = sb_json_str(&b->body, value, value_len, &bad);
    if (rc != SB_JSON_OK) {
        snprintf(what, sizeof what, "recipients[%zu].parameters.%s", pos(b),
                 quote_name(name, sizeof name, key, key_len));
        return json_failed(b, rc, bad, what);
    }
    b->state = S_PARAMS;
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_param(sinch_batch_builder *b, const char *key, size_t key_len,
                              const char *value, size_t value_len) {
    long idx;
    int rc;
    if (b == NULL) return SINCH_BATCH_ERR;
    if ((rc = need_entry(b)) != 0) return rc;
    if (b->state == S_BEGUN)
        return invalid(b, "recipients[%zu].parameters: parameters come after the recipient",
                       pos(b));
    if (b->state == S_RAW)
        return invalid(b, "recipients[%zu].parameters: parameters come before "
                          "message_metadata and conversation_metadata", pos(b));
    if (key == NULL || key_len == 0)
        return invalid(b, "recipients[%zu].parameters: a parameter name must not be empty",
                       pos(b));
    if (value == NULL) value = "", value_len = 0;
    idx = sb_plan_find(&b->plan, key, key_len);
    if (value_len == 0) { /* never sent: missing if the message uses it, else left out */
        if (idx >= 0 && b->plan.seen[idx] != SB_SEEN_GIVEN) b->plan.seen[idx] = SB_SEEN_EMPTY;
        return SINCH_BATCH_OK;
    }
    if (idx >= 0) b->plan.seen[idx] = SB_SEEN_GIVEN;
    else if (sb_plan_count_unused(&b->plan, key, key_len) != 0) return nomem(b);
    return put_param(b, key, key_len, value, value_len);
}

/* Where the parameters end: every ${name} the message uses and the entry
 * did not give takes its default, or (SINCH_BATCH_PLAN_PARAMS) fails it. */
static int finish_params(sinch_batch_builder *b) {
    char name[65];
    size_t i;
    int rc;
    for (i = 0; i < b->plan.n_names; i++) {
        const sb_plan_name *n = &b->plan.names[i];
        if (b->plan.seen[i] == SB_SEEN_GIVEN) continue;
        if (n->def != NULL) {
            if ((rc = put_param(b, n->name, n->len, n->def, n->def_len)) != 0) return rc;
            b->plan.seen[i] = SB_SEEN_GIVEN;
        } else if (b->plan.flags & SINCH_BATCH_PLAN_PARAMS) {
            quote_name(name, sizeof name, n->name, n->len);
            if (b->plan.seen[i] == SB_SEEN_EMPTY)
                return invalid(b, "recipients[%zu].parameters.%s: empty; the message uses ${%s}",
                               pos(b), name, name);
            return invalid(b, "recipients[%zu].parameters: missing value for ${%s}", pos(b), name);
        }
    }
    return 0;
}

int sinch_batch_builder_entry_raw(sinch_batch_builder *b, const char *key, const char *json,
                                  size_t len) {
    char name[65];
    unsigned bit;
    int rc;
    if (b == NULL) return SINCH_BATCH_ERR;
    if ((rc = need_entry(b)) != 0) return rc;
    if (key == NULL) key = "";
    if (strcmp(key, "message_metadata") == 0) bit = RAW_MESSAGE_METADATA;
    else if (strcmp(key, "conversation_metadata") == 0) bit = RAW_CONVERSATION_METADATA;
    else
        return invalid(b, "recipients[%zu].%s: not a per-recipient field (message_metadata or "
                          "conversation_metadata)", pos(b),
                       quote_name(name, sizeof name, key, strlen(key)));
    if (b->state == S_BEGUN)
        return invalid(b, "recipients[%zu].%s: metadata comes after the recipient", pos(b), key);
    if (b->raw_seen & bit) return invalid(b, "recipients[%zu].%s: given twice", pos(b), key);
    if (!sb_json_is_object(json, len))
        return invalid(b, "recipients[%zu].%s: expected a JSON object ({...})", pos(b), key);
    if (b->state != S_RAW && (rc = finish_params(b)) != 0) return rc;
    if ((rc = close_recipient(b)) != 0) return rc;
    if (b->state == S_PARAMS && PUTC(&b->body, "}") != 0) return nomem(b);
    if (PUTC(&b->body, ",") != 0 || sb_json_key(&b->body, key, strlen(key), NULL) != 0 ||
        sb_json_raw(&b->body, json, len) != 0)
        return nomem(b);
    b->raw_seen |= bit;
    b->state = S_RAW;
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_end(sinch_batch_builder *b) {
    int rc;
    if (b == NULL) return SINCH_BATCH_ERR;
    if ((rc = need_entry(b)) != 0) return rc;
    if (b->state == S_BEGUN)
        return invalid(b, "recipients[%zu].recipient: a contact_id or at least one channel "
                          "identity is required", pos(b));
    if (b->state != S_RAW && (rc = finish_params(b)) != 0) return rc;
    if ((rc = close_recipient(b)) != 0) return rc;
    if (b->state == S_PARAMS ? LIT(&b->body, "}}") : PUTC(&b->body, "}")) return nomem(b);
    b->entries_len = b->body.len;
    b->count++;
    b->state = S_OPEN;
    return SINCH_BATCH_OK;
}
/* ------------------------------------------------------------------ body */

const char *sinch_batch_builder_body(sinch_batch_builder *b, size_t *len) {
    size_t i;
    int rc;
    if (b == NULL) return NULL;
    if (b->state == S_CLOSED && !b->dirty) goto done;
    if (in_entry(b)) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID,
                     "recipients[%zu]: the entry is not ended; call end() first", pos(b));
        return NULL;
    }
    if (b->count == 0) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID,
                     "recipients: a batch needs at least 1 recipient");
        return NULL;
    }
    b->body.len = b->entries_len;
    rc = PUTC(&b->body, "]");
    for (i = 0; rc == 0 && i < b->n_fields; i++) {
        rc = PUTC(&b->body, ",");
        if (rc == 0) rc = sb_json_key(&b->body, b->fields[i].key, strlen(b->fields[i].key), NULL);
        if (rc == 0) rc = sb_json_raw(&b->body, b->fields[i].json, b->fields[i].len);
    }
    if (rc == 0) rc = PUTC(&b->body, "}");
    if (rc != 0) {
        b->body.len = b->entries_len;
        b->body.data[b->body.len] = '\0';
        b->state = S_OPEN;
        sb_error_nomem(&b->err, "batch builder");
        return NULL;
    }
    b->state = S_CLOSED;
    b->dirty = 0;
done:
    if (len) *len = b->body.len;
    return b->body.data;
}

char *sinch_batch_builder_take(sinch_batch_builder *b, size_t *len) {
    size_t n;
    char *out, *fresh;
    if (sinch_batch_builder_body(b, &n) == NULL) return NULL;
    /* a buffer of the same size for the next batch: only the head is copied */
    if ((fresh = malloc(b->body.cap)) == NULL) {
        sb_error_nomem(&b->err, "batch builder");
        return NULL;
    }
    memcpy(fresh, b->body.data, b->head_len);
    out = b->body.data;
    b->body.data = fresh;
    sinch_batch_builder_reset(b);
    if (len) *len = n;
    return out;
}

sinch_batch_call *sinch_batch_send(sinch_batch_client *c, sinch_batch_builder *b, int64_t now_ms,
                                   sinch_batch_error *err) {
    sinch_batch_request req;
    size_t len = 0;
    const char *body;
    if (b == NULL) {
        sb_error_set(err, SINCH_BATCH_ERROR_INTERNAL, "send: no batch builder");
        return NULL;
    }
    body = sinch_batch_builder_body(b, &len);
    if (body == NULL) {
        if (err) *err = b->err;
        return NULL;
    }
    memset(&req, 0, sizeof req);
    req.op = SINCH_BATCH_OP_SEND;
    req.body = body;
    req.body_len = len;
    return sinch_batch_call_new(c, &req, now_ms, err);
}
