/* builder_row.c -- one common entry in one call (row(): one identity,
 * parameters), and the plan's API (see sinch_batch_builder_plan).  row()
 * writes the usual entry itself and hands anything unusual to the steps,
 * so both always agree (and the steps word the errors). */
#include "builder_int.h"

/* The entry by the book: the reference row() must match, and the path that
 * finds and reports whatever the fast path declined. */
static int row_by_steps(sinch_batch_builder *b, const char *channel, const char *identity,
                        size_t identity_len, const sinch_batch_param *params, size_t n) {
    size_t i;
    int rc = sinch_batch_builder_begin(b);
    if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_identity(b, channel, identity,
                                                                identity_len, NULL);
    for (i = 0; rc == SINCH_BATCH_OK && i < n; i++)
        rc = sinch_batch_builder_param(b, params[i].name, params[i].name_len, params[i].value,
                                       params[i].value_len);
    if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_end(b);
    return rc;
}

#define ROW_HEAD "{\"recipient\":{\"identified_by\":{\"channel_identities\":[{\"channel\":"
#define ROW_IDENTITY ",\"identity\":"
#define ROW_PARAMS "}]}},\"parameters\":{"
#define ROW_PUT(o, s) (memcpy((o), (s), sizeof(s) - 1), (o) + sizeof(s) - 1)

/* Parameters whose member names row() takes from the plan (written once
 * there) rather than writing them again; past this, every name is written. */
#define ROW_KEYS 32

/* row()'s parameters, then the defaults the plan adds, written from o on;
 * keys[i] is the plan's name of parameter i (NULL: write the name). */
static char *row_params(char *o, const sinch_batch_param *params, size_t n,
                        const sinch_batch_param *extra, size_t n_extra,
                        const sb_plan_name *const *keys) {
    size_t i;
    for (i = 0; i < n + n_extra; i++) {
        const sinch_batch_param *p = i < n ? &params[i] : &extra[i - n];
        const sb_plan_name *k = keys ? keys[i] : NULL;
        if (i) *o++ = ',';
        if (k && k->key) {
            memcpy(o, k->key, k->key_len);
            o += k->key_len;
        } else {
            if ((o = sb_json_str_at(o, p->name, p->name_len, NULL)) == NULL) return NULL;
            *o++ = ':';
        }
        if ((o = sb_json_str_at(o, p->value, p->value_len, NULL)) == NULL) return NULL;
    }
    return o;
}

int sinch_batch_builder_row(sinch_batch_builder *b, const char *channel, const char *identity,
                            size_t identity_len, const sinch_batch_param *params, size_t n) {
    return sb_builder_row(b, channel, identity, identity_len, params, n, 0);
}

