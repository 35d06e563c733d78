/* pq.c -- sinch.batch.pq: the few libpq calls the PostgreSQL receipts store
 * (lua/sinch/batch/store/postgres.lua) needs, as a Lua C module of its own
 * so that nothing else loads libpq.  The schema and the queries live in Lua.
 *
 *   local pq = require "sinch.batch.pq"
 *   local db = assert(pq.open("postgresql://user@127.0.0.1:5432/db" [, connect_timeout_s]))
 *   assert(db:exec("CREATE TABLE IF NOT EXISTS t (a text, b bigint)"))
 *   local rows, changed = assert(db:query("INSERT INTO t VALUES ($1, $2)", "a", 1))
 *   local rows = assert(db:query("SELECT a, b FROM t WHERE b > $1", 0)) -- { {"a", 1}, ... }
 *   db:close()
 *
 * Parameters: a string or nil is sent as text of no stated type (the server
 * infers it from the query), a whole number as int8, another number as
 * float8, a boolean as bool; a string holding a NUL byte is refused (nil,
 * message: PostgreSQL's text cannot hold one, and libpq would cut it).
 * Columns: int2/int4/int8 come back as integers, float4/float8/numeric as
 * numbers, bool as booleans, NULL as nil, anything else as a string.
 * Operational failures (connection, SQL errors) return nil, message; misuse
 * (wrong types, a closed handle) raises.  Messages are libpq's, which never
 * hold the password.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h" /* the Lua 5.1 compatibility macros */

#define PQ_MT "sinch.batch.PQ"
#define MAX_PARAMS 100

/* type OIDs (pg_type.dat) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct {
    PGconn *conn;
} pq_ud;

static pq_ud *check_db(lua_State *L, int i) {
    pq_ud *d = (pq_ud *)luaL_checkudata(L, i, PQ_MT);
    if (d->conn == NULL) luaL_argerror(L, i, "the connection is closed");
    return d;
}

/* libpq's message without its trailing newline */
static int push_error(lua_State *L, const char *what, const char *msg) {
    size_t n = msg ? strlen(msg) : 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
    lua_pushnil(L);
    lua_pushfstring(L, "postgresql: %s: ", what);
    lua_pushlstring(L, msg ? msg : "out of memory", msg ? n : 13);
    lua_concat(L, 2);
    return 2;
}

static void notice_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

static int l_open(lua_State *L) {
    const char *url = luaL_checkstring(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, 10);
    char tbuf[32];
    const char *keys[3], *values[3];
    pq_ud *d;
    luaL_argcheck(L, timeout >= 1 && timeout <= 3600, 2, "connect timeout: 1 to 3600 s");
    snprintf(tbuf, sizeof tbuf, "%d", (int)timeout);
    /* the URL comes last: a connect_timeout in it wins */
    keys[0] = "connect_timeout";
    values[0] = tbuf;
    keys[1] = "dbname";
    values[1] = url;
    keys[2] = NULL;
    values[2] = NULL;
    d = (pq_ud *)lua_newuserdata(L, sizeof *d);
    d->conn = NULL;
    luaL_setmetatable(L, PQ_MT);
    d->conn = PQconnectdbParams(keys, values, 1);
    if (d->conn == NULL) return push_error(L, "connect", NULL);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        push_error(L, "connect", PQerrorMessage(d->conn));
        PQfinish(d->conn);
        d->conn = NULL;
        return 2;
    }
    PQsetNoticeProcessor(d->conn, notice_quiet, NULL);
    return 1;
}

static int l_db_close(lua_State *L) {
    pq_ud *d = (pq_ud *)luaL_checkudata(L, 1, PQ_MT);
    if (d->conn) {
        PQfinish(d->conn);
        d->conn = NULL;
    }
    return 0;
}

