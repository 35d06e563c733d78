/* journal.c -- what the campaign journal needs from the system and Lua's io
 * cannot give: an append-only file where each line goes out in one write(2)
 * and is on disk (fsync) before append() returns, and content digests.
 *
 *   local j = core.journal_open(path [, mode])  -- never through a symlink, 0600
 *       mode "a" (default): append, creating the file when missing
 *            "x": create a new file (fails with EEXIST when one is there)
 *            "e": append to an existing file only
 *            "w": create or empty the file (only when the user said --force)
 *       -> j | nil, err, errno_name ("EEXIST", "ENOENT", "ELOOP", ...)
 *   j:append(line [, sync])              -- line .. "\n", one write, then fsync
 *                                           unless sync == false (a leading
 *                                           "\n" ends a torn line)
 *   j:write(bytes [, sync])              -- bytes as they are (no newline added)
 *   j:lock() -> true | false (another process holds it) | nil, err
 *                                        -- flock(LOCK_EX|LOCK_NB) until close
 *   j:sync()  j:fileno()  j:close()
 *   j:sync_start() -> ticket | nil, err  -- fsync in a thread of its own, so the
 *                                           caller goes on (plain Lua's group
 *                                           commit beside the sends)
 *   ticket:done() -> boolean             -- never waits
 *   ticket:wait() -> true | nil, err     -- what was written before sync_start
 *                                           is on disk once it returns true
 *   core.fsync(fd) -> true | nil, message  -- for a thread that syncs for the
 *                                           worker (OpenResty: journal.lua)
 *   core.int_list(t) -> "1,2,3"       -- t's integers (1..#t), comma-separated: a
 *                                        journal intent's rows (cjson formats
 *                                        each number through snprintf("%.14g"))
 *   core.digest(s [, seed_hex]) -> 64 hex digits (SHA-256 of seed_hex .. s: chainable)
 *   core.file_digest(path) -> hex, size | nil, err
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/file.h>

#include <openssl/evp.h>

#include "binding.h"

#define SB_JOURNAL_MT "sinch.batch.Journal"
#define SB_SYNC_MT "sinch.batch.SyncTicket"

typedef struct sb_journal {
    int fd;
} sb_journal;

static int io_fail(lua_State *L, const char *what, const char *path) {
    char msg[600];
    snprintf(msg, sizeof msg, "journal %s: %s: %s", path, what, strerror(errno));
    return sb_lua_fail_msg(L, SINCH_BATCH_ERROR_INTERNAL, msg);
}

static const char *errno_name(int e) {
    switch (e) {
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ELOOP: return "ELOOP";
    case EACCES: return "EACCES";
    case EISDIR: return "EISDIR";
    default: return "EIO";
    }
}

static int l_journal_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    const char *mode = luaL_optstring(L, 2, "a");
    int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC, e;
    sb_journal *j;
    switch (mode[0] == '\0' || mode[1] != '\0' ? '?' : mode[0]) {
    case 'a': flags |= O_APPEND | O_CREAT; break;
    case 'x': flags |= O_APPEND | O_CREAT | O_EXCL; break;
    case 'e': flags |= O_APPEND; break;
    case 'w': flags |= O_CREAT | O_TRUNC; break;
    default: return luaL_argerror(L, 2, "mode: \"a\", \"x\", \"e\" or \"w\" expected");
    }
    j = lua_newuserdata(L, sizeof *j);
    j->fd = -1;
    luaL_setmetatable(L, SB_JOURNAL_MT);
    j->fd = open(path, flags, 0600);
    if (j->fd < 0) {
        e = errno;
        io_fail(L, e == EEXIST ? "exists already" : e == ELOOP ? "is a symbolic link" :
                   "cannot open for writing", path);
        lua_pushstring(L, errno_name(e));
        return 3;
    }
    return 1;
}

/* fsync(2), again after EINTR: 0, or -1 with errno set. */
static int sync_fd(int fd) {
    while (fsync(fd) != 0)
        if (errno != EINTR) return -1;
    return 0;
}

