-- spec/support/poison.lua -- one group of signed delivery receipts in which
-- some strings hold a NUL byte (JSON's "\u0000") or bytes that are not
-- UTF-8, or are too long for an index entry (3000 bytes), mixed with good
-- receipts.  The signature is valid, so a receiver must store them all
-- (PostgreSQL's text takes neither NUL nor bad UTF-8: the store keeps them
-- cleaned, U+FFFD in their place; a key or batch id over 1000 bytes is cut,
-- with its digest) and answer 200.
--
--   local poison = require "support.poison"
--   poison.events()                  -- the receipts, parsed (store:add_many)
--   poison.post(r, SECRET, "run1")   -- { 200, 200, … }: one connection each, sent at once
--   poison.add_batch(store)          -- their batch, in campaign "poison"
local cjson = require "cjson"
local webhook = require "sinch.batch.webhook"

local _M = {}

_M.BATCH, _M.CAMPAIGN = "PB1", "poison"
_M.FFFD = "\239\191\189" -- U+FFFD in UTF-8

-- 3000 letters that do not compress (PostgreSQL would compress a repeated
-- one under its index's limit): too long for an index entry whole
local LONG = {}
do
  local x = 1
  for i = 1, 3000 do
    x = (x * 75 + 74) % 65537 -- exact in a double: the same letters under every Lua
    LONG[i] = string.char(65 + x % 26)
  end
end
_M.LONG = table.concat(LONG)

-- index, message id, status, reason code, description, event time, batch id
local RECEIPTS = {
  { 0, "PM0", "DELIVERED" },                                           -- good
  { 1, "PM1\0x", "DELIVERED" },                                        -- NUL in the message id
  { 2, "PM2", "FAILED", "BAD\0CODE", "d\255\254" },                    -- NUL, then 0xFF 0xFE
  { 3, "PM3\226\130", "DELIVERED", nil, nil, "2026-11-29T10:00:0\0003Z" }, -- cut short; NUL in the time
  { 4, "PM4", "DELIVERED", nil, nil, nil, "PB1\0x" },                  -- NUL in the batch id
  { 5, "PM5", "DELIVERED\0" },                                         -- NUL in the status
  { 6, nil, "FAILED", "\192\175", "overlong" },                        -- no message id: keyed by the index
  { 7, "PM7", "FAILED", "RECIPIENT_NOT_REACHABLE", "x" },              -- good
  { 8, _M.LONG, "DELIVERED" },                                         -- a key too long for an index
  { 9, "PM9", "DELIVERED", nil, nil, nil, "PB1" .. _M.LONG },          -- a batch id too long for one
}
_M.COUNT = #RECEIPTS

--- The raw JSON bodies (cjson writes a NUL as \u0000 and other bytes as they are).
function _M.bodies()
  local out = {}
  for i, r in ipairs(RECEIPTS) do
    local report = { message_id = r[2], status = r[3] }
    if r[4] then report.reason = { code = r[4], description = r[5] } end
    out[i] = cjson.encode{ app_id = "A", project_id = "P", event_time = r[6] or "2026-11-29T10:00:00Z",
      message_delivery_report = report,
      message_metadata = cjson.encode{ batchId = r[7] or _M.BATCH, messageIndex = r[1] } }
  end
  return out
end

--- The receipts as webhook.parse gives them.
function _M.events()
  local out = {}
  for i, raw in ipairs(_M.bodies()) do out[i] = assert(webhook.parse(raw)) end
  return out
end

--- POSTs every receipt, signed with nonces of `run`, each on a connection of
-- its own, all sent before any answer is read (so that the receiver commits
-- them together); the status of each answer.
function _M.post(r, secret, run)
  local ts, conns, out = tostring(os.time()), {}, {}
  for i, raw in ipairs(_M.bodies()) do
    local req = { "POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
                  "Content-Length: ", #raw, "\r\n" }
    for k, v in pairs(webhook.sign(secret, raw, run .. "-" .. i, ts)) do
      req[#req + 1] = k .. ": " .. v .. "\r\n"
    end
    req[#req + 1] = "\r\n" .. raw
    conns[i] = r:connect()
    assert(conns[i]:send(table.concat(req)))
  end
  for i, c in ipairs(conns) do
    local line = c:receive("*l")
    out[i] = tonumber(line and line:match("^HTTP/1%.1 (%d+)"))
    c:close()
  end
  return out
end

--- A list of `n` times `v`.
function _M.all(v, n)
  local t = {}
  for i = 1, n or _M.COUNT do t[i] = v end
  return t
end

--- Records the receipts' batch (every index) and campaign "poison".
function _M.add_batch(store)
  local rows = {}
  for i = 1, _M.COUNT do rows[i] = i + 1 end
  assert(store:add_batch{ batch_id = _M.BATCH, campaign = _M.CAMPAIGN, chunk = 1, rows = rows })
  assert(store:add_campaign{ campaign = _M.CAMPAIGN, source = "poison.csv", rows = _M.COUNT })
end

--- The receipts table of an open store (either database), ordered by key.
function _M.rows(store)
  local st = assert(store.db:prepare("SELECT key, batch_id, msg_index, message_id, status, reason, "
    .. "description, event_time FROM receipts ORDER BY key"))
  local rows = assert(st:rows())
  st:close()
  return rows
end

return _M
