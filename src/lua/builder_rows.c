/* builder_rows.c -- the Builder's table-free forms: b:columns(names) then
 * b:add_row(channel, identity, v1, ..., vn), and b:add_columns(channel,
 * identities, columns [, first [, last]]).  Every row goes to the core in
 * one call (sinch_batch_builder_row), with the plan's checks. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"

/* Step one for add_columns: the columns table (arg 4) as names in
 * u->items[0..n) and column tables pushed at 7..7+n; returns n. */
static size_t collect_columns(lua_State *L, sb_lbuilder *u) {
    size_t n = 0;
    if (lua_isnil(L, 4)) return 0;
    lua_pushnil(L);
    while (lua_next(L, 4) != 0) {
        sinch_batch_param *it = sb_lbuilder_slot(L, u, n);
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
            luaL_argerror(L, 4, lua_pushfstring(L, "columns: expected parameter name -> array, "
                                                   "got %s -> %s", luaL_typename(L, -2),
                                                   luaL_typename(L, -1)));
        it->name = lua_tolstring(L, -2, &it->name_len);
        luaL_checkstack(L, 3, "too many columns");
        lua_insert(L, -2); /* column, key */
        n++;
    }
    return n;
}

/* Row i of the columns: checks and collects every value (numbers turned
 * into strings on the stack), then writes the entry in one core call. */
static int add_row(lua_State *L, sb_lbuilder *u, const char *channel, lua_Integer i, size_t n) {
    sinch_batch_param *it = u->items;
    size_t k, len;
    const char *identity;
    int rc;
    lua_rawgeti(L, 3, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING)
        sb_lbuilder_bad_type(L, 3, "a string", "identities[%d]", (int)i);
    identity = lua_tolstring(L, -1, &len);
    for (k = 0; k < n; k++) {
        lua_rawgeti(L, 7 + (int)k, (int)i);
        /* NULL for anything but a string or a number (which it converts) */
        if ((it[k].value = lua_tolstring(L, -1, &it[k].value_len)) == NULL)
            sb_lbuilder_bad_type(L, 4, "a string or number", "columns.%s[%d]", it[k].name, (int)i);
    }
    rc = sinch_batch_builder_row(u->b, channel, identity, len, it, n);
    lua_settop(L, 6 + (int)n);
    return rc;
}

/* b:add_columns(channel, identities, columns [, first [, last]]) -> count | nil, err
 * Row i is the recipient {channel, identities[i]} with the parameters
 * {name = columns.name[i], ...}: the fast path for column data (no table
 * per row).  Rows before a failing one stay added. */
int sb_lbuilder_add_columns(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    const char *channel = luaL_checkstring(L, 2);
    lua_Integer i, first, last;
    size_t n;
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
    first = luaL_optinteger(L, 5, 1);
    last = luaL_optinteger(L, 6, (lua_Integer)lua_rawlen(L, 3));
    lua_settop(L, 6);
    n = collect_columns(L, u);
    for (i = first; i <= last; i++)
        if (add_row(L, u, channel, i, n) != SINCH_BATCH_OK) {
            sb_lbuilder_account(L, u);
            return sb_lua_fail(L, sinch_batch_builder_error(u->b));
        }
    sb_lbuilder_account(L, u);
    lua_pushinteger(L, (lua_Integer)sinch_batch_builder_count(u->b));
    return 1;
}

/* Forget the columns() names. */
void sb_lbuilder_drop_columns(sb_lbuilder *u) {
    free(u->cols);
    u->cols = NULL;
    free(u->col_text);
    u->col_text = NULL;
    u->n_cols = 0;
}

/* b:columns(names) -> n: the parameter names of add_row()'s values, in
 * order (copied; kept across reset()).  A name that is not a string, or one
 * given twice, raises. */
int sb_lbuilder_columns(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_check(L, 1);
    size_t n, i, j, len, total = 0;
    char *text;
    luaL_checktype(L, 2, LUA_TTABLE);
    n = lua_rawlen(L, 2);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, (int)i);
        if (lua_type(L, -1) != LUA_TSTRING) sb_lbuilder_bad_type(L, 2, "a string", "columns[%d]", (int)i);
        lua_tolstring(L, -1, &len);
        total += len + 1;
        for (j = 1; j < i; j++) {
            lua_rawgeti(L, 2, (int)j);
            if (lua_rawequal(L, -1, -2))
                luaL_argerror(L, 2, lua_pushfstring(L, "columns[%d]: \"%s\" given twice",
                                                    (int)i, lua_tostring(L, -1)));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    sb_lbuilder_drop_columns(u);
    u->cols = calloc(n ? n : 1, sizeof *u->cols);
    u->col_text = text = malloc(total ? total : 1);
    if (u->cols == NULL || text == NULL) {
        sb_lbuilder_drop_columns(u);
        return luaL_error(L, "not enough memory");
    }
    for (i = 0; i < n; i++) {
        const char *s;
        lua_rawgeti(L, 2, (int)i + 1);
        s = lua_tolstring(L, -1, &len);
        memcpy(text, s, len + 1);
        u->cols[i].name = text;
        u->cols[i].name_len = len;
        text += len + 1;
        lua_pop(L, 1);
    }
    u->n_cols = n;
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* b:add_row(channel, identity, v1, ..., vn) -> count | nil, err
 * One recipient {channel, identity} with the parameters named by
 * columns(): no table at all.  Values are strings or numbers. */
int sb_lbuilder_add_row(lua_State *L) {
    sb_lbuilder *u = sb_lbuilder_self(L);
    const char *channel = luaL_checkstring(L, 2), *identity;
    int top = lua_gettop(L), k, n = (int)u->n_cols;
    size_t len;
    if (lua_type(L, 3) != LUA_TSTRING) {
        lua_pushvalue(L, 3);
        sb_lbuilder_bad_type(L, 3, "a string", "identity");
    }
    identity = lua_tolstring(L, 3, &len);
    if (top > 3 + n)
        luaL_argerror(L, 4 + n, lua_pushfstring(L, "%d value%s for %d column%s", top - 3,
                                                top - 3 == 1 ? "" : "s", n,
                                                n == 1 ? "" : "s"));
    for (k = 0; k < n; k++) {
        sinch_batch_param *c = &u->cols[k];
        /* NULL for anything but a string or a number (which it converts) */
        if ((c->value = lua_tolstring(L, 4 + k, &c->value_len)) == NULL) {
            lua_pushvalue(L, 4 + k);
            sb_lbuilder_bad_type(L, 4 + k, "a string or number", "%s", c->name);
        }
    }
    if (sinch_batch_builder_row(u->b, channel, identity, len, u->cols, (size_t)n) !=
        SINCH_BATCH_OK)
        return sb_lua_fail(L, sinch_batch_builder_error(u->b));
    if ((sinch_batch_builder_count(u->b) & 31) == 0) sb_lbuilder_account(L, u);
    lua_pushinteger(L, (lua_Integer)sinch_batch_builder_count(u->b));
    return 1;
}
