/* signal.c -- process helpers plain Lua lacks, for long runs (campaigns, the
 * CLI): SIGINT/SIGTERM as a flag instead of a kill, a monotonic clock and a
 * sleep.
 *
 *   core.watch_signals()  -- from now on SIGINT/SIGTERM set a flag
 *   core.signal_flag()    -- the signal caught (2, 15) or false
 *   core.unwatch_signals()-- default handlers again, flag cleared
 *   core.now_ms()         -- monotonic milliseconds (for rates, pauses)
 *   core.sleep_ms(ms)
 *   core.isatty(fd)       -- 2: is stderr a terminal (for progress lines)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"

static volatile sig_atomic_t caught;

static void on_signal(int sig) { caught = sig; }

static void set_handlers(void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes carry on; the loop checks the flag */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int l_watch_signals(lua_State *L) {
    caught = 0;
    set_handlers(on_signal);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_unwatch_signals(lua_State *L) {
    (void)L;
    set_handlers(SIG_DFL);
    caught = 0;
    return 0;
}

static int l_signal_flag(lua_State *L) {
    if (caught) lua_pushinteger(L, caught);
    else lua_pushboolean(L, 0);
    return 1;
}

static int l_now_ms(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec * 1000.0 + (lua_Number)ts.tv_nsec / 1e6);
    return 1;
}

static int l_sleep_ms(lua_State *L) {
    lua_Number ms = luaL_checknumber(L, 1);
    struct timespec ts;
    if (ms <= 0) return 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !caught) {
    }
    return 0;
}

static int l_isatty(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"isatty", l_isatty},
    {"watch_signals", l_watch_signals}, {"unwatch_signals", l_unwatch_signals},
    {"signal_flag", l_signal_flag},     {"now_ms", l_now_ms},
    {"sleep_ms", l_sleep_ms},           {NULL, NULL},
};

void sb_lua_open_signal(lua_State *L) { luaL_setfuncs(L, funcs, 0); }
