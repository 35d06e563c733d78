--- sinch.batch.outcomes: a receipts store on SQLite and the campaign report.
--
-- Every delivery receipt is one row, keyed so that a callback Sinch retries
-- is counted once; each recipient's outcome (DELIVERED, FAILED with its
-- reason, or still pending) is kept beside it, and the campaign journal
-- tells which campaign row each (batch id, message index) came from.  A
-- receipt that arrives before its batch is known is stored all the same and
-- joined when the batch is: nothing ever waits for a ledger line.
--
--   local outcomes = require "sinch.batch.outcomes"
--   local store = assert(outcomes.open("spring.receipts"))
--   store:add(webhook.parse(raw_body))          -- or store:add_many(events)
--   store:add_batch{ batch_id = id, campaign = "c1", chunk = 3, rows = { 2001, 2002, … } }
--   store:import_journal("spring.journal")      -- or: every accepted batch of a campaign
--   local r = store:report("c1")
--   --> { campaign = "c1", batches = 2, recipients = 2000, delivered = 1900,
--   --     failed = 100, failed_by_reason = { RECIPIENT_NOT_REACHABLE = 100 },
--   --     pending = 0, receipts = 4000, last_receipt = "2026-…" }
--
-- `outcomes.report{ journal = J, store = S }` does both in one call.
-- The database runs in WAL mode with a busy timeout, so any number of
-- writers (nginx workers, the plain receiver, the CLI) can share one file.
-- The store's methods are documented with the module that holds them: the
-- campaign join (`add_batch`, `add_campaign`, `campaigns`, `import_journal`,
-- `failed`, …) in sinch.batch.outcomes.join, the report's time queries
-- (`timeline`, `batches`) in sinch.batch.outcomes.timeline.
-- @module sinch.batch.outcomes

local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local options = require "sinch.batch.options"
local cjson = require "cjson.safe"

local type, tostring, error, setmetatable, getmetatable, pcall = type, tostring, error,
  setmetatable, getmetatable, pcall
local ipairs, pairs = ipairs, pairs
local format, floor = string.format, math.floor
local byte, sub, rep, concat = string.byte, string.sub, string.rep, table.concat
local os_time, os_date = os.time, os.date

local _M = { _VERSION = "0.1.0" }

-- Outcome ranks: a recipient's outcome only moves up (a late QUEUED after
-- DELIVERED changes nothing; DELIVERED after FAILED is DELIVERED).
local PENDING, FAILED, DELIVERED = 0, 1, 2
_M.PENDING, _M.FAILED, _M.DELIVERED = PENDING, FAILED, DELIVERED

--- Which receipt status means what.  Open: any other status is pending.
_M.STATUS_RANK = { DELIVERED = DELIVERED, READ = DELIVERED, FAILED = FAILED }

local Store = {}
Store.__index = Store

local function store_error(what, msg)
  return errors.new("internal", format("outcomes: %s: %s", what, tostring(msg)))
end

local function sqlite()
  local ok, m = pcall(require, "sinch.batch.sqlite")
  if not ok then
    error("sinch.batch.outcomes: the SQLite module (sinch.batch.sqlite) is not installed: " ..
      tostring(m), 3)
  end
  return m
end

-- the tables and statements (SQLite): sinch.batch.outcomes.schema
local SCHEMA = require("sinch.batch.outcomes.schema").SCHEMA
local STATEMENTS = require("sinch.batch.outcomes.schema").STATEMENTS

local OPEN_OPTIONS = { busy_timeout = "number", synchronous = "string" }
-- (issue 21) synchronous: NORMAL (a commit survives the process being
-- killed: WAL) or FULL (it survives a power loss too)
local SYNCHRONOUS = { NORMAL = true, FULL = true }

