/* test_builder.c -- the batch body builder (src/core/builder.c). */
#include <jansson.h>

#include "check.h"
#include "sinch_batch.h"

#define MSG "{\"text_message\":{\"text\":\"Hi ${name}\"}}"
#define HEAD "{\"app_id\":\"APP\",\"message\":" MSG ",\"recipient_and_params\":["

static sinch_batch_builder *new_builder(size_t max) {
    sinch_batch_error err;
    sinch_batch_builder *b = sinch_batch_builder_new("APP", MSG, strlen(MSG), max, &err);
    CHECK(b != NULL);
    if (b == NULL) {
        fprintf(stderr, "builder_new: %s\n", err.message);
        exit(1);
    }
    return b;
}

static const char *body_of(sinch_batch_builder *b) {
    size_t len = 0;
    const char *s = sinch_batch_builder_body(b, &len);
    if (s != NULL) CHECK_INT(len, strlen(s));
    return s;
}

static const char *errmsg(sinch_batch_builder *b) { return sinch_batch_builder_error(b)->message; }

static void sms(sinch_batch_builder *b, const char *number) {
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", number, strlen(number), NULL), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
}

/* The body parses and equals the JSON text `expect` (compared as values). */
static void check_json_equal(const char *body, const char *expect) {
    json_error_t e1, e2;
    json_t *a = json_loads(body ? body : "", 0, &e1), *b = json_loads(expect, 0, &e2);
    CHECK(a != NULL);
    CHECK(b != NULL);
    if (a == NULL) fprintf(stderr, "body does not parse: %s\n", e1.text);
    if (b == NULL) fprintf(stderr, "expected text does not parse: %s\n", e2.text);
    CHECK(a != NULL && b != NULL && json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void test_contact(void) {
    sinch_batch_builder *b = new_builder(0);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "01CONTACT", 9), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_count(b), 1);
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"contact_id\":\"01CONTACT\"}}]}");
    sinch_batch_builder_free(b);
}

static void test_identities(void) {
    sinch_batch_builder *b = new_builder(0);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "+46700000001", 12, NULL), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "MESSENGER", "PSID1", 5, "01APP2"), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    sms(b, "+46700000002");
    CHECK_STR(body_of(b),
              HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                   "{\"channel\":\"SMS\",\"identity\":\"+46700000001\"},"
                   "{\"channel\":\"MESSENGER\",\"identity\":\"PSID1\",\"app_id\":\"01APP2\"}]}}},"
                   "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                   "{\"channel\":\"SMS\",\"identity\":\"+46700000002\"}]}}}]}");
    sinch_batch_builder_free(b);
}

static void test_params_and_metadata(void) {
    sinch_batch_builder *b = new_builder(0);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "+46700000001", 12, NULL), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "name", 4, "Ann", 3), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "code", 4, "1234", 4), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "message_metadata", "{\"row\":\"1\"}", 11),
              SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "conversation_metadata", "{\"c\":2}", 7),
              SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    /* contact + metadata without parameters */
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C2", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    /* contact + an empty parameter: never sent (the message's ${name} is
     * missing, which only a plan makes an error) */
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C3", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "name", 4, "", 0), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    CHECK_STR(body_of(b),
              HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                   "{\"channel\":\"SMS\",\"identity\":\"+46700000001\"}]}},"
                   "\"parameters\":{\"name\":\"Ann\",\"code\":\"1234\"},"
                   "\"message_metadata\":{\"row\":\"1\"},\"conversation_metadata\":{\"c\":2}},"
                   "{\"recipient\":{\"contact_id\":\"C2\"},\"message_metadata\":{}},"
                   "{\"recipient\":{\"contact_id\":\"C3\"}}]}");
    check_json_equal(body_of(b),
                     "{\"app_id\":\"APP\",\"message\":{\"text_message\":{\"text\":\"Hi ${name}\"}},"
                     "\"recipient_and_params\":["
                     " {\"recipient\":{\"identified_by\":{\"channel_identities\":"
                     "   [{\"channel\":\"SMS\",\"identity\":\"+46700000001\"}]}},"
                     "  \"parameters\":{\"code\":\"1234\",\"name\":\"Ann\"},"
                     "  \"conversation_metadata\":{\"c\":2},\"message_metadata\":{\"row\":\"1\"}},"
                     " {\"recipient\":{\"contact_id\":\"C2\"},\"message_metadata\":{}},"
                     " {\"recipient\":{\"contact_id\":\"C3\"}}]}");
    sinch_batch_builder_free(b);
}

