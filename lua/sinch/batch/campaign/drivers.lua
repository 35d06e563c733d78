--- sinch.batch.campaign.drivers: what a campaign sends through.  A driver
-- runs sends: start(job), wait(timeout_ms) -> { {job, res, err}, … },
-- waiting_ms() (the longest Retry-After/backoff wait the core is in), close().
--   curl-multi  the libcurl multi driver (sinch.batch.curl.multi), plain Lua
--   ngx.thread  one light thread per batch in flight, on cosockets
--   sequential  one call at a time through a custom transport object
--   dry-run     sends nothing: a dry run goes through the campaign's own code
-- Every answer is read by the one decoder (sinch.batch.answer);
-- retries and backoff are the core's alone.
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local decode_answer = require("sinch.batch.answer").decode

local type, pairs, ipairs, tostring, require = type, pairs, ipairs, tostring, require
local pcall, rawget = pcall, rawget
local max = math.max
local remove = table.remove

local _M = {}

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
        local res, err = decode_answer("send", status, body)
        out[#out + 1] = { job, res, err }
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

-- A driver that queues what it is given and answers on wait(): its table
-- and queue, with start() and the no-op parts written once.
local function queue_driver(fields)
  local d, queue = fields, {}
  d.inflight = 0
  function d.start(job)
    queue[#queue + 1] = job
    d.inflight = d.inflight + 1
    return true
  end
  function d.waiting_ms() return 0 end
  function d.close() end
  return d, queue
end

function _M.sync_driver(client) -- a custom transport: one call at a time
  local d, queue = queue_driver{ name = "sequential" }
  function d.wait()
    local job = remove(queue, 1)
    if not job then return {} end
    d.inflight = d.inflight - 1
    local res, err = client:_call("send", job.body)
    return { { job, res, err } }
  end
  return d
end

function _M.dry_driver() -- sends nothing: every chunk "accepted" with no batch id
  local d, queue = queue_driver{ name = "dry-run", dry = true }
  function d.wait()
    local out = {}
    for i, job in ipairs(queue) do
      out[i] = { job, { dry_run = true } }
      queue[i] = nil
    end
    d.inflight = 0
    return out
  end
  return d
end

--- The driver for a client: libcurl multi in plain Lua, light threads
-- under OpenResty, one call at a time for a custom transport.
function _M.for_client(client, dry)
  if dry then return _M.dry_driver() end
  if client.transport == nil then return _M.multi_driver(client) end
  if rawget(_G, "ngx") and client.transport.run and ngx.thread then -- luacheck: ignore 113
    return _M.thread_driver(client)
  end
  return _M.sync_driver(client)
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
