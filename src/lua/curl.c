/* curl.c -- luaopen_sinch_batch_curl: the libcurl driver as its own Lua
 * module, so that sinch.batch.core never links libcurl (binding.h).
 *
 *   local curl = require "sinch.batch.curl"   -- client:call does this itself
 *   curl.version                              -- "libcurl/8.x ..."
 *   curl.multi(client_core)                   -- many calls in flight (multi.c)
 *
 * Loading it registers a blocking driver (SB_LUA_DRIVER_KEY) that
 * client:call uses.  The driver (src/curl) calls four core functions; this
 * module does not carry a second copy of the core: those four are defined
 * here and forward to sinch.batch.core's own, found in the registry
 * (SB_LUA_CORE_FNS_KEY), so every call is run by the core that made it.
 */
#include "binding.h"

static const sb_lua_core_fns *core;

int sinch_batch_call_next(sinch_batch_call *call, int64_t now_ms, sinch_batch_action *a) {
    return core->call_next(call, now_ms, a);
}

int sinch_batch_call_feed(sinch_batch_call *call, int64_t now_ms,
                          const sinch_batch_response *r) {
    return core->call_feed(call, now_ms, r);
}

int sinch_batch_call_feed_error(sinch_batch_call *call, int64_t now_ms,
                                sinch_batch_transport_error kind, int sent,
                                const char *message) {
    return core->call_feed_error(call, now_ms, kind, sent, message);
}

const sinch_batch_error *sinch_batch_call_error(const sinch_batch_call *call) {
    return core->call_error(call);
}

/* The binding helpers of multi.c, forwarded the same way. */
sinch_batch_call *sb_lua_check_call(lua_State *L, int idx) { return core->check_call(L, idx); }
const sinch_batch_curl_opts *sb_lua_client_curl_opts(lua_State *L, int idx) {
    return core->client_curl_opts(L, idx);
}
int sb_lua_fail(lua_State *L, const sinch_batch_error *e) { return core->fail(L, e); }
int sb_lua_fail_msg(lua_State *L, sinch_batch_error_kind kind, const char *msg) {
    return core->fail_msg(L, kind, msg);
}
void sb_lua_newclass(lua_State *L, const char *name, const luaL_Reg *methods,
                     const luaL_Reg *metamethods) {
    core->newclass(L, name, methods, metamethods);
}

static void *driver_create(const sinch_batch_curl_opts *opts, sinch_batch_error *err) {
    return sinch_batch_curl_new(opts, err);
}

static void driver_destroy(void *d) { sinch_batch_curl_free(d); }

static void driver_perform(void *d, sinch_batch_call *call, sinch_batch_action *done) {
    sinch_batch_curl_perform(d, call, done);
}

static const sb_lua_driver driver = {SB_LUA_ABI, driver_create, driver_destroy,
                                     driver_perform, sinch_batch_curl_version};

__attribute__((visibility("default"))) int luaopen_sinch_batch_curl(lua_State *L) {
    const sb_lua_core_fns *fns =
        sb_lua_registry_from(L, "sinch.batch.core", SB_LUA_CORE_FNS_KEY);
    if (fns == NULL || fns->abi != SB_LUA_ABI)
        return luaL_error(L, "sinch.batch.curl does not match sinch.batch.core (a stale "
                             "core.so?)");
    core = fns;
    lua_pushlightuserdata(L, (void *)&driver);
    lua_setfield(L, LUA_REGISTRYINDEX, SB_LUA_DRIVER_KEY);
    lua_newtable(L);
    lua_pushliteral(L, SINCH_BATCH_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushstring(L, sinch_batch_curl_version());
    lua_setfield(L, -2, "version");
    sb_lua_open_multi(L);
    return 1;
}