static void test_escaping(void) {
    sinch_batch_builder *b = new_builder(0);
    const char value[] = "say \"hi\"\\ \n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
    json_t *root, *got;
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "id\"1", 4), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "k\"ey", 4, value, sizeof value - 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"contact_id\":\"id\\\"1\"},\"parameters\":"
                               "{\"k\\\"ey\":\"say \\\"hi\\\"\\\\ \\n\\t\\u0001 caf\xc3\xa9 "
                               "\xf0\x9f\x98\x80\"}}]}");
    root = json_loads(body_of(b), 0, NULL);
    CHECK(root != NULL);
    got = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "recipient_and_params"), 0),
                        "parameters"),
        "k\"ey");
    CHECK(got != NULL && strcmp(json_string_value(got), value) == 0);
    json_decref(root);
    sinch_batch_builder_free(b);
}

static void test_invalid_utf8_drops_the_entry(void) {
    sinch_batch_builder *b = new_builder(0);
    sms(b, "+46700000001");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C2", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "name", 4, "An\xffn", 4), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[2].parameters.name: invalid UTF-8 at byte 3");
    CHECK_INT(sinch_batch_builder_error(b)->kind, SINCH_BATCH_ERROR_INVALID);
    /* the entry is gone; the next one is number 2 again */
    CHECK_INT(sinch_batch_builder_count(b), 1);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[2]: begin() the entry first");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "+4\xc3", 3, NULL), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[2].recipient.identified_by.channel_identities[1].identity: "
                         "invalid UTF-8 at byte 3");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "\x80", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[2].recipient.contact_id: invalid UTF-8 at byte 1");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "n\xc0\xaf", 3, "v", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[2].parameters: a parameter name is not valid UTF-8 (byte 2)");
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                               "{\"channel\":\"SMS\",\"identity\":\"+46700000001\"}]}}}]}");
    sinch_batch_builder_free(b);
}

static void test_order_violations(void) {
    sinch_batch_builder *b = new_builder(0);
    sms(b, "+46700000001");
    sms(b, "+46700000002");
#define EXPECT_ERR(call, text)                          \
    do {                                                \
        CHECK_INT(call, SINCH_BATCH_ERR);               \
        CHECK_STR(errmsg(b), text);                     \
        CHECK_INT(sinch_batch_builder_count(b), 2);     \
    } while (0)
#define BEGIN() CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK)
    EXPECT_ERR(sinch_batch_builder_contact(b, "C", 1), "recipients[3]: begin() the entry first");
    EXPECT_ERR(sinch_batch_builder_param(b, "k", 1, "v", 1),
               "recipients[3]: begin() the entry first");
    BEGIN();
    EXPECT_ERR(sinch_batch_builder_end(b), "recipients[3].recipient: a contact_id or at least one "
                                           "channel identity is required");
    BEGIN();
    EXPECT_ERR(sinch_batch_builder_param(b, "k", 1, "v", 1),
               "recipients[3].parameters: parameters come after the recipient");
    BEGIN();
    EXPECT_ERR(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2),
               "recipients[3].message_metadata: metadata comes after the recipient");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_identity(b, "SMS", "+1", 2, NULL),
               "recipients[3].recipient: a contact_id or channel identities, not both");
    BEGIN();
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "+1", 2, NULL), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_contact(b, "C", 1),
               "recipients[3].recipient: a contact_id or channel identities, not both");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_contact(b, "C", 1),
               "recipients[3].recipient: contact_id given twice");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "k", 1, "v", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_identity(b, "SMS", "+1", 2, NULL),
               "recipients[3].recipient: the recipient comes before parameters and metadata");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_param(b, "k", 1, "v", 1),
               "recipients[3].parameters: parameters come before message_metadata and "
               "conversation_metadata");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2),
               "recipients[3].message_metadata: given twice");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_entry_raw(b, "batch_metadata", "{}", 2),
               "recipients[3].batch_metadata: not a per-recipient field (message_metadata or "
               "conversation_metadata)");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_entry_raw(b, "message_metadata", "[1]", 3),
               "recipients[3].message_metadata: expected a JSON object ({...})");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    EXPECT_ERR(sinch_batch_builder_begin(b), "recipients[3]: the entry is not ended (it is "
                                             "dropped); call end() before the next begin()");
    BEGIN();
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK(sinch_batch_builder_body(b, NULL) == NULL);
    CHECK_STR(errmsg(b), "recipients[3]: the entry is not ended; call end() first");
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_count(b), 3);
    check_json_equal(body_of(b),
                     "{\"app_id\":\"APP\",\"message\":" MSG ",\"recipient_and_params\":["
                     "{\"recipient\":{\"identified_by\":{\"channel_identities\":"
                     "[{\"channel\":\"SMS\",\"identity\":\"+46700000001\"}]}}},"
                     "{\"recipient\":{\"identified_by\":{\"channel_identities\":"
                     "[{\"channel\":\"SMS\",\"identity\":\"+46700000002\"}]}}},"
                     "{\"recipient\":{\"contact_id\":\"C\"}}]}");