static int result_ok(PGresult *r) {
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* a failed result: nil, message pushed (what: the call) and r cleared, 2;
 * 0 (nothing pushed, r kept) when r succeeded */
static int push_failed(lua_State *L, pq_ud *d, PGresult *r, const char *what) {
    if (result_ok(r)) return 0;
    push_error(L, what, r ? PQresultErrorMessage(r) : PQerrorMessage(d->conn));
    PQclear(r);
    return 2;
}

/* a result without rows: true (or nil, message); clears it */
static int push_done(lua_State *L, pq_ud *d, PGresult *r, const char *what) {
    if (push_failed(L, d, r, what)) return 2;
    PQclear(r);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:exec(sql): one or more statements without parameters */
static int l_db_exec(lua_State *L) {
    pq_ud *d = check_db(L, 1);
    const char *sql = luaL_checkstring(L, 2);
    return push_done(L, d, PQexec(d->conn, sql), "exec");
}

static void push_value(lua_State *L, PGresult *r, int row, int col) {
    const char *v;
    if (PQgetisnull(r, row, col)) {
        lua_pushnil(L);
        return;
    }
    v = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        lua_pushinteger(L, (lua_Integer)strtoll(v, NULL, 10));
        break;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        lua_pushnumber(L, (lua_Number)strtod(v, NULL));
        break;
    case OID_BOOL:
        lua_pushboolean(L, v[0] == 't');
        break;
    default:
        lua_pushlstring(L, v, (size_t)PQgetlength(r, row, col));
    }
}

typedef struct {
    int n;
    Oid types[MAX_PARAMS];
    const char *values[MAX_PARAMS];
    char nums[MAX_PARAMS][32];
} params;

/* the arguments from index 3 on, as parameters $1..; 0, or the number of
 * the first string holding a NUL byte (libpq takes C strings: it would be
 * cut there, and PostgreSQL's text cannot hold one anyway) */
static int bind_params(lua_State *L, params *p) {
    int i, n = lua_gettop(L) - 2;
    Oid *types = p->types;
    const char **values = p->values;
    char(*nums)[32] = p->nums;
    luaL_argcheck(L, n <= MAX_PARAMS, MAX_PARAMS + 3, "too many parameters");
    p->n = n;
    for (i = 0; i < n; i++) {
        int idx = i + 3;
        switch (lua_type(L, idx)) {
        case LUA_TNIL:
            types[i] = 0;
            values[i] = NULL;
            break;
        case LUA_TBOOLEAN:
            types[i] = OID_BOOL;
            values[i] = lua_toboolean(L, idx) ? "t" : "f";
            break;
        case LUA_TNUMBER: {
            lua_Number x = lua_tonumber(L, idx);
            /* the cast is defined only inside int64's range (and not NaN) */
            if (x >= -9223372036854775808.0 && x < 9223372036854775808.0 &&
                x == (lua_Number)(long long)x) {
                types[i] = OID_INT8;
                snprintf(nums[i], sizeof nums[i], "%lld", (long long)x);
            } else {
                types[i] = OID_FLOAT8;
                snprintf(nums[i], sizeof nums[i], "%.17g", (double)x);
            }
            values[i] = nums[i];
            break;
        }
        case LUA_TSTRING: {
            size_t len;
            types[i] = 0;
            values[i] = lua_tolstring(L, idx, &len);
            if (strlen(values[i]) != len) return i + 1;
            break;
        }
        default:
            luaL_argerror(L, idx, "expected nil, a boolean, a number or a string");
        }
    }
    return 0;
}

/* a result as rows, changed (or nil, message); clears it */
static int push_result(lua_State *L, pq_ud *d, PGresult *r) {
    int row, col, nrows, ncols;
    if (push_failed(L, d, r, "query")) return 2;
    nrows = PQntuples(r);
    ncols = PQnfields(r);
    lua_createtable(L, nrows, 0);
    for (row = 0; row < nrows; row++) {
        lua_createtable(L, ncols, 0);
        for (col = 0; col < ncols; col++) {
            push_value(L, r, row, col);
            lua_rawseti(L, -2, col + 1);
        }
        lua_rawseti(L, -2, row + 1);
    }
    {
        const char *t = PQcmdTuples(r);
        lua_pushinteger(L, (lua_Integer)(t && *t ? strtoll(t, NULL, 10) : 0));
    }
    PQclear(r);
    return 2;
}

/* db:query, db:send, db:run, db:send_prepared: argument 2 is the SQL (or,
 * prepared, the name of a prepared statement), $1.. the arguments after it.
 * Waiting: rows, changed (or nil, message); sending: true (its result to
 * come: db:ready, db:result) or nil, message. */
static int exec_params(lua_State *L, int prepared, int wait) {
    pq_ud *d = check_db(L, 1);
    const char *what = luaL_checkstring(L, 2);
    params p;
    int nul = bind_params(L, &p);
    if (nul) {
        char msg[64];
        snprintf(msg, sizeof msg, "parameter $%d holds a NUL byte", nul);
        return push_error(L, wait ? "query" : "send", msg);
    }
    if (wait)
        return push_result(L, d, prepared
                                     ? PQexecPrepared(d->conn, what, p.n, p.values, NULL, NULL, 0)
                                     : PQexecParams(d->conn, what, p.n, p.types, p.values, NULL,
                                                    NULL, 0));
    if (!(prepared ? PQsendQueryPrepared(d->conn, what, p.n, p.values, NULL, NULL, 0)
                   : PQsendQueryParams(d->conn, what, p.n, p.types, p.values, NULL, NULL, 0)))
        return push_error(L, "send", PQerrorMessage(d->conn));
    lua_pushboolean(L, 1);
    return 1;
}

/* db:query(sql, ...): $1.. from the arguments; rows, changed */
static int l_db_query(lua_State *L) { return exec_params(L, 0, 1); }

/* db:send(sql, ...): the query sent, its result to come (db:ready, db:result) */
static int l_db_send(lua_State *L) { return exec_params(L, 0, 0); }

/* db:prepare(name, sql): a statement the server parses and plans once */
static int l_db_prepare(lua_State *L) {
    pq_ud *d = check_db(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *sql = luaL_checkstring(L, 3);
    return push_done(L, d, PQprepare(d->conn, name, sql, 0, NULL), "prepare");
}

/* db:run(name, ...): a prepared statement, as db:query */
static int l_db_run(lua_State *L) { return exec_params(L, 1, 1); }

/* db:send_prepared(name, ...): a prepared statement, as db:send */
static int l_db_send_prepared(lua_State *L) { return exec_params(L, 1, 0); }

/* db:fd(): the connection's socket, for select/poll */
static int l_db_fd(lua_State *L) {
    lua_pushinteger(L, PQsocket(check_db(L, 1)->conn));
    return 1;
}

/* db:ready(): reads what arrived; true once the result is complete */
static int l_db_ready(lua_State *L) {
    pq_ud *d = check_db(L, 1);
    if (!PQconsumeInput(d->conn)) return push_error(L, "receive", PQerrorMessage(d->conn));
    lua_pushboolean(L, !PQisBusy(d->conn));
    return 1;
}

/* db:result(): the sent query's rows, changed (or nil, message); waits for
 * it when it is not complete yet */
static int l_db_result(lua_State *L) {
    pq_ud *d = check_db(L, 1);
    PGresult *r = PQgetResult(d->conn), *extra;
    while ((extra = PQgetResult(d->conn)) != NULL) PQclear(extra); /* to the end */
    if (r == NULL) return push_error(L, "result", "no query was sent");
    return push_result(L, d, r);
}

static int l_db_tostring(lua_State *L) {
    pq_ud *d = (pq_ud *)luaL_checkudata(L, 1, PQ_MT);
    lua_pushfstring(L, "sinch.batch.PQ (%s)", d->conn ? "open" : "closed");
    return 1;
}

static const luaL_Reg db_methods[] = {
    {"exec", l_db_exec},
    {"query", l_db_query},
    {"send", l_db_send},
    {"prepare", l_db_prepare},
    {"run", l_db_run},
    {"send_prepared", l_db_send_prepared},
    {"fd", l_db_fd},
    {"ready", l_db_ready},
    {"result", l_db_result},
    {"close", l_db_close},
    {NULL, NULL},
};
static const luaL_Reg db_meta[] = {
    {"__gc", l_db_close},
    {"__close", l_db_close},
    {"__tostring", l_db_tostring},
    {NULL, NULL},
};
static const luaL_Reg funcs[] = {
    {"open", l_open},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_sinch_batch_pq(lua_State *L) {
    luaL_newmetatable(L, PQ_MT);
    luaL_setfuncs(L, db_meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, db_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    {
        char v[16];
        int lv = PQlibVersion();
        snprintf(v, sizeof v, "%d.%d", lv / 10000, lv % 100);
        lua_pushstring(L, v);
        lua_setfield(L, -2, "libpq_version");
    }
    return 1;
}
