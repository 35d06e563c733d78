/* sqlite.c -- sinch.batch.sqlite: the few SQLite calls the receipts store
 * (lua/sinch/batch/outcomes.lua) needs, as a Lua C module of its own so that
 * nothing else loads libsqlite3.  The schema and the queries live in Lua.
 *
 *   local sqlite = require "sinch.batch.sqlite"
 *   local db = assert(sqlite.open(path [, busy_timeout_ms]))
 *   assert(db:exec("PRAGMA journal_mode=WAL"))
 *   local st = assert(db:prepare("INSERT OR IGNORE INTO t VALUES (?, ?)"))
 *   local changes = assert(st:run("a", 1))     -- bind, step to the end, reset
 *   local rows = assert(st:rows(...))          -- { {col1, col2, ...}, ... }
 *   st:close(); db:close()
 *
 * Operational failures (busy, I/O, SQL errors) return nil, message; misuse
 * (wrong types, a closed handle) raises.
 */
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include "binding.h" /* the Lua 5.1 compatibility macros */

#define DB_MT "sinch.batch.SQLite"
#define STMT_MT "sinch.batch.SQLiteStatement"

typedef struct {
    sqlite3 *db;
    long busy_ms; /* how long a write waits for another connection's */
} db_ud;

/* The busy handler: SQLite's own sleeps 1 to 100 ms between tries, so two
 * receivers group-committing into one file (nginx workers, the plain
 * receiver) would wait milliseconds for a transaction that takes tens of
 * microseconds.  This one tries again every 50 us for the first 20 ms,
 * then every 1 ms, until busy_ms have passed. */
static int busy_wait(void *arg, int tries) {
    const db_ud *d = (const db_ud *)arg;
    long waited_us = tries < 400 ? tries * 50L : 20000L + (tries - 400) * 1000L;
    struct timespec ts;
    if (waited_us >= d->busy_ms * 1000L) return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = tries < 400 ? 50000L : 1000000L;
    nanosleep(&ts, NULL);
    return 1;
}

typedef struct {
    sqlite3_stmt *st;
    int db_ref; /* keeps the database alive while the statement is */
} stmt_ud;

static int fail(lua_State *L, const char *what, sqlite3 *db) {
    lua_pushnil(L);
    lua_pushfstring(L, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return 2;
}

static db_ud *check_db(lua_State *L, int i) {
    db_ud *d = (db_ud *)luaL_checkudata(L, i, DB_MT);
    if (d->db == NULL) luaL_argerror(L, i, "the database is closed");
    return d;
}

static stmt_ud *check_stmt(lua_State *L, int i) {
    stmt_ud *s = (stmt_ud *)luaL_checkudata(L, i, STMT_MT);
    if (s->st == NULL) luaL_argerror(L, i, "the statement is closed");
    return s;
}

static int l_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lua_Integer busy = luaL_optinteger(L, 2, 10000);
    db_ud *d;
    int rc;
    luaL_argcheck(L, busy >= 0 && busy <= 3600000, 2, "busy timeout: 0 to 3600000 ms");
    d = (db_ud *)lua_newuserdata(L, sizeof *d);
    d->db = NULL;
    d->busy_ms = 0;
    luaL_setmetatable(L, DB_MT);
    rc = sqlite3_open_v2(path, &d->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "sqlite: cannot open %s: %s", path,
                        d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        sqlite3_close(d->db);
        d->db = NULL;
        return 2;
    }
    d->busy_ms = (long)busy;
    sqlite3_busy_handler(d->db, busy_wait, d);
    return 1;
}

static int l_db_close(lua_State *L) {
    db_ud *d = (db_ud *)luaL_checkudata(L, 1, DB_MT);
    if (d->db) {
        /* statements hold a reference to the db userdata, so by the time
         * __gc runs here none is left; an explicit close with live
         * statements is refused by sqlite3_close: use close_v2. */
        sqlite3_close_v2(d->db);
        d->db = NULL;
    }
    return 0;
}