--- Opens (creating) a store.
-- @tparam string path the database file
-- @tparam[opt] table opts `busy_timeout` (ms, default 10000), `synchronous`
--   ("NORMAL", the default, or "FULL")
-- @return the store, or nil and an error
-- (sinch.batch.store.open takes a URL: SQLite or PostgreSQL)
function _M.open(path, opts)
  if type(path) ~= "string" or path == "" then
    error("outcomes.open: path: expected a file name, got " .. tostring(path), 2)
  end
  opts = opts or {}
  options.assert(opts, OPEN_OPTIONS, "outcomes.open", nil, 1)
  if opts.synchronous ~= nil and not SYNCHRONOUS[opts.synchronous] then
    error("outcomes.open: synchronous: expected \"NORMAL\" or \"FULL\", got " ..
      tostring(opts.synchronous), 2)
  end
  local db, err = sqlite().open(path, opts.busy_timeout)
  if not db then return nil, store_error("open " .. path, err) end
  local ok, serr = db:exec(SCHEMA)
  if not ok then
    db:close()
    return nil, store_error("schema of " .. path, serr)
  end
  if opts.synchronous then
    ok, serr = db:exec("PRAGMA synchronous = " .. opts.synchronous)
    if not ok then
      db:close()
      return nil, store_error("synchronous of " .. path, serr)
    end
  end
  local self = setmetatable({ db = db, path = path, st = {} }, Store)
  for name, sql in pairs(STATEMENTS) do
    local st, perr = db:prepare(sql)
    if not st then
      self:close()
      return nil, store_error("prepare " .. name, perr)
    end
    self.st[name] = st
  end
  return self
end

local function now_iso()
  return os_date("!%Y-%m-%dT%H:%M:%SZ", os_time())
end

-- U+FFFD, the replacement character, in UTF-8
local FFFD = "\239\191\189"

-- The continuation bytes a UTF-8 lead byte takes, and the range of the
-- first (Unicode's table 3-7: no overlong forms, no surrogates, nothing
-- past U+10FFFF); 0 for a byte that cannot start a sequence.
local function lead(c)
  if c >= 0xC2 and c <= 0xDF then return 1, 0x80, 0xBF end
  if c == 0xE0 then return 2, 0xA0, 0xBF end
  if c == 0xED then return 2, 0x80, 0x9F end
  if c >= 0xE1 and c <= 0xEF then return 2, 0x80, 0xBF end
  if c == 0xF0 then return 3, 0x90, 0xBF end
  if c >= 0xF1 and c <= 0xF3 then return 3, 0x80, 0xBF end
  if c == 0xF4 then return 3, 0x80, 0x8F end
  return 0
end

