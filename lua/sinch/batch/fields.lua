--- sinch.batch.fields: checks and encodings of a batch's fields besides the
-- message and the recipients (metadata, send_after, ttl, ...), RFC 3339
-- parsing, and the contact languages.  Each check returns true (or the
-- encoded fields) or nil and an `invalid` error naming the field and the rule.
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local setmetatable = setmetatable
local floor = math.floor
local os_time = os.time
local fmt, find, match = string.format, string.find, string.match
local encode = cjson.encode
local fail = errors.fail

local _M = { _VERSION = "0.1.0" }

local function invalid(msg) return fail("invalid", msg) end
_M.invalid = invalid

--- True when t is a table whose keys are exactly 1..#t.
function _M.is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end
local is_array = _M.is_array

--- True when s is a non-empty string (an id: a batch's, a contact's, an app's).
function _M.is_id(s) return type(s) == "string" and s ~= "" end

--- "2025-10-01T08:00:00Z" / "...+02:00" / fractions -> Unix seconds, or nil.
function _M.parse_rfc3339(s)
  local y, mo, d, h, mi, sec, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  rest = rest:gsub("^%.%d+", "")
  local offset
  if rest == "Z" or rest == "z" then
    offset = 0
  else
    local sign, oh, om = match(rest, "^([%+%-])(%d%d):(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sign == "-" then offset = -offset end
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or tonumber(h) > 23 or tonumber(mi) > 59
     or tonumber(sec) > 60 then
    return nil
  end
  -- days from civil (proleptic Gregorian), no os.time (local time zones)
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) - offset
end
local parse_rfc3339 = _M.parse_rfc3339

-- Each rule's source is in docs/api-rules.md: "the reference" (the API's),
-- or "ours" with how to pass the raw value through (`fields = { k = v }`
-- sends a field as it is, unchecked).
local MAX_SCHEDULE = 7 * 86400 -- the reference: at most 7 days ahead
local STRATEGIES = { DEFAULT = true, DISPATCH_ONLY = true } -- the reference's enum
-- ttl: the reference's form is "<int>s" ("86400s"); the range is the
-- single-send API's, ours for batches (raw: fields = { ttl = "2s" })
_M.TTL_MIN, _M.TTL_MAX = 3, 315576000000

function _M.check_string_map(t, field)
  if type(t) ~= "table" then return invalid(field .. ": expected a table of strings") end
  for k, v in pairs(t) do
    if type(k) ~= "string" then return invalid(field .. ": keys must be strings") end
    if type(v) ~= "string" then
      return invalid(fmt("%s.%s: expected a string, got %s", field, k, type(v)))
    end
  end
  return true
end
local check_string_map = _M.check_string_map

-- Refusing _batch_id is ours: the reference says the API overwrites it (raw:
-- fields = { message_metadata = {...} }).
function _M.check_metadata(t, field)
  if type(t) ~= "table" then return invalid(field .. ": expected a table") end
  if t._batch_id ~= nil then
    return invalid(field .. "._batch_id: reserved, the API overwrites it with the batch id "
      .. "(our check; send it raw with fields = { " .. field:match("[%w_]+$") .. " = … })")
  end
  return true
end
local check_metadata = _M.check_metadata

--- The ttl as the API takes it ("86400s"), or nil, err.  A string must be
-- the reference's form "<int>s" (sent as given); a number is whole seconds.
-- The range 3..315576000000 is the single-send API's, ours for batches.
function _M.ttl(v)
  local n, out
  if type(v) == "number" then
    if v == v and v ~= math.huge and v ~= -math.huge and v == floor(v) then n = v end
  elseif type(v) == "string" and find(v, "^%d+s$") then
    out = v
    n = tonumber((v:sub(1, -2):gsub("^0+(%d)", "%1")))
  end
  if not n then
    return invalid(fmt("ttl: %q is not a duration like \"86400s\" (or a whole number of seconds)",
      tostring(v)))
  end
  if n < _M.TTL_MIN or n > _M.TTL_MAX then
    return invalid(fmt("ttl: %s is outside %d to %.0f seconds (our bound, the single-send "
      .. "API's; send it raw with fields = { ttl = … })", tostring(v), _M.TTL_MIN, _M.TTL_MAX))
  end
  return out or fmt("%.0fs", n)
end

--- The time the API schedules `t` (Unix seconds) for, asked at `now`: more
-- than a minute ahead, rounded up to the next 5-minute mark (the reference).
function _M.effective_send_after(t, now)
  if t - now > 60 and t % 300 ~= 0 then return t + (300 - t % 300) end
  return t
end

