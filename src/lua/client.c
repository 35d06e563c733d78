/* client.c -- the Client and Call types of sinch.batch.core.
 *
 * core.client(opts) wraps a sinch_batch_client (the sans-I/O core) and, for
 * blocking use, a libcurl driver created on first use: client:call loads
 * the module sinch.batch.curl then (binding.h), so this module never links
 * libcurl and OpenResty, which only uses client:start, never loads it.
 *   client:call(op, body|builder|nil, a, b)  blocking: status, body, attempts
 *   client:start(op, body|builder|nil, a, b, now_ms) -> Call (sans-I/O)
 *   call:next(now_ms) / call:feed(now_ms, status, headers, body) /
 *   call:feed_error(now_ms, kind, sent, message)
 * The Lua facade (sinch/batch/init.lua) checks option names and policy; this
 * file checks C types only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder.h"

#if LUA_VERSION_NUM < 502
#define lua_setuservalue(L, i) lua_setfenv(L, i)
#define lua_getuservalue(L, i) lua_getfenv(L, i)
#endif

#if defined(__has_include)
#if __has_include(<luajit.h>)
#include <luajit.h>
#endif
#endif
#ifdef LUAJIT_VERSION
#define SB_LUA_NAME LUAJIT_VERSION
#else
#define SB_LUA_NAME LUA_VERSION
#endif

#define MAX_HEADERS 64

typedef struct sb_client {
    sinch_batch_client *core;
    void *driver;                /* made by driver_fns->create, on first call */
    const sb_lua_driver *driver_fns;
    sinch_batch_curl_opts copts;
    char *ca_file;
    int live_calls; /* Calls holding core; the core is freed after the last */
    int closed;
} sb_client;

typedef struct sb_call {
    sinch_batch_call *call;
    sb_client *owner;
    sb_body *body; /* the Body it reads, if any (held until close) */
} sb_call;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A time in ms since the epoch at stack index i (wall_ms() when absent
 * and optional): a finite number from 0 to 2^53, else an argument error
 * (casting NaN or 1e300 to an integer is undefined). */
static int64_t time_arg(lua_State *L, int i, int optional) {
    lua_Number n;
    if (optional && lua_isnoneornil(L, i)) return wall_ms();
    n = luaL_checknumber(L, i);
    luaL_argcheck(L, n >= 0 && n <= 9007199254740992.0, i,
                  "a time in ms from 0 to 2^53 (not NaN or inf)");
    return (int64_t)n;
}

static sb_client *check_client(lua_State *L, int i) {
    sb_client *c = luaL_checkudata(L, i, SB_CLIENT_MT);
    if (c->closed) luaL_error(L, "attempt to use a closed client");
    return c;
}

static sb_call *check_call(lua_State *L, int i) {
    sb_call *k = luaL_checkudata(L, i, SB_CALL_MT);
    if (k->call == NULL) luaL_error(L, "attempt to use a finished call");
    return k;
}

/* ---------------------------------------------------------- options */

/* The options of core.client{…}: every name, its type, its range and the
 * binding's own defaults, written once here (the core's defaults come from
 * sinch_batch_config_init).  A wrong value is a luaL_argerror on argument
 * #1 naming the option: "bad argument #1 to 'client' (opts.timeout_ms:
 * must be a number from 0 to 604800000)". */
enum opt_type { OPT_STRING, OPT_BOOL, OPT_NUMBER };
typedef struct client_opt {
    const char *name;
    enum opt_type type;
    double max;   /* OPT_NUMBER: the value is an integer in [0, max] */
    double dflt;  /* the binding's default (OPT_BOOL, OPT_NUMBER); -1: the core's */
} client_opt;

