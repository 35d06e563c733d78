--- sinch.batch.message.schema: validator combinators for the API's message
-- JSON.  A validator `v(value, path)` returns a checked copy, or nil and an
-- error "path: rule"; nil with no error means "leave the field out" (an empty
-- optional array).  Format rules (URLs, phone numbers, dates) are not applied
-- to a string that holds a `${`, since its value is only known per recipient.
local rules = require "sinch.batch.rules"

local type, pairs, ipairs, next, tostring = type, pairs, ipairs, next, tostring
local setmetatable, tonumber = setmetatable, tonumber
local format, find, gsub, match = string.format, string.find, string.gsub, string.match
local sort, concat = table.sort, table.concat
local floor, huge = math.floor, math.huge

local cjson = require "cjson"
local array_mt = cjson.array_mt
local empty_array = cjson.empty_array

local _M = { _VERSION = "0.1.0" }

local function as_array(t)
  if array_mt then setmetatable(t, array_mt) end
  return t
end

local function has_param(s)
  return find(s, "${", 1, true) ~= nil
end

-- `path.name`, or just `name` at the root (path "").
local function join(path, name)
  if path == "" then return name end
  return path .. "." .. name
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  return keys
end

local function str(opts)
  opts = opts or {}
  return function(v, path)
    if type(v) ~= "string" then
      return nil, path .. ": expected a string"
    end
    if opts.nonempty and v == "" then
      return nil, path .. ": must not be empty"
    end
    if opts.format and not has_param(v) and not opts.format(v) then
      return nil, path .. ": " .. opts.rule
    end
    return v
  end
end

local STR = str()
local NESTR = str{ nonempty = true }

local function is_url(s)
  return find(s, "^[hH][tT][tT][pP][sS]?://[^%s/]+[^%s]*$") ~= nil
end
local URL = str{ nonempty = true, format = is_url, rule = "must be an http:// or https:// URL" }

local PHONE = str{ nonempty = true, format = rules.phone_ok,
                   rule = "must be a phone number (an optional +, then digits)" }

local function is_date(s)
  local y, m, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return false end
  m, d = tonumber(m), tonumber(d)
  return m >= 1 and m <= 12 and d >= 1 and d <= 31
end
local DATE = str{ nonempty = true, format = is_date, rule = "must be a date like 2025-12-31 (YYYY-MM-DD)" }

local function is_datetime(s)
  local date, rest = match(s, "^(%d%d%d%d%-%d%d%-%d%d)[Tt]%d%d:%d%d:%d%d(.*)$")
  if not date or not is_date(date) then return false end
  rest = gsub(rest, "^%.%d+", "")
  return rest == "Z" or rest == "z" or find(rest, "^[%+%-]%d%d:%d%d$") ~= nil
end
local DATETIME = str{ nonempty = true, format = is_datetime,
                      rule = "must be an RFC 3339 date-time like 2025-10-01T08:00:00Z" }

local function number(lo, hi, integer)
  return function(v, path)
    if type(v) ~= "number" or v ~= v or v == huge or v == -huge then
      return nil, path .. ": expected a number"
    end
    if integer and v ~= floor(v) then
      return nil, path .. ": expected a whole number"
    end
    if (lo and v < lo) or (hi and v > hi) then
      if hi then
        return nil, format("%s: must be between %s and %s (got %s)", path, lo, hi, v)
      end
      return nil, format("%s: must be at least %s (got %s)", path, lo, v)
    end
    return v
  end
end

local function enum(values)
  local set = {}
  for _, name in ipairs(values) do set[name] = true end
  local list = concat(values, ", ")
  return function(v, path)
    if type(v) ~= "string" then
      return nil, path .. ": expected a string"
    end
    if not set[v] then
      return nil, format("%s: must be one of %s (got %q)", path, list, v)
    end
    return v
  end
end

-- First key of `t` not in `known` (sorted, so errors are repeatable).
local function unknown_key(t, known)
  local bad
  for k in pairs(t) do
    if not known[k] then
      local s = tostring(k)
      if bad == nil or s < bad then bad = s end
    end
  end
  return bad
end

