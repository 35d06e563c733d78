--- sinch.batch.chunk: split any contact source into batches of at most 1000.
--
--    local chunk = require "sinch.batch.chunk"
--    for c in chunk.list(recipients, 500) do          -- c[1..n], c.rows[1..n]
--      client:send{ message = msg, recipients = c }
--    end
--    local src = assert(chunk.csv("contacts.csv", { channel = "SMS" }))
--    for c in src do                                  -- c.recipients, c.rows
--      client:send{ message = msg, recipients = c.recipients }
--    end
--    for _, bad in ipairs(src.bad) do print(bad.line, bad.reason) end
--
-- Every chunk remembers where each of its items came from (`rows`: the index
-- in the list or generator, or the CSV line), so a receipt's messageIndex maps
-- back with `chunk.row_of(c, message_index)`.
--
-- The CSV reader is C (libcsv): RFC 4180 quoting, CRLF, a BOM, a header row
-- mapped to channel / identity / contact_id / app_id / parameters.  With
-- `opts.builder` (a batch from client:batch() or a core Builder) rows go from
-- the file straight into the request body, with no Lua table per row.
local errors = require "sinch.batch.errors"

local type, pairs, tostring, error, setmetatable = type, pairs, tostring, error, setmetatable
local require, pcall = require, pcall
local concat, floor = table.concat, math.floor
local fmt = string.format

local rules = require "sinch.batch.rules"
local options = require "sinch.batch.options"

local _M = { _VERSION = "0.1.0" }

