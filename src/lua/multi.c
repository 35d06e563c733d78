/* multi.c -- core.multi: the libcurl multi driver (many calls in flight on
 * one thread) for Lua.  Self-contained: it needs only the Call and Client
 * accessors of client.c.
 *
 *   local m = core.multi(client_core)      -- the client's TLS/connect options
 *   m:add(client_core:start("send", body), key)   -- key: any Lua value
 *   m:poll(timeout_ms) -> calls still in m
 *   m:done() -> key, status, body, attempts | key, nil, err | nil (none ready)
 *   m:waiting_ms() -> the longest Retry-After/backoff wait of a call in m
 *   m:count() -> calls in m (running, waiting or done but not popped)
 *   m:close()
 * A call added is owned by m until done() hands it back (it is closed then).
 */
#include <stdint.h>
#include <string.h>

#include "binding.h"

#if LUA_VERSION_NUM < 502
#define lua_setuservalue(L, i) lua_setfenv(L, i)
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#endif

#define SB_MULTI_MT "sinch.batch.Multi"

typedef struct sb_multi {
    sinch_batch_curl_multi *m;
    lua_Integer next_id; /* ids of calls in m, keys of the uservalue table */
    int count;
} sb_multi;

static sb_multi *check_multi(lua_State *L, int i) {
    sb_multi *u = luaL_checkudata(L, i, SB_MULTI_MT);
    if (u->m == NULL) luaL_error(L, "attempt to use a closed multi");
    return u;
}

/* core.multi(client) -> Multi | nil, err */
static int l_multi_new(lua_State *L) {
    const sinch_batch_curl_opts *o = sb_lua_client_curl_opts(L, 1);
    sinch_batch_error err;
    sb_multi *u = lua_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, SB_MULTI_MT);
    lua_newtable(L); /* id -> { call userdata, key } */
    lua_setuservalue(L, -2);
    u->m = sinch_batch_curl_multi_new(o, &err);
    if (u->m == NULL) return sb_lua_fail(L, &err);
    return 1;
}

/* m:add(call, key) */
static int l_multi_add(lua_State *L) {
    sb_multi *u = check_multi(L, 1);
    sinch_batch_call *call = sb_lua_check_call(L, 2);
    lua_Integer id = ++u->next_id;
    lua_settop(L, 3);
    lua_getuservalue(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (int)id);
    if (sinch_batch_curl_multi_add(u->m, call, (void *)(intptr_t)id) != SINCH_BATCH_OK) {
        lua_pushnil(L);
        lua_rawseti(L, -2, (int)id);
        return luaL_error(L, "multi:add: out of memory");
    }
    u->count++;
    lua_pushboolean(L, 1);
    return 1;
}

/* m:poll(timeout_ms) -> calls still running or waiting */
static int l_multi_poll(lua_State *L) {
    sb_multi *u = check_multi(L, 1);
    int n = sinch_batch_curl_multi_poll(u->m, (long)luaL_optinteger(L, 2, 0));
    if (n < 0) return sb_lua_fail_msg(L, SINCH_BATCH_ERROR_INTERNAL, "curl multi: poll failed");
    lua_pushinteger(L, n);
    return 1;
}

/* m:done() -> key, status, body, attempts | key, nil, err | nothing */
static int l_multi_done(lua_State *L) {
    sb_multi *u = check_multi(L, 1);
    sinch_batch_action a;
    void *ud = NULL;
    int id, n, top;
    sinch_batch_call *call = sinch_batch_curl_multi_done(u->m, &a, &ud);
    if (call == NULL) return 0;
    u->count--;
    id = (int)(intptr_t)ud;
    lua_settop(L, 1);
    lua_getuservalue(L, 1);  /* 2 */
    lua_rawgeti(L, 2, id);   /* 3: { call, key } */
    lua_rawgeti(L, 3, 1);    /* 4: the Call (keeps call alive until closed) */
    lua_rawgeti(L, 3, 2);    /* 5: key */
    lua_pushnil(L);
    lua_rawseti(L, 2, id);
    top = lua_gettop(L);
    if (a.error) {
        sb_lua_fail(L, a.error);
    } else {
        lua_pushinteger(L, a.status);
        lua_pushlstring(L, a.response ? a.response : "", a.response_len);
        lua_pushinteger(L, a.attempts);
    }
    n = lua_gettop(L) - top;
    /* the strings are copied: the call can go now */
    lua_getfield(L, 4, "close");
    lua_pushvalue(L, 4);
    lua_call(L, 1, 0);
    return 1 + n; /* key and the results */
}

static int l_multi_waiting_ms(lua_State *L) {
    sb_multi *u = check_multi(L, 1);
    lua_pushinteger(L, (lua_Integer)sinch_batch_curl_multi_waiting_ms(u->m));
    return 1;
}

static int l_multi_count(lua_State *L) {
    lua_pushinteger(L, check_multi(L, 1)->count);
    return 1;
}

static int l_multi_close(lua_State *L) {
    sb_multi *u = luaL_checkudata(L, 1, SB_MULTI_MT);
    if (u->m) {
        sinch_batch_curl_multi_free(u->m); /* calls still in it stay with their Calls */
        u->m = NULL;
    }
    return 0;
}

static const luaL_Reg multi_methods[] = {
    {"add", l_multi_add},     {"poll", l_multi_poll},   {"done", l_multi_done},
    {"waiting_ms", l_multi_waiting_ms}, {"count", l_multi_count}, {"close", l_multi_close},
    {NULL, NULL},
};
static const luaL_Reg multi_meta[] = {
    {"__gc", l_multi_close},
    {"__close", l_multi_close},
    {NULL, NULL},
};

void sb_lua_open_multi(lua_State *L) {
    sb_lua_newclass(L, SB_MULTI_MT, multi_methods, multi_meta);
    lua_pushcfunction(L, l_multi_new);
    lua_setfield(L, -2, "multi");
}