#undef EXPECT_ERR
#undef BEGIN
    sinch_batch_builder_free(b);
}

static void test_empty_values(void) {
    sinch_batch_builder *b = new_builder(0);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "", 0), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[1].recipient.contact_id: must not be empty");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "+1", 2, NULL), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "", "+1", 2, NULL), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b),
              "recipients[1].recipient.identified_by.channel_identities[2].channel: must not be "
              "empty");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "SMS", "", 0, NULL), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b),
              "recipients[1].recipient.identified_by.channel_identities[1].identity: must not be "
              "empty");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_identity(b, "LINE", "U1", 2, ""), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b),
              "recipients[1].recipient.identified_by.channel_identities[1].app_id: must not be "
              "empty (or left out)");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "", 0, "v", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[1].parameters: a parameter name must not be empty");
    CHECK_INT(sinch_batch_builder_count(b), 0);
    sinch_batch_builder_free(b);
}

static void test_max_recipients(void) {
    sinch_batch_builder *b = new_builder(0);
    json_t *root;
    int i;
    char num[32];
    for (i = 0; i < 1000; i++) {
        snprintf(num, sizeof num, "+4670%07d", i);
        sms(b, num);
    }
    CHECK_INT(sinch_batch_builder_count(b), 1000);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[1001]: a batch holds at most 1000 recipients");
    CHECK_INT(sinch_batch_builder_error(b)->kind, SINCH_BATCH_ERROR_INVALID);
    CHECK_INT(sinch_batch_builder_count(b), 1000);
    root = json_loads(body_of(b), 0, NULL);
    CHECK(root != NULL);
    CHECK_INT(json_array_size(json_object_get(root, "recipient_and_params")), 1000);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(
                  json_object_get(json_array_get(json_object_get(root, "recipient_and_params"),
                                                 999), "recipient"), "identified_by"),
                  "channel_identities"), 0), "identity")),
              "+46700000999");
    json_decref(root);
    sinch_batch_builder_free(b);

    b = new_builder(2);
    sms(b, "+1");
    sms(b, "+2");
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "recipients[3]: a batch holds at most 2 recipients");
    sinch_batch_builder_free(b);
}

static void test_new_errors(void) {
    sinch_batch_error err;
    CHECK(sinch_batch_builder_new("", MSG, strlen(MSG), 0, &err) == NULL);
    CHECK_STR(err.message, "app_id: must not be empty");
    CHECK_INT(err.kind, SINCH_BATCH_ERROR_INVALID);
    CHECK(sinch_batch_builder_new(NULL, MSG, strlen(MSG), 0, &err) == NULL);
    CHECK_STR(err.message, "app_id: must not be empty");
    CHECK(sinch_batch_builder_new("APP", "[1]", 3, 0, &err) == NULL);
    CHECK_STR(err.message, "message: expected a JSON object ({...}) encoded once for the batch");
    CHECK(sinch_batch_builder_new("APP", "   ", 3, 0, &err) == NULL);
    CHECK_STR(err.message, "message: expected a JSON object ({...}) encoded once for the batch");
    CHECK(sinch_batch_builder_new("APP", NULL, 0, 0, &err) == NULL);
    CHECK(sinch_batch_builder_new("APP", MSG, strlen(MSG), 1001, &err) == NULL);
    CHECK_STR(err.message, "max_recipients: a batch holds at most 1000 recipients, got 1001");
    CHECK(sinch_batch_builder_new("AP\xff", MSG, strlen(MSG), 0, &err) == NULL);
    CHECK_STR(err.message, "app_id: invalid UTF-8 at byte 3");
    /* a NULL error pointer is allowed */
    CHECK(sinch_batch_builder_new("", MSG, strlen(MSG), 0, NULL) == NULL);
}

static void test_empty_batch(void) {
    sinch_batch_builder *b = new_builder(0);
    sinch_batch_error err;
    size_t len = 7;
    CHECK(sinch_batch_builder_body(b, &len) == NULL);
    CHECK_INT(len, 7);
    CHECK_STR(errmsg(b), "recipients: a batch needs at least 1 recipient");
    CHECK_INT(sinch_batch_builder_error(b)->kind, SINCH_BATCH_ERROR_INVALID);
    /* send refuses it before any call exists */
    memset(&err, 0, sizeof err);
    CHECK(sinch_batch_send(NULL, b, 0, &err) == NULL);
    CHECK_STR(err.message, "recipients: a batch needs at least 1 recipient");
    CHECK_INT(err.kind, SINCH_BATCH_ERROR_INVALID);
    sinch_batch_builder_free(b);
}

