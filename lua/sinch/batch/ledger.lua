--- sinch.batch.ledger: an append-only record of accepted batches, so that
-- every delivery receipt (batch_id, message_index) can be tied back to the
-- recipient and the source row it came from.
--
--   local ledger = assert(require("sinch.batch.ledger").open("spring.ledger"))
--   ledger:record{ batch_id = res.batch_id, tag = "spring",
--                  rows = { 2, 3, 4 }, recipients = { "+46700000001", … } }
--   local hit = ledger:lookup(event.batch_id, event.message_index)  -- 0-based
--   --> { row = 3, recipient = "+46700000002", tag = "spring", batch_id = …, index = 1 }
--
-- The file is a log (sinch.batch.log, kind "ledger": one header line, then
-- one line per batch, written in one write and fsync'd before record()
-- returns):
--   {"event":"batch","batch_id":"01J…","tag":"spring","rows":[2,3,4],"recipients":["+4670…",…]}
-- Reopening reloads it, through the log's one reader (a torn last line is
-- left alone, anything else unreadable is refused).  lookup() of a batch it
-- does not know reads what other processes appended since (a receiver
-- running beside the sender).  A campaign journal is read as a ledger too
-- (a view of it): each accepted chunk is a batch, its intent's rows are its
-- rows, the campaign id is its tag.

local errors = require "sinch.batch.errors"
local log = require "sinch.batch.log"

local type, tostring, tonumber, error, setmetatable = type, tostring, tonumber, error, setmetatable
local ipairs, pairs, pcall, sort = ipairs, pairs, pcall, table.sort
local format = string.format

local _M = { _VERSION = "0.1.0" }

local Ledger = {}
Ledger.__index = Ledger

local KINDS = { ledger = true, journal = true }

local function invalid(msg) return errors.fail("invalid", msg) end

-- Indexes an entry; a batch recorded twice keeps its last entry.
local function add(self, e)
  if self.index[e.batch_id] == nil then self.count = self.count + 1 end
  self.index[e.batch_id] = e
end

-- One event: a ledger's batch, or a journal's intent (the rows of a chunk)
-- and acceptance (its batch id).
local function apply(self, e)
  local k = e.chunk
  if e.event == "batch" and type(e.batch_id) == "string" and type(e.rows) == "table" then
    if type(e.recipients) ~= "table" then e.recipients = nil end
    if type(e.tag) ~= "string" and type(e.tag) ~= "table" and type(e.tag) ~= "number" then
      e.tag = nil
    end
    e.event = nil
    add(self, e)
  elseif e.event == "intent" and type(k) == "number" and type(e.rows) == "table" then
    self.pending[k] = e.rows
  elseif e.event == "accepted" and type(k) == "number" and type(e.batch_id) == "string" then
    add(self, { batch_id = e.batch_id, tag = self.campaign, rows = self.pending[k] or {}, chunk = k })
  end
end

--- Reads the complete lines appended since the last read.
-- @return true | nil, err (the file is no ledger or journal, or unreadable)
function Ledger:refresh()
  local l, err = log.read(self.path, { offset = self.offset, kinds = KINDS, what = "ledger" })
  if not l then return nil, err end
  if l.header then
    self.kind = l.header.kind
    if l.header.kind == "journal" then self.campaign = l.header.campaign end
  elseif self.offset == 0 and l.offset > 0 then
    return invalid(format("%s: no header line; not a ledger", self.path))
  end
  for _, e in ipairs(l.events) do apply(self, e) end
  self.offset, self.torn = l.offset, l.torn
  return true
end