#define MAX_MS ((double)SINCH_BATCH_MAX_DURATION_MS)
enum {
    O_PROJECT_ID, O_REGION, O_BASE_URL, O_AUTH_URL, O_KEY_ID, O_KEY_SECRET, O_TOKEN,
    O_USER_AGENT, O_CA_FILE, O_MAX_ATTEMPTS, O_TIMEOUT_MS, O_DEADLINE_MS, O_BACKOFF_BASE_MS,
    O_BACKOFF_MAX_MS, O_REFRESH_AHEAD_MS, O_SEED, O_CONNECT_TIMEOUT_MS, O_INSECURE, O_HTTP2,
    O_COUNT
};
static const client_opt CLIENT_OPTS[O_COUNT] = {
    [O_PROJECT_ID] = {"project_id", OPT_STRING, 0, 0},
    [O_REGION] = {"region", OPT_STRING, 0, 0},
    [O_BASE_URL] = {"base_url", OPT_STRING, 0, 0},
    [O_AUTH_URL] = {"auth_url", OPT_STRING, 0, 0},
    [O_KEY_ID] = {"key_id", OPT_STRING, 0, 0},
    [O_KEY_SECRET] = {"key_secret", OPT_STRING, 0, 0},
    [O_TOKEN] = {"token", OPT_STRING, 0, 0},
    [O_USER_AGENT] = {"user_agent", OPT_STRING, 0, 0},
    [O_CA_FILE] = {"ca_file", OPT_STRING, 0, 0},
    [O_MAX_ATTEMPTS] = {"max_attempts", OPT_NUMBER, 1000, -1},
    [O_TIMEOUT_MS] = {"timeout_ms", OPT_NUMBER, MAX_MS, -1},
    [O_DEADLINE_MS] = {"deadline_ms", OPT_NUMBER, MAX_MS, -1},
    [O_BACKOFF_BASE_MS] = {"backoff_base_ms", OPT_NUMBER, MAX_MS, -1},
    [O_BACKOFF_MAX_MS] = {"backoff_max_ms", OPT_NUMBER, MAX_MS, -1},
    [O_REFRESH_AHEAD_MS] = {"refresh_ahead_ms", OPT_NUMBER, MAX_MS, -1},
    [O_SEED] = {"seed", OPT_NUMBER, 9007199254740991.0, 0}, /* 2^53 - 1; 0: seeded by the core */
    [O_CONNECT_TIMEOUT_MS] = {"connect_timeout_ms", OPT_NUMBER, MAX_MS, 10000},
    [O_INSECURE] = {"insecure", OPT_BOOL, 0, 0}, /* TLS verification stays on */
    [O_HTTP2] = {"http2", OPT_BOOL, 0, 1},
};

/* Pushes opts[o.name] (argument 1) and checks its type: 1 when it is
 * given, 0 (nothing pushed) when it is nil. */
static int opt_get(lua_State *L, const client_opt *o) {
    static const int want[] = {[OPT_STRING] = LUA_TSTRING, [OPT_BOOL] = LUA_TBOOLEAN,
                               [OPT_NUMBER] = LUA_TNUMBER};
    lua_getfield(L, 1, o->name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_type(L, -1) != want[o->type])
        luaL_argerror(L, 1, lua_pushfstring(L, "opts.%s: expected a %s, got %s", o->name,
                                            lua_typename(L, want[o->type]), luaL_typename(L, -1)));
    return 1;
}

