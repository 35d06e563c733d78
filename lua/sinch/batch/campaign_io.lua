--- sinch.batch.campaign_io: what sinch.batch.campaign reads from and sends
-- through.  Sources yield chunks { rows, count, digest } with the chunk's
-- recipients in the campaign's batch; drivers run sends: start(job) and
-- wait(timeout_ms) -> { {job, res, err}, … }, waiting_ms() (the longest
-- Retry-After/backoff wait in progress), close().
--   curl-multi  the libcurl multi driver (sinch.batch.curl.multi), plain Lua
--   ngx.thread  one light thread per batch in flight, on cosockets
--   sequential  one call at a time through a custom transport object
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local journal_m = require "sinch.batch.journal"
local cjson = require "cjson.safe"

local type, pairs, tostring, require, pcall = type, pairs, tostring, require, pcall
local max = math.max
local fmt, concat, remove = string.format, table.concat, table.remove
local decode = cjson.decode

local _M = {}

-- sources -----------------------------------------------------------------

-- A source yields chunks { rows = {…}, items = {…} | nil } and fills
-- `batch` with the chunk's recipients; bad rows go to on_bad(row, reason).
function _M.csv_source(self, path)
  local copts = { builder = self.batch, size = self.size, dedupe = self.dedupe }
  for k, v in pairs(self.opts.csv or {}) do copts[k] = v end
  local chunk = require "sinch.batch.chunk"
  local src, err = chunk.csv(path, copts)
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
      if c == nil then return nil end
      return { rows = c.rows, count = c.count }
    end,
    close = function() src:close() end,
  }
end

function _M.table_source(self, pull)
  local recipient = require "sinch.batch.recipient"
  local size, seen, b = self.size, self.dedupe and {} or nil, self.batch
  local identity_key = require("sinch.batch.chunk").identity_key
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

-- drivers -----------------------------------------------------------------

-- A driver runs sends: start(job) and wait(timeout_ms) -> { {job, res, err}, … }.
function _M.multi_driver(client)
  local m = assert(require("sinch.batch.curl").multi(client.core))
  local d = { inflight = 0, name = "curl-multi", takes_body = true }
  function d.start(job)
    local call, err = client.core:start("send", job.body)
    if not call then return nil, err end
    m:add(call, job)
    d.inflight = d.inflight + 1
    return true
  end
  function d.wait(timeout)
    local out = {}
    m:poll(timeout)
    while true do
      local job, status, body = m:done()
      if job == nil then break end
      d.inflight = d.inflight - 1
      if status then
        local data = decode(body)
        if type(data) ~= "table" or type(data.batch_id) ~= "string" then
          out[#out + 1] = { job, nil, errors.new("json", fmt("HTTP %d: no batch_id in the answer",
            status), { may_have_been_processed = true }) }
        else
          out[#out + 1] = { job, data }
        end
      else
        out[#out + 1] = { job, nil, body }
      end
    end
    return out
  end
  function d.waiting_ms() return m:waiting_ms() end
  function d.close() m:close() end
  return d
end

function _M.thread_driver(client) -- OpenResty: one light thread per batch in flight
  local ngx = ngx -- luacheck: ignore 113
  local sema = require("ngx.semaphore").new()
  local d, threads, done = { inflight = 0, name = "ngx.thread" }, {}, {}
  local function run(job)
    local ok, res, err = pcall(client._call, client, "send", job.body)
    if not ok then res, err = nil, errors.new("internal", tostring(res)) end
    done[#done + 1] = { job, res, err }
    sema:post(1)
  end
  function d.start(job)
    local t, err = ngx.thread.spawn(run, job)
    if not t then return nil, errors.new("internal", "ngx.thread.spawn: " .. tostring(err)) end
    threads[t] = true
    d.inflight = d.inflight + 1
    return true
  end
  -- the answers that came, waiting at most `timeout` ms for one (the
  -- campaign's loop keeps its pace and its pauses while sends are out)
  function d.wait(timeout)
    if #done == 0 then
      -- at least 1 ms: the sends run only while this waits, and a 0 s wait
      -- would not let nginx read a socket (no delayed events without a patch)
      local s = max(1, timeout) / 1000
      if d.inflight == 0 then ngx.sleep(s) else sema:wait(s) end
    end
    for t in pairs(threads) do -- reap the threads that ended
      if coroutine.status(t) == "dead" then
        ngx.thread.wait(t)
        threads[t] = nil
      end
    end
    local out = done
    done = {}
    d.inflight = d.inflight - #out
    return out
  end
  -- the transport says how long a call still waits out a Retry-After or backoff
  function d.waiting_ms()
    local t = client.transport
    if type(t) == "table" and type(t.waiting_ms) == "function" then return t:waiting_ms() end
    return 0
  end
  function d.close() end
  return d
end

function _M.sync_driver(client) -- a custom transport: one call at a time
  local d, queue = { inflight = 0, name = "sequential" }, {}
  function d.start(job)
    queue[#queue + 1] = job
    d.inflight = d.inflight + 1
    return true
  end
  function d.wait()
    local job = remove(queue, 1)
    if not job then return {} end
    d.inflight = d.inflight - 1
    local res, err = client:_call("send", job.body)
    return { { job, res, err } }
  end
  function d.waiting_ms() return 0 end
  function d.close() end
  return d
end

function _M.sleep_ms(ms)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then
    ngx.sleep(ms / 1000)
  else
    core.sleep_ms(ms)
  end
end


return _M
