/* builder_plan.c -- the Builder's plan (b:plan{}, b:params(), b:unused():
 * the per-recipient rules the core applies while it writes) and the
 * accounting of its C memory to Lua's collector. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"

/* Tell the collector about C memory the builders took: Lua cannot see it,
 * and in generational mode (lua5.4's default) even GC steps never reach the
 * old builders.  So the growth of every builder of this state is summed,
 * and once it passes the Lua heap's size (at least 4 MB) a full collection
 * frees the builders nobody holds any more -- the same pacing the collector
 * gives Lua's own memory, and a loop that makes a builder per batch stays
 * as flat as one that reuses one. */
static char external_key;

void sb_lua_external(lua_State *L, size_t add, size_t sub) {
    size_t *ext, heap_kb;
    lua_pushlightuserdata(L, &external_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ext = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (ext == NULL) { /* the first of this state */
        lua_pushlightuserdata(L, &external_key);
        ext = lua_newuserdata(L, sizeof *ext);
        *ext = 0;
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    *ext = *ext > sub ? *ext - sub : 0;
    *ext += add;
    if (add == 0) return;
    heap_kb = (size_t)lua_gc(L, LUA_GCCOUNT, 0);
    if (*ext / 1024 > (heap_kb > 4096 ? heap_kb : 4096)) {
        *ext = 0;
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
}

void sb_lbuilder_account(lua_State *L, sb_lbuilder *u) {
    size_t m = sinch_batch_builder_memory(u->b);
    if (m <= u->reported + 8192) return;
    sb_lua_external(L, m - u->reported, 0);
    u->reported = m;
}

void sb_lbuilder_drop_channels(sb_lbuilder *u) {
    free(u->chans);
    u->chans = NULL;
    free(u->chan_text);
    u->chan_text = NULL;
}

/* The channels table of plan{} (arg 2's field on top of the stack):
 * { NAME = { phone = bool, app_scoped = bool }, ... } copied for the core. */
static void plan_channels(lua_State *L, sb_lbuilder *u) {
    size_t n = 0, total = 0, len, i = 0;
    char *text;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            luaL_argerror(L, 2, "channels: expected channel name -> { phone =, app_scoped = }");
        lua_tolstring(L, -2, &len);
        total += len + 1;
        n++;
        lua_pop(L, 1);
    }
    sb_lbuilder_drop_channels(u);
    u->chans = calloc(n + 1, sizeof *u->chans);
    u->chan_text = text = malloc(total + 1);
    if (u->chans == NULL || text == NULL) {
        sb_lbuilder_drop_channels(u);
        luaL_error(L, "not enough memory");
    }
    lua_pushnil(L);
    while (i < n && lua_next(L, -2) != 0) {
        const char *name = lua_tolstring(L, -2, &len);
        unsigned flags = 0;
        memcpy(text, name, len + 1);
        lua_getfield(L, -1, "phone");
        if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_CHANNEL_PHONE;
        lua_getfield(L, -2, "app_scoped");
        if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_CHANNEL_APP_SCOPED;
        lua_pop(L, 3);
        u->chans[i].name = text;
        u->chans[i].flags = flags;
        text += len + 1;
        i++;
    }
}

/* b:plan{ check = true, defaults = {name = value}, validate = true,
 *         dispatch_only = false, channels = {NAME = props} } -> b
 * check: every ${name} of the message needs a value or a default;
 * validate: known channels, phone identities (channels: the caller's table,
 * default the built-in one); dispatch_only: contact_id refused; e164: phone
 * identities also in our stricter E.164 shape. */
int sb_lbuilder_plan(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    unsigned flags = 0;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "check");
    if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_PLAN_PARAMS;
    lua_getfield(L, 2, "validate");
    if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_PLAN_RECIPIENT;
    lua_getfield(L, 2, "dispatch_only");
    if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_PLAN_DISPATCH_ONLY;
    lua_getfield(L, 2, "e164");
    if (lua_toboolean(L, -1)) flags |= SINCH_BATCH_PLAN_E164;
    lua_settop(L, 2);
    lua_getfield(L, 2, "defaults");
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_istable(L, -1), 2, "defaults: expected a table");
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            size_t klen, vlen;
            const char *k, *v;
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_argerror(L, 2, "defaults: parameter names must be strings");
            if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
                luaL_argerror(L, 2, lua_pushfstring(L, "defaults.%s: expected a string, got %s",
                                                    lua_tostring(L, -2), luaL_typename(L, -1)));
            k = lua_tolstring(L, -2, &klen);
            lua_pushvalue(L, -1);
            v = lua_tolstring(L, -1, &vlen);
            if (sinch_batch_builder_default(u->b, k, klen, v, vlen) != SINCH_BATCH_OK)
                return luaL_error(L, "not enough memory");
            lua_pop(L, 2);
        }
    }
    lua_settop(L, 2);
    lua_getfield(L, 2, "channels");
    if (lua_istable(L, -1)) plan_channels(L, u);
    else sb_lbuilder_drop_channels(u);
    sinch_batch_builder_plan(u->b, flags, u->chans);
    lua_settop(L, 1);
    return 1;
}

/* b:params() -> the ${name}s the message uses, in the message's order */
int sb_lbuilder_params(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    const char *name;
    size_t len, i;
    lua_newtable(L);
    for (i = 0; sinch_batch_builder_param_name(u->b, i, &name, &len); i++) {
        lua_pushlstring(L, name, len);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* b:unused() -> { name = count }: names given that the message never uses */
int sb_lbuilder_unused(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    const char *name;
    size_t len, i, count;
    lua_newtable(L);
    for (i = 0; (count = sinch_batch_builder_unused(u->b, i, &name, &len)) > 0; i++) {
        lua_pushlstring(L, name, len);
        lua_pushinteger(L, (lua_Integer)count);
        lua_rawset(L, -3);
    }
    return 1;
}
