/* plan.c -- the builder's per-recipient rules: see plan.h. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "json.h"
#include "plan.h"

/* Add name (once) to p->names. */
static int add_name(sb_plan *p, const char *name, size_t len, size_t *cap) {
    sb_plan_name *n;
    char *e;
    if (sb_plan_find(p, name, len) >= 0) return 0;
    if (p->n_names == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        sb_plan_name *g = realloc(p->names, c * sizeof *g);
        if (g == NULL) return -1;
        p->names = g;
        *cap = c;
    }
    n = &p->names[p->n_names];
    memset(n, 0, sizeof *n);
    if ((n->name = sb_memdup(name, len)) == NULL) return -1;
    n->len = len;
    p->n_names++;
    /* its member name, written once; without one (too long, not UTF-8)
     * each entry writes (or refuses) the name itself */
    if (len > SB_JSON_AT_MAX) return 0;
    if ((n->key = malloc(SB_JSON_STR_ROOM(len) + 1)) == NULL) return -1;
    if ((e = sb_json_str_at(n->key, name, len, NULL)) == NULL) {
        free(n->key);
        n->key = NULL;
        return 0;
    }
    *e++ = ':';
    n->key_len = (size_t)(e - n->key);
    return 0;
}

/* Every ${name} in the string values of v (nested; object keys are not
 * looked at, as the API only substitutes values). */
static int collect(sb_plan *p, json_t *v, size_t *cap) {
    size_t i, pos = 0, nlen;
    const char *key, *name;
    json_t *x;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        while (sinch_batch_param_next(s, len, &pos, &name, &nlen))
            if (add_name(p, name, nlen, cap) != 0) return -1;
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, x) if (collect(p, x, cap) != 0) return -1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (collect(p, x, cap) != 0) return -1;
    }
    return 0;
}

int sb_plan_init(sb_plan *p, const char *msg, size_t len) {
    json_t *root;
    size_t cap = 0;
    int rc = 0;
    memset(p, 0, sizeof *p);
    root = json_loadb(msg, len, JSON_ALLOW_NUL, NULL);
    if (root != NULL) { /* the builder checked the shape; a parse failure has no names */
        rc = collect(p, root, &cap);
        json_decref(root);
    }
    if (rc == 0 && (p->seen = calloc(p->n_names + 1, 1)) == NULL) rc = -1;
    if (rc != 0) sb_plan_free(p);
    return rc;
}

void sb_plan_free(sb_plan *p) {
    size_t i;
    for (i = 0; i < p->n_names; i++) {
        free(p->names[i].name);
        free(p->names[i].def);
        free(p->names[i].key);
    }
    free(p->names);
    free(p->seen);
    sb_plan_clear_unused(p);
    free(p->unused);
    memset(p, 0, sizeof *p);
}

int sb_plan_count_unused(sb_plan *p, const char *name, size_t len) {
    size_t i;
    sb_plan_unused *u;
    for (i = 0; i < p->n_unused; i++) {
        u = &p->unused[i];
        if (u->len == len && memcmp(u->name, name, len) == 0) {
            u->count++;
            return 0;
        }
    }
    if (p->n_unused == p->cap_unused) {
        size_t c = p->cap_unused ? p->cap_unused * 2 : 4;
        sb_plan_unused *g = realloc(p->unused, c * sizeof *g);
        if (g == NULL) return -1;
        p->unused = g;
        p->cap_unused = c;
    }
    u = &p->unused[p->n_unused];
    if ((u->name = sb_memdup(name, len)) == NULL) return -1;
    u->len = len;
    u->count = 1;
    p->n_unused++;
    return 0;
}

void sb_plan_clear_unused(sb_plan *p) {
    size_t i;
    for (i = 0; i < p->n_unused; i++) free(p->unused[i].name);
    p->n_unused = 0;
}

const sinch_batch_channel *sb_plan_channel(sb_plan *p, const char *name, size_t len) {
    const sinch_batch_channel *c = p->last;
    if (c && len == p->last_len && sb_plan_eq(c->name, name, len)) return c;
    c = sinch_batch_channel_find(p->channels, name, len);
    if (c) {
        p->last = c;
        p->last_len = len;
    }
    return c;
}

void sb_plan_channel_list(const sb_plan *p, char *out, size_t outsz) {
    const sinch_batch_channel *c = p->channels ? p->channels : sinch_batch_channels();
    size_t used = 0, n;
    if (outsz == 0) return;
    out[0] = '\0';
    for (; c->name && used + 1 < outsz; c++) {
        n = strlen(c->name);
        if (used + n + 3 >= outsz) break;
        if (used) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, c->name, n + 1);
        used += n;
    }
}
