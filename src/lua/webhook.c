/* webhook.c -- core.webhook_sign, core.webhook_check, core.text_ok and
 * core.receipt.
 *
 * Only the HMAC runs here; header lookup, secret rotation, the timestamp
 * window and replay checks are policy and live in sinch/batch/webhook.lua.
 */
#include <string.h>

#include "binding.h"
#include "json.h" /* sb_json_utf8_check */

/* The core signs nonce and timestamp as C strings.  A Lua string with a NUL
 * inside would be signed only up to it, so "N\0x" would verify with the
 * signature of "N" while a replay store sees a new nonce: refuse it. */
static int has_nul(const char *s, size_t len) { return strlen(s) != len; }

/* core.webhook_sign(secret, body, nonce, timestamp) -> base64 signature */
static int l_webhook_sign(lua_State *L) {
    size_t secret_len, body_len, nonce_len, ts_len;
    const char *secret = luaL_checklstring(L, 1, &secret_len);
    const char *body = luaL_checklstring(L, 2, &body_len);
    const char *nonce = luaL_checklstring(L, 3, &nonce_len);
    const char *timestamp = luaL_checklstring(L, 4, &ts_len);
    char sig[SINCH_BATCH_SIGNATURE_LEN + 1];
    if (secret_len == 0)
        return luaL_argerror(L, 1, "secret: must not be empty (anyone can sign with it)");
    if (has_nul(nonce, nonce_len)) return luaL_argerror(L, 3, "nonce: contains a NUL byte");
    if (has_nul(timestamp, ts_len))
        return luaL_argerror(L, 4, "timestamp: contains a NUL byte");
    if (sinch_batch_webhook_sign(secret, secret_len, body, body_len, nonce, timestamp, sig) !=
        SINCH_BATCH_OK)
        return luaL_error(L, "webhook_sign: HMAC-SHA256 is not available");
    lua_pushlstring(L, sig, SINCH_BATCH_SIGNATURE_LEN);
    return 1;
}

/* core.webhook_check(secret, body, nonce, timestamp, signature) -> boolean;
 * a nonce or timestamp with a NUL inside never matches. */
static int l_webhook_check(lua_State *L) {
    size_t secret_len, body_len, nonce_len, ts_len, sig_len;
    const char *secret = luaL_checklstring(L, 1, &secret_len);
    const char *body = luaL_checklstring(L, 2, &body_len);
    const char *nonce = luaL_checklstring(L, 3, &nonce_len);
    const char *timestamp = luaL_checklstring(L, 4, &ts_len);
    const char *sig = luaL_checklstring(L, 5, &sig_len);
    lua_pushboolean(L, !has_nul(nonce, nonce_len) && !has_nul(timestamp, ts_len) &&
                           sinch_batch_webhook_check(secret, secret_len, body, body_len, nonce,
                                                     timestamp, sig, sig_len));
    return 1;
}

/* core.text_ok(...) -> whether each string among the arguments is valid
 * UTF-8 without a NUL byte (other values are passed over): text a receipts
 * store keeps as it is (sinch.batch.outcomes cleans the rest; a callback's
 * strings are whatever its JSON said).  Every receipt asks it of each of
 * its strings, so it is answered in C, for all of them in one call. */
static int l_text_ok(lua_State *L) {
    int i, n = lua_gettop(L);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s;
        if (lua_type(L, i) != LUA_TSTRING) continue;
        s = lua_tolstring(L, i, &len);
        if (memchr(s, 0, len) != NULL || sb_json_utf8_check(s, len) != len) {
            lua_pushboolean(L, 0);
            return 1;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

static void set_text(lua_State *L, const char *key, sinch_batch_text t) {
    if (t.ptr == NULL) return;
    lua_pushlstring(L, t.ptr, t.len);
    lua_setfield(L, -2, key);
}

/* core.receipt(raw) -> the fields of a plain delivery receipt, as
 * webhook.parse gives them (type, batch_id, message_index, message_id,
 * status, reason = { code, description }, event_time, accepted_time), or
 * nil for any other body (sinch_batch_receipt_scan). */
static int l_receipt(lua_State *L) {
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    sinch_batch_receipt r;
    if (sinch_batch_receipt_scan(body, len, &r) != SINCH_BATCH_OK) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 8);
    lua_pushliteral(L, "message_delivery");
    lua_setfield(L, -2, "type");
    set_text(L, "batch_id", r.batch_id);
    lua_pushinteger(L, (lua_Integer)r.message_index);
    lua_setfield(L, -2, "message_index");
    set_text(L, "message_id", r.message_id);
    set_text(L, "status", r.status);
    if (r.has_reason) {
        lua_createtable(L, 0, 2);
        set_text(L, "code", r.reason_code);
        set_text(L, "description", r.reason_description);
        lua_setfield(L, -2, "reason");
    }
    set_text(L, "event_time", r.event_time);
    set_text(L, "accepted_time", r.accepted_time);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"receipt", l_receipt},
    {"text_ok", l_text_ok},
    {"webhook_sign", l_webhook_sign},
    {"webhook_check", l_webhook_check},
    {NULL, NULL},
};

void sb_lua_open_webhook(lua_State *L) { luaL_setfuncs(L, funcs, 0); }
