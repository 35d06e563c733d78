/* plan.h -- the builder's per-recipient rules (internal to the core).
 *
 * A plan knows the ${name}s the message uses (read once from the message
 * JSON), their defaults, what a missing one means, which channels exist and
 * how their identities look, and counts the parameter names given that the
 * message never uses.  builder.c applies it while it writes each entry. */
#ifndef SINCH_BATCH_PLAN_H
#define SINCH_BATCH_PLAN_H

#include <stddef.h>
#include <string.h>

#include "sinch_batch.h"

typedef struct sb_plan_name {
    char *name;
    size_t len;
    char *def; /* default value, or NULL */
    size_t def_len;
    char *key; /* its JSON member name, `"name":`, written once (NULL: none) */
    size_t key_len;
} sb_plan_name;

typedef struct sb_plan_unused {
    char *name;
    size_t len;
    size_t count;
} sb_plan_unused;

/* seen[] states, per name, for the entry being written */
#define SB_SEEN_NONE 0
#define SB_SEEN_GIVEN 1
#define SB_SEEN_EMPTY 2

typedef struct sb_plan {
    unsigned flags;                    /* SINCH_BATCH_PLAN_* */
    sb_plan_name *names;               /* the message's ${name}s, each once */
    size_t n_names;
    unsigned char *seen;               /* n_names states for the open entry */
    sb_plan_unused *unused;
    size_t n_unused, cap_unused;
    const sinch_batch_channel *channels; /* NULL: the built-in table */
    const sinch_batch_channel *last;     /* the channel found last (a cache) */
    size_t last_len;                     /* strlen(last->name) */
} sb_plan;

/* Reads the names from the message JSON; 0, or -1 when out of memory. */
int sb_plan_init(sb_plan *p, const char *msg, size_t len);
void sb_plan_free(sb_plan *p);
/* a[0..n) == b[0..n): short names without a call into libc */
static inline int sb_plan_eq(const char *a, const char *b, size_t n) {
    size_t i;
    if (n > 16) return memcmp(a, b, n) == 0;
    for (i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* The index of name among the message's names, or -1. */
static inline long sb_plan_find(const sb_plan *p, const char *name, size_t len) {
    size_t i;
    for (i = 0; i < p->n_names; i++) {
        const sb_plan_name *n = &p->names[i];
        if (n->len == len && sb_plan_eq(n->name, name, len))
            return (long)i;
    }
    return -1;
}
/* Count one use of a name the message does not use: 0, or -1 (no memory). */
int sb_plan_count_unused(sb_plan *p, const char *name, size_t len);
void sb_plan_clear_unused(sb_plan *p);
/* The channel entry for name (via the cache), or NULL when unknown. */
const sinch_batch_channel *sb_plan_channel(sb_plan *p, const char *name, size_t len);
/* "SMS, MMS, …" (the known channel names) into out. */
void sb_plan_channel_list(const sb_plan *p, char *out, size_t outsz);

#endif
