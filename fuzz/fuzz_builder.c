/* fuzz_builder.c -- the batch body builder, round-tripped through jansson.
 *
 * The input is a list of entries (fuzzed channel, identity, contact_id,
 * app_id and parameter values, written with row() or with begin, identity,
 * param, end), fields, resets and bodies.  Each entry the builder takes
 * (SINCH_BATCH_OK) is remembered; each body must parse with jansson and hold
 * exactly the remembered entries, with the same bytes; an entry the builder
 * refuses leaves no trace.  The count never passes the batch's maximum.
 */
#include "fuzz.h"

#include <jansson.h>

#include "sinch_batch.h"

#define MAX_ENTRIES 8
#define MAX_PARAMS 3

static const char *const CHANNELS[] = {"SMS", "WHATSAPP", "MESSENGER", "TELEGRAM", "RCS"};
static const char *const NAMES[] = {"name", "code", "first name"}; /* distinct keys */

typedef struct entry {
    const char *contact;
    size_t contact_len;
    const char *channel;
    const char *identity;
    size_t identity_len;
    char app_id[32];
    int has_app_id;
    size_t n_params;
    const char *values[MAX_PARAMS];
    size_t value_lens[MAX_PARAMS];
} entry;

static int same(json_t *v, const char *s, size_t n) {
    return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0;
}

