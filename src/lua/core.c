/* core.c -- luaopen_sinch_batch_core: opens the module (the table, the
 * version, and each part's functions and types).  The shared helpers live
 * in util.c; the libcurl driver is the separate module sinch.batch.curl
 * (curl.c), loaded by client:call on first use, so this module never links
 * libcurl (OpenResty loads only this one). */
#include "binding.h"

__attribute__((visibility("default"))) int luaopen_sinch_batch_core(lua_State *L) {
    lua_newtable(L);
    lua_pushliteral(L, SINCH_BATCH_VERSION);
    lua_setfield(L, -2, "_VERSION");
    sb_lua_open_errors(L);
    sb_lua_open_client(L);
    sb_lua_open_builder(L);
    sb_lua_open_webhook(L);
    sb_lua_open_csv(L);
    sb_lua_open_rules(L);
    sb_lua_open_journal(L);
    sb_lua_open_signal(L);
    return 1;
}
