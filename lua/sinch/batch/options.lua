--- sinch.batch.options: the one option-table check every module uses.
--
--    local options = require "sinch.batch.options"
--    local KNOWN = { size = "number", channel = "string", builder = "any", timeout = "seconds" }
--    options.assert(opts, KNOWN, "csv", 2, 1)  -- raises, blaming the caller of csv
--    local ok, err = options.check(opts, KNOWN, "message.choice") -- or nil, err
--
-- `known[k]` is a Lua type name ("string", "number", "boolean", "table",
-- "function"), "seconds" (a number), or "any"/true (no type check).
-- Pure Lua, no dependencies: the OpenResty transport can use it as well.
--
-- With an argument number, errors read like Lua's own:
--   bad argument #1 to 'client' (unknown option 'retries')
--   bad argument #1 to 'client' (opts.timeout: expected a number, got string)
-- Without one, they are prefixed with the function's name and list what is known:
--   message.choice: unknown option 'footer' (known: choices, text, whatsapp_footer)
local type, pairs, tostring, error = type, pairs, tostring, error
local fmt, sort, concat = string.format, table.sort, table.concat

local _M = { _VERSION = "0.1.0" }

local function known_list(known)
  local keys = {}
  for k in pairs(known) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  return concat(keys, ", ")
end

local function wrap(fname, argn, msg)
  if argn then return fmt("bad argument #%d to '%s' (%s)", argn, fname, msg) end
  return fname .. ": " .. msg
end

--- Checks an option table: true, or nil and a message naming the option and the rule.
-- @param opts the table given by the caller
-- @param known `{ name = type }` (see above)
-- @param fname the public function's name, for the message
-- @param argn the argument's position (argerror style), or nil (prefix style)
function _M.check(opts, known, fname, argn)
  if type(opts) ~= "table" then
    return nil, wrap(fname, argn, "expected a table of options, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = known[k]
    if want == nil then
      local msg = fmt("unknown option '%s'", tostring(k))
      if not argn then msg = msg .. " (known: " .. known_list(known) .. ")" end
      return nil, wrap(fname, argn, msg)
    end
    if want == "seconds" then want = "number" end
    if want ~= "any" and want ~= true and type(v) ~= want then
      return nil, wrap(fname, argn, fmt("opts.%s: expected a %s, got %s", tostring(k), want, type(v)))
    end
  end
  return true
end

--- Like check, but raises; `level` 1 blames the caller of the function that
-- calls assert (as `error(msg, 2)` would there).
function _M.assert(opts, known, fname, argn, level)
  local ok, err = _M.check(opts, known, fname, argn)
  if not ok then error(err, (level or 1) + 2) end
  return opts
end

return _M
