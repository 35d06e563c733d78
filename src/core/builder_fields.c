/* builder_fields.c -- the top-level fields of a batch body (written after
 * the recipients by body()): raw JSON or strings, each key once. */
#include "builder_int.h"

/* ------------------------------------------------------------ top fields */

static int reserved_field(const char *key) {
    return strcmp(key, "app_id") == 0 || strcmp(key, "message") == 0 ||
           strcmp(key, "recipient_and_params") == 0;
}

/* Store json (already JSON text, copied) as the value of key. */
static int set_field(sinch_batch_builder *b, const char *key, const char *json, size_t len) {
    size_t i;
    char *copy = sb_memdup(json, len);
    field *grown;
    if (copy == NULL) return sb_error_nomem(&b->err, "batch builder");
    for (i = 0; i < b->n_fields; i++) {
        if (strcmp(b->fields[i].key, key) == 0) {
            free(b->fields[i].json);
            b->fields[i].json = copy;
            b->fields[i].len = len;
            b->dirty = 1;
            return SINCH_BATCH_OK;
        }
    }
    grown = realloc(b->fields, (b->n_fields + 1) * sizeof *grown);
    if (grown == NULL || (grown[b->n_fields].key = sb_strdup(key)) == NULL) {
        if (grown) b->fields = grown;
        free(copy);
        return sb_error_nomem(&b->err, "batch builder");
    }
    b->fields = grown;
    grown[b->n_fields].json = copy;
    grown[b->n_fields].len = len;
    b->n_fields++;
    b->dirty = 1;
    return SINCH_BATCH_OK;
}

static int check_field_key(sinch_batch_builder *b, const char *key) {
    char name[65];
    size_t n = key ? strlen(key) : 0, bad;
    if (n == 0) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID, "fields: a field name must not be empty");
        return SINCH_BATCH_ERR;
    }
    if ((bad = sb_json_utf8_check(key, n)) != n) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID,
                     "fields: a field name is not valid UTF-8 (byte %zu)", bad + 1);
        return SINCH_BATCH_ERR;
    }
    if (reserved_field(key)) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID,
                     "%s: written by the builder itself, not settable as a field",
                     quote_name(name, sizeof name, key, n));
        return SINCH_BATCH_ERR;
    }
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_field_raw(sinch_batch_builder *b, const char *key, const char *json,
                                  size_t len) {
    char name[65];
    if (b == NULL) return SINCH_BATCH_ERR;
    if (check_field_key(b, key) != SINCH_BATCH_OK) return SINCH_BATCH_ERR;
    if (!sb_json_is_value(json, len)) {
        sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID, "%s: expected a JSON value, got nothing",
                     quote_name(name, sizeof name, key, strlen(key)));
        return SINCH_BATCH_ERR;
    }
    return set_field(b, key, json, len);
}

int sinch_batch_builder_field_string(sinch_batch_builder *b, const char *key, const char *value,
                                     size_t len) {
    char name[65];
    sb_buf tmp;
    size_t bad = 0;
    int rc;
    if (b == NULL) return SINCH_BATCH_ERR;
    if (check_field_key(b, key) != SINCH_BATCH_OK) return SINCH_BATCH_ERR;
    if (value == NULL) value = "", len = 0;
    sb_buf_init(&tmp);
    rc = sb_json_str(&tmp, value, len, &bad);
    if (rc == SB_JSON_OK) rc = set_field(b, key, tmp.data, tmp.len);
    else if (rc == SB_JSON_EUTF8)
        rc = (sb_error_set(&b->err, SINCH_BATCH_ERROR_INVALID, "%s: invalid UTF-8 at byte %zu",
                           quote_name(name, sizeof name, key, strlen(key)), bad + 1),
              SINCH_BATCH_ERR);
    else
        rc = sb_error_nomem(&b->err, "batch builder");
    sb_buf_free(&tmp);
    return rc;
}