static int l_db_exec(lua_State *L) {
    db_ud *d = check_db(L, 1);
    const char *sql = luaL_checkstring(L, 2);
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "sqlite: %s", msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_db_prepare(lua_State *L) {
    db_ud *d = check_db(L, 1);
    size_t len;
    const char *sql = luaL_checklstring(L, 2, &len);
    stmt_ud *s = (stmt_ud *)lua_newuserdata(L, sizeof *s);
    s->st = NULL;
    s->db_ref = LUA_NOREF;
    luaL_setmetatable(L, STMT_MT);
    if (sqlite3_prepare_v2(d->db, sql, (int)len, &s->st, NULL) != SQLITE_OK)
        return fail(L, "prepare", d->db);
    lua_pushvalue(L, 1);
    s->db_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

static int l_db_changes(lua_State *L) {
    lua_pushinteger(L, sqlite3_changes(check_db(L, 1)->db));
    return 1;
}

static int l_db_tostring(lua_State *L) {
    db_ud *d = (db_ud *)luaL_checkudata(L, 1, DB_MT);
    lua_pushfstring(L, "sinch.batch.SQLite (%s)", d->db ? "open" : "closed");
    return 1;
}

/* Binds arguments from..top to parameters 1..n. */
static void bind_args(lua_State *L, sqlite3_stmt *st, int from) {
    int i, top = lua_gettop(L), n = sqlite3_bind_parameter_count(st);
    for (i = from + n; i <= top; i++) /* trailing nils are no values */
        luaL_argcheck(L, lua_isnil(L, i), i, "more values than the statement's parameters");
    for (i = 1; i <= n; i++) {
        int idx = from + i - 1;
        switch (idx <= top ? lua_type(L, idx) : LUA_TNIL) {
        case LUA_TNIL:
            sqlite3_bind_null(st, i);
            break;
        case LUA_TBOOLEAN:
            sqlite3_bind_int(st, i, lua_toboolean(L, idx));
            break;
        case LUA_TNUMBER: {
            lua_Number x = lua_tonumber(L, idx);
            /* the cast is defined only for values inside int64's range
             * (a callback's messageIndex may be 1e300, or NaN) */
            if (x >= -9223372036854775808.0 && x < 9223372036854775808.0 &&
                x == (lua_Number)(sqlite3_int64)x)
                sqlite3_bind_int64(st, i, (sqlite3_int64)x);
            else
                sqlite3_bind_double(st, i, (double)x);
            break;
        }
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, idx, &len);
            sqlite3_bind_text(st, i, s, (int)len, SQLITE_STATIC); /* on the stack until reset */
            break;
        }
        default:
            luaL_argerror(L, idx, "expected nil, a boolean, a number or a string");
        }
    }
}

static void push_column(lua_State *L, sqlite3_stmt *st, int c) {
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, c));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, sqlite3_column_double(st, c));
        break;
    case SQLITE_NULL:
        lua_pushnil(L);
        break;
    default:
        lua_pushlstring(L, (const char *)sqlite3_column_text(st, c),
                        (size_t)sqlite3_column_bytes(st, c));
    }
}

/* st:run(...): bind, step to the end (rows are dropped), reset. */
static int l_stmt_run(lua_State *L) {
    stmt_ud *s = check_stmt(L, 1);
    int rc;
    bind_args(L, s->st, 2);
    while ((rc = sqlite3_step(s->st)) == SQLITE_ROW) {}
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    if (rc != SQLITE_DONE) return fail(L, "step", sqlite3_db_handle(s->st));
    lua_pushinteger(L, sqlite3_changes(sqlite3_db_handle(s->st)));
    return 1;
}

/* st:rows(...): bind, collect every row as an array, reset. */
static int l_stmt_rows(lua_State *L) {
    stmt_ud *s = check_stmt(L, 1);
    int rc, c, ncol = sqlite3_column_count(s->st);
    lua_Integer n = 0;
    bind_args(L, s->st, 2);
    lua_newtable(L);
    while ((rc = sqlite3_step(s->st)) == SQLITE_ROW) {
        lua_createtable(L, ncol, 0);
        for (c = 0; c < ncol; c++) {
            push_column(L, s->st, c);
            lua_rawseti(L, -2, c + 1);
        }
        lua_rawseti(L, -2, (int)++n);
    }
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    if (rc != SQLITE_DONE) return fail(L, "step", sqlite3_db_handle(s->st));
    return 1;
}

static int l_stmt_close(lua_State *L) {
    stmt_ud *s = (stmt_ud *)luaL_checkudata(L, 1, STMT_MT);
    if (s->st) {
        sqlite3_finalize(s->st);
        s->st = NULL;
    }
    if (s->db_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, s->db_ref);
        s->db_ref = LUA_NOREF;
    }
    return 0;
}

static const luaL_Reg db_methods[] = {
    {"exec", l_db_exec},   {"prepare", l_db_prepare}, {"changes", l_db_changes},
    {"close", l_db_close}, {NULL, NULL},
};
static const luaL_Reg db_meta[] = {
    {"__gc", l_db_close},
    {"__close", l_db_close},
    {"__tostring", l_db_tostring},
    {NULL, NULL},
};
static const luaL_Reg stmt_methods[] = {
    {"run", l_stmt_run},
    {"rows", l_stmt_rows},
    {"close", l_stmt_close},
    {NULL, NULL},
};
static const luaL_Reg stmt_meta[] = {
    {"__gc", l_stmt_close},
    {"__close", l_stmt_close},
    {NULL, NULL},
};

static void newclass(lua_State *L, const char *name, const luaL_Reg *methods,
                     const luaL_Reg *meta) {
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

static const luaL_Reg funcs[] = {
    {"open", l_open},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_sinch_batch_sqlite(lua_State *L) {
    newclass(L, DB_MT, db_methods, db_meta);
    newclass(L, STMT_MT, stmt_methods, stmt_meta);
    luaL_newlib(L, funcs);
    lua_pushstring(L, sqlite3_libversion());
    lua_setfield(L, -2, "sqlite_version");
    return 1;
}