static void check_body(sinch_batch_builder *b, const entry *want, size_t n) {
    size_t len, i, k;
    const char *body = sinch_batch_builder_body(b, &len);
    json_error_t je;
    json_t *root, *list;
    if (n == 0) {
        FZ_CHECK(body == NULL, "a body without recipients");
        return;
    }
    FZ_CHECK(body != NULL, "no body for %zu entries: %s", n,
             sinch_batch_builder_error(b)->message);
    FZ_CHECK(strlen(body) == len, "body length %zu, strlen %zu", len, strlen(body));
    root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
    FZ_CHECK(root != NULL, "body does not parse: %s at %d", je.text, je.position);
    FZ_CHECK(same(json_object_get(root, "app_id"), "01APP", 5), "app_id");
    FZ_CHECK(json_is_object(json_object_get(root, "message")), "message");
    list = json_object_get(root, "recipient_and_params");
    FZ_CHECK(json_array_size(list) == n, "%zu entries in the body, %zu taken",
             json_array_size(list), n);
    for (i = 0; i < n; i++) {
        const entry *w = &want[i];
        json_t *e = json_array_get(list, i), *rcp = json_object_get(e, "recipient");
        json_t *params = json_object_get(e, "parameters");
        if (w->contact) {
            FZ_CHECK(same(json_object_get(rcp, "contact_id"), w->contact, w->contact_len),
                     "entry %zu: contact_id", i);
        } else {
            json_t *ids = json_object_get(json_object_get(rcp, "identified_by"),
                                          "channel_identities");
            json_t *id = json_array_get(ids, 0);
            FZ_CHECK(json_array_size(ids) == 1, "entry %zu: %zu identities", i,
                     json_array_size(ids));
            FZ_CHECK(same(json_object_get(id, "channel"), w->channel, strlen(w->channel)),
                     "entry %zu: channel", i);
            FZ_CHECK(same(json_object_get(id, "identity"), w->identity, w->identity_len),
                     "entry %zu: identity", i);
            if (w->has_app_id)
                FZ_CHECK(same(json_object_get(id, "app_id"), w->app_id, strlen(w->app_id)),
                         "entry %zu: app_id", i);
            else
                FZ_CHECK(json_object_get(id, "app_id") == NULL, "entry %zu: app_id", i);
        }
        /* a value the builder left out (an empty one, say) is not checked;
         * a value present must be the one given, under its own name */
        for (k = 0; k < w->n_params; k++) {
            json_t *v = params ? json_object_get(params, NAMES[k]) : NULL;
            if (v) FZ_CHECK(same(v, w->values[k], w->value_lens[k]), "entry %zu: %s", i, NAMES[k]);
        }
        if (params) FZ_CHECK(json_object_size(params) <= w->n_params, "entry %zu: extra params", i);
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char msg[] = "{\"text_message\":{\"text\":\"Hi ${name}, ${code}\"}}";
    fz in = {data, size};
    sinch_batch_error err;
    size_t max = 1 + fz_u8(&in) % MAX_ENTRIES, n = 0, steps;
    entry want[MAX_ENTRIES];
    sinch_batch_builder *b = sinch_batch_builder_new("01APP", msg, sizeof msg - 1, max, &err);
    FZ_CHECK(b != NULL, "builder_new: %s", err.message);

    for (steps = 0; steps < 64 && fz_left(&in); steps++) {
        unsigned op = fz_u8(&in);
        switch (op % 8) {
        case 0: /* body, and the next batch */
            check_body(b, want, n);
            sinch_batch_builder_reset(b);
            n = 0;
            break;
        case 1: { /* a field */
            size_t vl;
            const char *v = fz_bytes(&in, 40, &vl);
            (void)sinch_batch_builder_field_string(b, (op & 8) ? "batch_metadata_tag" : "tag", v,
                                                   vl);
            break;
        }
        default: { /* an entry */
            entry e;
            sinch_batch_param p[MAX_PARAMS];
            size_t k;
            int rc;
            memset(&e, 0, sizeof e);
            e.channel = CHANNELS[fz_u8(&in) % 5];
            e.identity = fz_bytes(&in, 24, &e.identity_len);
            e.n_params = fz_u8(&in) % (MAX_PARAMS + 1);
            for (k = 0; k < e.n_params; k++) {
                e.values[k] = fz_bytes(&in, 30, &e.value_lens[k]);
                p[k].name = NAMES[k];
                p[k].name_len = strlen(NAMES[k]);
                p[k].value = e.values[k];
                p[k].value_len = e.value_lens[k];
            }
            if (op & 8) {
                rc = sinch_batch_builder_row(b, e.channel, e.identity, e.identity_len, p,
                                             e.n_params);
            } else {
                rc = sinch_batch_builder_begin(b);
                if (rc == SINCH_BATCH_OK && (op & 16)) {
                    e.contact = e.identity;
                    e.contact_len = e.identity_len;
                    rc = sinch_batch_builder_contact(b, e.contact, e.contact_len);
                } else if (rc == SINCH_BATCH_OK) {
                    if (op & 32) {
                        size_t al;
                        const char *a = fz_bytes(&in, sizeof e.app_id - 1, &al);
                        memcpy(e.app_id, a, al);
                        e.app_id[al] = '\0';
                        e.has_app_id = 1;
                    }
                    rc = sinch_batch_builder_identity(b, e.channel, e.identity, e.identity_len,
                                                      e.has_app_id ? e.app_id : NULL);
                }
                for (k = 0; rc == SINCH_BATCH_OK && k < e.n_params; k++)
                    rc = sinch_batch_builder_param(b, p[k].name, p[k].name_len, p[k].value,
                                                   p[k].value_len);
                if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_end(b);
            }
            if (rc == SINCH_BATCH_OK) {
                FZ_CHECK(n < max, "entry %zu taken past the maximum %zu", n + 1, max);
                want[n++] = e;
            } else {
                const sinch_batch_error *be = sinch_batch_builder_error(b);
                FZ_CHECK(be && be->kind != SINCH_BATCH_ERROR_NONE && be->message[0],
                         "refused without an error");
                /* a refused begin/identity/param leaves an entry open: drop
                 * the batch so the next one starts clean */
                if (!(op & 8)) {
                    sinch_batch_builder_reset(b);
                    n = 0;
                }
            }
            FZ_CHECK(sinch_batch_builder_count(b) == n, "count %zu, taken %zu",
                     sinch_batch_builder_count(b), n);
        }
        }
    }
    check_body(b, want, n);
    sinch_batch_builder_free(b);
    return 0;
}
