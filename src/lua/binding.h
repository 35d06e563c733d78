/* binding.h -- shared pieces of the Lua binding (sinch.batch.core).
 *
 * The binding is the only C that includes Lua.  It builds against Lua 5.4
 * and LuaJIT (Lua 5.1 API) from one source; the few 5.1 gaps are filled by
 * the macros below.  Each file registers its functions into the module
 * table with an sb_lua_open_* function called from luaopen_sinch_batch_core.
 */
#ifndef SINCH_BATCH_BINDING_H
#define SINCH_BATCH_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "sinch_batch.h"

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen(L, i)
#endif
/* LuaJIT 2.1 has these 5.2 functions already (and defines luaL_newlibtable);
 * plain Lua 5.1 does not. */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlibtable)
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
void sb_lua_open_client(lua_State *L);  /* client.c: core.client, Client, Call */
void sb_lua_open_builder(lua_State *L); /* builder.c: core.builder, Builder */
void sb_lua_open_webhook(lua_State *L); /* webhook.c: core.webhook_sign/_check */
void sb_lua_open_csv(lua_State *L);     /* csv.c: core.csv_open, Csv */
void sb_lua_open_rules(lua_State *L);   /* rules.c: MAX_RECIPIENTS, phone_ok, param_names, CHANNELS */
void sb_lua_open_multi(lua_State *L);   /* multi.c: core.multi (libcurl multi driver) */
void sb_lua_open_journal(lua_State *L); /* journal.c: core.journal_open, digest, file_digest */
void sb_lua_open_signal(lua_State *L);  /* signal.c: watch_signals, signal_flag, now_ms, sleep_ms */

#endif