-- The most a batch holds (the C core's MAX_RECIPIENTS), read on first use so
-- that list and iter stay usable before the C module loads.
local MAX
local function max()
  if MAX == nil then MAX = rules.max_recipients() end
  return MAX
end
do
  local ok, n = pcall(max)
  if ok then _M.MAX = n end
end

-- The C module loads on the first chunk.csv(): list and iter are plain Lua.
local core
local function load_core()
  if core == nil then
    core = require "sinch.batch.core"
    core.set_error_mt(errors.mt) -- errors from the C reader, even without sinch.batch
  end
  return core
end

local function check_size(size, fname)
  local MAX = max() -- luacheck: ignore 431
  if size == nil then return MAX end
  if type(size) ~= "number" or size ~= floor(size) or size < 1 or size > MAX then
    error(fmt("bad argument to '%s' (size: an integer from 1 to %d expected, got %s; "
      .. "a batch holds at most %d recipients)", fname, MAX, tostring(size), MAX), 3)
  end
  return size
end

-- The identity of a RecipientAndParam (or a bare recipient) for de-duplication:
-- the contact_id, or every channel+identity pair.
local function identity_key(item)
  if type(item) ~= "table" then return nil end
  local r = item.recipient or item
  if type(r) ~= "table" then return nil end
  if r.contact_id then return "contact\0" .. tostring(r.contact_id) end
  local ids = type(r.identified_by) == "table" and r.identified_by.channel_identities
  if type(ids) ~= "table" or ids[1] == nil then return nil end
  local parts = {}
  for i = 1, #ids do
    parts[i] = tostring(ids[i].channel) .. "\0" .. tostring(ids[i].identity)
  end
  return concat(parts, "\1")
end
--- The identity of a RecipientAndParam (or a bare recipient) for de-duplication:
-- the contact_id, or every channel+identity pair, as one string.
-- @function identity_key
-- @param item a RecipientAndParam table or a recipient
-- @return the key, or nil when it has no identity
_M.identity_key = identity_key

local LIST_OPTIONS = { size = "any", dedupe = "any" }

-- size or { size = n, dedupe = true | function(item) -> key }
local function list_options(opts, fname)
  if opts == nil or type(opts) == "number" then return check_size(opts, fname), nil end
  if type(opts) ~= "table" then
    error(fmt("bad argument to '%s' (a size or a table of options expected, got %s)", fname,
      type(opts)), 3)
  end
  options.assert(opts, LIST_OPTIONS, fname, 2, 2)
  local key = opts.dedupe
  if key == true then
    key = identity_key
  elseif key ~= nil and key ~= false and type(key) ~= "function" then
    error(fmt("bad argument to '%s' (dedupe: true or a function expected, got %s)", fname,
      type(key)), 3)
  end
  return check_size(opts.size, fname), key or nil
end

-- A source: callable in a generic for, with `bad` ({index=, reason=} for
-- list and iter, {line=, reason=} for csv).
local Source = {}
Source.__index = Source
Source.__call = function(self) return self:next() end

local function generic(pull, size, key)
  local seen = key and {} or nil
  local src = setmetatable({ bad = {} }, Source)
  local done = false
  function src.next()
    if done then return nil end
    local c, rows, n = {}, {}, 0
    while n < size do
      local item, index = pull()
      if item == nil then
        done = true
        break
      end
      local k = seen and key(item)
      local first = k ~= nil and seen[k]
      if first then
        local bad = src.bad
        bad[#bad + 1] = { index = index, reason = fmt("duplicate of item %d", first) }
      else
        if k ~= nil then seen[k] = index end
        n = n + 1
        c[n] = item
        rows[n] = index
      end
    end
    if n == 0 then return nil end
    c.rows = rows
    return c
  end
  return src
end

--- Chunks of an array: each chunk is an array of at most `size` items with
-- `rows[i]` = the item's index in t.
-- @param t an array
-- @param opts size (1..1000, default 1000) or { size = n, dedupe = true | fn }
-- @return a source: `for c in src do … end`; `src.bad` lists skipped duplicates
function _M.list(t, opts)
  if type(t) ~= "table" then
    error("bad argument #1 to 'list' (table expected, got " .. type(t) .. ")", 2)
  end
  local size, key = list_options(opts, "list")
  local i, n = 0, #t
  return generic(function()
    if i >= n then return nil end
    i = i + 1
    return t[i], i
  end, size, key)
end

--- Chunks of a generator: fn() returns the next item, nil at the end;
-- `rows[i]` counts the items fn produced (1-based).
function _M.iter(fn, opts)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'iter' (function expected, got " .. type(fn) .. ")", 2)
  end
  local size, key = list_options(opts, "iter")
  local i = 0
  return generic(function()
    local item = fn()
    if item == nil then return nil end
    i = i + 1
    return item, i
  end, size, key)
end

--- The source row of the recipient at messageIndex (0-based, as in a
-- receipt) of a chunk.
function _M.row_of(c, message_index)
  return c.rows[message_index + 1]
end

-- CSV -------------------------------------------------------------------

local CSV_OPTIONS = {
  size = "number", channel = "string", channel_column = "string",
  identity_column = "string", contact_column = "string", app_id_column = "string",
  params = "table", dedupe = "boolean", check_e164 = "boolean", delimiter = "string",
  builder = "any", channels = "table",
}

local Csv = {}
Csv.__index = Csv
Csv.__call = Source.__call

-- A core Builder userdata, or a batch from client:batch() (its .b).
local function core_builder(b)
  if type(b) == "table" and b.b ~= nil then return b.b, b end
  if type(b) == "userdata" then return b, nil end
  error("bad argument #2 to 'csv' (builder: a batch from client:batch() or a core builder "
    .. "expected, got " .. type(b) .. ")", 3)
end

local function collect_bad(self)
  local bad = self.bad
  local more = self.reader:bad(#bad + 1)
  for i = 1, #more do bad[#bad + 1] = more[i] end
end

--- The next chunk: `{ rows = {lines}, recipients = {RecipientAndParam…} }`,
-- or with a builder `{ rows = {lines}, count = n }` (the builder holds the
-- rows; call its body()).  nil at the end of the file.  A read error ends
-- the reading: nil, err (kind "invalid" or "internal"), also kept in `src.err`.
function Csv:next()
  local reader = self.reader
  if reader == nil then return nil end
  local c, err
  if self.builder then
    self.builder:reset()
    local n, rows = reader:fill(self.builder, self.size)
    if n == nil then
      err = rows
    elseif n > 0 then
      c = { rows = rows, count = n }
    end
  else
    local recipients, rows = reader:next_rows(self.size)
    if recipients == nil then
      err = rows
    elseif #recipients > 0 then
      c = { rows = rows, recipients = recipients }
    end
  end
  collect_bad(self)
  if c == nil then self:close() end
  if err then
    self.err = err
    return nil, err
  end
  return c
end

--- Stops reading and frees the file (the bad rows found so far stay).
function Csv:close()
  if self.reader then
    self.reader:close()
    self.reader = nil
  end
end

--- Chunks of a CSV file.
-- @param path the file
-- @tparam[opt] table opts size (1..1000), channel (a fixed channel, e.g. "SMS"),
--   channel_column ("channel"), identity_column ("identity", else "phone"),
--   contact_column ("contact_id"), app_id_column ("app_id"), params (the
--   parameter columns; default every other column), dedupe (false),
--   check_e164 (true), delimiter (","), builder (fill this batch directly),
--   channels (which are phone channels; default recipient.channels)
-- @return a source (`for c in src do … end`, `src.bad`, `src.columns`,
--   `src.params`) | nil, err
function _M.csv(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'csv' (string expected, got " .. type(path) .. ")", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'csv' (table expected, got " .. type(opts) .. ")", 2)
  end
  options.assert(opts, CSV_OPTIONS, "csv", 2, 1)
  local size = check_size(opts.size, "csv")
  local builder, batch
  if opts.builder ~= nil then builder, batch = core_builder(opts.builder) end
  if opts.channels == nil then
    local o = { channels = require("sinch.batch.recipient").channels }
    for k, v in pairs(opts) do o[k] = v end
    opts = o
  end
  local reader, err = load_core().csv_open(path, opts)
  if not reader then return nil, err end
  local src = setmetatable({ bad = {}, reader = reader, size = size, builder = builder,
                             columns = reader:columns(), params = reader:params() }, Csv)
  -- the fast path skips the per-row ${param} check of batch:add(): check
  -- the columns once instead (every good row has every column)
  if batch and type(batch.params) == "table" then
    local have = {}
    for _, name in pairs(src.params) do have[name] = true end
    for _, name in pairs(batch.params) do
      if not have[name] then
        src:close()
        return errors.fail("invalid", fmt("params: the message uses ${%s} but no CSV column "
          .. "gives it (defaults do not apply to rows filled from a file)", name))
      end
    end
  end
  return src
end

return _M
