/* builder.h -- the Builder userdata of the binding, shared by builder.c
 * (new, add, fields, body, lifetime), builder_rows.c (columns, add_row,
 * add_columns) and builder_plan.c (plan, params, unused, memory
 * accounting).  Internal to the binding. */
#ifndef SINCH_BATCH_LUA_BUILDER_H
#define SINCH_BATCH_LUA_BUILDER_H

#include "binding.h"

/* The scratch of add() and add_columns(): identities first (name = channel,
 * value = identity, with their app_id in apps[]), then the parameters. */
typedef struct sb_lbuilder {
    sinch_batch_builder *b;
    sinch_batch_param *items; /* owned here so a raise cannot leak it */
    const char **apps;
    size_t cap;
    sinch_batch_param *cols; /* columns() names (copied into col_text), add_row() values */
    char *col_text;
    size_t n_cols;
    sinch_batch_channel *chans; /* plan{channels=}: the table the core reads */
    char *chan_text;
    size_t reported; /* bytes of C memory already reported to the collector */
} sb_lbuilder;

/* Upvalues of add(): interned keys, the Builder metatable and the Recipient
 * metatable (core.Recipient: the one-identity recipients of
 * sinch.batch.recipient, `{ channel, identity [, app_id] }`). */
enum { UV_CONTACT = 1, UV_IDENTIFIED_BY, UV_CHANNEL_IDENTITIES, UV_CHANNEL, UV_IDENTITY,
       UV_APP_ID, UV_RECIPIENT, UV_PARAMETERS, UV_MESSAGE_METADATA, UV_CONVERSATION_METADATA,
       UV_MT, UV_RECIPIENT_MT, UV_COUNT = UV_RECIPIENT_MT };
#define SB_RECIPIENT_MT "sinch.batch.Recipient"

sb_lbuilder *sb_lbuilder_check(lua_State *L, int i);
/* sb_lbuilder_check(L, 1) for the per-row methods, whose upvalue UV_MT is
 * the metatable: saves the registry lookup. */
sb_lbuilder *sb_lbuilder_self(lua_State *L);
/* The i-th scratch item, growing the scratch arrays as needed. */
sinch_batch_param *sb_lbuilder_slot(lua_State *L, sb_lbuilder *u, size_t i);
/* Raise "bad argument": the value on top of the stack has the wrong type. */
void sb_lbuilder_bad_type(lua_State *L, int arg, const char *want, const char *fmt, ...);
/* Report the C memory the builder took since last time to the collector. */
void sb_lbuilder_account(lua_State *L, sb_lbuilder *u);
void sb_lbuilder_drop_columns(sb_lbuilder *u);
void sb_lbuilder_drop_channels(sb_lbuilder *u);

/* A Body (body.c): a closed body taken from a builder, owned here. */
typedef struct sb_body {
    char *data; /* NULL once freed */
    size_t len;
    int busy;         /* calls reading it */
    int free_pending; /* free() came while busy */
} sb_body;

/* The Body at i, or NULL when it is something else. */
sb_body *sb_lua_test_body(lua_State *L, int i);
/* A call starts / stops reading the Body. */
void sb_lua_body_hold(sb_body *o);
void sb_lua_body_drop(sb_body *o);
int sb_lbuilder_take(lua_State *L);
void sb_lua_open_body(lua_State *L);
/* C memory the collector cannot see, taken (add) or given back (sub): a
 * full collection once it passes the Lua heap's size (at least 4 MB). */
void sb_lua_external(lua_State *L, size_t add, size_t sub);

int sb_lbuilder_columns(lua_State *L);
int sb_lbuilder_add_row(lua_State *L);
int sb_lbuilder_add_columns(lua_State *L);
int sb_lbuilder_plan(lua_State *L);
int sb_lbuilder_params(lua_State *L);
int sb_lbuilder_unused(lua_State *L);

#endif
