/* core.c -- luaopen_sinch_batch_core: the module table, the version and the
 * error conversion shared by every part of the binding. */
#include <string.h>

#include "binding.h"

#define ERROR_MT_KEY "sinch.batch.error_mt"

void sb_lua_newclass(lua_State *L, const char *name, const luaL_Reg *methods,
                     const luaL_Reg *metamethods) {
    luaL_newmetatable(L, name);
    if (metamethods) luaL_setfuncs(L, metamethods, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int sb_lua_fail(lua_State *L, const sinch_batch_error *e) {
    lua_pushnil(L);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, sinch_batch_error_kind_name(e->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, e->message);
    lua_setfield(L, -2, "message");
    if (e->status) {
        lua_pushinteger(L, e->status);
        lua_setfield(L, -2, "status");
    }
    if (e->code) {
        lua_pushinteger(L, e->code);
        lua_setfield(L, -2, "code");
    }
    if (e->api_status[0]) {
        lua_pushstring(L, e->api_status);
        lua_setfield(L, -2, "api_status");
    }
    lua_pushboolean(L, e->retryable);
    lua_setfield(L, -2, "retryable");
    lua_pushboolean(L, e->may_have_been_processed);
    lua_setfield(L, -2, "may_have_been_processed");
    lua_getfield(L, LUA_REGISTRYINDEX, ERROR_MT_KEY);
    if (lua_istable(L, -1))
        lua_setmetatable(L, -2);
    else
        lua_pop(L, 1);
    return 2;
}

int sb_lua_fail_msg(lua_State *L, sinch_batch_error_kind kind, const char *msg) {
    sinch_batch_error e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    strncpy(e.message, msg, sizeof e.message - 1);
    return sb_lua_fail(L, &e);
}

/* core.set_error_mt(mt): the metatable given to every error table. */
static int l_set_error_mt(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, ERROR_MT_KEY);
    return 0;
}

static const luaL_Reg funcs[] = {
    {"set_error_mt", l_set_error_mt},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_sinch_batch_core(lua_State *L) {
    luaL_newlib(L, funcs);
    lua_pushliteral(L, SINCH_BATCH_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushstring(L, sinch_batch_curl_version());
    lua_setfield(L, -2, "curl_version");
    sb_lua_open_client(L);
    sb_lua_open_builder(L);
    sb_lua_open_webhook(L);
    sb_lua_open_csv(L);
    sb_lua_open_rules(L);
    sb_lua_open_multi(L);
    sb_lua_open_journal(L);
    sb_lua_open_signal(L);
    return 1;
}