static void test_fields(void) {
    sinch_batch_builder *b = new_builder(0);
    const char *first;
    sms(b, "+1");
    CHECK_INT(sinch_batch_builder_field_raw(b, "batch_metadata", "{\"campaign\":\"x\"}", 16),
              SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_field_string(b, "ttl", "86400s", 6), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_field_string(b, "callback_url", "https://x/\"q\"", 13),
              SINCH_BATCH_OK);
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                               "{\"channel\":\"SMS\",\"identity\":\"+1\"}]}}}],"
                               "\"batch_metadata\":{\"campaign\":\"x\"},\"ttl\":\"86400s\","
                               "\"callback_url\":\"https://x/\\\"q\\\"\"}");
    /* a key set again replaces its value, in place; the closed body follows */
    CHECK_INT(sinch_batch_builder_field_string(b, "ttl", "60s", 3), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_field_raw(b, "channel_priority_order", "[\"SMS\"]", 7),
              SINCH_BATCH_OK);
    first = body_of(b);
    CHECK_CONTAINS(first, "}}}],\"batch_metadata\":{\"campaign\":\"x\"},\"ttl\":\"60s\","
                          "\"callback_url\":\"https://x/\\\"q\\\"\","
                          "\"channel_priority_order\":[\"SMS\"]}");
    CHECK(strstr(first, "86400s") == NULL);

    CHECK_INT(sinch_batch_builder_field_raw(b, "app_id", "\"X\"", 3), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "app_id: written by the builder itself, not settable as a field");
    CHECK_INT(sinch_batch_builder_field_string(b, "message", "x", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "message: written by the builder itself, not settable as a field");
    CHECK_INT(sinch_batch_builder_field_raw(b, "recipient_and_params", "[]", 2), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b),
              "recipient_and_params: written by the builder itself, not settable as a field");
    CHECK_INT(sinch_batch_builder_field_raw(b, "", "1", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "fields: a field name must not be empty");
    CHECK_INT(sinch_batch_builder_field_raw(b, "ttl", " ", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "ttl: expected a JSON value, got nothing");
    CHECK_INT(sinch_batch_builder_field_string(b, "ttl", "6\xff", 2), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "ttl: invalid UTF-8 at byte 2");
    /* failed sets changed nothing */
    CHECK_STR(body_of(b), first);
    check_json_equal(body_of(b),
                     "{\"app_id\":\"APP\",\"message\":" MSG ",\"recipient_and_params\":["
                     "{\"recipient\":{\"identified_by\":{\"channel_identities\":"
                     "[{\"channel\":\"SMS\",\"identity\":\"+1\"}]}}}],"
                     "\"batch_metadata\":{\"campaign\":\"x\"},\"ttl\":\"60s\","
                     "\"callback_url\":\"https://x/\\\"q\\\"\","
                     "\"channel_priority_order\":[\"SMS\"]}");
    sinch_batch_builder_free(b);
}

static void test_body_idempotent_and_closed(void) {
    sinch_batch_builder *b = new_builder(0);
    const char *one, *two;
    char *copy;
    size_t l1 = 0, l2 = 0;
    sms(b, "+1");
    one = sinch_batch_builder_body(b, &l1);
    CHECK(one != NULL);
    copy = strdup(one);
    two = sinch_batch_builder_body(b, &l2);
    CHECK(two == one);
    CHECK_INT(l2, l1);
    CHECK_STR(two, copy);
    free(copy);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "batch already closed; reset() it first");
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(b), "batch already closed; reset() it first");
    CHECK_INT(sinch_batch_builder_count(b), 1);
    sinch_batch_builder_free(b);
}

/* take(): the closed body, owned by the caller; the builder starts again. */
static void test_take(void) {
    sinch_batch_builder *b = new_builder(0);
    size_t len = 0;
    char *body;
    CHECK_INT(sinch_batch_builder_field_string(b, "ttl", "60s", 3), SINCH_BATCH_OK);
    CHECK(sinch_batch_builder_take(b, &len) == NULL); /* empty */
    CHECK_STR(errmsg(b), "recipients: a batch needs at least 1 recipient");
    sms(b, "+2");
    body = sinch_batch_builder_take(b, &len);
    CHECK_STR(body, HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                        "{\"channel\":\"SMS\",\"identity\":\"+2\"}]}}}],\"ttl\":\"60s\"}");
    CHECK_INT(len, body ? strlen(body) : 0);
    CHECK_INT(sinch_batch_builder_count(b), 0);
    sms(b, "+3");
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                               "{\"channel\":\"SMS\",\"identity\":\"+3\"}]}}}],"
                               "\"ttl\":\"60s\"}");
    CHECK(body != NULL && strstr(body, "+2") != NULL); /* untouched by the next batch */
    free(body);
    sinch_batch_builder_free(b);
}