-- An object: `fields` is an ordered array of `{ name, validator, required }`;
-- `check(out, path)` runs last for rules across fields.
local function object(fields, check)
  local known = {}
  local names = {}
  for _, f in ipairs(fields) do
    known[f[1]] = true
    names[#names + 1] = f[1]
  end
  sort(names)
  local known_list = concat(names, ", ")
  return function(v, path)
    if type(v) ~= "table" then
      return nil, path .. ": expected a table"
    end
    local bad = unknown_key(v, known)
    if bad then
      return nil, format("%s.%s: unknown field (known: %s)", path, bad, known_list)
    end
    local out = {}
    for _, f in ipairs(fields) do
      local name = f[1]
      local x = v[name]
      if x == nil then
        if f[3] then return nil, path .. "." .. name .. ": required" end
      else
        local c, err = f[2](x, path .. "." .. name)
        if err then return nil, err end
        out[name] = c
      end
    end
    if check then
      local err = check(out, path)
      if err then return nil, err end
    end
    return out
  end
end

-- An object holding exactly one of `kinds` (ordered `{ name, validator }`),
-- plus optional `extras` fields.
local function one_of(kinds, extras, known_label)
  local known = {}
  local kind_names = {}
  for _, f in ipairs(kinds) do
    known[f[1]] = f[2]
    kind_names[#kind_names + 1] = f[1]
  end
  local extra_names = {}
  for _, f in ipairs(extras or {}) do
    known[f[1]] = f[2]
    extra_names[#extra_names + 1] = f[1]
  end
  local kind_list = concat(kind_names, ", ")
  local unknown_text = known_label and format(known_label, kind_list, concat(extra_names, ", "))
    or "unknown field (known: " .. concat(sorted_keys(known), ", ") .. ")"
  local order = {}
  for _, f in ipairs(kinds) do order[#order + 1] = f end
  for _, f in ipairs(extras or {}) do order[#order + 1] = f end
  return function(v, path)
    local self = path == "" and "message" or path
    if type(v) ~= "table" then
      return nil, self .. ": expected a table"
    end
    local bad = unknown_key(v, known)
    if bad then
      return nil, format("%s: %s", join(path, bad), unknown_text)
    end
    local present = {}
    for _, name in ipairs(kind_names) do
      if v[name] ~= nil then present[#present + 1] = name end
    end
    if #present ~= 1 then
      return nil, format("%s: needs exactly one of %s (got %s)", self, kind_list,
        #present == 0 and "none" or concat(present, ", "))
    end
    local out = {}
    for _, f in ipairs(order) do
      local name = f[1]
      local x = v[name]
      if x ~= nil then
        local c, err = f[2](x, join(path, name))
        if err then return nil, err end
        out[name] = c
      end
    end
    return out
  end
end

-- An array of 0..max (or min..max) items.
local function array(item, min, max, noun, nouns)
  return function(v, path)
    if v == empty_array and empty_array ~= nil then v = {} end
    if type(v) ~= "table" then
      return nil, path .. ": expected an array"
    end
    local n = #v
    for k in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then
        return nil, format("%s: expected an array (found key %s)", path, tostring(k))
      end
    end
    if n < min then
      return nil, format("%s: at least %d %s", path, min, min == 1 and noun or nouns)
    end
    if max and n > max then
      return nil, format("%s: at most %d %s (got %d)", path, max, nouns, n)
    end
    if n == 0 then return nil end
    local out = {}
    for i = 1, n do
      local c, err = item(v[i], format("%s[%d]", path, i))
      if err then return nil, err end
      out[i] = c
    end
    return as_array(out)
  end
end

-- A map from channel names (upper case) to values.
local function channel_map(value, allowed)
  local allowed_set, allowed_list
  if allowed then
    allowed_set = {}
    for _, name in ipairs(allowed) do allowed_set[name] = true end
    allowed_list = concat(allowed, ", ")
  end
  return function(v, path)
    if type(v) ~= "table" then
      return nil, path .. ": expected a table"
    end
    if next(v) == nil then
      return nil, path .. ": at least 1 channel"
    end
    local out = {}
    for _, k in ipairs(sorted_keys(v)) do
      local x = v[k]
      if x == nil then
        return nil, format("%s[%s]: channel names are strings", path, k)
      end
      if not find(k, "^[A-Z][A-Z0-9_]*$") then
        return nil, format("%s.%s: channel names are upper case, like WHATSAPP", path, k)
      end
      if allowed_set and not allowed_set[k] then
        return nil, format("%s.%s: not one of %s", path, k, allowed_list)
      end
      local c, err = value(x, path .. "." .. k)
      if err then return nil, err end
      out[k] = c
    end
    return out
  end
end

-- A map string -> string (template parameters).
local function string_map(v, path)
  if type(v) ~= "table" then
    return nil, path .. ": expected a table"
  end
  local out = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" then
      return nil, format("%s[%s]: keys must be strings", path, tostring(k))
    end
    if type(x) ~= "string" then
      return nil, format("%s.%s: expected a string", path, k)
    end
    out[k] = x
  end
  return out
end

_M.as_array = as_array
_M.join = join
_M.sorted_keys = sorted_keys
_M.str = str
_M.STR = STR
_M.NESTR = NESTR
_M.URL = URL
_M.PHONE = PHONE
_M.DATE = DATE
_M.DATETIME = DATETIME
_M.number = number
_M.enum = enum
_M.object = object
_M.one_of = one_of
_M.array = array
_M.channel_map = channel_map
_M.string_map = string_map

return _M
