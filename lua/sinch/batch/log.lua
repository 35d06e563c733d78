--- sinch.batch.log: the one append-only log format of sinch-batch, and its
-- one reader.  A campaign's journal (sinch.batch.campaign.journal) and the
-- ledger (sinch.batch.ledger) are logs; the receipts store imports journals
-- through this reader.
--
-- A log is one JSON object per line, each with an `event`.  The first line
-- is the header:
--
--   {"event":"header","format":"sinch-batch-log","version":1,"kind":"journal",…}
--
-- Every line goes out in one write(2) and is fsync'd before append()
-- returns (under OpenResty the fsync runs in an nginx thread pool).  A
-- writer may also group-commit, as a database's write-ahead log does:
-- add() queues lines, flush() writes what is queued in one write(2) (a
-- crash of the process loses none of it), commit() writes and fsyncs once
-- for all of it.  Files are created 0600 and never through a symbolic link.
--
-- The reader tolerates exactly one kind of damage: a torn line (a crash in
-- the middle of a write).  As the last line it is left alone (a writer may
-- still be finishing it); in the middle it must be followed by the line
-- `{"event":"torn","bytes":N}` that the next writer puts after it.  Anything
-- else it cannot read (another format, an edited line, a foreign file) is
-- refused, never skipped.
-- @module sinch.batch.log
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"

local type, pairs, tostring, setmetatable, rawget = type, pairs, tostring, setmetatable, rawget
local floor = math.floor
local fmt, find, sub = string.format, string.find, string.sub
local encode, decode = cjson.encode, cjson.decode

local _M = { _VERSION = "0.1.0", FORMAT = "sinch-batch-log", VERSION = 1 }

local function invalid(msg) return errors.fail("invalid", msg) end

-- cjson gives Lua 5.4 floats for whole numbers: 3.0 -> 3 (top level and
-- arrays one level down: chunk numbers, rows)
local function ints(e)
  for k, v in pairs(e) do
    if type(v) == "number" and v % 1 == 0 then
      e[k] = floor(v)
    elseif type(v) == "table" then
      for i = 1, #v do
        local x = v[i]
        if type(x) == "number" and x % 1 == 0 then v[i] = floor(x) end
      end
    end
  end
  return e
end