/* A string option, or NULL when absent (it stays referenced by opts). */
static const char *opt_string(lua_State *L, int i) {
    const char *s = NULL;
    if (opt_get(L, &CLIENT_OPTS[i])) {
        s = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return s;
}

/* A number option in [0, max] (NaN, math.huge, 1e300 and negatives are
 * misuse: casting them to an integer would be undefined), or dflt when
 * absent (the table's default, else the core's core_dflt). */
static double opt_number(lua_State *L, int i, double core_dflt) {
    const client_opt *o = &CLIENT_OPTS[i];
    double v = o->dflt >= 0 ? o->dflt : core_dflt;
    if (opt_get(L, o)) {
        lua_Number n = lua_tonumber(L, -1);
        if (!(n >= 0 && n <= o->max)) { /* false for NaN too */
            char max[32];
            snprintf(max, sizeof max, "%.0f", o->max);
            luaL_argerror(L, 1, lua_pushfstring(L, "opts.%s: must be a number from 0 to %s",
                                                o->name, max));
        }
        v = (double)n;
        lua_pop(L, 1);
    }
    return v;
}

/* A boolean option: only true and false (nil: the default), so that
 * insecure = "false" does not turn verification off. */
static int opt_bool(lua_State *L, int i) {
    int v = CLIENT_OPTS[i].dflt != 0;
    if (opt_get(L, &CLIENT_OPTS[i])) {
        v = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return v;
}

static void close_client(sb_client *c) {
    if (c->driver) c->driver_fns->destroy(c->driver);
    c->driver = NULL;
    free(c->ca_file);
    c->ca_file = NULL;
    c->closed = 1;
    if (c->core && c->live_calls == 0) {
        sinch_batch_client_free(c->core);
        c->core = NULL;
    }
}

/* core.client(opts) */
static int l_client_new(lua_State *L) {
    sinch_batch_config cfg;
    sinch_batch_error err;
    const char *ca, *s;
    char ua[256];
    sb_client *c;
    luaL_checktype(L, 1, LUA_TTABLE);
    c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, SB_CLIENT_MT);

    sinch_batch_config_init(&cfg);
    cfg.project_id = opt_string(L, O_PROJECT_ID);
    if ((s = opt_string(L, O_REGION)) != NULL) cfg.region = s;
    cfg.base_url = opt_string(L, O_BASE_URL);
    if ((s = opt_string(L, O_AUTH_URL)) != NULL) cfg.auth_url = s;
    cfg.key_id = opt_string(L, O_KEY_ID);
    cfg.key_secret = opt_string(L, O_KEY_SECRET);
    cfg.token = opt_string(L, O_TOKEN);
    /* the driver's version when it is loaded (the Lua facade loads it
     * before making a client that will use it; never under OpenResty) */
    lua_getfield(L, LUA_REGISTRYINDEX, SB_LUA_DRIVER_KEY);
    {
        const sb_lua_driver *d = lua_touserdata(L, -1);
        if (d != NULL && d->abi == SB_LUA_ABI)
            snprintf(ua, sizeof ua, "sinch-batch/%s (%s; %s)", SINCH_BATCH_VERSION, SB_LUA_NAME,
                     d->version());
        else
            snprintf(ua, sizeof ua, "sinch-batch/%s (%s)", SINCH_BATCH_VERSION, SB_LUA_NAME);
    }
    lua_pop(L, 1);
    cfg.user_agent = (s = opt_string(L, O_USER_AGENT)) != NULL ? s : ua;
    cfg.max_attempts = (int)opt_number(L, O_MAX_ATTEMPTS, cfg.max_attempts);
    cfg.timeout_ms = (long)opt_number(L, O_TIMEOUT_MS, (double)cfg.timeout_ms);
    cfg.deadline_ms = (long)opt_number(L, O_DEADLINE_MS, (double)cfg.deadline_ms);
    cfg.backoff_base_ms = (long)opt_number(L, O_BACKOFF_BASE_MS, (double)cfg.backoff_base_ms);
    cfg.backoff_max_ms = (long)opt_number(L, O_BACKOFF_MAX_MS, (double)cfg.backoff_max_ms);
    cfg.refresh_ahead_ms = (long)opt_number(L, O_REFRESH_AHEAD_MS, (double)cfg.refresh_ahead_ms);
    cfg.seed = (uint64_t)opt_number(L, O_SEED, 0);
    c->copts.connect_timeout_ms = (long)opt_number(L, O_CONNECT_TIMEOUT_MS, 0);
    c->copts.insecure = opt_bool(L, O_INSECURE);
    c->copts.http2 = opt_bool(L, O_HTTP2) ? 1 : -1;
    ca = opt_string(L, O_CA_FILE);
    if (ca && (c->ca_file = strdup(ca)) == NULL) return luaL_error(L, "out of memory");
    c->copts.ca_file = c->ca_file;

    c->core = sinch_batch_client_new(&cfg, &err);
    if (c->core == NULL) {
        close_client(c);
        return sb_lua_fail(L, &err);
    }
    return 1;
}

static int l_client_close(lua_State *L) {
    sb_client *c = luaL_checkudata(L, 1, SB_CLIENT_MT);
    if (!c->closed) close_client(c);
    return 0;
}

static int l_client_tostring(lua_State *L) {
    sb_client *c = luaL_checkudata(L, 1, SB_CLIENT_MT);
    if (c->core == NULL || c->closed)
        lua_pushliteral(L, "sinch.batch.Client (closed)");
    else
        lua_pushfstring(L, "sinch.batch.Client (%s, project %s)",
                        sinch_batch_client_region(c->core),
                        sinch_batch_client_project_id(c->core));
    return 1;
}

/* client:info() -> base_url, project_id, region */
static int l_client_info(lua_State *L) {
    sb_client *c = check_client(L, 1);
    lua_pushstring(L, sinch_batch_client_base_url(c->core));
    lua_pushstring(L, sinch_batch_client_project_id(c->core));
    lua_pushstring(L, sinch_batch_client_region(c->core));
    return 3;
}

/* client:token(now_ms) -> token, expires_at_ms | nil */
static int l_client_token(lua_State *L) {
    sb_client *c = check_client(L, 1);
    int64_t exp = 0;
    char buf[8192];
    int n = sinch_batch_client_get_token(c->core, time_arg(L, 2, 1),
                                         buf, sizeof buf, &exp);
    if (n <= 0) return 0;
    lua_pushlstring(L, buf, (size_t)n);
    lua_pushnumber(L, (lua_Number)exp);
    return 2;
}

/* client:token_key() -> 64 hex digits naming base_url, auth_url, project_id,
 * key_id and key_secret (never revealing them) | nil for a static token */
static int l_client_token_key(lua_State *L) {
    sb_client *c = check_client(L, 1);
    char key[SINCH_BATCH_TOKEN_KEY_LEN + 1];
    int n = sinch_batch_client_token_key(c->core, key, sizeof key);
    if (n < 0) return luaL_error(L, "token_key: the SHA-256 digest failed");
    if (n == 0) return 0;
    lua_pushlstring(L, key, (size_t)n);
    return 1;
}

/* client:set_token(token, expires_at_ms) */
static int l_client_set_token(lua_State *L) {
    sb_client *c = check_client(L, 1);
    const char *tok = luaL_checkstring(L, 2);
    int rc = sinch_batch_client_set_token(c->core, tok, time_arg(L, 3, 0));
    if (rc == SINCH_BATCH_ENOMEM) return luaL_error(L, "out of memory");
    if (rc != 0)
        return luaL_argerror(L, 2, "token: a non-empty string of printable ASCII (no control "
                                   "characters: it goes into a header)");
    return 0;
}

/* --------------------------------------------------------------- calls */

static const char *const op_names[] = {"send", "cancel", "status", "find", "create_contacts",
                                       "delete_contacts", "insert_consents", NULL};

/* Pushes a Call userdata for (op, body, a, b) at stack index 2..5 of the
 * caller; returns it or pushes nil, err and returns NULL. */
static sb_call *start_call(lua_State *L, sb_client *c, int64_t now) {
    sinch_batch_request req;
    sinch_batch_error err;
    sinch_batch_builder *b = NULL;
    sb_body *body = NULL;
    sb_call *k;
    memset(&req, 0, sizeof req);
    req.op = (sinch_batch_op)(luaL_checkoption(L, 2, NULL, op_names) + SINCH_BATCH_OP_SEND);
    if ((body = sb_lua_test_body(L, 3)) != NULL) {
        if (body->data == NULL) luaL_argerror(L, 3, "the Body was freed");
        req.body = body->data;
        req.body_len = body->len;
    } else if (lua_isuserdata(L, 3)) {
        b = sb_lua_check_builder(L, 3);
        if (req.op != SINCH_BATCH_OP_SEND) luaL_argerror(L, 3, "a builder can only be sent");
    } else {
        req.body = luaL_optlstring(L, 3, NULL, &req.body_len);
    }
    if (req.op == SINCH_BATCH_OP_STATUS) req.batch_id = luaL_checkstring(L, 4);
    if (req.op == SINCH_BATCH_OP_FIND) {
        req.metadata_key = luaL_checkstring(L, 4);
        req.metadata_value = luaL_checkstring(L, 5);
    }
    k = lua_newuserdata(L, sizeof *k);
    k->call = NULL;
    k->owner = NULL;
    k->body = NULL;
    luaL_setmetatable(L, SB_CALL_MT);
    lua_createtable(L, 2, 0); /* keep the client alive while the call is, */
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    if (req.body) { /* and the body (string or Body), which the call reads in place */
        lua_pushvalue(L, 3);
        lua_rawseti(L, -2, 2);
    }
    lua_setuservalue(L, -2);
    k->call = b ? sinch_batch_send(c->core, b, now, &err)
                : sinch_batch_call_new_ref(c->core, &req, now, &err);
    if (k->call == NULL) {
        sb_lua_fail(L, &err);
        return NULL;
    }
    k->owner = c;
    c->live_calls++;
    if (body) {
        k->body = body;
        sb_lua_body_hold(body);
    }
    return k;
}

static void close_call(sb_call *k) {
    if (k->call) sinch_batch_call_free(k->call);
    k->call = NULL;
    if (k->body) {
        sb_lua_body_drop(k->body);
        k->body = NULL;
    }
    if (k->owner) {
        sb_client *c = k->owner;
        k->owner = NULL;
        if (--c->live_calls == 0 && c->closed && c->core) {
            sinch_batch_client_free(c->core);
            c->core = NULL;
        }
    }
}

/* Pushes the DONE action: status, body, attempts | nil, err. */
static int push_done(lua_State *L, const sinch_batch_action *a) {
    if (a->error) return sb_lua_fail(L, a->error);
    lua_pushinteger(L, a->status);
    lua_pushlstring(L, a->response ? a->response : "", a->response_len);
    lua_pushinteger(L, a->attempts);
    return 3;
}

/* The blocking driver: sinch.batch.curl, required on first use. */
static const sb_lua_driver *get_driver(lua_State *L) {
    const sb_lua_driver *d = sb_lua_registry_from(L, "sinch.batch.curl", SB_LUA_DRIVER_KEY);
    if (d == NULL || d->abi != SB_LUA_ABI)
        luaL_error(L, "sinch.batch.curl does not match sinch.batch.core (a stale curl.so?)");
    return d;
}

/* client:call(op, body, a, b) -- blocking, with libcurl */
static int l_client_call(lua_State *L) {
    sb_client *c = check_client(L, 1);
    sinch_batch_action done;
    sinch_batch_error err;
    sb_call *k;
    lua_settop(L, 5);
    if (c->driver == NULL) {
        c->driver_fns = get_driver(L);
        if ((c->driver = c->driver_fns->create(&c->copts, &err)) == NULL)
            return sb_lua_fail(L, &err);
    }
    if ((k = start_call(L, c, wall_ms())) == NULL) return 2;
    c->driver_fns->perform(c->driver, k->call, &done);
    {
        /* done's strings belong to k->call, which stays on the stack (and
         * so alive) until the results are pushed */
        int n = push_done(L, &done);
        close_call(k);
        return n;
    }
}

/* client:start(op, body, a, b, now_ms) -> Call | nil, err */
static int l_client_start(lua_State *L) {
    sb_client *c = check_client(L, 1);
    int64_t now = time_arg(L, 6, 1);
    lua_settop(L, 5);
    return start_call(L, c, now) ? 1 : 2;
}

static const char *const action_names[] = {"", "perform", "wait", "done"};

/* call:next(now_ms) -> "perform", req | "wait", ms | "done", status, body, attempts
 *                     | "done", nil, err */
static int l_call_next(lua_State *L) {
    sb_call *k = check_call(L, 1);
    sinch_batch_action a;
    size_t i;
    if (sinch_batch_call_next(k->call, time_arg(L, 2, 0), &a) != 0)
        return sb_lua_fail(L, sinch_batch_call_error(k->call));
    lua_pushstring(L, action_names[a.kind]);
    switch (a.kind) {
    case SINCH_BATCH_PERFORM:
        lua_createtable(L, 0, 6);
        lua_pushstring(L, a.method);
        lua_setfield(L, -2, "method");
        lua_pushstring(L, a.url);
        lua_setfield(L, -2, "url");
        lua_createtable(L, 0, (int)a.n_headers);
        for (i = 0; i < a.n_headers; i++) {
            lua_pushstring(L, a.headers[i].value);
            lua_setfield(L, -2, a.headers[i].name);
        }
        lua_setfield(L, -2, "headers");
        if (a.body) {
            lua_pushlstring(L, a.body, a.body_len);
            lua_setfield(L, -2, "body");
        }
        lua_pushinteger(L, a.timeout_ms);
        lua_setfield(L, -2, "timeout_ms");
        lua_pushboolean(L, a.is_token_request);
        lua_setfield(L, -2, "token_request");
        return 2;
    case SINCH_BATCH_WAIT:
        lua_pushinteger(L, a.wait_ms);
        return 2;
    default:
        return 1 + push_done(L, &a);
    }
}

/* call:feed(now_ms, status, headers, body) -> true | nil, err */
static int l_call_feed(lua_State *L) {
    sb_call *k = check_call(L, 1);
    sinch_batch_header h[MAX_HEADERS];
    sinch_batch_response r;
    memset(&r, 0, sizeof r);
    r.status = (int)luaL_checkinteger(L, 3);
    r.body = luaL_optlstring(L, 5, "", &r.body_len);
    r.headers = h;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 4) != 0 && r.n_headers < MAX_HEADERS) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                if (lua_istable(L, -1)) lua_rawgeti(L, -1, 1); /* repeated: first */
                else lua_pushvalue(L, -1);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    h[r.n_headers].name = lua_tostring(L, -3);
                    h[r.n_headers].value = lua_tostring(L, -1); /* anchored in the table */
                    r.n_headers++;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    if (sinch_batch_call_feed(k->call, time_arg(L, 2, 0), &r) != 0)
        return sb_lua_fail(L, sinch_batch_call_error(k->call));
    lua_pushboolean(L, 1);
    return 1;
}