--- Opens (or creates, 0600) a ledger file and loads what it holds.  A
-- campaign journal opens read-only: its batches, for lookups.
-- @tparam string path the file
-- @return the ledger | nil, err
function _M.open(path)
  if type(path) ~= "string" or path == "" then
    error("ledger.open: path: expected a file name, got " .. tostring(path), 2)
  end
  local self = setmetatable({ path = path, index = {}, offset = 0, count = 0, torn = 0,
                              pending = {} }, Ledger)
  local w, err = log.open(path, "x")
  if w then
    local ok, herr = w:append(log.header("ledger"))
    if not ok then
      w:close()
      return nil, herr
    end
  elseif type(err) == "table" and err.code == "EEXIST" then
    w, err = log.open(path, "e")
    if w and log.size(path) == 0 then -- an empty file (made by mktemp, say) becomes a new ledger
      local ok, herr = w:append(log.header("ledger"))
      if not ok then
        w:close()
        return nil, herr
      end
    end
  end
  if not w then
    return nil, errors.new("internal", format("ledger %s: cannot open for appending: %s", path,
      tostring(type(err) == "table" and err.message or err)))
  end
  self.file = w
  local ok, rerr = self:refresh()
  if not ok then
    w:close()
    self.file = nil
    return nil, rerr
  end
  if self.kind == "journal" then -- a view: never written through the ledger
    w:close()
    self.file, self.view = nil, true
  end
  return self
end

-- A recipient as one string: an identity, a contact id, or the first
-- channel identity of a Recipient / RecipientAndParam table.
local function identity_of(r)
  if type(r) == "string" then return r end
  if type(r) ~= "table" then return nil end
  if r.recipient ~= nil then r = r.recipient end
  if type(r) ~= "table" then return nil end
  if type(r.contact_id) == "string" then return r.contact_id end
  local ids = type(r.identified_by) == "table" and r.identified_by.channel_identities
  local first = type(ids) == "table" and ids[1]
  if type(first) == "table" and type(first.identity) == "string" then return first.identity end
  return nil
end
--- A recipient as one string: an identity, a contact id, or the first
-- channel identity of a Recipient / RecipientAndParam table.
-- @function identity_of
-- @param r a recipient
-- @return the string, or nil
_M.identity_of = identity_of