/* j:append(line [, sync]) -> true | nil, err */
static int l_journal_append(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    size_t len, off = 0;
    const char *line = luaL_checklstring(L, 2, &len);
    char *buf;
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    /* one line; a leading newline is allowed (it ends a torn last line) */
    if (len > 1 && memchr(line + 1, '\n', len - 1))
        return luaL_argerror(L, 2, "a journal line holds no newline");
    buf = malloc(len + 1);
    if (buf == NULL) return luaL_error(L, "out of memory");
    memcpy(buf, line, len);
    buf[len++] = '\n';
    while (off < len) { /* one write(2) for a regular file; loop for safety */
        ssize_t w = write(j->fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            free(buf);
            return io_fail(L, "write failed", "file");
        }
        off += (size_t)w;
    }
    free(buf);
    /* sync == false: the caller syncs (j:sync, or core.fsync in a thread) */
    if (!(lua_isboolean(L, 3) && !lua_toboolean(L, 3)) && sync_fd(j->fd) != 0)
        return io_fail(L, "fsync failed", "file");
    lua_pushboolean(L, 1);
    return 1;
}

/* j:write(bytes [, sync]) -> true | nil, err: the bytes as they are */
static int l_journal_write(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    size_t len, off = 0;
    const char *data = luaL_checklstring(L, 2, &len);
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    while (off < len) {
        ssize_t w = write(j->fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return io_fail(L, "write failed", "file");
        off += (size_t)w;
    }
    if (!(lua_isboolean(L, 3) && !lua_toboolean(L, 3)) && sync_fd(j->fd) != 0)
        return io_fail(L, "fsync failed", "file");
    lua_pushboolean(L, 1);
    return 1;
}

/* j:lock() -> true | false (held by another) | nil, err */
static int l_journal_lock(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    while (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) {
            lua_pushboolean(L, 0);
            return 1;
        }
        return io_fail(L, "cannot lock", "file");
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* j:sync() -> true | nil, err */
static int l_journal_sync(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    if (sync_fd(j->fd) != 0) return io_fail(L, "fsync failed", "file");
    lua_pushboolean(L, 1);
    return 1;
}

/* A sync in a thread of its own: the thread fsyncs a duplicate of the
 * journal's descriptor (the journal may be closed meanwhile) and sets done;
 * wait() and __gc join it, so the userdata outlives the thread. */
typedef struct sb_sync {
    pthread_t th;
    int fd, started, joined, err;
    int done; /* written by the thread, read with __atomic */
} sb_sync;

static void *sync_thread(void *p) {
    sb_sync *s = p;
    s->err = sync_fd(s->fd) != 0 ? errno : 0;
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int sync_join(sb_sync *s) {
    if (s->started && !s->joined) {
        pthread_join(s->th, NULL);
        s->joined = 1;
    }
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    return s->err;
}

/* j:sync_start() -> ticket | nil, err */
static int l_journal_sync_start(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    sb_sync *s;
    int rc;
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    s = lua_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    s->fd = -1;
    luaL_setmetatable(L, SB_SYNC_MT);
    s->fd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
    if (s->fd < 0) return io_fail(L, "dup failed", "file");
    rc = pthread_create(&s->th, NULL, sync_thread, s);
    if (rc != 0) {
        errno = rc;
        return io_fail(L, "cannot start a sync thread", "file");
    }
    s->started = 1;
    return 1;
}

/* ticket:done() -> true once the thread's fsync has ended */
static int l_sync_done(lua_State *L) {
    sb_sync *s = luaL_checkudata(L, 1, SB_SYNC_MT);
    lua_pushboolean(L, !s->started || __atomic_load_n(&s->done, __ATOMIC_ACQUIRE));
    return 1;
}

/* ticket:wait() -> true | nil, err */
static int l_sync_wait(lua_State *L) {
    sb_sync *s = luaL_checkudata(L, 1, SB_SYNC_MT);
    int e = sync_join(s);
    if (e != 0) {
        errno = e;
        return io_fail(L, "fsync failed", "file");
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sync_gc(lua_State *L) {
    sync_join(luaL_checkudata(L, 1, SB_SYNC_MT));
    return 0;
}

/* j:fileno() -> the descriptor (for core.fsync in another thread) */
static int l_journal_fileno(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    if (j->fd < 0) return luaL_error(L, "attempt to use a closed journal");
    lua_pushinteger(L, j->fd);
    return 1;
}

/* core.fsync(fd) -> true | nil, message (plain values: it may run in a
 * worker thread's own Lua state, whose answers are copied back) */
static int l_fsync(lua_State *L) {
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= INT32_MAX, 1, "a file descriptor expected");
    if (sync_fd((int)fd) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "journal: fsync failed: %s", strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.int_list(t) -> the integers t[1..#t] joined by commas ("" for an
 * empty table); an error names the first element that is no integer. */
static int l_int_list(lua_State *L) {
    luaL_Buffer b;
    lua_Integer i, n;
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (lua_Integer)lua_rawlen(L, 1);
    luaL_buffinit(L, &b);
    for (i = 1; i <= n; i++) {
        char tmp[24], *p = tmp + sizeof tmp;
        unsigned long long u;
        double d;
        int neg;
        lua_rawgeti(L, 1, i);
        /* a number with no fraction within +-2^53 (Lua 5.1 has no integers) */
        d = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : 0.5;
        lua_pop(L, 1);
        if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(long long)d)
            return luaL_error(L, "int_list: element %d is not an integer", (int)i);
        neg = d < 0;
        u = (unsigned long long)(neg ? -d : d);
        do {
            *--p = (char)('0' + (int)(u % 10));
            u /= 10;
        } while (u != 0);
        if (neg) *--p = '-';
        if (i > 1) luaL_addchar(&b, ',');
        luaL_addlstring(&b, p, (size_t)(tmp + sizeof tmp - p));
    }
    luaL_pushresult(&b);
    return 1;
}

static int l_journal_close(lua_State *L) {
    sb_journal *j = luaL_checkudata(L, 1, SB_JOURNAL_MT);
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    return 0;
}

/* Digests are SHA-256 (libcrypto, which the core links already), in hex:
 * fast enough to read a large CSV at disk speed, and a resume cannot be
 * fooled by a crafted file. */
static void push_hex(lua_State *L, const unsigned char *md, unsigned n) {
    static const char digits[] = "0123456789abcdef";
    char hex[2 * EVP_MAX_MD_SIZE];
    unsigned i;
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * (size_t)n);
}

/* core.digest(s [, seed_hex]): SHA-256 of seed_hex .. s, in hex */
static int l_digest(lua_State *L) {
    size_t n, seed_len = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *seed = luaL_optlstring(L, 2, NULL, &seed_len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             (seed == NULL || EVP_DigestUpdate(ctx, seed, seed_len)) &&
             EVP_DigestUpdate(ctx, s, n) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok) return luaL_error(L, "digest: libcrypto failed");
    push_hex(L, md, mdlen);
    return 1;
}

/* core.file_digest(path) -> hex, size | nil, err */
static int l_file_digest(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    double size = 0;
    size_t n;
    int ok;
    EVP_MD_CTX *ctx;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return io_fail(L, "cannot read", path);
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        ok = EVP_DigestUpdate(ctx, buf, n);
        size += (double)n;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (ferror(f)) {
        fclose(f);
        return io_fail(L, "read failed", path);
    }
    fclose(f);
    if (!ok) return luaL_error(L, "file_digest: libcrypto failed");
    push_hex(L, md, mdlen);
    lua_pushnumber(L, size);
    return 2;
}

static const luaL_Reg journal_methods[] = {
    {"append", l_journal_append},
    {"write", l_journal_write},
    {"lock", l_journal_lock},
    {"sync", l_journal_sync},
    {"sync_start", l_journal_sync_start},
    {"fileno", l_journal_fileno},
    {"close", l_journal_close},
    {NULL, NULL},
};
static const luaL_Reg journal_meta[] = {
    {"__gc", l_journal_close},
    {"__close", l_journal_close},
    {NULL, NULL},
};
static const luaL_Reg sync_methods[] = {
    {"done", l_sync_done},
    {"wait", l_sync_wait},
    {NULL, NULL},
};
static const luaL_Reg sync_meta[] = {
    {"__gc", l_sync_gc},
    {NULL, NULL},
};
static const luaL_Reg funcs[] = {
    {"journal_open", l_journal_open},
    {"digest", l_digest},
    {"fsync", l_fsync},
    {"int_list", l_int_list},
    {"file_digest", l_file_digest},
    {NULL, NULL},
};

void sb_lua_open_journal(lua_State *L) {
    sb_lua_newclass(L, SB_JOURNAL_MT, journal_methods, journal_meta);
    sb_lua_newclass(L, SB_SYNC_MT, sync_methods, sync_meta);
    luaL_setfuncs(L, funcs, 0);
}
