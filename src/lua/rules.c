/* rules.c -- the API rules of src/core/rules.c, exposed to Lua:
 *   core.MAX_RECIPIENTS            1000
 *   core.phone_ok(s)               true when s can be a phone identity ("+"?, digits)
 *   core.e164_ok(s)                true when s also has our stricter E.164 shape
 *   core.param_names(s [, t])      t (or a new table) with t[name] = true per ${name}
 *   core.MAX_RESPONSE              64 MiB: the largest answer a transport reads
 *   core.CHANNELS                  { SMS = { phone = true }, MESSENGER = { app_scoped = true }, ... }
 */
#include "binding.h"

static int l_phone_ok(lua_State *L) {
    size_t len;
    const char *s;
    if (lua_type(L, 1) != LUA_TSTRING) { /* a number is not an identity */
        lua_pushboolean(L, 0);
        return 1;
    }
    s = lua_tolstring(L, 1, &len);
    lua_pushboolean(L, sinch_batch_phone_ok(s, len));
    return 1;
}

static int l_e164_ok(lua_State *L) {
    size_t len;
    const char *s;
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        return 1;
    }
    s = lua_tolstring(L, 1, &len);
    lua_pushboolean(L, sinch_batch_phone_e164(s, len));
    return 1;
}

static int l_param_names(lua_State *L) {
    size_t len, pos = 0, nlen;
    const char *s = luaL_checklstring(L, 1, &len), *name;
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
    }
    while (sinch_batch_param_next(s, len, &pos, &name, &nlen)) {
        lua_pushlstring(L, name, nlen);
        lua_pushboolean(L, 1);
        lua_rawset(L, 2);
    }
    return 1;
}

static const luaL_Reg funcs[] = {
    {"phone_ok", l_phone_ok},
    {"e164_ok", l_e164_ok},
    {"param_names", l_param_names},
    {NULL, NULL},
};

void sb_lua_open_rules(lua_State *L) {
    const sinch_batch_channel *c;
    luaL_setfuncs(L, funcs, 0);
    lua_pushinteger(L, SINCH_BATCH_MAX_RECIPIENTS);
    lua_setfield(L, -2, "MAX_RECIPIENTS");
    lua_pushinteger(L, (lua_Integer)SINCH_BATCH_MAX_RESPONSE);
    lua_setfield(L, -2, "MAX_RESPONSE");
    lua_newtable(L);
    for (c = sinch_batch_channels(); c->name; c++) {
        lua_createtable(L, 0, 2);
        if (c->flags & SINCH_BATCH_CHANNEL_PHONE) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "phone");
        }
        if (c->flags & SINCH_BATCH_CHANNEL_APP_SCOPED) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "app_scoped");
        }
        lua_setfield(L, -2, c->name);
    }
    lua_setfield(L, -2, "CHANNELS");
}
