--- Errors returned by sinch.batch: plain tables with a stable `kind`.
--
-- Every operational failure comes back as `nil, err` where `err` is
--   { kind = "network"|"timeout"|"tls"|"http"|"auth"|"invalid"|"json"|"internal",
--     message = "...", status = 400, code = 400, api_status = "INVALID_ARGUMENT",
--     retryable = false, may_have_been_processed = false }
-- with a `__tostring`.  Branch on `kind`, never on the message text.
local setmetatable, getmetatable, pairs = setmetatable, getmetatable, pairs
local tostring = tostring
local concat, find = table.concat, string.find

local _M = { _VERSION = "0.1.0" }

local mt = {}
mt.__index = mt

function mt.__tostring(e)
  local msg = tostring(e.message)
  local parts = { "sinch.batch: ", tostring(e.kind), " error" }
  -- the core's messages for HTTP errors already begin "HTTP 400 INVALID_ARGUMENT: "
  if e.status and not find(msg, "^HTTP %d") then
    parts[#parts + 1] = " (HTTP " .. tostring(e.status)
    if e.api_status then parts[#parts + 1] = " " .. e.api_status end
    parts[#parts + 1] = ")"
  end
  parts[#parts + 1] = ": "
  parts[#parts + 1] = msg
  return concat(parts)
end

_M.mt = mt

--- A new error table.
-- @param kind one of the kinds above
-- @param message what went wrong and what is accepted
-- @param fields optional extra fields (status, reason, ...)
function _M.new(kind, message, fields)
  local e = { kind = kind, message = message, retryable = false, may_have_been_processed = false }
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  return setmetatable(e, mt)
end

--- `nil, err` in one call: `return errors.fail("invalid", "...")`.
function _M.fail(kind, message, fields)
  return nil, _M.new(kind, message, fields)
end

--- True when `e` is an error of this library (optionally of `kind`).
function _M.is(e, kind)
  return getmetatable(e) == mt and (kind == nil or e.kind == kind)
end

return _M