int sb_builder_row(sinch_batch_builder *b, const char *channel, const char *identity,
                   size_t identity_len, const sinch_batch_param *params, size_t n,
                   int phone_checked) {
    size_t i, clen, need, n_extra = 0, n_unused = 0, start;
    const sb_plan_name *keys[ROW_KEYS];
    int use_keys;
    sb_plan *pl;
    char *o;
    if (b == NULL) return SINCH_BATCH_ERR;
    if (n > 0 && params == NULL)
        return invalid(b, "recipients[%zu].parameters: %zu parameters but no array", pos(b), n);
    /* Anything unusual -- a state, a limit, an empty string, a rule of the
     * plan -- goes by the book, which also words the error. */
    if (b->state != S_OPEN || b->count >= b->max || channel == NULL || channel[0] == '\0' ||
        identity == NULL || identity_len == 0 || identity_len > SB_JSON_AT_MAX ||
        n > SB_JSON_AT_MAX)
        goto by_steps;
    if ((clen = strlen(channel)) > SB_JSON_AT_MAX) goto by_steps;
    pl = &b->plan;
    if (pl->flags & SINCH_BATCH_PLAN_RECIPIENT) {
        const sinch_batch_channel *c = sb_plan_channel(pl, channel, clen);
        if (c == NULL ||
            ((c->flags & SINCH_BATCH_CHANNEL_PHONE) &&
             (pl->flags & SINCH_BATCH_PLAN_E164
                  ? !sinch_batch_phone_e164(identity, identity_len)
                  : !phone_checked && !sinch_batch_phone_ok(identity, identity_len))))
            goto by_steps;
    }
    for (i = 0; i < pl->n_names; i++) pl->seen[i] = SB_SEEN_NONE;
    use_keys = n + pl->n_names <= ROW_KEYS;
    need = 1 + sizeof ROW_HEAD + SB_JSON_STR_ROOM(clen) + sizeof ROW_IDENTITY +
           SB_JSON_STR_ROOM(identity_len) + sizeof ROW_PARAMS + 5;
    for (i = 0; i < n; i++) {
        const sinch_batch_param *p = &params[i];
        long idx;
        if (p->name == NULL || p->name_len == 0 || p->name_len > SB_JSON_AT_MAX ||
            p->value == NULL || p->value_len == 0 || p->value_len > SB_JSON_AT_MAX)
            goto by_steps;
        if ((idx = sb_plan_find(pl, p->name, p->name_len)) >= 0) pl->seen[idx] = SB_SEEN_GIVEN;
        else n_unused++;
        if (use_keys) keys[i] = idx >= 0 ? &pl->names[idx] : NULL;
        need += 2 + SB_JSON_STR_ROOM(p->name_len) + SB_JSON_STR_ROOM(p->value_len);
        if (need > SIZE_MAX / 2) goto by_steps;
    }
    for (i = 0; i < pl->n_names; i++) {
        const sb_plan_name *nm = &pl->names[i];
        if (pl->seen[i] == SB_SEEN_GIVEN) continue;
        if (nm->def == NULL) {
            if (pl->flags & SINCH_BATCH_PLAN_PARAMS) goto by_steps; /* it words the error */
            continue;
        }
        b->extra[n_extra].name = nm->name;
        b->extra[n_extra].name_len = nm->len;
        b->extra[n_extra].value = nm->def;
        b->extra[n_extra].value_len = nm->def_len;
        if (use_keys) keys[n + n_extra] = nm;
        n_extra++;
        need += 2 + SB_JSON_STR_ROOM(nm->len) + SB_JSON_STR_ROOM(nm->def_len);
    }
    if (sb_buf_grow(&b->body, need) != 0) return nomem(b);
    start = b->body.len;
    o = b->body.data + start;
    if (b->count) *o++ = ',';
    o = ROW_PUT(o, ROW_HEAD);
    if ((o = sb_json_str_at(o, channel, clen, NULL)) == NULL) goto bad_string;
    o = ROW_PUT(o, ROW_IDENTITY);
    if ((o = sb_json_str_at(o, identity, identity_len, NULL)) == NULL) goto bad_string;
    if (n + n_extra == 0) {
        o = ROW_PUT(o, "}]}}}");
    } else {
        o = ROW_PUT(o, ROW_PARAMS);
        if ((o = row_params(o, params, n, b->extra, n_extra, use_keys ? keys : NULL)) == NULL)
            goto bad_string;
        o = ROW_PUT(o, "}}");
    }
    *o = '\0';
    b->body.len = (size_t)(o - b->body.data);
    for (i = 0; n_unused && i < n; i++) {
        if (sb_plan_find(pl, params[i].name, params[i].name_len) >= 0) continue;
        n_unused--;
        if (sb_plan_count_unused(pl, params[i].name, params[i].name_len) != 0) {
            b->body.len = start;
            b->body.data[start] = '\0';
            return nomem(b);
        }
    }
    b->entries_len = b->body.len;
    b->count++;
    return SINCH_BATCH_OK;
bad_string:
    /* invalid UTF-8: the length never moved; the steps find the string again
     * and name it */
    b->body.data[b->body.len] = '\0';
by_steps:
    return row_by_steps(b, channel, identity, identity_len, params, n);
}

/* ------------------------------------------------------------------ plan */

int sinch_batch_builder_plan(sinch_batch_builder *b, unsigned flags,
                             const sinch_batch_channel *channels) {
    if (b == NULL) return SINCH_BATCH_ERR;
    b->plan.flags = flags;
    b->plan.channels = channels;
    b->plan.last = NULL;
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_default(sinch_batch_builder *b, const char *name, size_t name_len,
                                const char *value, size_t value_len) {
    sb_plan_name *n;
    char *copy = NULL;
    long idx;
    if (b == NULL) return SINCH_BATCH_ERR;
    if (name == NULL || (idx = sb_plan_find(&b->plan, name, name_len)) < 0)
        return SINCH_BATCH_OK; /* the message does not use it */
    if (value != NULL && value_len > 0 && (copy = sb_memdup(value, value_len)) == NULL)
        return sb_error_nomem(&b->err, "batch builder");
    n = &b->plan.names[idx];
    free(n->def);
    n->def = copy;
    n->def_len = copy ? value_len : 0;
    return SINCH_BATCH_OK;
}

int sinch_batch_builder_param_name(const sinch_batch_builder *b, size_t i, const char **name,
                                   size_t *len) {
    if (b == NULL || i >= b->plan.n_names) return 0;
    if (name) *name = b->plan.names[i].name;
    if (len) *len = b->plan.names[i].len;
    return 1;
}

size_t sinch_batch_builder_unused(const sinch_batch_builder *b, size_t i, const char **name,
                                  size_t *len) {
    if (b == NULL || i >= b->plan.n_unused) return 0;
    if (name) *name = b->plan.unused[i].name;
    if (len) *len = b->plan.unused[i].len;
    return b->plan.unused[i].count;
}

size_t sinch_batch_builder_memory(const sinch_batch_builder *b) {
    size_t i, n;
    if (b == NULL) return 0;
    n = sizeof *b + b->body.cap + b->n_fields * sizeof *b->fields;
    for (i = 0; i < b->n_fields; i++) n += b->fields[i].len + strlen(b->fields[i].key) + 2;
    return n;
}