static void test_reset(void) {
    sinch_batch_builder *b = new_builder(0);
    int i;
    CHECK_INT(sinch_batch_builder_field_string(b, "ttl", "60s", 3), SINCH_BATCH_OK);
    for (i = 0; i < 1000; i++) sms(b, "+1");
    CHECK(body_of(b) != NULL);
    sinch_batch_builder_reset(b);
    CHECK_INT(sinch_batch_builder_count(b), 0);
    CHECK(sinch_batch_builder_body(b, NULL) == NULL);
    CHECK_STR(errmsg(b), "recipients: a batch needs at least 1 recipient");
    sms(b, "+2");
    /* app_id, message and fields are kept; the old recipients are gone */
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                               "{\"channel\":\"SMS\",\"identity\":\"+2\"}]}}}],"
                               "\"ttl\":\"60s\"}");
    /* reset in the middle of an entry drops it too */
    sinch_batch_builder_reset(b);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C", 1), SINCH_BATCH_OK);
    sinch_batch_builder_reset(b);
    sms(b, "+3");
    CHECK_STR(body_of(b), HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":["
                               "{\"channel\":\"SMS\",\"identity\":\"+3\"}]}}}],"
                               "\"ttl\":\"60s\"}");
    sinch_batch_builder_free(b);
}

/* ------------------------------------------------------------ row() */

#define NP(a) (sizeof(a) / sizeof((a)[0]))
#define P(k, v) {(k), sizeof(k) - 1, (v), sizeof(v) - 1}

/* row() into a and the step by step calls into b: the same result code, the
 * same error text, the same body. */
static int row_both(sinch_batch_builder *a, sinch_batch_builder *b, const char *channel,
                    const char *identity, size_t identity_len, const sinch_batch_param *p,
                    size_t n) {
    size_t i;
    int ra = sinch_batch_builder_row(a, channel, identity, identity_len, p, n), rb;
    rb = sinch_batch_builder_begin(b);
    if (rb == SINCH_BATCH_OK) rb = sinch_batch_builder_identity(b, channel, identity,
                                                                identity_len, NULL);
    for (i = 0; rb == SINCH_BATCH_OK && i < n; i++)
        rb = sinch_batch_builder_param(b, p[i].name, p[i].name_len, p[i].value, p[i].value_len);
    if (rb == SINCH_BATCH_OK) rb = sinch_batch_builder_end(b);
    CHECK_INT(ra, rb);
    if (ra != SINCH_BATCH_OK && rb != SINCH_BATCH_OK) CHECK_STR(errmsg(a), errmsg(b));
    CHECK_INT(sinch_batch_builder_count(a), sinch_batch_builder_count(b));
    return ra;
}

static void test_row_matches_the_steps(void) {
    sinch_batch_builder *a = new_builder(0), *b = new_builder(0);
    const sinch_batch_param two[] = {P("name", "Ann"), P("code", "000123")};
    const sinch_batch_param odd[] = {
        P("k\"ey", "say \"hi\"\\ \n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80"),
        P("empty", ""),
        {"null", 4, NULL, 0},
        P("a somewhat longer parameter name", "and a value longer than sixteen bytes"),
    };
    CHECK_INT(row_both(a, b, "SMS", "+46700000001", 12, two, NP(two)), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "SMS", "+46700000002", 12, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "WHATS\"APP", "+4\\6", 4, odd, NP(odd)), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "MESSENGER", "\xf0\x9f\x98\x80", 4, two, 1), SINCH_BATCH_OK);
    CHECK_STR(body_of(a), body_of(b));
    check_json_equal(body_of(a),
                     HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"SMS\",\"identity\":\"+46700000001\"}]}},\"parameters\":{\"name\":\"Ann\","
                          "\"code\":\"000123\"}},"
                          "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"SMS\",\"identity\":\"+46700000002\"}]}}},"
                          "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"WHATS\\\"APP\",\"identity\":\"+4\\\\6\"}]}},\"parameters\":{"
                          "\"k\\\"ey\":\"say \\\"hi\\\"\\\\ \\n\\t\\u0001 caf\xc3\xa9 \xf0\x9f\x98\x80\","
                          "\"a somewhat longer parameter name\":"
                          "\"and a value longer than sixteen bytes\"}},"
                          "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"MESSENGER\",\"identity\":\"\xf0\x9f\x98\x80\"}]}},\"parameters\":{"
                          "\"name\":\"Ann\"}}]}");
    sinch_batch_builder_free(a);
    sinch_batch_builder_free(b);
}