static const char *const te_names[] = {"connect", "tls", "timeout", "io", NULL};

/* call:feed_error(now_ms, kind, sent, message) -> true | nil, err */
static int l_call_feed_error(lua_State *L) {
    sb_call *k = check_call(L, 1);
    int te = luaL_checkoption(L, 3, NULL, te_names) + SINCH_BATCH_TE_CONNECT;
    if (sinch_batch_call_feed_error(k->call, time_arg(L, 2, 0),
                                    (sinch_batch_transport_error)te, lua_toboolean(L, 4),
                                    luaL_optstring(L, 5, "transport error")) != 0)
        return sb_lua_fail(L, sinch_batch_call_error(k->call));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_call_close(lua_State *L) {
    close_call(luaL_checkudata(L, 1, SB_CALL_MT));
    return 0;
}

/* For the multi binding (multi.c): the call of a Call userdata and the
 * libcurl options of a Client userdata. */
sinch_batch_call *sb_lua_check_call(lua_State *L, int idx) { return check_call(L, idx)->call; }
const sinch_batch_curl_opts *sb_lua_client_curl_opts(lua_State *L, int idx) {
    return &check_client(L, idx)->copts;
}

static const luaL_Reg client_methods[] = {
    {"call", l_client_call},   {"start", l_client_start},         {"info", l_client_info},
    {"token", l_client_token}, {"set_token", l_client_set_token},
    {"token_key", l_client_token_key}, {"close", l_client_close},
    {NULL, NULL},
};
static const luaL_Reg client_meta[] = {
    {"__gc", l_client_close},
    {"__close", l_client_close},
    {"__tostring", l_client_tostring},
    {NULL, NULL},
};
static const luaL_Reg call_methods[] = {
    {"next", l_call_next},
    {"feed", l_call_feed},
    {"feed_error", l_call_feed_error},
    {"close", l_call_close},
    {NULL, NULL},
};
static const luaL_Reg call_meta[] = {
    {"__gc", l_call_close},
    {"__close", l_call_close},
    {NULL, NULL},
};

static const sb_lua_core_fns core_fns = {
    SB_LUA_ABI,         sinch_batch_call_next,   sinch_batch_call_feed,
    sinch_batch_call_feed_error, sinch_batch_call_error, sb_lua_check_call,
    sb_lua_client_curl_opts,     sb_lua_fail,            sb_lua_fail_msg,
    sb_lua_newclass,
};

void sb_lua_open_client(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&core_fns);
    lua_setfield(L, LUA_REGISTRYINDEX, SB_LUA_CORE_FNS_KEY);
    sb_lua_newclass(L, SB_CLIENT_MT, client_methods, client_meta);
    sb_lua_newclass(L, SB_CALL_MT, call_methods, call_meta);
    lua_pushcfunction(L, l_client_new);
    lua_setfield(L, -2, "client");
    /* core.CLIENT_OPTIONS: { name = "string" | "boolean" | "number" }, from
     * the table above, so that the Lua client's option list is this one */
    {
        static const char *const names[] = {[OPT_STRING] = "string", [OPT_BOOL] = "boolean",
                                            [OPT_NUMBER] = "number"};
        int i;
        lua_createtable(L, 0, O_COUNT);
        for (i = 0; i < O_COUNT; i++) {
            lua_pushstring(L, names[CLIENT_OPTS[i].type]);
            lua_setfield(L, -2, CLIENT_OPTS[i].name);
        }
        lua_setfield(L, -2, "CLIENT_OPTIONS");
    }
}
