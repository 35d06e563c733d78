--- Runs in nginx's thread pool (ngx.run_worker_thread), never in a worker:
-- writes a group of receipts, and the batches the ledger learnt, to the
-- receipts store in one transaction, and answers only once it is committed.
-- Each pool thread has a Lua state of its own, kept between calls, so each
-- keeps its store open.  Arguments and answers are plain values (strings,
-- numbers, tables of them).
local store_url = require "sinch.batch.store"
local ffi = require "ffi"

-- The workers' pool threads take turns on one SQLite file.  Each waits for
-- its turn on an flock(2) of the file (the kernel wakes it the moment the
-- other's commit is done) rather than in SQLite's busy handler, which polls.
-- flock locks are apart from the POSIX locks SQLite takes, so other writers
-- of the file (the plain receiver, the CLI) still meet SQLite's own lock.
pcall(ffi.cdef, [[
int open(const char *pathname, int flags, ...);
int flock(int fd, int operation);
int close(int fd);
]])
local O_RDONLY, LOCK_EX, LOCK_UN = 0, 2, 8

local _M = {}

local stores = {} -- this thread's open stores, by URL: { store, lock_fd }

local function open(url, sync)
  local s, err
  for _ = 1, 100 do -- workers opening a new file at once: its creation is locked a moment
    s, err = store_url.open(url, { synchronous = sync })
    if s or not tostring(err):find("locked", 1, true) then break end
    require("sinch.batch.core").sleep_ms(10)
  end
  if not s then return nil, tostring(err) end
  local scheme, path = store_url.parse(url)
  local fd = -1
  if scheme == "sqlite" then
    -- the connections take turns writing, so each transaction finds its
    -- page cache stale: read the file through the OS's cache
    s.db:exec("PRAGMA mmap_size = 268435456")
    fd = ffi.C.open(path, O_RDONLY) -- -1: no lock, SQLite's busy handler alone
  end
  return { store = s, lock_fd = fd }
end

local function close(url)
  local o = stores[url]
  stores[url] = nil
  o.store:close()
  if o.lock_fd >= 0 then ffi.C.close(o.lock_fd) end
end

-- The batches, then the events: the number of new receipts, or nil and an error.
local function add(s, events, batches)
  for _, b in ipairs(batches or {}) do
    local ok, err = s:add_batch(b)
    if not ok then return nil, err end
  end
  if not events or #events == 0 then return 0 end
  return s:add_many(events)
end

--- write(url, sync, events, batches): the number of new receipts, or nil
-- and a message.  `sync` is SQLite's synchronous (NORMAL or FULL).
function _M.write(url, sync, events, batches)
  local o = stores[url]
  if not o then
    local err
    o, err = open(url, sync)
    if not o then return nil, err end
    stores[url] = o
  end
  local fd = o.lock_fd
  if fd >= 0 then ffi.C.flock(fd, LOCK_EX) end
  -- a write that raises (misuse caught by the store) still lets go of the
  -- lock: the other worker's pool thread would wait on it for good
  local ok, n, err = pcall(add, o.store, events, batches)
  if fd >= 0 then ffi.C.flock(fd, LOCK_UN) end
  if not ok then return nil, tostring(n) end -- (the store rolled back: it stays open)
  if not n then -- a connection broken (PostgreSQL restarted): open it again next time
    close(url)
    return nil, tostring(err)
  end
  return n
end

return _M
