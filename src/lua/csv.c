/* csv.c -- core.csv_open and the Csv type: the streaming CSV reader.
 *
 *   local r = core.csv_open(path, opts)     -- Csv | nil, err
 *   r:fill(builder, max)    -> n, rows      -- rows straight into a Builder
 *   r:next_rows(max)        -> recipients, rows (RecipientAndParam tables)
 *   r:bad([from])           -> { {line = n, reason = "..."}, ... }
 *   r:columns()             -> { "channel", "identity", ... }
 *   r:params()              -> the parameter names
 *   r:close()
 *
 * n == 0 (or empty tables) means the end of the file.  Option tables are
 * checked for unknown keys by sinch/batch/chunk.lua; here only types.
 * opts.channels = { NAME = { phone = true, app_scoped = true }, ... } (the
 * shape of recipient.channels and core.CHANNELS) says which channels are
 * phone channels; without it, the core's table.  The file is read by the
 * core's file source (src/curl/csvfile.c, no libcurl).
 */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

typedef struct lcsv {
    sinch_batch_csv *r;
    sinch_batch_channel *channels; /* from opts.channels, NULL-terminated */
    size_t nchannels;
    size_t *rows; /* scratch for fill(), owned here */
    size_t rows_cap;
} lcsv;

static lcsv *check_csv(lua_State *L, int idx) {
    lcsv *c = luaL_checkudata(L, idx, SB_CSV_MT);
    if (c->r == NULL) luaL_error(L, "attempt to use a closed Csv");
    return c;
}

static void csv_release(lcsv *c) {
    sinch_batch_csv_close(c->r);
    c->r = NULL;
    free(c->rows);
    c->rows = NULL;
    c->rows_cap = 0;
    if (c->channels) {
        size_t i;
        for (i = 0; i < c->nchannels; i++) free((char *)c->channels[i].name);
        free(c->channels);
        c->channels = NULL;
        c->nchannels = 0;
    }
}

/* A flag of one channel's properties table: true/false/nil only. */
static unsigned channel_flag(lua_State *L, const char *name, const char *key, unsigned flag) {
    unsigned v = 0;
    lua_getfield(L, -1, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_argerror(L, 2, lua_pushfstring(L, "opts.channels.%s.%s: expected a boolean, "
                                                   "got %s", name, key, luaL_typename(L, -1)));
        if (lua_toboolean(L, -1)) v = flag;
    }
    lua_pop(L, 1);
    return v;
}

/* opts.channels (at the top of the stack) into c->channels. */
static void read_channels(lua_State *L, lcsv *c) {
    size_t n = 0, cap = 16;
    int t = lua_gettop(L);
    if (!lua_istable(L, t))
        luaL_argerror(L, 2, lua_pushfstring(L, "opts.channels: expected a table, got %s",
                                            luaL_typename(L, t)));
    if ((c->channels = calloc(cap + 1, sizeof *c->channels)) == NULL)
        luaL_error(L, "csv: out of memory");
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        const char *name;
        unsigned flags;
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            luaL_argerror(L, 2, "opts.channels: expected NAME = { phone = true, ... } entries");
        name = lua_tostring(L, -2);
        flags = channel_flag(L, name, "phone", SINCH_BATCH_CHANNEL_PHONE) |
                channel_flag(L, name, "app_scoped", SINCH_BATCH_CHANNEL_APP_SCOPED);
        if (n == cap) {
            sinch_batch_channel *p = realloc(c->channels, (cap * 2 + 1) * sizeof *p);
            if (p == NULL) luaL_error(L, "csv: out of memory");
            c->channels = p;
            cap *= 2;
        }
        c->channels[n].flags = flags;
        if ((c->channels[n].name = strdup(name)) == NULL) luaL_error(L, "csv: out of memory");
        c->nchannels = ++n;
        c->channels[n].name = NULL;
        c->channels[n].flags = 0;
        lua_pop(L, 1);
    }
}

/* A string option, or NULL when absent. */
static const char *opt_string(lua_State *L, int t, const char *key) {
    const char *s = NULL;
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, t, lua_pushfstring(L, "opts.%s: expected a string, got %s", key,
                                                luaL_typename(L, -1)));
        s = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