-- Valid UTF-8 without NUL: each NUL byte and each invalid UTF-8 sequence
-- (its longest start that could begin a character, or else one byte:
-- Unicode's "maximal subpart") becomes U+FFFD, followed, with `hex`, by
-- the sequence's bytes in hex (so "a\0" and "a\255" stay apart).
local text_ok = core.text_ok -- valid UTF-8, no NUL (in C)
local function clean(s, hex)
  if type(s) ~= "string" or text_ok(s) then return s end
  local out, n, i, from, len = {}, 0, 1, 1, #s
  while i <= len do
    local c = byte(s, i)
    if c > 0 and c < 0x80 then
      i = i + 1
    else
      local need, lo, hi = lead(c)
      local j, ok = i + 1, need > 0
      for k = 1, need do
        local d = byte(s, j)
        if not d or d < (k == 1 and lo or 0x80) or d > (k == 1 and hi or 0xBF) then
          ok = false
          break
        end
        j = j + 1
      end
      if ok then
        i = j
      else -- bytes i .. j - 1 (one at least) are one bad sequence
        out[n + 1], out[n + 2], n = sub(s, from, i - 1), FFFD, n + 2
        if hex then
          n = n + 1
          out[n] = format(rep("%02X", j - i), byte(s, i, j - 1))
        end
        i, from = j, j
      end
    end
  end
  out[n + 1] = sub(s, from)
  return concat(out)
end

-- A receipt's text as both stores hold it (see below).
local function clean_text(s) return (clean(s, false)) end
--- A receipt's text as both stores hold it: valid UTF-8 without NUL.  A
-- callback's strings are whatever its JSON said ("\u0000", raw bytes that
-- are not UTF-8); PostgreSQL's text refuses both, SQLite would keep them.
-- Each NUL byte and each invalid UTF-8 sequence (its longest start that
-- could begin a character, or else one byte: Unicode's "maximal subpart")
-- becomes U+FFFD; valid text comes back unchanged, as does anything that is
-- not a string.  The same callback always gives the same text.
-- @function clean_text
-- @param s the value
-- @return the cleaned value
_M.clean_text = clean_text

-- The longest text an indexed column (a receipt's key, a batch id) holds
-- whole: PostgreSQL refuses an index entry over 2704 bytes, and with it the
-- group.  Longer (valid UTF-8) text keeps its first 900 bytes or so, cut
-- between two characters, then "…" and the SHA-256 of all of it in hex:
-- the same text gives the same value, two texts two values.
local MAX_INDEXED, KEEP = 1000, 900
local function bounded(s)
  if type(s) ~= "string" or #s <= MAX_INDEXED then return s end
  local cut = KEEP
  while byte(s, cut + 1) >= 0x80 and byte(s, cut + 1) < 0xC0 do cut = cut - 1 end
  return sub(s, 1, cut) .. "\226\128\166" .. core.digest(s)
end

--- The key that makes a retried callback count once: the message and its
-- status (a message has one receipt per status), or, without a message id,
-- the batch, the index and the status.  Text as the store holds it: each
-- NUL byte or invalid UTF-8 sequence is U+FFFD followed by its bytes in hex
-- (U+FFFD00 for a NUL), so a retried callback has the same key every time,
-- in either store, and two that differ only there keep two keys.  A key
-- over 1000 bytes is cut, and the SHA-256 of the whole follows.
local function receipt_key(ev)
  local status = ev.status or ""
  if ev.message_id then return bounded(clean(ev.message_id .. "|" .. status, true)) end
  return bounded(clean(format("%s#%s|%s", ev.batch_id, tostring(ev.message_index), status), true))
end
--- The key that makes a retried callback count once (see above).
-- @function receipt_key
-- @param ev a parsed delivery receipt
-- @return the key
_M.receipt_key = receipt_key

-- The values a delivery receipt is stored as (see below).
local function receipt_row(ev, now)
  local index = ev.message_index
  if not _M.index_ok(index) then index = nil end -- 1e300, NaN, -1: no outcome row
  local reason = type(ev.reason) == "table" and ev.reason or nil
  local code = reason and type(reason.code) == "string" and reason.code or nil
  local desc = reason and type(reason.description) == "string" and reason.description or nil
  local status, batch_id, message_id = ev.status, ev.batch_id, ev.message_id
  local at = ev.event_time or ev.accepted_time or now or now_iso()
  if not text_ok(status, batch_id, message_id, code, desc, at) then -- (one question, in C)
    status, batch_id, message_id = clean_text(status), clean_text(batch_id), clean_text(message_id)
    code, desc, at = clean_text(code), clean_text(desc), clean_text(at)
  end
  return receipt_key(ev), bounded(batch_id), index, message_id, status, code, desc, at,
    _M.STATUS_RANK[status or ""] or PENDING
end
--- The values a delivery receipt is stored as, the same for both stores
-- (sinch.batch.store.postgres takes them too): its text cleaned
-- (clean_text), a batch id over 1000 bytes cut as the key is (the
-- SHA-256 of the whole follows), an index that cannot be one dropped.
-- @function receipt_row
-- @param ev an event from webhook.parse (a batch's delivery receipt)
-- @param[opt] now the time to store when the receipt has none (default: now)
-- @return key, batch_id, index (or nil), message_id, status, reason code,
--   reason description, time, rank
_M.receipt_row = receipt_row

-- One receipt, inside a transaction the caller holds.  Returns true when it
-- was new, false for a duplicate, nil and an error on failure.
local function add_one(self, ev)
  if type(ev) ~= "table" then
    error("outcomes: add: expected an event from webhook.parse, got " .. type(ev), 3)
  end
  if ev.type ~= "message_delivery" or not ev.batch_id then return false end
  local key, batch_id, index, message_id, status, code, desc, at, rank = receipt_row(ev)
  local n, err = self.st.receipt:run(key, batch_id, index, message_id, status, code, desc, at,
    os_time())
  if not n then return nil, store_error("insert receipt", err) end
  if n == 0 then return false end
  if index ~= nil then
    local ok, oerr = self.st.outcome:run(batch_id, index, rank, status,
      rank == FAILED and code or nil, rank == FAILED and desc or nil, at)
    if not ok then return nil, store_error("update outcome", oerr) end
  end
  return true
end

local function txn(self, fn)
  local ok, err = self.st.begin:run()
  if not ok then return nil, store_error("begin", err) end
  local pok, a, b = pcall(fn)
  if pok and a ~= nil then
    ok, err = self.st.commit:run()
    if ok then return a, b end
    self.st.rollback:run()
    return nil, store_error("commit", err)
  end
  self.st.rollback:run()
  if not pok then error(a, 0) end
  return nil, b
end

function Store:_check()
  if not self.db then error("outcomes: the store is closed", 3) end
end

--- Records one receipt (an event from `webhook.parse`).  Events that are not
-- delivery receipts of a batch are ignored.
-- @return true when new, false when already known (a retried callback) or
-- not a batch receipt; nil and an error on failure
function Store:add(ev)
  self:_check()
  return txn(self, function() return add_one(self, ev) end)
end

--- Records many receipts in one transaction (the fast way: a receiver
-- queues events and flushes them together).
-- @return the number of new receipts, or nil and an error
function Store:add_many(events)
  self:_check()
  if self.backend then return self.backend.add_many(self, events) end -- (issue 21) PostgreSQL
  if type(events) ~= "table" then
    error("outcomes: add_many: expected an array of events, got " .. type(events), 2)
  end
  return txn(self, function()
    local new = 0
    for _, ev in ipairs(events) do
      local ok, err = add_one(self, ev)
      if ok == nil then return nil, err end
      if ok then new = new + 1 end
    end
    return new
  end)
end

local function query(self, sql, ...)
  local st, err = self.db:prepare(sql)
  if not st then return nil, store_error("prepare", err) end
  local rows, qerr = st:rows(...)
  st:close()
  if not rows then return nil, store_error("query", qerr) end
  return rows
end

--- The report of one campaign (or of every receipt when `campaign` is nil).
-- @return { campaign, rows, batches, recipients, delivered, failed,
--   failed_by_reason = { CODE = n }, pending, receipts, last_receipt,
--   unmatched_receipts, source } and, for a campaign joined from its journal,
--   journal (its path), chunks, chunks_not_accepted, bad_rows and
--   sending_done (the journal ended with every chunk accepted)
function Store:report(campaign)
  self:_check()
  local r = { campaign = campaign, failed_by_reason = {} }
  local where, args = "", {}
  if campaign ~= nil then
    where, args = " WHERE b.campaign = ?", { tostring(campaign) }
  end
  local rows, err = query(self, "SELECT count(*), coalesce(sum(recipients), 0) FROM batches b" ..
    where, args[1])
  if not rows then return nil, err end
  r.batches, r.recipients = rows[1][1], rows[1][2]
  rows, err = query(self, "SELECT o.rank, o.reason, count(*), max(o.at) FROM outcomes o " ..
    "JOIN batches b ON b.batch_id = o.batch_id" .. where .. " GROUP BY o.rank, o.reason", args[1])
  if not rows then return nil, err end
  r.delivered, r.failed, r.in_progress = 0, 0, 0
  for _, row in ipairs(rows) do
    local rank, reason, n = row[1], row[2], row[3]
    if rank == DELIVERED then
      r.delivered = r.delivered + n
    elseif rank == FAILED then
      r.failed = r.failed + n
      local code = reason or "UNKNOWN"
      r.failed_by_reason[code] = (r.failed_by_reason[code] or 0) + n
    else
      r.in_progress = r.in_progress + n
    end
  end
  r.pending = r.recipients - r.delivered - r.failed
  rows, err = query(self, "SELECT count(*), max(r.event_time) FROM receipts r " ..
    "JOIN batches b ON b.batch_id = r.batch_id" .. where, args[1])
  if not rows then return nil, err end
  r.receipts, r.last_receipt = rows[1][1], rows[1][2]
  rows, err = query(self, "SELECT count(*) FROM receipts r WHERE NOT EXISTS " ..
    "(SELECT 1 FROM batches b WHERE b.batch_id = r.batch_id)")
  if not rows then return nil, err end
  r.unmatched_receipts = rows[1][1]
  if campaign ~= nil then
    rows, err = query(self, "SELECT source, rows, info FROM campaigns WHERE campaign = ?",
      tostring(campaign))
    if not rows then return nil, err end
    if rows[1] then
      r.source, r.rows = rows[1][1], rows[1][2]
      local info = rows[1][3] and cjson.decode(rows[1][3])
      if type(info) == "table" then -- what the journal said when it was last joined
        local function int(v) return type(v) == "number" and floor(v) or nil end
        r.journal, r.chunks, r.chunks_not_accepted = info.path, int(info.chunks), int(info.not_accepted)
        r.bad_rows, r.sending_done = int(info.bad_rows), info.done == true
      end
    end
  end
  return r
end

-- the report's time queries (Store:timeline, Store:batches): outcomes.timeline
local epoch = require("sinch.batch.outcomes.timeline").install(Store, { query = query,
  DELIVERED = DELIVERED })
--- Seconds since the epoch of a receipt's RFC 3339 time (UTC or an offset).
-- @function epoch
-- @param s the time
-- @return seconds, or nil
_M.epoch = epoch

-- the campaign join (Store:add_batch, add_campaign, campaigns, import_journal and
-- what it needs, failed): outcomes.join
local decode_rows = require("sinch.batch.outcomes.join").install(Store, { query = query,
  store_error = store_error, FAILED = FAILED })
--- The CSV rows of a stored batch, from the store's comma-separated text.
-- @function decode_rows
-- @param s the stored text
-- @return { row, … } (numbers where they are numbers)
_M.decode_rows = decode_rows

--- Runs fn() in one transaction (committed when it returns non-nil).
function Store:transaction(fn) return txn(self, fn) end

--- Closes the store's database (writes go through before it returns).
function Store:close()
  if self.st then
    for _, st in pairs(self.st) do st:close() end
    self.st = nil
  end
  if self.db then
    self.db:close()
    self.db = nil
  end
end

-- (issue 21) another database's store (sinch.batch.store.postgres): its
-- connection `db` and statements `st` answer as the SQLite ones do
-- (run, rows, close); `backend.add_many` writes a group its own way.
function _M._new(db, st, path, backend)
  return setmetatable({ db = db, st = st, path = path, backend = backend }, Store)
end

--- Whether a message index can be stored as one: a whole number from 0 to
-- 2^53 (a callback's messageIndex of 1e300 is stored without an outcome).
function _M.index_ok(i)
  return type(i) == "number" and i >= 0 and i < 9007199254740992 and i % 1 == 0
end

function Store:__tostring()
  return format("sinch.batch.outcomes (%s, %s)", self.path, self.db and "open" or "closed")
end

--- The report of a campaign from its journal and the receipts store, in
-- one call: `outcomes.report{ journal = "spring.journal", store =
-- "spring.receipts" }` (store: a path or an open store).  The journal is
-- joined into the store first (see `Store:import_journal`).
-- @return the report (see `Store:report`), or nil and an error
function _M.report(t)
  if type(t) ~= "table" or type(t.journal) ~= "string" then
    error("outcomes.report: journal: expected a journal file name", 2)
  end
  local store, own = t.store, type(t.store) == "string"
  if own then
    local oerr
    store, oerr = _M.open(store)
    if not store then return nil, oerr end
  elseif getmetatable(store) ~= Store then
    error("outcomes.report: store: expected a file name or a store from outcomes.open", 2)
  end
  local r, imp, err
  imp, err = store:import_journal(t.journal)
  if imp then r, err = store:report(imp.campaign) end
  if own then store:close() end
  return r, err
end

return _M
