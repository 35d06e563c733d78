--- sinch.batch.rules: the API rules written once in the C core
-- (src/core/rules.c), loaded on first use so that pure-Lua helpers
-- (recipient, message) load without the C module until a rule is needed.
--
--    local rules = require "sinch.batch.rules"
--    rules.phone_ok("+0987654321")        --> true (an optional "+", then digits)
--    rules.e164_ok("+0987654321")         --> false (our stricter E.164 shape: 7-15 digits, first not 0)
--    rules.param_names("Hi ${first name}") --> { ["first name"] = true }
--    rules.max_recipients()                --> 1000
--    rules.channels()                      --> { SMS = { phone = true }, ... } (a fresh copy)
local require, pcall, error, pairs, type, tostring, rawget = require, pcall, error, pairs, type,
  tostring, rawget
local package = package

local _M = { _VERSION = "0.1.0" }

local core
local function load()
  if core == nil then
    local ok, m = pcall(require, "sinch.batch.core")
    if not ok then
      error("sinch.batch: the C module sinch.batch.core is needed for the API rules: "
        .. tostring(m), 3)
    end
    core = m
  end
  return core
end
_M.core = load

--- True when `s` can be a phone identity: an optional "+", then one or more
-- digits (the API reference calls it an MSISDN and states no format).
function _M.phone_ok(s)
  return load().phone_ok(s) -- false for a non-string too
end

--- True when `s` also has the E.164 shape: an optional "+", then 7-15 digits,
-- the first not 0.  Our check, not the API's (docs/api-rules.md): applied
-- only when asked for (`strict_phone = true`).
function _M.e164_ok(s)
  return load().e164_ok(s)
end

--- The fastest `phone_ok(s)` of this VM, for hot paths (the recipient
-- helpers): under LuaJIT the same C function called through the FFI (a call
-- through the Lua C API stops LuaJIT's compiler on every row); elsewhere
-- core.phone_ok.  Both are sinch_batch_phone_ok; false for a non-string.
function _M.phone_check()
  local c = load()
  local jit = rawget(_G, "jit")
  local searchpath = rawget(package, "searchpath") -- 5.2+ and LuaJIT
  if jit and searchpath then
    local ok, ffi = pcall(require, "ffi")
    local path = ok and searchpath("sinch.batch.core", package.cpath)
    if path then
      pcall(ffi.cdef, "int sinch_batch_phone_ok(const char *s, size_t len);")
      local lok, lib = pcall(ffi.load, path)
      local fok, fn = false, nil
      if lok then fok, fn = pcall(function() return lib.sinch_batch_phone_ok end) end
      if fok and fn then
        return function(s) return type(s) == "string" and fn(s, #s) ~= 0 end
      end
    end
  end
  return c.phone_ok
end

--- `acc` (or a new table) with `acc[name] = true` for each `${name}` in `s`
-- (name: one or more bytes, none of them "}", not all blanks; ours).
function _M.param_names(s, acc)
  return load().param_names(s, acc)
end

--- Recipients one batch holds at most (1000).
function _M.max_recipients()
  return load().MAX_RECIPIENTS
end

--- The core's channel table, copied: `{ NAME = { phone = bool?, app_scoped = bool? } }`.
function _M.channels()
  local out = {}
  for name, props in pairs(load().CHANNELS) do
    local p = {}
    for k, v in pairs(props) do p[k] = v end
    out[name] = p
  end
  return out
end

return _M