--- The options client:batch() takes.
_M.BATCH_OPTIONS = {
  app_id = true, message = true, recipients = true, batch_metadata = true,
  message_metadata = true, conversation_metadata = true, send_after = true, ttl = true,
  processing_strategy = true, callback_url = true, channel_priority_order = true,
  channel_properties = true, correlation_id = true, defaults = true, check = true,
  fields = true, now = true, max_recipients = true, strict_phone = true,
}

--- A batch's fields besides message and recipients, checked and encoded once
-- per batch: an array of `{ key, raw_json }`, or nil, err.  `o.fields` passes
-- any other top-level field through as it is (fields newer than this library).
function _M.batch_fields(o)
  local out = {}
  local function add(k, v)
    local j = encode(v)
    if not j then return invalid(k .. ": cannot be encoded as JSON") end
    out[#out + 1] = { k, j }
    return true
  end
  local ok, err
  if o.batch_metadata ~= nil then
    ok, err = check_string_map(o.batch_metadata, "batch_metadata")
    if not ok then return nil, err end
    add("batch_metadata", o.batch_metadata)
  end
  for _, k in ipairs{ "message_metadata", "conversation_metadata" } do
    if o[k] ~= nil then
      ok, err = check_metadata(o[k], k)
      if not ok then return nil, err end
      add(k, o[k])
    end
  end
  if o.send_after ~= nil then
    local t = type(o.send_after) == "string" and parse_rfc3339(o.send_after)
    if not t then
      return invalid(fmt("send_after: %q is not an RFC 3339 date-time (2025-10-01T08:00:00Z)",
        tostring(o.send_after)))
    end
    local now = o.now or os_time()
    if type(now) ~= "number" or now ~= now or now == math.huge or now == -math.huge then
      return invalid("now: expected a finite number of seconds")
    end
    if _M.effective_send_after(t, now) - now > MAX_SCHEDULE then
      return invalid(fmt("send_after: %s is more than 7 days ahead once rounded up to the next "
        .. "5 minutes; the API schedules at most 7 days out", o.send_after))
    end
    add("send_after", o.send_after)
  end
  if o.ttl ~= nil then
    local ttl
    ttl, err = _M.ttl(o.ttl)
    if not ttl then return nil, err end
    add("ttl", ttl)
  end
  if o.processing_strategy ~= nil then
    if not STRATEGIES[o.processing_strategy] then
      return invalid(fmt("processing_strategy: %q is not one of DEFAULT, DISPATCH_ONLY",
        tostring(o.processing_strategy)))
    end
    add("processing_strategy", o.processing_strategy)
  end
  if o.callback_url ~= nil then -- the reference: a string, no format stated
    if type(o.callback_url) ~= "string" then
      return invalid("callback_url: expected a string (a URL)")
    end
    add("callback_url", o.callback_url)
  end
  if o.channel_priority_order ~= nil then
    if not is_array(o.channel_priority_order) then
      return invalid("channel_priority_order: expected an array of channel names")
    end
    local channels = require("sinch.batch.recipient").channels
    for i, ch in ipairs(o.channel_priority_order) do
      if type(ch) ~= "string" or not channels[ch] then
        return invalid(fmt("channel_priority_order[%d]: %q is not a known channel (add one with "
          .. "recipient.register_channel)", i, tostring(ch)))
      end
    end
    add("channel_priority_order", setmetatable(o.channel_priority_order, cjson.array_mt))
  end
  if o.channel_properties ~= nil then
    ok, err = check_string_map(o.channel_properties, "channel_properties")
    if not ok then return nil, err end
    add("channel_properties", o.channel_properties)
  end
  if o.correlation_id ~= nil then
    if type(o.correlation_id) ~= "string" then return invalid("correlation_id: expected a string") end
    add("correlation_id", o.correlation_id)
  end
  if o.fields ~= nil then -- raw passthrough for fields newer than this library
    if type(o.fields) ~= "table" then return invalid("fields: expected a table of extra fields") end
    for k, v in pairs(o.fields) do
      ok, err = add(k, v)
      if not ok then return nil, err end
    end
  end
  return out
end

--- Contact languages (create_contacts).
_M.LANGUAGES = {}
for l in ([[AF SQ AR AZ BN BG CA ZH ZH_CN ZH_HK ZH_TW HR CS DA NL EN EN_GB EN_US ET FIL FI FR DE
  EL GU HA HE HI HU ID GA IT JA KN KK KO LO LV LT MK MS ML MR NB FA PL PT PT_BR PT_PT PA RO RU SR
  SK SL ES ES_AR ES_ES ES_MX SW SV TA TE TH TR UK UR UZ VI ZU]]):gmatch("%S+") do
  _M.LANGUAGES[l] = true
end

return _M