-- Checks a record; returns its rows and recipients (identity strings).
-- Without rows, the row of each recipient is its 1-based position.
local function check_record(t)
  if type(t) ~= "table" then error("ledger:record: expected a table, got " .. type(t), 3) end
  if type(t.batch_id) ~= "string" or t.batch_id == "" then
    error("ledger:record: batch_id: expected a non-empty string, got " .. tostring(t.batch_id), 3)
  end
  local tt = type(t.tag)
  if t.tag ~= nil and tt ~= "string" and tt ~= "number" and tt ~= "table" then
    error("ledger:record: tag: expected a string or a table, got " .. tt, 3)
  end
  if t.rows == nil and t.recipients == nil then
    error("ledger:record: rows: expected an array of row numbers or ids (or recipients), got nil", 3)
  end
  if t.rows ~= nil and type(t.rows) ~= "table" then
    error("ledger:record: rows: expected an array of row numbers or ids, got " .. type(t.rows), 3)
  end
  if t.recipients ~= nil and type(t.recipients) ~= "table" then
    error("ledger:record: recipients: expected an array, got " .. type(t.recipients), 3)
  end
  local rows, recipients = {}, {}
  local n = t.rows and #t.rows or #t.recipients
  for i = 1, n do
    local r = t.rows and t.rows[i] or i
    if type(r) ~= "number" and type(r) ~= "string" then
      error(format("ledger:record: rows[%d]: expected a row number or id, got %s", i, type(r)), 3)
    end
    rows[i] = r
  end
  if t.recipients ~= nil then
    if #t.recipients ~= n then
      error(format("ledger:record: recipients: %d given for %d rows; one per row is needed",
                   #t.recipients, n), 3)
    end
    for i = 1, n do
      local id = identity_of(t.recipients[i])
      if id == nil then
        error(format("ledger:record: recipients[%d]: expected an identity string or a recipient "
                     .. "table with contact_id or identified_by", i), 3)
      end
      recipients[i] = id
    end
  end
  return rows, recipients
end

--- Appends one batch (fsync'd); returns true, or nil, err when the file
-- cannot be written (the batch is then remembered in memory only).
function Ledger:record(t)
  if not self.file then error("ledger:record: the ledger is closed", 2) end
  local rows, recipients = check_record(t)
  -- no recipients (rows only): leave the key out rather than write an empty {}
  local entry = { batch_id = t.batch_id, tag = t.tag, rows = rows,
                  recipients = recipients[1] ~= nil and recipients or nil }
  add(self, entry)
  self.file.torn = self.torn
  local ok, err = self.file:append{ event = "batch", batch_id = entry.batch_id, tag = entry.tag,
                                    rows = rows, recipients = entry.recipients }
  if not ok then
    return nil, errors.new("internal", format("ledger %s: write failed: %s", self.path,
      tostring(type(err) == "table" and err.message or err)))
  end
  self.torn = 0
  return true
end

--- The whole entry of a batch, or nil.
function Ledger:entry(batch_id)
  local e = self.index[batch_id]
  if e == nil and type(batch_id) == "string" then
    self:refresh()
    e = self.index[batch_id]
  end
  return e
end

--- Every batch known (after reading what others appended): an iterator of
-- batch_id, entry.
function Ledger:batches()
  self:refresh()
  return pairs(self.index)
end

--- The recipient at message_index (0-based, as in delivery receipts):
-- `{ row, recipient, tag, batch_id, index }`, or nil.
function Ledger:lookup(batch_id, message_index)
  if type(batch_id) ~= "string" then return nil end
  local i = tonumber(message_index)
  if i == nil or i < 0 or i % 1 ~= 0 then return nil end
  local e = self:entry(batch_id)
  local row = e and e.rows[i + 1]
  if row == nil then return nil end
  local rcpt = e.recipients and e.recipients[i + 1]
  return { row = row, recipient = rcpt, tag = e.tag, batch_id = batch_id, index = i }
end

--- True until close().
function Ledger:is_open()
  return self.file ~= nil
end

--- Closes the file (idempotent); lookups keep working on what was loaded.
function Ledger:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end

function Ledger:__tostring()
  return format("sinch.batch.Ledger(%s, %d batches%s)", self.path, self.count,
                self.file and "" or ", closed")
end

-- client:send's glue ---------------------------------------------------

--- The ledger entry of a batch about to be sent (used by client:send),
-- checked before anything goes out: a ledger that cannot take it must not
-- cost a sent batch.  `n` is nil for a raw body (the caller says what is in it).
-- @return entry | nil, err
function _M.prepare(ledger, n, batch_metadata, opts, entries)
  local tag = opts and opts.tag
  if tag == nil and batch_metadata then
    local keys = {}
    for k in pairs(batch_metadata) do keys[#keys + 1] = k end
    sort(keys)
    if keys[1] then tag = keys[1] .. "=" .. batch_metadata[keys[1]] end
  end
  local rows, recipients = opts and opts.rows, opts and opts.recipients
  if recipients == nil then recipients = entries end
  if n == nil then
    n = rows and #rows or recipients and #recipients
    if n == nil then return invalid("rows: a raw body sent with a ledger needs rows or recipients") end
  end
  if rows == nil and recipients == nil then
    rows = {}
    for i = 1, n do rows[i] = i end
  end
  if rows ~= nil and #rows ~= n then
    return invalid(format("rows: %d given for %d recipients; the ledger needs one per recipient", #rows, n))
  end
  if recipients ~= nil and #recipients ~= n then
    return invalid(format("recipients: %d given for %d recipients in the batch", #recipients, n))
  end
  if ledger.is_open and not ledger:is_open() then return invalid("ledger: the ledger is closed") end
  return { tag = tag, rows = rows, recipients = recipients }
end

--- Records an accepted batch before send returns.  A failed write is
-- reported with the batch id: the batch WAS accepted.
function _M.commit(ledger, entry, batch_id)
  entry.batch_id = batch_id
  local ok, res, err = pcall(ledger.record, ledger, entry)
  if not ok or not res then
    local why = ok and err or res
    return errors.fail("internal", format("batch %s was accepted but the ledger write failed: %s",
      batch_id, tostring(type(why) == "table" and why.message or why)),
      { batch_id = batch_id, may_have_been_processed = true })
  end
  return true
end

return _M