static int opt_bool(lua_State *L, int t, const char *key, int def) {
    int v = def;
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_argerror(L, t, lua_pushfstring(L, "opts.%s: expected a boolean, got %s", key,
                                                luaL_typename(L, -1)));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* core.csv_open(path [, opts]) -> Csv | nil, err */
static int l_csv_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    sinch_batch_csv_opts o;
    sinch_batch_error err;
    const char *delim;
    lcsv *c;
    sinch_batch_csv_opts_init(&o);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    /* the userdata first: what options allocate is freed by its __gc */
    c = lua_newuserdata(L, sizeof *c); /* 3 */
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, SB_CSV_MT);
    if (!lua_isnil(L, 2)) {
        lua_getfield(L, 2, "channels");
        if (!lua_isnil(L, -1)) read_channels(L, c);
        lua_pop(L, 1);
        o.channels = c->channels;
        o.channel = opt_string(L, 2, "channel");
        o.channel_column = opt_string(L, 2, "channel_column");
        o.identity_column = opt_string(L, 2, "identity_column");
        o.contact_column = opt_string(L, 2, "contact_column");
        o.app_id_column = opt_string(L, 2, "app_id_column");
        o.dedupe = opt_bool(L, 2, "dedupe", 0);
        o.check_e164 = opt_bool(L, 2, "check_e164", 1);
        if ((delim = opt_string(L, 2, "delimiter")) != NULL) {
            if (strlen(delim) != 1)
                luaL_argerror(L, 2, "opts.delimiter: expected one character");
            o.delimiter = delim[0];
        }
        lua_getfield(L, 2, "params");
        if (!lua_isnil(L, -1)) {
            size_t i, n;
            const char **names;
            if (!lua_istable(L, -1))
                luaL_argerror(L, 2, lua_pushfstring(L, "opts.params: expected a table, got %s",
                                                    luaL_typename(L, -1)));
            n = lua_rawlen(L, -1);
            /* GC-owned, so nothing leaks if a check below raises */
            names = lua_newuserdata(L, (n + 1) * sizeof *names);
            for (i = 0; i < n; i++) {
                lua_rawgeti(L, -2, (int)i + 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                    luaL_argerror(L, 2, lua_pushfstring(L, "opts.params[%d]: expected a string, "
                                                        "got %s", (int)i + 1,
                                                        luaL_typename(L, -1)));
                names[i] = lua_tostring(L, -1); /* alive in the params table */
                lua_pop(L, 1);
            }
            o.params = names;
            o.n_params = n;
        }
        /* params table and the names array stay on the stack until we return */
    }
    c->r = sinch_batch_csv_open(path, &o, &err);
    if (c->r == NULL) {
        csv_release(c);
        return sb_lua_fail(L, &err);
    }
    lua_pushvalue(L, 3);
    return 1;
}

/* r:fill(builder, max) -> n, rows | nil, err */
static int l_csv_fill(lua_State *L) {
    lcsv *c = check_csv(L, 1);
    sinch_batch_builder *b = sb_lua_check_builder(L, 2);
    lua_Integer max = luaL_checkinteger(L, 3);
    size_t n = 0, i;
    luaL_argcheck(L, max >= 1 && max <= SINCH_BATCH_MAX_RECIPIENTS, 3, "must be 1 to 1000");
    if (c->rows_cap < (size_t)max) {
        size_t *p = realloc(c->rows, (size_t)max * sizeof *p);
        if (p == NULL) return luaL_error(L, "csv: out of memory");
        c->rows = p;
        c->rows_cap = (size_t)max;
    }
    if (sinch_batch_csv_fill(c->r, b, (size_t)max, c->rows, &n) != SINCH_BATCH_OK)
        return sb_lua_fail(L, sinch_batch_csv_error(c->r));
    lua_pushinteger(L, (lua_Integer)n);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)c->rows[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 2;
}

