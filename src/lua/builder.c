/* builder.c -- the Builder type of sinch.batch.core.
 *
 *   core.builder(app_id, message_json [, max]) -> Builder | nil, err
 *   b:add(recipient, params [, message_metadata_json [, conversation_metadata_json]])
 *       -> count | nil, err
 *   b:add_columns(channel, identities, columns [, first [, last]]) -> count | nil, err
 *   b:columns(names) -> n   b:add_row(channel, identity, v1, ..., vn) -> count | nil, err
 *   b:field(key, raw_json) / b:field_string(key, s) -> true | nil, err
 *   b:count()  b:body() -> string | nil, err  b:reset()  b:close()
 *   b:take() -> Body | nil, err (body.c: the body without a copy; reset)
 *   b:plan{check=, defaults=, validate=, dispatch_only=, channels=} -> b
 *   b:params() -> {names}   b:unused() -> { name = count }
 *   b:add_entries(list, first, last) -> next | nil, err
 *
 * The plan makes the core apply the per-recipient rules while it writes
 * (see sinch_batch_builder_plan): ${name} coverage, defaults, empty values,
 * unused names, channels and phone identities.
 *
 * The builder's C memory is reported to Lua's collector (builder_plan.c),
 * so a loop that makes a builder per batch stays as flat as one that reuses
 * one.  columns/add_row/add_columns are in builder_rows.c.
 *
 * add() walks the recipient and parameter tables itself (raw access, no
 * cjson per row) in two steps: first it checks every type and collects the
 * strings, raising on a wrong type before anything is written; then it
 * hands them to the core, which can only fail on an API rule (nil, err) and
 * drops the half-written entry itself.  The strings collected in step one
 * stay anchored in the caller's tables, which no Lua code touches between
 * the two steps.  The common shape (one identity, no metadata) and every
 * add_columns() and add_row() row go to the core in one call
 * (sinch_batch_builder_row).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"

sb_lbuilder *sb_lbuilder_check(lua_State *L, int i) {
    sb_lbuilder *u = luaL_checkudata(L, i, SB_BUILDER_MT);
    if (u->b == NULL) luaL_error(L, "attempt to use a closed builder");
    return u;
}

sinch_batch_builder *sb_lua_check_builder(lua_State *L, int idx) {
    return sb_lbuilder_check(L, idx)->b;
}

sinch_batch_param *sb_lbuilder_slot(lua_State *L, sb_lbuilder *u, size_t i) {
    if (i >= u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        sinch_batch_param *p = realloc(u->items, cap * sizeof *p);
        const char **a;
        if (p == NULL) luaL_error(L, "not enough memory");
        u->items = p;
        if ((a = realloc(u->apps, cap * sizeof *a)) == NULL) luaL_error(L, "not enough memory");
        u->apps = a;
        u->cap = cap;
    }
    return &u->items[i];
}

/* t[upvalue key] (raw) pushed; returns its type. */
static int rawfield(lua_State *L, int t, int uv) {
    lua_pushvalue(L, lua_upvalueindex(uv));
#if LUA_VERSION_NUM >= 503
    return lua_rawget(L, t < 0 ? t - 1 : t); /* returns the type since 5.3 */
#else
    lua_rawget(L, t < 0 ? t - 1 : t);
    return lua_type(L, -1);
#endif
}

/* t[i] (raw) pushed; returns its type. */
static int rawindex(lua_State *L, int t, int i) {
#if LUA_VERSION_NUM >= 503
    return lua_rawgeti(L, t, i);
#else
    lua_rawgeti(L, t, i);
    return lua_type(L, -1);
#endif
}

void sb_lbuilder_bad_type(lua_State *L, int arg, const char *want, const char *fmt, ...) {
    const char *got = luaL_typename(L, -1);
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: expected %s, got %s", lua_tostring(L, -1),
                                          want, got));
}