static void test_row_errors(void) {
    sinch_batch_builder *a = new_builder(3), *b = new_builder(3);
    const sinch_batch_param good[] = {P("name", "Ann"), P("code", "1")};
    const sinch_batch_param bad_value[] = {P("name", "Ann"), P("code", "1\xff")};
    const sinch_batch_param bad_name[] = {P("name", "Ann"), P("c\xc0\xaf" "de", "1")};
    const sinch_batch_param empty_name[] = {P("name", "Ann"), P("", "1")};
    char body[4096];
#define ROW_ERR(channel, id, p, n, text)                                                  \
    do {                                                                                  \
        CHECK_INT(row_both(a, b, channel, id, sizeof(id) - 1, p, n), SINCH_BATCH_ERR);    \
        CHECK_STR(errmsg(a), text);                                                       \
        CHECK_INT(sinch_batch_builder_error(a)->kind, SINCH_BATCH_ERROR_INVALID);         \
    } while (0)
#define ID1 "recipients[2].recipient.identified_by.channel_identities[1]"
    CHECK_INT(row_both(a, b, "SMS", "+1", 2, good, NP(good)), SINCH_BATCH_OK);
    ROW_ERR("", "+2", good, NP(good), ID1 ".channel: must not be empty");
    ROW_ERR(NULL, "+2", good, NP(good), ID1 ".channel: must not be empty");
    ROW_ERR("SMS", "", good, NP(good), ID1 ".identity: must not be empty");
    ROW_ERR("SMS", "+4\xc3", good, NP(good), ID1 ".identity: invalid UTF-8 at byte 3");
    ROW_ERR("S\x80S", "+2", good, NP(good), ID1 ".channel: invalid UTF-8 at byte 2");
    ROW_ERR("SMS", "+2", bad_value, NP(bad_value),
            "recipients[2].parameters.code: invalid UTF-8 at byte 2");
    ROW_ERR("SMS", "+2", bad_name, NP(bad_name),
            "recipients[2].parameters: a parameter name is not valid UTF-8 (byte 2)");
    ROW_ERR("SMS", "+2", empty_name, NP(empty_name),
            "recipients[2].parameters: a parameter name must not be empty");
    /* nothing of the failed rows stayed behind: the next row is number 2 */
    CHECK_INT(row_both(a, b, "SMS", "+2", 2, good, NP(good)), SINCH_BATCH_OK);
    /* an entry left open by begin() is dropped, as begin() would */
    CHECK_INT(sinch_batch_builder_begin(a), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    ROW_ERR("SMS", "+3", good, NP(good),
            "recipients[3]: the entry is not ended (it is dropped); call end() before the next "
            "begin()");
    CHECK_INT(row_both(a, b, "SMS", "+3", 2, good, 1), SINCH_BATCH_OK);
    ROW_ERR("SMS", "+4", good, NP(good), "recipients[4]: a batch holds at most 3 recipients");
    CHECK_STR(body_of(a), body_of(b));
    check_json_equal(body_of(a),
                     HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"SMS\",\"identity\":\"+1\"}]}},\"parameters\":{\"name\":\"Ann\","
                          "\"code\":\"1\"}},"
                          "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"SMS\",\"identity\":\"+2\"}]}},\"parameters\":{\"name\":\"Ann\","
                          "\"code\":\"1\"}},"
                          "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
                          "\"SMS\",\"identity\":\"+3\"}]}},\"parameters\":{\"name\":\"Ann\"}}]}");
    /* a closed batch refuses the row and keeps its body */
    snprintf(body, sizeof body, "%s", body_of(a));
    ROW_ERR("SMS", "+4", good, NP(good), "batch already closed; reset() it first");
    CHECK_STR(body_of(a), body);
    sinch_batch_builder_reset(a);
    CHECK_INT(sinch_batch_builder_row(a, "SMS", "+5", 2, good, NP(good)), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_count(a), 1);
    CHECK_INT(sinch_batch_builder_row(NULL, "SMS", "+5", 2, good, NP(good)), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_builder_row(a, "SMS", "+5", 2, NULL, 2), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(a), "recipients[2].parameters: 2 parameters but no array");
    CHECK_INT(sinch_batch_builder_count(a), 1);
#undef ROW_ERR
#undef ID1
    sinch_batch_builder_free(a);
    sinch_batch_builder_free(b);
}

/* ----------------------------------------------------------- the plan */

#define MSG2 "{\"text_message\":{\"text\":\"Hi ${name}, ${code}\"},\"k${nokey}\":[\"${code}\"]}"

static sinch_batch_builder *plan_builder(unsigned flags) {
    sinch_batch_error err;
    sinch_batch_builder *b = sinch_batch_builder_new("APP", MSG2, strlen(MSG2), 0, &err);
    CHECK(b != NULL);
    if (b == NULL) exit(1);
    CHECK_INT(sinch_batch_builder_plan(b, flags, NULL), SINCH_BATCH_OK);
    return b;
}

/* The names come from the message's string values, each once. */
static void test_plan_names(void) {
    sinch_batch_builder *b = plan_builder(0);
    const char *name;
    size_t len;
    CHECK_INT(sinch_batch_builder_param_name(b, 0, &name, &len), 1);
    CHECK_INT(len, 4);
    CHECK(memcmp(name, "name", 4) == 0);
    CHECK_INT(sinch_batch_builder_param_name(b, 1, &name, &len), 1);
    CHECK(len == 4 && memcmp(name, "code", 4) == 0);
    CHECK_INT(sinch_batch_builder_param_name(b, 2, &name, &len), 0);
    sinch_batch_builder_free(b);
}

/* Missing, empty, defaults: the same through row() and the steps. */
static void test_plan_params(void) {
    sinch_batch_builder *a = plan_builder(SINCH_BATCH_PLAN_PARAMS);
    sinch_batch_builder *b = plan_builder(SINCH_BATCH_PLAN_PARAMS);
    const sinch_batch_param both[] = {P("name", "Ann"), P("code", "1")};
    const sinch_batch_param no_code[] = {P("name", "Ann")};
    const sinch_batch_param empty_code[] = {P("name", "Ann"), P("code", "")};
    const sinch_batch_param extra[] = {P("name", "Ann"), P("code", "2"), P("nmae", "x"),
                                       P("blank", "")};
    const char *uname;
    size_t ulen;
    CHECK_INT(row_both(a, b, "SMS", "+46700000001", 12, both, NP(both)), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "SMS", "+46700000002", 12, no_code, NP(no_code)), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(a), "recipients[2].parameters: missing value for ${code}");
    CHECK_INT(row_both(a, b, "SMS", "+46700000002", 12, empty_code, NP(empty_code)),
              SINCH_BATCH_ERR);
    CHECK_STR(errmsg(a), "recipients[2].parameters.code: empty; the message uses ${code}");
    CHECK_INT(row_both(a, b, "SMS", "+46700000002", 12, extra, NP(extra)), SINCH_BATCH_OK);
    /* unused names are counted (empty ones are left out, not counted) */
    CHECK_INT(sinch_batch_builder_unused(a, 0, &uname, &ulen), 1);
    CHECK(ulen == 4 && memcmp(uname, "nmae", 4) == 0);
    CHECK_INT(sinch_batch_builder_unused(a, 1, &uname, &ulen), 0);
    CHECK_INT(sinch_batch_builder_unused(b, 0, &uname, &ulen), 1);
    /* defaults fill missing and empty values */
    CHECK_INT(sinch_batch_builder_default(a, "code", 4, "D", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_default(b, "code", 4, "D", 1), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_default(a, "other", 5, "X", 1), SINCH_BATCH_OK); /* ignored */
    CHECK_INT(row_both(a, b, "SMS", "+46700000003", 12, no_code, NP(no_code)), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "SMS", "+46700000004", 12, empty_code, NP(empty_code)),
              SINCH_BATCH_OK);
    CHECK_STR(body_of(a), body_of(b));
    check_json_equal(body_of(a),
                     "{\"app_id\":\"APP\",\"message\":" MSG2 ",\"recipient_and_params\":["
#define R(n) "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":\"SMS\"," \
             "\"identity\":\"+4670000000" n "\"}]}},"
                     R("1") "\"parameters\":{\"name\":\"Ann\",\"code\":\"1\"}},"
                     R("2") "\"parameters\":{\"name\":\"Ann\",\"code\":\"2\",\"nmae\":\"x\"}},"
                     R("3") "\"parameters\":{\"name\":\"Ann\",\"code\":\"D\"}},"
                     R("4") "\"parameters\":{\"name\":\"Ann\",\"code\":\"D\"}}]}");
#undef R
    /* reset() forgets the unused counts */
    sinch_batch_builder_reset(a);
    CHECK_INT(sinch_batch_builder_unused(a, 0, NULL, NULL), 0);
    sinch_batch_builder_free(a);
    sinch_batch_builder_free(b);
}