/* Pushes one RecipientAndParam table for row. */
static void push_recipient(lua_State *L, const sinch_batch_csv_row *row) {
    size_t i;
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 1); /* recipient */
    if (row->contact_id) {
        lua_pushlstring(L, row->contact_id, row->contact_id_len);
        lua_setfield(L, -2, "contact_id");
    } else {
        lua_createtable(L, 0, 1); /* identified_by */
        lua_createtable(L, 1, 0); /* channel_identities */
        lua_createtable(L, 0, 3);
        lua_pushstring(L, row->channel);
        lua_setfield(L, -2, "channel");
        lua_pushlstring(L, row->identity, row->identity_len);
        lua_setfield(L, -2, "identity");
        if (row->app_id) {
            lua_pushstring(L, row->app_id);
            lua_setfield(L, -2, "app_id");
        }
        lua_rawseti(L, -2, 1);
        lua_setfield(L, -2, "channel_identities");
        lua_setfield(L, -2, "identified_by");
    }
    lua_setfield(L, -2, "recipient");
    if (row->n_params) {
        lua_createtable(L, 0, (int)row->n_params);
        for (i = 0; i < row->n_params; i++) {
            lua_pushlstring(L, row->param_values[i], row->param_lens[i]);
            lua_setfield(L, -2, row->param_names[i]);
        }
        lua_setfield(L, -2, "parameters");
    }
}

/* r:next_rows(max) -> recipients, rows | nil, err */
static int l_csv_next_rows(lua_State *L) {
    lcsv *c = check_csv(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2), n = 0;
    sinch_batch_csv_row row;
    int rc = 0;
    luaL_argcheck(L, max >= 1 && max <= SINCH_BATCH_MAX_RECIPIENTS, 2, "must be 1 to 1000");
    lua_settop(L, 2);
    lua_createtable(L, 0, 0); /* 3: recipients */
    lua_createtable(L, 0, 0); /* 4: rows */
    while (n < max && (rc = sinch_batch_csv_next(c->r, &row)) == 1) {
        n++;
        push_recipient(L, &row);
        lua_rawseti(L, 3, (int)n);
        lua_pushinteger(L, (lua_Integer)row.line);
        lua_rawseti(L, 4, (int)n);
    }
    if (rc < 0) return sb_lua_fail(L, sinch_batch_csv_error(c->r));
    return 2;
}

/* r:bad([from]) -> { {line = n, reason = "..."}, ... } from the from-th on */
static int l_csv_bad(lua_State *L) {
    lcsv *c = check_csv(L, 1);
    lua_Integer from = luaL_optinteger(L, 2, 1);
    size_t i, total = sinch_batch_csv_bad_count(c->r), line;
    const char *reason;
    int k = 0;
    luaL_argcheck(L, from >= 1, 2, "must be 1 or more");
    lua_createtable(L, 0, 0);
    for (i = (size_t)from - 1; i < total; i++) {
        if (sinch_batch_csv_bad_row(c->r, i, &line, &reason) != SINCH_BATCH_OK) break;
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)line);
        lua_setfield(L, -2, "line");
        lua_pushstring(L, reason);
        lua_setfield(L, -2, "reason");
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* r:columns() -> the header's names */
static int l_csv_columns(lua_State *L) {
    lcsv *c = check_csv(L, 1);
    size_t i, n = sinch_batch_csv_column_count(c->r);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, sinch_batch_csv_column_name(c->r, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* r:params() -> the parameter names (columns mapped to ${name}s) */
static int l_csv_params(lua_State *L) {
    lcsv *c = check_csv(L, 1);
    size_t i, n = sinch_batch_csv_param_count(c->r);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, sinch_batch_csv_param_name(c->r, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* r:close(), __gc and __close: idempotent */
static int l_csv_close(lua_State *L) {
    csv_release(luaL_checkudata(L, 1, SB_CSV_MT));
    return 0;
}

static int l_csv_tostring(lua_State *L) {
    lcsv *c = luaL_checkudata(L, 1, SB_CSV_MT);
    if (c->r == NULL)
        lua_pushliteral(L, "sinch.batch.Csv (closed)");
    else
        lua_pushfstring(L, "sinch.batch.Csv (%p)", (void *)c);
    return 1;
}

static const luaL_Reg methods[] = {
    {"fill", l_csv_fill},
    {"next_rows", l_csv_next_rows},
    {"bad", l_csv_bad},
    {"columns", l_csv_columns},
    {"params", l_csv_params},
    {"close", l_csv_close},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", l_csv_close},
    {"__close", l_csv_close},
    {"__tostring", l_csv_tostring},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"csv_open", l_csv_open},
    {NULL, NULL},
};

void sb_lua_open_csv(lua_State *L) {
    sb_lua_newclass(L, SB_CSV_MT, methods, metamethods);
    luaL_setfuncs(L, funcs, 0);
}