--- Reads a log from byte `opts.offset` on (default 0, where the header must
-- be).  `opts.kinds` is the set of header kinds accepted (default any).
-- @return `{ header = h | nil, events = { e, … }, offset = n (after the last
--   complete line), torn = n (bytes after it), size = n }`, or nil, err
--   (err.missing when there is no file).  A file without any complete line
--   yet has no header and no events.
function _M.read(path, opts)
  opts = opts or {}
  local f, oerr = io.open(path, "rb")
  if not f then
    return nil, errors.new("invalid", fmt("%s: cannot read: %s", path, tostring(oerr)),
                           { missing = true })
  end
  local offset = opts.offset or 0
  if offset > 0 then f:seek("set", offset) end
  local data = f:read("*a") or ""
  f:close()
  local out = { events = {}, offset = offset, torn = 0, size = offset + #data }
  local events, pos, n, line = out.events, 1, #data, offset == 0 and 0 or nil
  local bad -- an unreadable line, forgiven only when a torn marker follows
  while pos <= n do
    local nl = find(data, "\n", pos, true)
    if not nl then break end
    local text = sub(data, pos, nl - 1)
    local e = decode(text)
    if line then line = line + 1 end
    local where = line and fmt("%s line %d", path, line) or fmt("%s at byte %d", path, offset + pos - 1)
    if type(e) ~= "table" or type(e.event) ~= "string" then
      if bad then break end
      bad = { where = where, bytes = #text, first = line == 1 }
    elseif bad then
      if e.event ~= "torn" or e.bytes ~= bad.bytes then break end
      bad = nil
    elseif line == 1 then
      if e.event ~= "header" or e.format ~= _M.FORMAT then
        return invalid(fmt("%s is not a sinch-batch log (its first line is no header of this "
          .. "format); refused, never adopted", path))
      end
      if e.version ~= _M.VERSION then
        return invalid(fmt("%s: log version %s, this sinch-batch reads version %d", path,
          tostring(e.version), _M.VERSION))
      end
      if opts.kinds and not opts.kinds[e.kind] then
        return invalid(fmt("%s is a %s, not a %s", path, tostring(e.kind), opts.what or "log"))
      end
      out.header = ints(e)
    elseif e.event ~= "torn" then
      events[#events + 1] = ints(e)
    end
    pos = nl + 1
  end
  if bad and bad.first then
    return invalid(fmt("%s is not a sinch-batch log (its first line is not JSON); refused, never "
      .. "adopted", path))
  elseif bad then
    return invalid(fmt("%s: unreadable (not a line of a sinch-batch log); refused", bad.where))
  end
  if pos <= n and line == 0 and out.header == nil and pos == 1 and n > 0 then
    -- no complete line at all: a header being written, or not a log
    out.partial = true
  end
  out.offset = offset + pos - 1
  out.torn = n - pos + 1
  return out
end

--- The size of a file in bytes, or nil when it cannot be opened.
function _M.size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

-- writer -----------------------------------------------------------------

--- The nginx thread pool that syncs logs under OpenResty (declared in
-- nginx.conf's main context: `thread_pool default threads=4;`).  Without it,
-- or where a worker thread cannot be used (a timer), the worker syncs itself
-- and says so once in the error log.
_M.thread_pool = "default"
--- How many syncs ran in a worker thread (OpenResty), and in the worker.
_M.stats = { thread_syncs = 0, worker_syncs = 0 }

local THREAD_PHASES = { rewrite = true, access = true, content = true }
local warned = false

-- Under OpenResty, where a worker thread may run: fsync fd there (the
-- caller yields, the worker goes on).  true when done, false when the thread
-- could not be used, nil, err when fsync failed.
local function thread_sync(fd)
  local ngx = rawget(_G, "ngx")
  local run = ngx and ngx.run_worker_thread
  if not run or not ngx.get_phase or not THREAD_PHASES[ngx.get_phase()] then return false end
  local ok, res, err = run(_M.thread_pool, "sinch.batch.fsync", "fsync", fd:fileno())
  if not ok then
    if not warned then
      warned = true
      ngx.log(ngx.WARN, "sinch.batch log: no worker thread (", tostring(res), "); add ",
        "'thread_pool ", _M.thread_pool, " threads=4;' to nginx.conf, or the worker syncs itself")
    end
    return false
  end
  if not res then return errors.fail("internal", tostring(err)) end
  _M.stats.thread_syncs = _M.stats.thread_syncs + 1
  return true
end

local Writer = {}
Writer.__index = Writer

--- Opens a log for appending.  mode: "x" a new file (refused when one is
-- there), "e" an existing file, "a" either.  `torn` (from read) is the number
-- of bytes of a torn last line: the first append ends it and marks it.
-- @return writer | nil, err (err.code: "EEXIST", "ENOENT", "ELOOP", …)
function _M.open(path, mode, torn)
  local fd, err, code = core.journal_open(path, mode or "a")
  if not fd then
    if code == "ELOOP" then -- a user's mistake, not the system's
      err = errors.new("invalid", fmt("%s is a symbolic link; refused (never followed)", path))
    end
    if type(err) == "table" then err.code = code end
    return nil, err
  end
  return setmetatable({ path = path, fd = fd, torn = torn or 0, queue = {}, dirty = false }, Writer)
end

--- Takes the exclusive lock of the file for as long as it is open.
-- @return true | nil, err (err.busy when another process holds it)
function Writer:lock()
  local ok, err = self.fd:lock()
  if ok then return true end
  if ok == false then
    return nil, errors.new("invalid", fmt("%s is in use by another run (locked); wait for it to "
      .. "end", self.path), { busy = true })
  end
  return nil, err
end

local function sync(fd)
  if rawget(_G, "ngx") then
    local synced, serr = thread_sync(fd)
    if synced == nil then return nil, serr end
    if synced then return true end
  end
  _M.stats.worker_syncs = _M.stats.worker_syncs + 1
  return fd:sync()
end

--- Queues an event (a table, or its JSON text already encoded: one line,
-- no newline) for the next flush() or commit().
function Writer:add(e)
  local line = e
  if type(e) == "table" then
    line = encode(e)
    if not line then return invalid("log: cannot encode an event") end
  end
  local q = self.queue
  q[#q + 1] = line
  q[#q + 1] = "\n"
  return true
end

--- Writes what add() queued, in one write(2); not yet fsync'd (a crash of
-- the process loses none of it, a crash of the machine may).
function Writer:flush()
  if not self.fd then error("log: write after close", 2) end
  local q = self.queue
  if #q == 0 then return true end
  if self.torn > 0 then
    table.insert(q, 1, "\n" .. encode{ event = "torn", bytes = self.torn } .. "\n")
  end
  self.queue = {}
  local ok, err = self.fd:write(table.concat(q), false)
  if not ok then return nil, err end
  self.torn = 0
  self.dirty = true
  return true
end

--- flush(), then one fsync for everything written since the last one: on
-- disk when it returns true.
function Writer:commit()
  local ok, err = self:flush()
  if not ok then return nil, err end
  if not self.dirty then return true end
  ok, err = sync(self.fd)
  if not ok then return nil, err end
  self.dirty = false
  return true
end

--- Whether a commit may end while its caller goes on: in plain Lua (a sync
-- thread of its own, `j:sync_start`), and under OpenResty in a phase where a
-- light thread may wait for a worker thread of the pool.
function _M.can_async()
  local ngx = rawget(_G, "ngx")
  if not ngx then return _M.plain_async end
  return (ngx.run_worker_thread and ngx.thread and ngx.get_phase
    and THREAD_PHASES[ngx.get_phase()]) and true or false
end
--- Plain Lua's commits may end beside the caller (false: every commit
-- syncs before it returns).
_M.plain_async = true

--- Starts a commit: what is queued is written now (one write), and its fsync
-- runs, where can_async(), in a thread (plain Lua) or a light thread waiting
-- for the pool (OpenResty), so the caller goes on; elsewhere it ends before
-- this returns.
-- @return a ticket for commit_done and commit_wait | nil, err
function Writer:commit_start()
  if not _M.can_async() then
    local ok, err = self:commit()
    if not ok then return nil, err end
    return true
  end
  local ok, err = self:flush()
  if not ok then return nil, err end
  if not rawget(_G, "ngx") then
    local t, terr = self.fd:sync_start()
    if not t then return nil, terr end
    _M.stats.thread_syncs = _M.stats.thread_syncs + 1
    return t
  end
  local t, serr = ngx.thread.spawn(sync, self.fd) -- luacheck: ignore 113
  if not t then return nil, errors.new("internal", "ngx.thread.spawn: " .. tostring(serr)) end
  return t
end

--- Whether the commit of `ticket` has ended (never waits).
function Writer.commit_done(_, ticket)
  if ticket == true then return true end
  if type(ticket) == "userdata" then return ticket:done() end
  return coroutine.status(ticket) == "dead"
end

--- Waits for the commit of `ticket`: true once what it wrote is on disk.
function Writer.commit_wait(_, ticket)
  if ticket == true then return true end
  if type(ticket) == "userdata" then return ticket:wait() end
  local ok, res, err = ngx.thread.wait(ticket) -- luacheck: ignore 113
  if not ok then return nil, errors.new("internal", tostring(res)) end
  if not res then return nil, err end
  return true
end

--- Appends events (a list of tables), each one line, in one write; on disk
-- when it returns true.
function Writer:append_all(list)
  if not self.fd then error("log: append after close", 2) end
  for i = 1, #list do
    local ok, err = self:add(list[i])
    if not ok then
      self.queue = {}
      return nil, err
    end
  end
  return self:commit()
end

--- Appends one event (a table); on disk when it returns true.
function Writer:append(e) return self:append_all{ e } end

--- A header event of this format.
function _M.header(kind, fields)
  local h = { event = "header", format = _M.FORMAT, version = _M.VERSION, kind = kind }
  for k, v in pairs(fields or {}) do h[k] = v end
  return h
end

function Writer:close()
  if self.fd then
    self.fd:close()
    self.fd = nil
  end
end

return _M
