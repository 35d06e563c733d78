--- sinch.batch.cancel: the confirmation of a cancel (`client:cancel{ confirm
-- = … }`).  The API answers a cancel at once whatever it matched and cancels
-- later, and only batches still SCHEDULED; so the batches are looked up
-- afterwards (`client:status` by id, `client:find` by metadata), again until
-- none is SCHEDULED or the time is up.  Given the client, it never loads it.
local core = require "sinch.batch.core"
local cjson = require "cjson.safe"

local type, ipairs, setmetatable = type, ipairs, setmetatable
local floor = math.floor

local _M = {}

-- Waits ms milliseconds: ngx.sleep inside nginx (never blocks the worker),
-- else the core's sleep.
local function sleep_ms(n)
  if ngx and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then -- luacheck: ignore 113
    ngx.sleep(n / 1000) -- luacheck: ignore 113
  else
    core.sleep_ms(n)
  end
end

-- What a status means for a cancel: CANCELLED done; SCHEDULED not yet (the
-- API cancels asynchronously, and only before send_after); any other (READY,
-- PROCESSED, one this library does not know) final: it will not be cancelled.
local function cancel_state(st)
  if type(st) ~= "table" then return "final" end
  if st.status == "CANCELLED" then return "cancelled" end
  if st.status == "SCHEDULED" then return "pending" end
  return "final"
end

--- The batches looked up after the cancel, again every `interval` seconds
-- until none is SCHEDULED or `timeout` seconds have passed (`copts`, a
-- table, may give either), split into cancelled = { ids }, pending = {
-- {batch_id =, status =} } (still SCHEDULED at the deadline: the cancel may
-- yet happen) and not_cancelled = { {batch_id =, status =} } (a final
-- status, or not found).  By `ids` (client:status) or else by metadata `k` =
-- `v` (client:find).  `timeout` and `interval` are the defaults.
-- @return that table | nil, err (a lookup failed)
function _M.confirm(client, ids, k, v, copts, timeout, interval)
  if type(copts) == "table" then
    timeout = copts.timeout or timeout
    interval = copts.interval or interval
  end
  local deadline = core.now_ms() + floor(timeout * 1000 + 0.5)
  local statuses
  while true do
    statuses = {}
    if ids then
      for i, id in ipairs(ids) do
        local st, err = client:status(id)
        if not st then
          if type(err) ~= "table" or err.status ~= 404 then return nil, err end
          st = { batch_id = id } -- not found: nothing to cancel
        end
        statuses[i] = st
      end
    else
      local found, err = client:find(k, v)
      if not found then return nil, err end
      statuses = found
    end
    local waiting = false
    for _, st in ipairs(statuses) do
      if cancel_state(st) == "pending" then waiting = true end
    end
    local left = deadline - core.now_ms()
    if not waiting or left <= 0 then break end
    sleep_ms(math.max(1, math.min(floor(interval * 1000 + 0.5), left)))
  end
  local out = { cancelled = setmetatable({}, cjson.array_mt),
                pending = setmetatable({}, cjson.array_mt),
                not_cancelled = setmetatable({}, cjson.array_mt) }
  for i, st in ipairs(statuses) do
    local id = type(st) == "table" and st.batch_id or ids and ids[i]
    local state = cancel_state(st)
    if state == "cancelled" then
      out.cancelled[#out.cancelled + 1] = id
    else
      local list = state == "pending" and out.pending or out.not_cancelled
      list[#list + 1] = { batch_id = id, status = type(st) == "table" and st.status or nil }
    end
  end
  return out
end

return _M
