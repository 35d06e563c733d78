/* binding.h -- shared pieces of the Lua binding (sinch.batch.core).
 *
 * The binding is the only C that includes Lua.  It builds against Lua 5.4
 * and LuaJIT (Lua 5.1 API) from one source; the few 5.1 gaps are filled by
 * the macros below.  Each file registers its functions into the module
 * table with an sb_lua_open_* function called from luaopen_sinch_batch_core
 * (core.c); the helpers they share are in util.c.
 *
 * Two modules are built from src/lua:
 *   sinch.batch.core  every file but curl.c, with the C core; no libcurl
 *   sinch.batch.curl  curl.c with the libcurl driver (src/curl)
 * They meet through the registry, never through symbols (each module is
 * loaded RTLD_LOCAL):
 *   SB_LUA_CORE_FNS_KEY  core -> curl: the core functions the driver calls
 *   SB_LUA_DRIVER_KEY    curl -> core: create/perform/destroy a driver
 * client:call (client.c) requires sinch.batch.curl on first use.
 */
#ifndef SINCH_BATCH_BINDING_H
#define SINCH_BATCH_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "sinch_batch_curl.h" /* and sinch_batch.h: the binding uses both libraries' types */

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen(L, i)
#endif
/* The 5.2 functions the binding uses, for the 5.1 API.  LuaJIT 2.1 has
 * them too, but the LuaJIT build uses these as well, so that it calls only
 * the 5.1 API: one 5.1 module then loads under PUC Lua 5.1, LuaJIT and
 * OpenResty alike (PUC lua5.1 refuses a module that calls luaL_testudata:
 * "undefined symbol"; package/core-without-curl checks every 5.1 build). */
#if LUA_VERSION_NUM < 502
#undef luaL_newlib
#undef luaL_setfuncs
#undef luaL_testudata
#undef luaL_setmetatable
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#define luaL_setfuncs(L, l, n) luaL_register(L, NULL, l)
static inline void *sb_testudata(lua_State *L, int i, const char *tname) {
    void *p = lua_touserdata(L, i);
    if (p != NULL && lua_getmetatable(L, i)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2)) p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#define luaL_testudata(L, i, t) sb_testudata(L, i, t)
#define luaL_setmetatable(L, t) (luaL_getmetatable(L, t), lua_setmetatable(L, -2))
#endif

#define SB_CLIENT_MT "sinch.batch.Client"
#define SB_CALL_MT "sinch.batch.Call"
#define SB_BUILDER_MT "sinch.batch.Builder"
#define SB_CSV_MT "sinch.batch.Csv"

/* ------------------------------------------- core <-> curl, by the registry */

#define SB_LUA_ABI 2
#define SB_LUA_CORE_FNS_KEY "sinch.batch.core_fns"
#define SB_LUA_DRIVER_KEY "sinch.batch.driver"

/* The core functions the libcurl driver calls (lightuserdata in the
 * registry, set by luaopen_sinch_batch_core). */
typedef struct sb_lua_core_fns {
    int abi; /* SB_LUA_ABI */
    int (*call_next)(sinch_batch_call *call, int64_t now_ms, sinch_batch_action *a);
    int (*call_feed)(sinch_batch_call *call, int64_t now_ms, const sinch_batch_response *r);
    int (*call_feed_error)(sinch_batch_call *call, int64_t now_ms,
                           sinch_batch_transport_error kind, int sent, const char *message);
    const sinch_batch_error *(*call_error)(const sinch_batch_call *call);
    /* the binding helpers the multi binding (multi.c, in the curl module)
     * uses: the core's own, so both modules make the same Lua values */
    sinch_batch_call *(*check_call)(lua_State *L, int idx);
    const sinch_batch_curl_opts *(*client_curl_opts)(lua_State *L, int idx);
    int (*fail)(lua_State *L, const sinch_batch_error *e);
    int (*fail_msg)(lua_State *L, sinch_batch_error_kind kind, const char *msg);
    void (*newclass)(lua_State *L, const char *name, const luaL_Reg *methods,
                     const luaL_Reg *metamethods);
} sb_lua_core_fns;

/* A blocking driver (lightuserdata in the registry, set by
 * luaopen_sinch_batch_curl). */
typedef struct sb_lua_driver {
    int abi; /* SB_LUA_ABI */
    void *(*create)(const sinch_batch_curl_opts *opts, sinch_batch_error *err);
    void (*destroy)(void *driver);
    /* Runs call to completion; done as sinch_batch_curl_perform fills it. */
    void (*perform)(void *driver, sinch_batch_call *call, sinch_batch_action *done);
    const char *(*version)(void); /* "libcurl/8.x", for the User-Agent */
} sb_lua_driver;

/* The lightuserdata at registry[key], after require(module) when it is not
 * there yet (the module sets it); NULL when it is still missing.  The one
 * way each module finds the other's table (header-only: both use it). */
static inline void *sb_lua_registry_from(lua_State *L, const char *module, const char *key) {
    void *p;
    lua_getfield(L, LUA_REGISTRYINDEX, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushstring(L, module);
        lua_call(L, 1, 0);
        lua_getfield(L, LUA_REGISTRYINDEX, key);
    }
    p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p;
}

/* Registers a type's metatable: methods[] become __index, metamethods[]
 * are set on the metatable itself. Leaves the stack unchanged. */
void sb_lua_newclass(lua_State *L, const char *name, const luaL_Reg *methods,
                     const luaL_Reg *metamethods);

/* The one place a sinch_batch_error becomes a Lua value: pushes nil and the
 * error table {kind, message, status, code, api_status, retryable,
 * may_have_been_processed}, with the metatable registered by
 * core.set_error_mt (if any).  Returns 2 (for `return sb_lua_fail(L, e)`). */
int sb_lua_fail(lua_State *L, const sinch_batch_error *e);
/* Same, from a kind and a message. */
int sb_lua_fail_msg(lua_State *L, sinch_batch_error_kind kind, const char *msg);

/* Builder userdata accessor (src/lua/builder.c). */
sinch_batch_builder *sb_lua_check_builder(lua_State *L, int idx);

/* Call / Client userdata accessors (src/lua/client.c), for multi.c. */
sinch_batch_call *sb_lua_check_call(lua_State *L, int idx);
const sinch_batch_curl_opts *sb_lua_client_curl_opts(lua_State *L, int idx);

/* Module parts. Each is called with the module table on top of the stack. */
void sb_lua_open_errors(lua_State *L);  /* util.c: core.set_error_mt */
void sb_lua_open_client(lua_State *L);  /* client.c: core.client, Client, Call */
void sb_lua_open_builder(lua_State *L); /* builder.c: core.builder, Builder */
void sb_lua_open_webhook(lua_State *L); /* webhook.c: core.webhook_sign/_check */
void sb_lua_open_csv(lua_State *L);     /* csv.c: core.csv_open, Csv */
void sb_lua_open_rules(lua_State *L);   /* rules.c: MAX_RECIPIENTS, phone_ok, param_names, CHANNELS */
void sb_lua_open_multi(lua_State *L);   /* multi.c: curl.multi (the curl module only) */
void sb_lua_open_journal(lua_State *L); /* journal.c: core.journal_open, digest, file_digest */
void sb_lua_open_signal(lua_State *L);  /* signal.c: watch_signals, signal_flag, now_ms, sleep_ms */

#endif
