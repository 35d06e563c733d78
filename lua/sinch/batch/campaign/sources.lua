--- sinch.batch.campaign.sources: where a campaign's rows come from, and the
-- row rules a send and a dry run share.  A source yields chunks { rows,
-- count, digest } with the chunk's recipients in the campaign's batch; a bad
-- row goes to the campaign's bad_row(row, reason) and is never sent.
--
-- A CSV's header is read by the C reader only.  A list without a channel
-- column is an SMS list (the one default, for client:campaign and the CLI);
-- a `failure_reason` column (what `sinch-batch report --failed-csv` adds) is
-- no parameter.
local core = require "sinch.batch.core"
local journal_m = require "sinch.batch.campaign.journal"
local chunk = require "sinch.batch.chunk"
local recipient = require "sinch.batch.recipient"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local fmt, concat = string.format, table.concat

local _M = { DEFAULT_CHANNEL = "SMS" }

-- The columns a CSV's header names (read by the C reader), lower-cased as a
-- set and in order; nil, err when the file cannot be read.
function _M.columns(path)
  local r, err = core.csv_open(path, { channel = _M.DEFAULT_CHANNEL, params = {},
                                       channels = recipient.channels })
  if not r then return nil, err end
  local names = r:columns()
  r:close()
  local cols = {}
  for i, name in ipairs(names) do cols[name:lower()], cols[i] = true, name end
  return cols
end

--- The CSV options of a campaign: the given ones and the defaults.
-- @return options | nil, err
function _M.csv_options(path, given)
  local o = {}
  for k, v in pairs(given or {}) do o[k] = v end
  if o.channel and o.params then return o end
  local cols, err = _M.columns(path)
  if not cols then return nil, err end
  if o.channel == nil and o.channel_column == nil and not cols.channel then
    o.channel = _M.DEFAULT_CHANNEL
  end
  if o.params == nil and cols.failure_reason then
    local skip = { channel = not o.channel, contact_id = true, app_id = true, failure_reason = true,
                   [cols.identity and "identity" or "phone"] = true }
    o.params = {}
    for _, name in ipairs(cols) do
      if not skip[name:lower()] then o.params[#o.params + 1] = name end
    end
  end
  return o
end

-- A source yields chunks { rows = {…}, items = {…} | nil } and fills
-- `batch` with the chunk's recipients; bad rows go to on_bad(row, reason).
function _M.csv(self, path)
  local copts, err = _M.csv_options(path, self.opts.csv)
  if not copts then return nil, err end
  copts.builder, copts.size, copts.dedupe = self.batch, self.size, self.dedupe
  local src
  src, err = chunk.csv(path, copts)
  if not src then return nil, err end
  local seen = 0
  local function drain_bad()
    local bad = src.bad
    for i = seen + 1, #bad do self:bad_row(bad[i].line, bad[i].reason) end
    seen = #bad
  end
  return {
    kind = "csv", columns = src.columns, params = src.params,
    next = function()
      local c = src:next()
      drain_bad()
      if c == nil then
        return nil, src.err -- a read error ends the run
      end
      return { rows = c.rows, count = c.count }
    end,
    close = function() src:close() end,
  }
end

function _M.list(self, pull)
  local size, seen, b = self.size, self.dedupe and {} or nil, self.batch
  local identity_key = chunk.identity_key
  local ended = false
  return {
    kind = "list",
    next = function()
      if ended then return nil end
      b:reset()
      local rows, parts, n = {}, self.journal and {} or nil, 0
      while n < size do
        local item, index = pull()
        if item == nil then
          ended = true
          break
        end
        local reason
        if type(item) ~= "table" or type(item.recipient) ~= "table" then
          reason = "expected { recipient = …, parameters = … }"
        else
          local ok, verr = recipient.validate(item.recipient)
          if not ok then reason = "recipient: " .. tostring(verr) end
        end
        local k = not reason and seen and identity_key(item)
        if k and seen[k] then reason = fmt("duplicate of row %d", seen[k]) end
        if not reason then
          local ok, aerr = b:add(item.recipient, item.parameters, item.message_metadata,
                                 item.conversation_metadata)
          if not ok then
            reason = tostring(type(aerr) == "table" and aerr.message or aerr)
            reason = reason:gsub("^recipients%[%d+%]%.?", "")
          end
        end
        if reason then
          self:bad_row(index, reason)
        else
          if k then seen[k] = index end
          n = n + 1
          rows[n] = index
          if parts then parts[n] = journal_m.digest_value(item) end
        end
      end
      if n == 0 then return nil end
      return { rows = rows, count = n, digest = parts and core.digest(concat(parts)) }
    end,
    close = function() end,
  }
end


--- The source of a campaign's opts.source: a CSV path, a list or an iterator.
-- @return source | nil, err
function _M.open(self)
  local source = self.opts.source
  if type(source) == "string" then return _M.csv(self, source) end
  local i = 0
  if type(source) == "table" then
    self.total = #source
    return _M.list(self, function()
      if i >= #source then return nil end
      i = i + 1
      return source[i], i
    end)
  end
  return _M.list(self, function()
    local item = source()
    if item == nil then return nil end
    i = i + 1
    return item, i
  end)
end

return _M
