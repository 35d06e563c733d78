--- sinch.batch.campaign.journal: the record of a campaign, a log
-- (sinch.batch.log) of kind "journal", locked by the run that writes it.
--
--   {"event":"header","format":"sinch-batch-log","version":1,"kind":"journal",
--    "campaign":"c…","key":"sinch_campaign","message":"<digest>","source":"<digest>",
--    "source_kind":"csv","path":"list.csv","spec":{…what a resume needs…}}
--   {"event":"intent","chunk":3,"rows":[2002,2003,…],"digest":"…"}   before the send
--   {"event":"accepted","chunk":3,"batch_id":"01J…"}                  the API took it
--   {"event":"accepted","chunk":4,"batch_id":"01J…","resolved":"found"}  looked up
--   {"event":"ambiguous","chunk":5,"reason":"…"}    may have been accepted: look up
--   {"event":"unsent","chunk":6,"reason":"…"}       certainly not accepted: send again
--   {"event":"refused","chunk":7,"reason":"…","status":413}  refused for good: its rows failed
--   {"event":"bad_row","row":17,"reason":"…"}       skipped, never sent
--   {"event":"end","summary":{…}}                   a run ended (maybe interrupted)
--
-- Rows are the source's own numbers: the CSV line, or the 1-based index in a
-- list or iterator.  A chunk's batch carries `batch_metadata[key] =
-- "<campaign>:<chunk>"`.  A receipt's (batch_id, message_index) maps to the
-- row `rows[message_index + 1]` of the chunk accepted as that batch.
--
-- A new journal is created (0600, never over an existing file or through a
-- symlink) only when its first chunk is about to be sent: a run that sends
-- nothing leaves no journal behind.
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local log = require "sinch.batch.log"
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, tonumber, setmetatable = type, pairs, ipairs, tostring,
  tonumber, setmetatable
local sort, concat = table.sort, table.concat
local fmt = string.format
local null, encode = cjson.null, cjson.encode
local int_list = core.int_list

local _M = { _VERSION = "0.1.0", stats = log.stats }

local KINDS = { journal = true }

--- A canonical text of a Lua value (sorted keys), for digests that must not
-- depend on table order.
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
--- The digest of a Lua value (tables in a canonical order): what a journal
-- keeps of the message and the options, so a resume can tell they changed.
-- @param v any value made of tables, strings, numbers and booleans
-- @return the digest, a hex string
function _M.digest_value(v) return core.digest(concat(canonical(v, {}))) end

-- The state of a campaign from its events.
local function fold(header, events)
  local st = { header = header, chunks = {}, batches = {}, bad_rows = {}, ends = 0 }
  for _, e in ipairs(events) do
    local ev, k = e.event, e.chunk
    if ev == "bad_row" then
      st.bad_rows[#st.bad_rows + 1] = { row = e.row, reason = e.reason }
    elseif ev == "end" then
      st.ends = st.ends + 1
    elseif type(k) == "number" then
      local c = st.chunks[k]
      if c == nil then
        c = { chunk = k }
        st.chunks[k] = c
      end
      if ev == "intent" then
        if type(e.rows) == "table" then c.rows = e.rows end
        if e.digest ~= nil then c.digest = e.digest end
        if c.status ~= "accepted" and c.status ~= "refused" then c.status = "intent" end
      elseif ev == "accepted" and type(e.batch_id) == "string" then
        c.status, c.batch_id = "accepted", e.batch_id
        if e.resolved ~= nil and e.resolved ~= null then c.resolved = e.resolved end
        st.batches[e.batch_id] = c
      elseif (ev == "ambiguous" or ev == "unsent" or ev == "refused") and c.status ~= "accepted" then
        c.status, c.reason = ev, e.reason
        if type(e.status) == "number" then c.http_status = e.status end
      end
    end
  end
  return st
end

--- Reads a journal: `{ header, chunks = { [k] = state }, batches = {
-- [batch_id] = state }, bad_rows = { {row=, reason=} }, ends = n, torn = n }`
-- where state = `{ chunk = k, rows = {…}, digest, status = "intent" |
-- "accepted" | "ambiguous" | "unsent" | "refused", batch_id, reason,
-- resolved }`.  A file that is not a journal is refused.
function _M.read(path)
  local l, err = log.read(path, { kinds = KINDS, what = "campaign journal" })
  if not l then return nil, err end
  if l.header == nil and l.partial then -- the header goes out with the first intent, in one write
    return errors.fail("invalid", fmt("%s: its first line was torn before it ended; no batch was "
      .. "sent from it (the header goes out with the first batch's intent): remove it and start "
      .. "again", path))
  elseif l.header == nil then
    return errors.fail("invalid", fmt("%s is not a campaign journal (no header line)", path))
  end
  local st = fold(l.header, l.events)
  st.torn, st.size = l.torn, l.size
  return st
end

local Journal = {}
Journal.__index = Journal

local function refuse_foreign(path, old, header)
  for _, k in ipairs{ "message", "source" } do
    if header[k] ~= nil and old[k] ~= header[k] then
      return errors.fail("invalid", fmt("journal %s: its campaign %s was made from another %s "
        .. "(digest %s, now %s); a resume must use the same message and source, or start "
        .. "a new journal", path, tostring(old.campaign), k, tostring(old[k]), tostring(header[k])))
    end
  end
  return true
end

--- Peeks at a journal without locking it: its state, or false when there is
-- no file (or an empty one), or nil, err when it is not a journal.
function _M.peek(path)
  local size = log.size(path)
  if not size or size == 0 then return false end
  return _M.read(path)
end

--- Opens the journal of a campaign.  An existing journal is locked for the
-- life of the run (a second run is refused), must hold the same message and
-- source digests as `header`, and gives its state and campaign id.  A new one
-- is written only by the first intent().
-- @return journal | nil, err
function _M.open(path, header)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'journal.open' (a file name expected)", 2)
  end
  local self = setmetatable({ path = path, pending = {}, intents = 0 }, Journal)
  local f = io.open(path, "rb")
  if not f then -- new: created by the first intent
    self.header = log.header("journal", header)
    self.state = fold(self.header, {})
    return self
  end
  f:close()
  local w, err = log.open(path, "e")
  if not w then return nil, err end
  local ok, lerr = w:lock()
  if not ok then
    w:close()
    return nil, lerr
  end
  local st
  st, err = _M.peek(path)
  if st == false then -- an empty file: nothing was ever sent from it
    self.header, self.state, self.w = log.header("journal", header), fold(nil, {}), w
    self.state.header = self.header
    self.fresh = true
    return self
  end
  if st then ok, err = refuse_foreign(path, st.header, header) end
  if not st or not ok then
    w:close()
    return nil, err
  end
  w.torn = st.torn
  self.w, self.header, self.state = w, st.header, st
  return self
end

--- True once the journal is on disk.
function Journal:exists() return self.w ~= nil and not self.fresh end

-- Creates the file (new journal): its header, then what waited for it.
local function create(self)
  local w = self.w
  if not w then
    local err
    w, err = log.open(self.path, "x")
    if not w then
      if type(err) == "table" and err.code == "EEXIST" then
        err = errors.new("invalid", fmt("journal %s exists now (another run made it, or a "
          .. "symbolic link is there); refused",
          self.path))
      end
      return nil, err
    end
    local ok, lerr = w:lock()
    if not ok then
      w:close()
      return nil, lerr
    end
    self.w = w
  end
  self.fresh = nil
  local ok, err = w:add(self.header)
  for _, e in ipairs(self.pending) do
    if ok then ok, err = w:add(e) end
  end
  self.pending = {}
  if not ok then return nil, err end
  return true
end

-- Queues one event (a table, or an intent's JSON text).  Before the file
-- exists, events wait for the first commit that holds an intent (a run
-- that sends nothing writes nothing).
local function write(self, e, intent)
  if intent then self.intents = self.intents + 1 end
  if self.w and not self.fresh then return self.w:add(e) end
  self.pending[#self.pending + 1] = e
  return true
end

-- What both commits do first: create the file with the first intent (a run
-- that sends nothing writes nothing).  true: there is a file to commit.
local function before_commit(self)
  if not self:exists() then
    if self.intents == 0 then return false end
    local ok, err = create(self)
    if not ok then return nil, err end
  end
  self.intents, self.unsynced = 0, nil
  return true
end

--- Group commit: writes every queued event in one write(2) and makes it
-- durable with one fsync (the file is created by the first commit that
-- holds an intent).  The campaign commits the intents of every chunk about
-- to start, together, before any byte of them leaves; the answers queued
-- since ride along.
-- @return true | nil, err
function Journal:commit()
  local go, err = before_commit(self)
  if not go then return go == false or nil, err end
  return self.w:commit()
end

--- Starts a group commit that may end while the caller goes on (under
-- OpenResty the fsync waits for the thread pool in a light thread of its
-- own); the intents it holds are durable once commit_wait(ticket) returns.
-- @return ticket | nil, err
function Journal:commit_start()
  local go, err = before_commit(self)
  if not go then return go == false or nil, err end
  return self.w:commit_start()
end

--- Whether the commit of `ticket` (commit_start) has ended.
function Journal:commit_done(ticket) return ticket == true or self.w:commit_done(ticket) end

--- Waits for the commit of `ticket` (commit_start): true once durable.
-- @return true | nil, err
function Journal:commit_wait(ticket)
  if ticket == true then return true end
  return self.w:commit_wait(ticket)
end

--- Writes the queued events (one write(2), no fsync: a crash of the process
-- loses none of them; the next commit, or sync_due, makes them durable).
-- Queued intents are committed, never only written.
-- @param now the clock (ms), for sync_due
function Journal:flush(now)
  if not self:exists() then return true end
  if self.intents > 0 then return self:commit() end
  local w = self.w
  if #w.queue == 0 then return true end
  local ok, err = w:flush()
  if not ok then return nil, err end
  self.unsynced = self.unsynced or now or 0
  return true
end

--- Commits when written events have waited `ms` since they were written
-- (answers do not wait long for the next intent to make them durable).
function Journal:sync_due(now, ms)
  if self.unsynced and now - self.unsynced >= ms then return self:commit() end
  return true
end

--- Queues that chunk `k` (its rows, the digest of its body) is about to be
-- sent; it is durable once commit() returns, before any byte of it leaves.
function Journal:intent(k, rows, digest)
  return write(self, fmt('{"event":"intent","chunk":%d,"rows":[%s]%s}', k, int_list(rows),
    digest ~= nil and ',"digest":' .. encode(digest) or ""), true)
end
--- Queues that the API accepted chunk `k` as `batch_id` (`resolved`: found
-- by the metadata search after an ambiguous send).
function Journal:accepted(k, batch_id, resolved)
  return write(self, { event = "accepted", chunk = k, batch_id = batch_id, resolved = resolved })
end
--- Queues that chunk `k` may or may not have been accepted (never resent
-- before the metadata search has answered).
function Journal:ambiguous(k, reason)
  return write(self, { event = "ambiguous", chunk = k, reason = reason })
end
--- Queues that no byte of chunk `k` left: it may be sent again.
function Journal:unsent(k, reason) return write(self, { event = "unsent", chunk = k, reason = reason }) end
--- Queues that the API refused chunk `k` (HTTP `status`): its rows failed.
function Journal:refused(k, reason, status)
  return write(self, { event = "refused", chunk = k, reason = reason, status = status })
end
--- Queues a row of the source that was skipped, and why.
function Journal:bad_row(row, reason)
  return write(self, { event = "bad_row", row = row, reason = reason })
end
--- Records the end of the campaign with its summary and commits (nothing
-- when no file was written: a run that sent nothing).
function Journal:finish(summary)
  if not self:exists() and self.intents == 0 then return true end
  write(self, { event = "end", summary = summary })
  return self:commit()
end

--- Commits what is queued, then closes the file (and releases its lock).
-- @return true | nil, err (the commit failed)
function Journal:close()
  local ok, err = true, nil
  if self.w or self.intents > 0 then ok, err = self:commit() end
  if self.w then
    self.w:close()
    self.w = nil
  end
  return ok, err
end

return _M
