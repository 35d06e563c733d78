--- Errors returned by sinch.batch: plain tables with a stable `kind`.
--
-- Every operational failure comes back as `nil, err` where `err` is
--   { kind = "network"|"timeout"|"tls"|"http"|"auth"|"invalid"|"json"|"internal",
--     message = "...", status = 400, code = 400, api_status = "INVALID_ARGUMENT",
--     retryable = false, may_have_been_processed = false }
-- with a `__tostring` that says the kind in words ("sinch.batch: invalid
-- request: recipients: …").  Branch on `kind`, never on the message text.
--
-- `assert(client:send{…})` and `error(err)` show that text on every
-- interpreter.  Lua 5.3, 5.4 and LuaJIT do it by themselves (they raise the
-- table, and print it with its `__tostring`).  The `assert` of PUC Lua 5.1
-- and 5.2 refuses any message that is not a string ("bad argument #2 to
-- 'assert'"), so there, and there only, loading sinch.batch wraps the global
-- `assert` so that it raises a sinch.batch error too (other arguments go to
-- the original `assert` unchanged).  The standalone `lua5.1` cannot print a
-- table it catches ("error object is not a string"), so under PUC 5.1 the
-- wrapped `assert` and `error` raise the error's text instead of the table:
-- code that catches with `pcall` and branches on `kind` should test the
-- returned `nil, err` rather than what `assert` raised.
-- @module sinch.batch.errors
local setmetatable, getmetatable, pairs = setmetatable, getmetatable, pairs
local tostring, type, error = tostring, type, error
local concat, find = table.concat, string.find

local _M = { _VERSION = "0.1.0" }

local mt = {}
mt.__index = mt

-- what each kind is, in the words of someone sending messages
local WORDS = {
  network = "network error",
  timeout = "timed out",
  tls = "TLS error",
  http = "refused by the API",
  auth = "not authorized",
  invalid = "invalid request",
  json = "invalid JSON",
  csv = "invalid CSV",
  io = "I/O error",
  internal = "internal error",
}
_M.words = WORDS

function mt.__tostring(e)
  local msg = tostring(e.message)
  local kind = tostring(e.kind)
  local parts = { "sinch.batch: ", WORDS[kind] or (kind .. " error") }
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
-- @return the error table
function _M.new(kind, message, fields)
  local e = { kind = kind, message = message, retryable = false, may_have_been_processed = false }
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  return setmetatable(e, mt)
end

--- `nil, err` in one call: `return errors.fail("invalid", "...")`.
-- @param kind one of the kinds above
-- @param message what went wrong
-- @param fields optional extra fields
-- @return nil
-- @return the error table
function _M.fail(kind, message, fields)
  return nil, _M.new(kind, message, fields)
end

--- True when `e` is an error of this library (optionally of `kind`).
-- @param e any value
-- @param kind optional kind to match
-- @return boolean
function _M.is(e, kind)
  return getmetatable(e) == mt and (kind == nil or e.kind == kind)
end

-- PUC Lua 5.1 and 5.2 (not LuaJIT, which says "Lua 5.1" too)
local puc = (_VERSION == "Lua 5.1" and rawget(_G, "jit") == nil) and "5.1"
  or (_VERSION == "Lua 5.2" and "5.2") or nil
_M.wraps_assert = puc ~= nil

-- True when the function `level` frames up is this library's own code: it
-- catches its own errors with pcall and reads their fields (the CLI, the
-- campaign), so only a user's call gets the text.
local function ours(level)
  local info = debug and debug.getinfo and debug.getinfo(level + 1, "S")
  local src = info and info.source or ""
  return find(src, "sinch[/\\]batch[/\\]") ~= nil or find(src, "bin[/\\]sinch%-batch$") ~= nil
end

--- An `assert` that raises a sinch.batch error: the table itself, or on PUC
-- Lua 5.1 its text (see the module's description).  Values that are not
-- sinch.batch errors go to `orig` (the interpreter's `assert`) as they are.
-- @param orig the `assert` to wrap
-- @return the wrapped function
function _M.wrap_assert(orig)
  local as_text = puc == "5.1"
  return function(v, msg, ...)
    if v then return v, msg, ... end
    if getmetatable(msg) == mt then
      error(as_text and not ours(2) and tostring(msg) or msg, 0)
    end
    -- as the interpreter's assert says it, at the caller's position
    if msg == nil then error("assertion failed!", 2) end
    local t = type(msg)
    if t == "string" or t == "number" then error(msg, 2) end
    return orig(v, msg, ...)
  end
end

--- An `error` that raises a sinch.batch error's text (PUC Lua 5.1).
-- @param orig the `error` to wrap
-- @return the wrapped function
function _M.wrap_error(orig)
  return function(msg, level, ...)
    if getmetatable(msg) == mt and not ours(2) then msg = tostring(msg) end
    if level == nil then level = 1 end
    -- the caller's position, as the plain `error` would give it
    if type(level) == "number" and level > 0 then level = level + 1 end
    orig(msg, level, ...) -- not a tail call: level counts this function's frame
  end
end

-- Installed only where the interpreter's own functions cannot show a table,
-- and only over the built-in functions (so once: the wrappers are Lua
-- functions; a test framework's `assert` table is left alone).
if puc then
  local function builtin(f)
    return type(f) == "function" and debug and debug.getinfo and debug.getinfo(f, "S").what == "C"
  end
  local g_assert, g_error = rawget(_G, "assert"), rawget(_G, "error")
  if builtin(g_assert) then rawset(_G, "assert", _M.wrap_assert(g_assert)) end
  if puc == "5.1" and builtin(g_error) then rawset(_G, "error", _M.wrap_error(g_error)) end
end

return _M
