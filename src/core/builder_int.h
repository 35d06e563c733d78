/* builder_int.h -- the builder's state, shared by builder.c (lifetime,
 * entries step by step, body), builder_row.c (row() and the plan's API) and
 * builder_fields.c (top-level fields).  Internal to the core. */
#ifndef SINCH_BATCH_BUILDER_INT_H
#define SINCH_BATCH_BUILDER_INT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "json.h"
#include "plan.h"

/* Where the builder is in the grammar  begin (contact | identity+) param*
 * entry_raw* end. */
enum state {
    S_OPEN,    /* between entries */
    S_BEGUN,   /* begin(): `{"recipient":{` written */
    S_CONTACT, /* the contact_id is written, the recipient object closed */
    S_IDS,     /* inside "channel_identities":[ */
    S_PARAMS,  /* inside "parameters":{ */
    S_RAW,     /* after a per-recipient metadata member */
    S_CLOSED   /* body() closed the array and wrote the fields */
};

#define RAW_MESSAGE_METADATA 1u
#define RAW_CONVERSATION_METADATA 2u

typedef struct field {
    char *key;
    char *json; /* the value, as JSON text */
    size_t len;
} field;

struct sinch_batch_builder {
    sb_buf body;
    size_t head_len;    /* up to and including `"recipient_and_params":[` */
    size_t entries_len; /* end of the last complete entry */
    size_t count;
    size_t max;
    enum state state;
    int n_ids;          /* channel identities in the open entry */
    unsigned raw_seen;  /* RAW_* members in the open entry */
    int dirty;          /* fields changed since the body was closed */
    field *fields;
    size_t n_fields;
    sb_plan plan;
    sinch_batch_param *extra; /* row(): the defaults it adds (plan.n_names) */
    sinch_batch_error err;
};

#define LIT(b, s) sb_json_put((b), (s), sizeof(s) - 1)
#define PUTC(b, c) sb_json_put((b), (c), 1)

/* The 1-based position of the entry being written (or about to be). */
static inline size_t pos(const sinch_batch_builder *b) { return b->count + 1; }

/* sinch_batch_builder_row for a row whose identity already passed the
 * phone rule (phone_checked: the CSV reader checked it): not checked twice. */
int sb_builder_row(sinch_batch_builder *b, const char *channel, const char *identity,
                   size_t identity_len, const sinch_batch_param *params, size_t n,
                   int phone_checked);
/* Drops the open entry (if any) and sets an INVALID error: SINCH_BATCH_ERR. */
int sb_builder_invalid(sinch_batch_builder *b, const char *fmt, ...) SB_PRINTF(2, 3);
/* Drops the open entry and sets the out-of-memory error: SINCH_BATCH_ERR. */
int sb_builder_nomem(sinch_batch_builder *b);
/* A parameter or field name for an error message: at most 64 bytes, no
 * control characters. */
const char *sb_builder_name(char *out, size_t outsz, const char *s, size_t n);

#define invalid sb_builder_invalid
#define nomem sb_builder_nomem
#define quote_name sb_builder_name

#endif