/* Defaults also land before metadata, and without the PARAMS flag a missing
 * name is simply not sent. */
static void test_plan_defaults_with_metadata(void) {
    sinch_batch_builder *b = plan_builder(0);
    CHECK_INT(sinch_batch_builder_default(b, "name", 4, "you", 3), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_begin(b), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(b, "C1", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_param(b, "name", 4, "", 0), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_entry_raw(b, "message_metadata", "{}", 2), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_end(b), SINCH_BATCH_OK);
    check_json_equal(body_of(b),
                     "{\"app_id\":\"APP\",\"message\":" MSG2 ",\"recipient_and_params\":["
                     "{\"recipient\":{\"contact_id\":\"C1\"},\"parameters\":{\"name\":\"you\"},"
                     "\"message_metadata\":{}}]}");
    sinch_batch_builder_free(b);
}

static void test_plan_recipient(void) {
    unsigned f = SINCH_BATCH_PLAN_RECIPIENT | SINCH_BATCH_PLAN_DISPATCH_ONLY;
    sinch_batch_builder *a = plan_builder(f), *b = plan_builder(f);
    static const sinch_batch_channel mine[] = {{"PIGEON", 0}, {"SMS", SINCH_BATCH_CHANNEL_PHONE},
                                               {NULL, 0}};
    CHECK_INT(row_both(a, b, "SMS", "46700000001", 11, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "SMS", "+46700000001", 12, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "SMS", "070-1234", 8, NULL, 0), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(a), "recipients[3].recipient.identified_by.channel_identities[1].identity: "
                         "\"070-1234\" is not a phone number (an optional +, then digits) "
                         "for channel SMS");
    CHECK_INT(row_both(a, b, "TELEGRAM", "someone", 7, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(row_both(a, b, "PIGEON", "coop", 4, NULL, 0), SINCH_BATCH_ERR);
    CHECK(strstr(errmsg(a), "channel_identities[1].channel: unknown channel \"PIGEON\" (known: "
                            "SMS, MMS,") != NULL);
    CHECK_INT(sinch_batch_builder_begin(a), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_contact(a, "C1", 2), SINCH_BATCH_ERR);
    CHECK_STR(errmsg(a), "recipients[4].recipient.contact_id: processing_strategy DISPATCH_ONLY "
                         "takes identified_by recipients only");
    /* a caller's channel table */
    CHECK_INT(sinch_batch_builder_plan(a, SINCH_BATCH_PLAN_RECIPIENT, mine), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_row(a, "PIGEON", "coop", 4, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_row(a, "TELEGRAM", "someone", 7, NULL, 0), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_builder_count(a), 4);
    CHECK(sinch_batch_builder_memory(a) > 100);
    /* the reference's own example form passes; our E.164 shape only on request */
    CHECK_INT(sinch_batch_builder_plan(a, SINCH_BATCH_PLAN_RECIPIENT, NULL), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_row(a, "SMS", "+0987654321", 11, NULL, 0), SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_plan(a, SINCH_BATCH_PLAN_RECIPIENT | SINCH_BATCH_PLAN_E164, NULL),
              SINCH_BATCH_OK);
    CHECK_INT(sinch_batch_builder_row(a, "SMS", "+0987654321", 11, NULL, 0), SINCH_BATCH_ERR);
    CHECK(strstr(errmsg(a), "\"+0987654321\" is not in E.164 shape") != NULL);
    CHECK_INT(sinch_batch_builder_row(a, "SMS", "+46700000001", 12, NULL, 0), SINCH_BATCH_OK);
    sinch_batch_builder_free(a);
    sinch_batch_builder_free(b);
}

static void test_null_builder(void) {
    CHECK_INT(sinch_batch_builder_begin(NULL), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_builder_end(NULL), SINCH_BATCH_ERR);
    CHECK_INT(sinch_batch_builder_count(NULL), 0);
    CHECK(sinch_batch_builder_body(NULL, NULL) == NULL);
    CHECK(sinch_batch_builder_error(NULL) == NULL);
    sinch_batch_builder_reset(NULL);
    sinch_batch_builder_free(NULL);
}

int main(void) {
    RUN(test_contact);
    RUN(test_identities);
    RUN(test_params_and_metadata);
    RUN(test_escaping);
    RUN(test_invalid_utf8_drops_the_entry);
    RUN(test_order_violations);
    RUN(test_empty_values);
    RUN(test_max_recipients);
    RUN(test_new_errors);
    RUN(test_empty_batch);
    RUN(test_fields);
    RUN(test_body_idempotent_and_closed);
    RUN(test_reset);
    RUN(test_take);
    RUN(test_row_matches_the_steps);
    RUN(test_row_errors);
    RUN(test_plan_names);
    RUN(test_plan_params);
    RUN(test_plan_defaults_with_metadata);
    RUN(test_plan_recipient);
    RUN(test_null_builder);
    CHECK_DONE();
}