/* A string member of the table on top of the stack, or NULL when nil. */
static const char *id_string(lua_State *L, int uv, size_t *len, int k, const char *name,
                             int optional) {
    const char *s = NULL;
    int t = rawfield(L, -1, uv);
    if (t == LUA_TSTRING) s = lua_tolstring(L, -1, len);
    else if (t != LUA_TNIL || !optional)
        sb_lbuilder_bad_type(L, 2, "a string", "recipient.identified_by.channel_identities[%d].%s", k, name);
    lua_pop(L, 1);
    return s;
}

/* Field i of the Recipient at arg 2 (raw): a string, or NULL for nil when
 * optional; anything else raises.  The value stays on the stack. */
static const char *recipient_field(lua_State *L, int i, size_t *len, const char *name,
                                   int optional) {
    int t = rawindex(L, 2, i);
    if (t == LUA_TSTRING) return lua_tolstring(L, -1, len);
    if (t != LUA_TNIL || !optional) sb_lbuilder_bad_type(L, 2, "a string", "recipient.%s", name);
    return NULL;
}

/* Step one for recipient (arg 2): *contact and u->items[0..n); returns n.
 * A Recipient (core.Recipient metatable) holds its one identity itself. */
static size_t collect_recipient(lua_State *L, sb_lbuilder *u, const char **contact, size_t *clen) {
    size_t n = 0, i, len, alen;
    int t;
    if (lua_getmetatable(L, 2)) {
        int one = lua_rawequal(L, -1, lua_upvalueindex(UV_RECIPIENT_MT));
        lua_pop(L, 1);
        if (one) { /* { channel, identity [, app_id] }; popped at once: the
                    * strings stay anchored in the table */
            sinch_batch_param *it = sb_lbuilder_slot(L, u, 0);
            *contact = NULL;
            it->name = recipient_field(L, 1, &it->name_len, "channel", 0);
            it->value = recipient_field(L, 2, &it->value_len, "identity", 0);
            u->apps[0] = recipient_field(L, 3, &alen, "app_id", 1);
            lua_pop(L, 3);
            return 1;
        }
    }
    t = rawfield(L, 2, UV_CONTACT);
    *contact = t == LUA_TSTRING ? lua_tolstring(L, -1, clen) : NULL;
    if (t != LUA_TSTRING && t != LUA_TNIL) sb_lbuilder_bad_type(L, 2, "a string", "recipient.contact_id");
    lua_pop(L, 1);
    if ((t = rawfield(L, 2, UV_IDENTIFIED_BY)) == LUA_TNIL) return lua_pop(L, 1), 0;
    if (t != LUA_TTABLE) sb_lbuilder_bad_type(L, 2, "a table", "recipient.identified_by");
    if (rawfield(L, -1, UV_CHANNEL_IDENTITIES) != LUA_TTABLE)
        sb_lbuilder_bad_type(L, 2, "a table", "recipient.identified_by.channel_identities");
    len = lua_rawlen(L, -1);
    for (i = 1; i <= len; i++, n++) {
        sinch_batch_param *it = sb_lbuilder_slot(L, u, n);
        lua_rawgeti(L, -1, (int)i);
        if (!lua_istable(L, -1))
            sb_lbuilder_bad_type(L, 2, "a table", "recipient.identified_by.channel_identities[%d]", (int)i);
        it->name = id_string(L, UV_CHANNEL, &it->name_len, (int)i, "channel", 0);
        it->value = id_string(L, UV_IDENTITY, &it->value_len, (int)i, "identity", 0);
        u->apps[n] = id_string(L, UV_APP_ID, &alen, (int)i, "app_id", 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return n;
}

/* Step one for parameters (arg 3): u->items[first..); returns the count.
 * Numbers are turned into strings (tostring's spelling); those copies are
 * kept on the stack, under the iteration key, until add() returns. */
static size_t collect_params(lua_State *L, sb_lbuilder *u, size_t first) {
    size_t n = 0;
    int t;
    if (lua_isnoneornil(L, 3)) return 0;
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
        sinch_batch_param *it = sb_lbuilder_slot(L, u, first + n);
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, 3, lua_pushfstring(L, "parameters: a parameter name must be a "
                                                   "string, got %s", luaL_typename(L, -2)));
        it->name = lua_tolstring(L, -2, &it->name_len);
        if ((t = lua_type(L, -1)) == LUA_TNUMBER) {
            luaL_checkstack(L, 3, "too many parameters");
            lua_pushvalue(L, -1);
            it->value = lua_tolstring(L, -1, &it->value_len);
            lua_insert(L, -3); /* now: copy, key, value */
        } else if (t == LUA_TSTRING) {
            it->value = lua_tolstring(L, -1, &it->value_len);
        } else {
            luaL_argerror(L, 3, lua_pushfstring(L, "parameters.%s: expected a string or number, "
                                                   "got %s", it->name, luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* Step two: one entry into the core.  SINCH_BATCH_OK or the core's code.
 * The common shape (one identity, no app_id, no metadata) is one call. */
static int write_entry(sb_lbuilder *u, size_t n_ids, size_t n_params, const char *contact,
                       size_t clen, lua_State *L, int meta) {
    sinch_batch_builder *b = u->b;
    const sinch_batch_param *it = u->items;
    size_t i, mlen = 0, clen2 = 0;
    const char *mm = NULL, *cm = NULL;
    int rc;
    if (meta) {
        mm = lua_tolstring(L, 4, &mlen);
        cm = lua_tolstring(L, 5, &clen2);
    }
    if (!contact && n_ids == 1 && u->apps[0] == NULL && !mm && !cm)
        return sinch_batch_builder_row(b, it[0].name, it[0].value, it[0].value_len, it + 1,
                                       n_params);
    rc = sinch_batch_builder_begin(b);
    if (rc == SINCH_BATCH_OK && !contact && n_ids == 0)
        return sinch_batch_builder_end(b); /* names the missing recipient */
    if (rc == SINCH_BATCH_OK && contact) rc = sinch_batch_builder_contact(b, contact, clen);
    for (i = 0; rc == SINCH_BATCH_OK && i < n_ids; i++)
        rc = sinch_batch_builder_identity(b, it[i].name, it[i].value, it[i].value_len,
                                          u->apps[i]);
    for (; rc == SINCH_BATCH_OK && i < n_ids + n_params; i++)
        rc = sinch_batch_builder_param(b, it[i].name, it[i].name_len, it[i].value,
                                       it[i].value_len);
    if (rc == SINCH_BATCH_OK && mm) rc = sinch_batch_builder_entry_raw(b, "message_metadata", mm, mlen);
    if (rc == SINCH_BATCH_OK && cm)
        rc = sinch_batch_builder_entry_raw(b, "conversation_metadata", cm, clen2);
    if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_end(b);
    return rc;
}

/* sb_lbuilder_check(L, 1) for the per-row methods, whose upvalue UV_MT is the
 * metatable: saves the registry lookup. */
sb_lbuilder *sb_lbuilder_self(lua_State *L) {
    sb_lbuilder *u = lua_touserdata(L, 1);
    if (u == NULL || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(UV_MT)))
        return sb_lbuilder_check(L, 1); /* raises with the usual message */
    lua_pop(L, 1);
    if (u->b == NULL) luaL_error(L, "attempt to use a closed builder");
    return u;
}

/* b:add(recipient, params [, message_metadata_json [, conversation_metadata_json]]) */
static int l_builder_add(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_self(L);
    const char *contact;
    size_t clen = 0, n_ids, n_params, count;
    int meta = lua_gettop(L) > 3;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    if (meta) {
        luaL_optstring(L, 4, NULL);
        luaL_optstring(L, 5, NULL);
    }
    lua_settop(L, meta ? 5 : 3);
    n_ids = collect_recipient(L, u, &contact, &clen);
    n_params = collect_params(L, u, n_ids);
    if (write_entry(u, n_ids, n_params, contact, clen, L, meta) != SINCH_BATCH_OK)
        return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    count = sinch_batch_builder_count(u->b);
    if ((count & 31) == 0) sb_lbuilder_account(L, u);
    lua_pushinteger(L, (lua_Integer)count);
    return 1;
}

/* b:add_entries(list, first, last) -> next | nil, err
 * list[first..last] are RecipientAndParam tables ({recipient =,
 * parameters =}): each is added as add() would, with no Lua in between --
 * the table path of client:send.  Stops at an entry with message_metadata
 * or conversation_metadata (the caller encodes those) and returns its
 * index; last + 1 when all went in.  Errors name the position in the
 * batch, as add()'s do. */
static int l_builder_add_entries(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_self(L);
    lua_Integer i, first, last;
    size_t count;
    luaL_checktype(L, 2, LUA_TTABLE);
    first = luaL_checkinteger(L, 3);
    last = luaL_checkinteger(L, 4);
    lua_settop(L, 4);
    lua_pushvalue(L, 2); /* 5: the list; 2 and 3 take each entry's tables */
    for (i = first; i <= last; i++) {
        const char *contact;
        size_t clen = 0, n_ids, n_params;
        lua_settop(L, 5);
        lua_rawgeti(L, 5, (int)i); /* 6 */
        if (!lua_istable(L, 6) || rawfield(L, 6, UV_RECIPIENT) != LUA_TTABLE) /* 7 */
            return sb_lua_fail_msg(L, SINCH_BATCH_ERROR_INVALID,
                                   lua_pushfstring(L, "recipients[%d].recipient: required, a "
                                                      "recipient table",
                                                   (int)sinch_batch_builder_count(u->b) + 1));
        if (rawfield(L, 6, UV_MESSAGE_METADATA) != LUA_TNIL ||
            rawfield(L, 6, UV_CONVERSATION_METADATA) != LUA_TNIL) {
            lua_pushinteger(L, i);
            return 1;
        }
        lua_pop(L, 2);
        if (rawfield(L, 6, UV_PARAMETERS) != LUA_TNIL && !lua_istable(L, -1)) /* 8 */
            sb_lbuilder_bad_type(L, 2, "a table", "parameters");
        lua_replace(L, 3);
        lua_replace(L, 2);
        n_ids = collect_recipient(L, u, &contact, &clen);
        n_params = collect_params(L, u, n_ids);
        if (write_entry(u, n_ids, n_params, contact, clen, L, 0) != SINCH_BATCH_OK)
            return sb_lua_fail(L, sinch_batch_builder_error(u->b));
        count = sinch_batch_builder_count(u->b);
        if ((count & 31) == 0) sb_lbuilder_account(L, u);
    }
    lua_pushinteger(L, last + 1);
    return 1;
}

/* core.builder(app_id, message_json [, max]) */
static int l_builder_new(lua_State *L) {
    size_t mlen;
    const char *app_id = luaL_checkstring(L, 1);
    const char *msg = luaL_checklstring(L, 2, &mlen);
    lua_Integer max = luaL_optinteger(L, 3, 0);
    sinch_batch_error err;
    sb_lbuilder *u;
    luaL_argcheck(L, max >= 0, 3, "max: expected a non-negative integer");
    u = lua_newuserdata(L, sizeof *u);
    u->b = NULL;
    u->items = NULL;
    u->apps = NULL;
    u->cap = 0;
    u->cols = NULL;
    u->col_text = NULL;
    u->n_cols = 0;
    u->chans = NULL;
    u->chan_text = NULL;
    u->reported = 0;
    luaL_setmetatable(L, SB_BUILDER_MT);
    if (mlen == 0) msg = " "; /* the core reads 0 as "use strlen" */
    u->b = sinch_batch_builder_new(app_id, msg, mlen ? mlen : 1, (size_t)max, &err);
    if (u->b == NULL) return sb_lua_fail(L, &err);
    sb_lbuilder_account(L, u);
    return 1;
}

static int l_builder_field(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    size_t len;
    const char *key = luaL_checkstring(L, 2), *json = luaL_checklstring(L, 3, &len);
    if (sinch_batch_builder_field_raw(u->b, key, json, len) != SINCH_BATCH_OK)
        return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_builder_field_string(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    size_t len;
    const char *key = luaL_checkstring(L, 2), *s = luaL_checklstring(L, 3, &len);
    if (sinch_batch_builder_field_string(u->b, key, s, len) != SINCH_BATCH_OK)
        return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_builder_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)sinch_batch_builder_count(sb_lbuilder_check(L, 1)->b));
    return 1;
}

static int l_builder_body(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    size_t len;
    const char *body = sinch_batch_builder_body(u->b, &len);
    if (body == NULL) return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    lua_pushlstring(L, body, len);
    return 1;
}

static int l_builder_reset(lua_State *L) {
    sinch_batch_builder_reset(sb_lbuilder_check(L, 1)->b);
    return 0;
}

/* __gc, __close and close(): idempotent. */
static int l_builder_close(lua_State *L) {
    sb_lbuilder *u = luaL_checkudata(L, 1, SB_BUILDER_MT);
    sinch_batch_builder_free(u->b);
    u->b = NULL;
    free(u->items);
    u->items = NULL;
    free(u->apps);
    u->apps = NULL;
    u->cap = 0;
    sb_lbuilder_drop_columns(u);
    sb_lbuilder_drop_channels(u);
    return 0;
}

static int l_builder_tostring(lua_State *L) {
    sb_lbuilder *u = luaL_checkudata(L, 1, SB_BUILDER_MT);
    size_t n;
    if (u->b == NULL) {
        lua_pushliteral(L, "sinch.batch.Builder (closed)");
        return 1;
    }
    n = sinch_batch_builder_count(u->b);
    lua_pushfstring(L, "sinch.batch.Builder (%d recipient%s)", (int)n, n == 1 ? "" : "s");
    return 1;
}

static const luaL_Reg methods[] = {
    {"add", l_builder_add}, /* replaced below by a closure with its upvalues */
    {"add_row", sb_lbuilder_add_row}, /* a closure too */
    {"add_columns", sb_lbuilder_add_columns},
    {"columns", sb_lbuilder_columns},
    {"plan", sb_lbuilder_plan},
    {"params", sb_lbuilder_params},
    {"unused", sb_lbuilder_unused},
    {"field", l_builder_field},
    {"field_string", l_builder_field_string},
    {"count", l_builder_count},
    {"body", l_builder_body},
    {"take", sb_lbuilder_take},
    {"reset", l_builder_reset},
    {"close", l_builder_close},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", l_builder_close},
    {"__close", l_builder_close},
    {"__tostring", l_builder_tostring},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"builder", l_builder_new},
    {NULL, NULL},
};

void sb_lua_open_builder(lua_State *L) {
    static const char *const keys[] = {"contact_id", "identified_by", "channel_identities",
                                       "channel", "identity", "app_id", "recipient",
                                       "parameters", "message_metadata",
                                       "conversation_metadata"};
    int i;
    /* core.Recipient: the metatable of one-identity recipients (its
     * __index is set by sinch/batch/recipient.lua) */
    luaL_newmetatable(L, SB_RECIPIENT_MT);
    lua_setfield(L, -2, "Recipient");
    sb_lua_newclass(L, SB_BUILDER_MT, methods, metamethods);
    luaL_getmetatable(L, SB_BUILDER_MT);
    lua_getfield(L, -1, "__index"); /* stack: metatable, __index */
    for (i = 0; i < UV_MT - 1; i++) lua_pushstring(L, keys[i]);
    lua_pushvalue(L, -2 - (UV_MT - 1)); /* the metatable */
    luaL_getmetatable(L, SB_RECIPIENT_MT);
    lua_pushcclosure(L, l_builder_add, UV_COUNT);
    lua_setfield(L, -2, "add");
    for (i = 0; i < UV_MT - 1; i++) lua_pushstring(L, keys[i]);
    lua_pushvalue(L, -2 - (UV_MT - 1));
    luaL_getmetatable(L, SB_RECIPIENT_MT);
    lua_pushcclosure(L, l_builder_add_entries, UV_COUNT);
    lua_setfield(L, -2, "add_entries");
    for (i = 0; i < UV_MT - 1; i++) lua_pushnil(L); /* add_row uses only UV_MT */
    lua_pushvalue(L, -2 - (UV_MT - 1));
    lua_pushcclosure(L, sb_lbuilder_add_row, UV_MT);
    lua_setfield(L, -2, "add_row");
    lua_pop(L, 2);
    luaL_setfuncs(L, funcs, 0);
    sb_lua_open_body(L);
}
