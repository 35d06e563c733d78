/* body.c -- the Body type: a closed batch body taken from a Builder without
 * a copy, for a send that may outlive the builder's next batch (a campaign
 * builds chunk k+1 while chunk k is in flight, and may resend chunk k).
 *
 *   b:take() -> Body | nil, err   the builder is reset for the next batch
 *   client:start("send", body) / client:call("send", body)   read in place
 *   #body, body:len()             bytes;  body:string() -> the JSON text
 *   body:free()                   idempotent; after the sends reading it end
 *
 * A call that reads a Body holds it (the Call's user value) and counts
 * itself in `busy`, so body:free() during a send frees it when the last
 * such call closes; the collector frees a Body nobody holds.  The bytes are
 * reported to the collector like a builder's (builder_plan.c).
 */
#include <stdlib.h>

#include "builder.h"

#define SB_BODY_MT "sinch.batch.Body"

static sb_body *check_body(lua_State *L, int i) {
    return luaL_checkudata(L, i, SB_BODY_MT);
}

static void release(lua_State *L, sb_body *o) {
    if (o->data == NULL) return;
    free(o->data);
    o->data = NULL;
    if (L) sb_lua_external(L, 0, o->len);
}

sb_body *sb_lua_test_body(lua_State *L, int i) {
    return luaL_testudata(L, i, SB_BODY_MT);
}

void sb_lua_body_hold(sb_body *o) { o->busy++; }

void sb_lua_body_drop(sb_body *o) {
    if (--o->busy == 0 && o->free_pending) release(NULL, o);
}

/* b:take() -> Body | nil, err */
int sb_lbuilder_take(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    sb_body *o = lua_newuserdata(L, sizeof *o);
    o->data = NULL;
    o->len = 0;
    o->busy = o->free_pending = 0;
    luaL_setmetatable(L, SB_BODY_MT);
    if ((o->data = sinch_batch_builder_take(u->b, &o->len)) == NULL)
        return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    sb_lua_external(L, o->len, 0); /* (the builder's own size did not change) */
    return 1;
}

static int l_body_len(lua_State *L) {
    sb_body *o = check_body(L, 1);
    lua_pushinteger(L, (lua_Integer)(o->data ? o->len : 0));
    return 1;
}

static int l_body_string(lua_State *L) {
    sb_body *o = check_body(L, 1);
    if (o->data == NULL) return luaL_error(L, "attempt to use a freed Body");
    lua_pushlstring(L, o->data, o->len);
    return 1;
}

static int l_body_free(lua_State *L) {
    sb_body *o = check_body(L, 1);
    if (o->busy > 0) o->free_pending = 1;
    else release(L, o);
    return 0;
}

static int l_body_gc(lua_State *L) {
    release(L, check_body(L, 1)); /* no call holds it any more */
    return 0;
}

static int l_body_tostring(lua_State *L) {
    sb_body *o = check_body(L, 1);
    if (o->data == NULL) lua_pushliteral(L, "sinch.batch.Body (freed)");
    else lua_pushfstring(L, "sinch.batch.Body (%d bytes)", (int)o->len);
    return 1;
}

static const luaL_Reg methods[] = {
    {"len", l_body_len},
    {"string", l_body_string},
    {"free", l_body_free},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__len", l_body_len},
    {"__gc", l_body_gc},
    {"__tostring", l_body_tostring},
    {NULL, NULL},
};

void sb_lua_open_body(lua_State *L) {
    sb_lua_newclass(L, SB_BODY_MT, methods, metamethods);
}
