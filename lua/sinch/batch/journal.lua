--- sinch.batch.journal: the append-only record of a campaign, one JSON
-- object per line, each line written in one write(2) and fsync'd before the
-- call returns (so what the journal says happened survives a kill -9).
--
--   {"event":"header","version":1,"campaign":"c…","key":"sinch_campaign",
--    "message":"<digest>","source":"<digest>","source_kind":"csv","path":"list.csv"}
--   {"event":"intent","chunk":3,"rows":[2002,2003,…],"digest":"…"}   before the send
--   {"event":"accepted","chunk":3,"batch_id":"01J…"}                  the API took it
--   {"event":"accepted","chunk":4,"batch_id":"01J…","resolved":"found"}  looked up
--   {"event":"ambiguous","chunk":5,"reason":"…"}    may have been accepted: look up
--   {"event":"failed","chunk":6,"reason":"…"}       certainly not accepted
--   {"event":"bad_row","row":17,"reason":"…"}       skipped, never sent
--   {"event":"end","summary":{…}}                   a run ended (maybe interrupted)
--
-- Rows are the source's own numbers: the CSV line, or the 1-based index in a
-- list or iterator.  A chunk's batch carries `batch_metadata[key] =
-- "<campaign>:<chunk>"`.  A receipt's (batch_id, message_index) maps to the
-- row `rows[message_index + 1]` of the chunk accepted as that batch
-- (journal.read(path).batches[batch_id], or sinch.batch.ledger.open(path)).
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, tonumber, error, setmetatable =
  type, pairs, ipairs, tostring, tonumber, error, setmetatable
local floor, sort, concat = math.floor, table.sort, table.concat
local fmt, find, sub = string.format, string.find, string.sub
local encode, decode, null = cjson.encode, cjson.decode, cjson.null

local _M = { _VERSION = "0.1.0", VERSION = 1 }

local function int(v)
  if type(v) == "number" and v % 1 == 0 then return floor(v) end
  return v
end

local function ints(t)
  if type(t) ~= "table" then return {} end
  for i = 1, #t do t[i] = int(t[i]) end
  return t
end

--- A canonical JSON-ish text of a Lua value (sorted keys), for digests that
-- must not depend on table order.
local function canonical(v, out)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    out[#out + 1] = "{"
    for _, k in ipairs(keys) do
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      out[#out + 1] = fmt("%q:", k)
      canonical(val, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  elseif t == "string" then
    out[#out + 1] = fmt("%q", v)
  else
    out[#out + 1] = tostring(v)
  end
  return out
end
function _M.digest_value(v) return core.digest(concat(canonical(v, {}))) end

--- Reads a journal: `{ header = {…} | nil, chunks = { [k] = state }, batches =
-- { [batch_id] = state }, bad_rows = { {row=, reason=} }, ends = n, lines = n,
-- torn = bool }` where state = `{ chunk = k, rows = {…}, digest = …, status =
-- "intent"|"accepted"|"ambiguous"|"failed", batch_id = …, reason = …,
-- resolved = … }`.  A torn last line (a crash mid-write) is ignored.
function _M.read(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, errors.new("internal", fmt("journal %s: cannot read: %s", path, tostring(err)))
  end
  local data = f:read("*a") or ""
  f:close()
  local st = { chunks = {}, batches = {}, bad_rows = {}, ends = 0, lines = 0, torn = false }
  local pos, n = 1, #data
  while pos <= n do
    local nl = find(data, "\n", pos, true)
    if not nl then
      st.torn = true
      break
    end
    local e = nl > pos and decode(sub(data, pos, nl - 1))
    if type(e) == "table" then
      st.lines = st.lines + 1
      local ev, k = e.event, int(e.chunk)
      if ev == "header" then
        if st.header == nil then st.header = e end
      elseif ev == "bad_row" then
        st.bad_rows[#st.bad_rows + 1] = { row = int(e.row), reason = e.reason }
      elseif ev == "end" then
        st.ends = st.ends + 1
      elseif type(k) == "number" then
        local c = st.chunks[k]
        if c == nil then
          c = { chunk = k }
          st.chunks[k] = c
        end
        if ev == "intent" then
          if e.rows ~= nil then c.rows = ints(e.rows) end
          if e.digest ~= nil then c.digest = e.digest end
          if c.status ~= "accepted" then c.status = "intent" end
        elseif ev == "accepted" and type(e.batch_id) == "string" then
          c.status, c.batch_id = "accepted", e.batch_id
          if e.resolved ~= nil and e.resolved ~= null then c.resolved = e.resolved end
          st.batches[e.batch_id] = c
        elseif (ev == "ambiguous" or ev == "failed") and c.status ~= "accepted" then
          c.status, c.reason = ev, e.reason
        end
      end
    end
    pos = nl + 1
  end
  return st
end

local Journal = {}
Journal.__index = Journal

--- Opens (or creates) the journal of a campaign.
-- header: { campaign = id, key = metadata key, message = digest, source = digest, … }.
-- A new file gets the header; an existing one must carry the same message
-- and source digests (a resume cannot mix campaigns) and gives its state
-- (see read) and its campaign id.
-- @return journal | nil, err
function _M.open(path, header)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'journal.open' (a file name expected)", 2)
  end
  local st
  local f = io.open(path, "rb")
  if f then
    f:close()
    local err
    st, err = _M.read(path)
    if not st then return nil, err end
  end
  local old = st and st.header
  if old then
    for _, k in ipairs{ "message", "source" } do
      if header[k] ~= nil and old[k] ~= header[k] then
        return errors.fail("invalid", fmt("journal %s: its campaign %s was made from another %s "
          .. "(digest %s, now %s); a resume must use the same message and source, or start "
          .. "a new journal", path, tostring(old.campaign), k, tostring(old[k]), tostring(header[k])))
      end
    end
  end
  local fd, err = core.journal_open(path)
  if not fd then return nil, err end
  local self = setmetatable({ path = path, fd = fd, state = st, torn = st and st.torn }, Journal)
  if old then
    self.header = old
  else
    header.event, header.version = "header", _M.VERSION
    local ok, werr = self:write(header)
    if not ok then return nil, werr end
    self.header = header
    self.state = { chunks = {}, batches = {}, bad_rows = {}, ends = 0, lines = 1 }
  end
  return self
end

--- The nginx thread pool that syncs journals under OpenResty (declared in
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
      ngx.log(ngx.WARN, "sinch.batch journal: no worker thread (", tostring(res), "); add ",
        "'thread_pool ", _M.thread_pool, " threads=4;' to nginx.conf, or the worker syncs itself")
    end
    return false
  end
  if not res then return errors.fail("internal", tostring(err)) end
  _M.stats.thread_syncs = _M.stats.thread_syncs + 1
  return true
end

--- Appends one event (a table); fsync'd when it returns true.
function Journal:write(e)
  if not self.fd then error("journal: write after close", 2) end
  local line = encode(e)
  if not line then return errors.fail("internal", "journal: cannot encode an event") end
  if self.torn then
    line = "\n" .. line
    self.torn = false
  end
  if rawget(_G, "ngx") then
    local ok, err = self.fd:append(line, false)
    if not ok then return nil, err end
    local synced, serr = thread_sync(self.fd)
    if synced == nil then return nil, serr end
    if synced then return true end
    _M.stats.worker_syncs = _M.stats.worker_syncs + 1
    return self.fd:sync()
  end
  _M.stats.worker_syncs = _M.stats.worker_syncs + 1
  return self.fd:append(line)
end

function Journal:intent(k, rows, digest)
  return self:write{ event = "intent", chunk = k, rows = setmetatable(rows, cjson.array_mt),
                     digest = digest }
end
function Journal:accepted(k, batch_id, resolved)
  return self:write{ event = "accepted", chunk = k, batch_id = batch_id, resolved = resolved }
end
function Journal:ambiguous(k, reason) return self:write{ event = "ambiguous", chunk = k, reason = reason } end
function Journal:failed(k, reason) return self:write{ event = "failed", chunk = k, reason = reason } end
function Journal:bad_row(row, reason) return self:write{ event = "bad_row", row = row, reason = reason } end
function Journal:finish(summary) return self:write{ event = "end", summary = summary } end

function Journal:close()
  if self.fd then
    self.fd:close()
    self.fd = nil
  end
end

return _M
