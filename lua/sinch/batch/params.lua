--- sinch.batch.params: `${name}` parameters of a message — which names it
-- uses, whether each recipient covers them, and what a recipient receives.
-- `require "sinch.batch.message"` exposes the same functions (params, check,
-- preview).
--
-- What a parameter is lives in the C core (core.param_names): `${`, a name of
-- one or more bytes none of them `}`, then `}`; `${` without a closing `}` is
-- literal text.
local rules = require "sinch.batch.rules"
local options = require "sinch.batch.options"

local type, pairs, ipairs, next, error, tostring = type, pairs, ipairs, next, error, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local format, gsub = string.format, string.gsub
local sort = table.sort
local floor, huge = math.floor, math.huge

local _M = { _VERSION = "0.1.0" }

local function collect(v, seen)
  local t = type(v)
  if t == "string" then
    rules.param_names(v, seen)
  elseif t == "table" then
    for _, x in pairs(v) do collect(x, seen) end
  end
end

--- Sorted names of every `${name}` in the string values of `msg` (nested).
function _M.params(msg)
  if type(msg) ~= "table" then
    error("message.params: expected a message table", 2)
  end
  local seen = {}
  collect(msg, seen)
  local names = {}
  for name in pairs(seen) do names[#names + 1] = name end
  sort(names)
  return names
end

--- Coverage of one recipient's parameters `p` (or nil) by the message's
-- `names` (`known[name] = true` for each): counts names the message does not
-- use into `unused`, fills missing ones from `defaults` (counted into
-- `defaulted` when given).  Never writes into `p`: returns `p`, or a copy
-- with the defaults, or nil and the first missing name.
function _M.cover(names, known, p, defaults, unused, defaulted)
  if p ~= nil then
    for k in pairs(p) do
      if not known[k] then unused[k] = (unused[k] or 0) + 1 end
    end
  end
  local out = p
  for i = 1, #names do
    local name = names[i]
    if p == nil or p[name] == nil then
      local dv = defaults and defaults[name]
      if dv == nil then return nil, name end
      if out == p then
        out = {}
        if p then for k, v in pairs(p) do out[k] = v end end
      end
      out[name] = dv
      if defaulted then defaulted[name] = (defaulted[name] or 0) + 1 end
    end
  end
  return out
end
local cover = _M.cover

-- A parameter value as the API takes it (a string), or nil if it is not one.
local function param_string(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" and v == v and v ~= huge and v ~= -huge then
    if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
      return format("%d", v)
    end
    return format("%.14g", v)
  end
  return nil
end

local CHECK_OPTS = { defaults = "any" }

local function check_defaults(fname, opts)
  if opts == nil then return nil end
  local ok, err = options.check(opts, CHECK_OPTS, "message." .. fname)
  if not ok then return nil, err end
  local d = opts.defaults
  if d == nil then return nil end
  if type(d) ~= "table" then
    return nil, format("message.%s: defaults must be a table", fname)
  end
  local out = {}
  for k, v in pairs(d) do
    local s = type(k) == "string" and param_string(v)
    if not s then
      return nil, format("message.%s: defaults.%s: expected a string", fname, tostring(k))
    end
    out[k] = s
  end
  return out
end

--- Check each recipient's `parameters` against the message's `${name}`s.
-- `recipients` is an array of `{ recipient =, parameters = {…} }`.
-- Returns `true, report` or `nil, err` naming the first bad position, e.g.
-- `recipients[3].parameters: missing value for ${code}`.  With `opts.defaults`
-- a missing value is filled in from it instead.  Number values are accepted and
-- written back as strings, as the API wants; so are defaults — only once every
-- recipient has passed.  `report = { params = {names}, unused = { [name] = count },
-- defaulted = { [name] = count } }`.
function _M.check(msg, recipients, opts)
  if type(msg) ~= "table" then
    error("message.check: expected a message table", 2)
  end
  if type(recipients) ~= "table" then
    error("message.check: recipients must be an array", 2)
  end
  local defaults, derr = check_defaults("check", opts)
  if derr then error(derr, 2) end
  local names = _M.params(msg)
  local used = {}
  for _, name in ipairs(names) do used[name] = true end
  local report = { params = names, unused = {}, defaulted = {} }
  local fills, nfills = {}, 0
  for i = 1, #recipients do
    local path = format("recipients[%d]", i)
    local entry = recipients[i]
    if type(entry) ~= "table" then
      return nil, path .. ": expected a table"
    end
    local p = entry.parameters
    if p ~= nil and type(p) ~= "table" then
      return nil, path .. ".parameters: expected a table"
    end
    for k, v in pairs(p or {}) do
      if type(k) ~= "string" then
        return nil, format("%s.parameters[%s]: parameter names must be strings", path, tostring(k))
      end
      if type(v) ~= "string" then
        local s = param_string(v)
        if not s then
          return nil, format("%s.parameters.%s: expected a string", path, k)
        end
        nfills = nfills + 1
        fills[nfills] = { entry, k, s }
      end
    end
    local filled, missing = cover(names, used, p, defaults, report.unused, report.defaulted)
    if missing then
      return nil, format("%s.parameters: missing value for ${%s}", path, missing)
    end
    if filled ~= p then
      for k, v in pairs(filled) do
        if p == nil or p[k] == nil then
          nfills = nfills + 1
          fills[nfills] = { entry, k, v }
        end
      end
    end
  end
  for j = 1, nfills do
    local f = fills[j]
    local p = f[1].parameters
    if p == nil then
      p = {}
      f[1].parameters = p
    end
    p[f[2]] = f[3]
  end
  return true, report
end

-- Replaces each parameter of s (as the core reads them) by sub(name); the
-- pattern only finds candidates, the core's names decide.
local function render(v, sub)
  if type(v) == "string" then
    local names = rules.param_names(v)
    if next(names) == nil then return v end
    return (gsub(v, "%${([^}]+)}", function(name)
      if names[name] then return sub(name) end
    end))
  elseif type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[k] = render(x, sub) end
    local mt = getmetatable(v)
    if mt then setmetatable(out, mt) end
    return out
  end
  return v
end

--- What one recipient receives: a deep copy of `msg` with every `${name}`
-- replaced from `params` (or `opts.defaults`).  Returns the copy, or nil, err
-- `parameters: missing value for ${code}`.  Substitution is one pass: a value
-- that itself holds `${…}` is not expanded again.
function _M.preview(msg, params, opts)
  if type(msg) ~= "table" then
    error("message.preview: expected a message table", 2)
  end
  if params ~= nil and type(params) ~= "table" then
    error("message.preview: params must be a table", 2)
  end
  local defaults, derr = check_defaults("preview", opts)
  if derr then error(derr, 2) end
  params = params or {}
  for k, v in pairs(params) do
    if type(k) ~= "string" then
      return nil, format("parameters[%s]: parameter names must be strings", tostring(k))
    end
    if not param_string(v) then
      return nil, format("parameters.%s: expected a string", k)
    end
  end
  local missing
  local out = render(msg, function(name)
    local v = params[name]
    if v == nil and defaults then v = defaults[name] end
    if v == nil then
      if missing == nil or name < missing then missing = name end
      return nil
    end
    return param_string(v)
  end)
  if missing then
    return nil, format("parameters: missing value for ${%s}", missing)
  end
  return out
end

return _M
