/* webhook.c -- core.webhook_sign and core.webhook_check.
 *
 * Only the HMAC runs here; header lookup, secret rotation, the timestamp
 * window and replay checks are policy and live in sinch/batch/webhook.lua.
 */
#include "binding.h"

/* core.webhook_sign(secret, body, nonce, timestamp) -> base64 signature */
static int l_webhook_sign(lua_State *L) {
    size_t secret_len, body_len;
    const char *secret = luaL_checklstring(L, 1, &secret_len);
    const char *body = luaL_checklstring(L, 2, &body_len);
    const char *nonce = luaL_checkstring(L, 3);
    const char *timestamp = luaL_checkstring(L, 4);
    char sig[SINCH_BATCH_SIGNATURE_LEN + 1];
    if (sinch_batch_webhook_sign(secret, secret_len, body, body_len, nonce, timestamp, sig) !=
        SINCH_BATCH_OK)
        return luaL_error(L, "webhook_sign: HMAC-SHA256 is not available");
    lua_pushlstring(L, sig, SINCH_BATCH_SIGNATURE_LEN);
    return 1;
}

/* core.webhook_check(secret, body, nonce, timestamp, signature) -> boolean */
static int l_webhook_check(lua_State *L) {
    size_t secret_len, body_len, sig_len;
    const char *secret = luaL_checklstring(L, 1, &secret_len);
    const char *body = luaL_checklstring(L, 2, &body_len);
    const char *nonce = luaL_checkstring(L, 3);
    const char *timestamp = luaL_checkstring(L, 4);
    const char *sig = luaL_checklstring(L, 5, &sig_len);
    lua_pushboolean(L, sinch_batch_webhook_check(secret, secret_len, body, body_len, nonce,
                                                 timestamp, sig, sig_len));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"webhook_sign", l_webhook_sign},
    {"webhook_check", l_webhook_check},
    {NULL, NULL},
};

void sb_lua_open_webhook(lua_State *L) { luaL_setfuncs(L, funcs, 0); }
