--- Recipients of a batch: the `recipient` part of each RecipientAndParam.
--
--   local R = require "sinch.batch.recipient"
--   local r = R.sms("+46700000001")        -- a Recipient: one channel identity
--   r.identified_by.channel_identities[1].identity  --> "+46700000001" (the API's shape)
--   R.plain(r)
--     --> { identified_by = { channel_identities = { { channel = "SMS", identity = "+46700000001" } } } }
--   R.messenger("1234567890", "01APPID")   -- app-scoped: the app id (optional)
--   R.contact("01CONTACTID")               --> { contact_id = "01CONTACTID" }
--   R.any{ R.whatsapp("+46700000001"), { channel = "SMS", identity = "+46700000001" } }
--
-- The one-identity helpers (sms, whatsapp, ..., channel) return a Recipient:
-- one small array `{ channel, identity [, app_id] }` with the metatable
-- `R.Recipient`, which reads as the API's shape (`r.channel`, `r.identity`,
-- `r.app_id`; `r.identified_by` is made on each read) and which the C builder
-- takes as it is.  One table instead of
-- four is what makes `b:add(R.sms(n), params)` and `client:send{recipients}`
-- faster than building the nested tables and encoding them with cjson.
-- Every function of this library takes Recipients and nested tables alike;
-- for your own JSON, `R.plain(r)` gives the nested table.
--
-- Channel names are an open table: `R.channels` maps a ConversationChannel name to
-- its properties (`phone = true`: the identity is a phone number, an optional
-- "+" then digits; `app_scoped = true`: the identity belongs to an app, whose `app_id` may be
-- given; the batch's app_id applies otherwise).  It starts as the C core's
-- channel table; `R.register_channel(name, props)` adds one.
--
-- Bad input raises (level 2) with the field and the rule, e.g.
--   recipient: "07012 34" is not a phone number (an optional +, then digits)
-- `R.validate(r)` checks a hand-made table and returns true or nil, err.
local type, pairs, ipairs, error, tostring, pcall, rawget = type, pairs, ipairs, error, tostring,
  pcall, rawget
local setmetatable, getmetatable = setmetatable, getmetatable
local format, find = string.format, string.find
local sort, concat = table.sort, table.concat

local ok_cjson, cjson = pcall(require, "cjson")
local array_mt = ok_cjson and cjson.array_mt or nil

local _M = { _VERSION = "0.1.0" }

local rules = require "sinch.batch.rules"

--- Known ConversationChannel names and their properties, seeded from the C
-- core's table (empty when the C module cannot load).  Open: add to it with
-- `register_channel` (or assign directly) when Sinch adds a channel.
-- @table channels
do
  local ok, channels = pcall(rules.channels)
  _M.channels = ok and channels or {}
end

local CHANNEL_PROPS = { phone = true, app_scoped = true }

local function array(t)
  if array_mt then setmetatable(t, array_mt) end
  return t
end

--- True when `s` can be a phone identity: an optional "+", then digits
-- (the C core's rule; "+0987654321", the API reference's example form, passes).
function _M.is_phone(s)
  return rules.phone_ok(s) == true
end

--- True when `s` also has the E.164 shape (7 to 15 digits, the first not 0):
-- our stricter check, applied by `client:batch{ strict_phone = true }`.
function _M.is_e164(s)
  return rules.e164_ok(s) == true
end

local PHONE_RULE = "is not a phone number (an optional +, then digits)"

--- Add (or replace) a channel.  `props` may hold `phone` and `app_scoped` (booleans).
function _M.register_channel(name, props)
  if type(name) ~= "string" or not find(name, "^[A-Z][A-Z0-9_]*$") then
    error("recipient.register_channel: name must be an upper-case channel name like \"SMS\"", 2)
  end
  props = props or {}
  if type(props) ~= "table" then
    error("recipient.register_channel: props must be a table", 2)
  end
  local copy = {}
  for k, v in pairs(props) do
    if not CHANNEL_PROPS[k] then
      error(format("recipient.register_channel: unknown property %q (known: app_scoped, phone)",
        tostring(k)), 2)
    end
    if type(v) ~= "boolean" then
      error(format("recipient.register_channel: %s must be a boolean", k), 2)
    end
    copy[k] = v
  end
  _M.channels[name] = copy
  return copy
end

local function known_channels()
  local names = {}
  for name in pairs(_M.channels) do names[#names + 1] = name end
  sort(names)
  return concat(names, ", ")
end

-- Check one channel identity; `path` prefixes the error.  Returns a fresh
-- `{channel, identity, app_id}` table or nil, err.
local function identity(path, channel, id, app_id)
  if type(channel) ~= "string" then
    return nil, format("%s: channel must be a string (got %s)", path, type(channel))
  end
  local props = _M.channels[channel]
  if not props then
    return nil, format("%s: unknown channel %q (known: %s; add one with recipient.register_channel)",
      path, channel, known_channels())
  end
  if type(id) ~= "string" or id == "" then
    return nil, format("%s: identity must be a non-empty string (got %s)", path,
      id == "" and "an empty string" or type(id))
  end
  if props.phone and not rules.phone_ok(id) then
    return nil, format("%s: %q %s", path, id, PHONE_RULE)
  end
  if app_id ~= nil and (type(app_id) ~= "string" or app_id == "") then
    return nil, format("%s: app_id must be a non-empty string (got %s)", path,
      app_id == "" and "an empty string" or type(app_id))
  end
  return { channel = channel, identity = id, app_id = app_id }
end

local function identified_by(list)
  return { identified_by = { channel_identities = array(list) } }
end

--- The metatable of Recipients (one channel identity in one table):
-- `getmetatable(r) == R.Recipient`.  The C core's when it is loaded (its
-- builder recognises it), else a table of its own.
-- @table Recipient
local Recipient
do
  local ok, core = pcall(require, "sinch.batch.core")
  Recipient = ok and type(core) == "table" and core.Recipient or {}
end
-- The nested tables of Recipient r, fresh.
local function nested(r)
  return identified_by({ { channel = r[1], identity = r[2], app_id = r[3] } })
end

local FIELD = { channel = 1, identity = 2, app_id = 3 }
Recipient.__index = function(r, key)
  local i = FIELD[key]
  if i then return rawget(r, i) end
  if key == "identified_by" then return nested(r).identified_by end
end
_M.Recipient = Recipient

-- The Recipient of a checked identity (identity()'s table).
local function recipient_of(ci)
  return setmetatable({ ci.channel, ci.identity, ci.app_id }, Recipient)
end

--- A recipient on one channel: `channel("SMS", "+46700000001")`.
function _M.channel(name, id, app_id)
  local ci, err = identity("recipient", name, id, app_id)
  if not ci then error(err, 2) end
  return recipient_of(ci)
end

--- The recipient `r` as plain tables in the API's shape (a Recipient becomes
-- `{ identified_by = { channel_identities = { {…} } } }`; anything else is returned as it is).
function _M.plain(r)
  if getmetatable(r) == Recipient then return nested(r) end
  return r
end

-- The helpers are on the hot path of `b:add(R.sms(n), params)`: the common
-- case (a string identity, no app_id, a channel still known) is checked and
-- built inline; anything else goes through identity() for its message.
local function helper(name)
  local phone_ok -- rules.phone_check(): through the FFI under LuaJIT
  return function(id, app_id)
    local props = _M.channels[name]
    if app_id == nil and props then
      if props.phone then
        phone_ok = phone_ok or rules.phone_check()
        if phone_ok(id) then return setmetatable({ name, id }, Recipient) end
      elseif type(id) == "string" and id ~= "" then
        return setmetatable({ name, id }, Recipient)
      end
    end
    local ci, err = identity("recipient", name, id, app_id)
    if not ci then error(err, 2) end
    return recipient_of(ci)
  end
end

--- `sms(number [, app_id])` and likewise `mms`, `whatsapp`, `rcs`, `viber` (VIBERBM):
-- a phone-number identity on that channel (an optional `+`, then digits);
-- `messenger(id [, app_id])`, `instagram`, `line`, `wechat`: an app-scoped
-- identity; `telegram(id)`, `kakaotalk`, `kakaotalkchat`, `applebc`: any identity.
-- @function sms
_M.sms = helper("SMS")
--- A recipient on MMS (see `sms`).
-- @function mms
_M.mms = helper("MMS")
--- A recipient on WHATSAPP (see `sms`).
-- @function whatsapp
_M.whatsapp = helper("WHATSAPP")
--- A recipient on RCS (see `sms`).
-- @function rcs
_M.rcs = helper("RCS")
--- A recipient on VIBERBM (see `sms`).
-- @function viber
_M.viber = helper("VIBERBM")
--- A recipient on MESSENGER (see `sms`).
-- @function messenger
_M.messenger = helper("MESSENGER")
--- A recipient on INSTAGRAM (see `sms`).
-- @function instagram
_M.instagram = helper("INSTAGRAM")
--- A recipient on LINE (see `sms`).
-- @function line
_M.line = helper("LINE")
--- A recipient on WECHAT (see `sms`).
-- @function wechat
_M.wechat = helper("WECHAT")
--- A recipient on TELEGRAM (see `sms`).
-- @function telegram
_M.telegram = helper("TELEGRAM")
--- A recipient on KAKAOTALK (see `sms`).
-- @function kakaotalk
_M.kakaotalk = helper("KAKAOTALK")
--- A recipient on KAKAOTALKCHAT (see `sms`).
-- @function kakaotalkchat
_M.kakaotalkchat = helper("KAKAOTALKCHAT")
--- A recipient on APPLEBC (see `sms`).
-- @function applebc
_M.applebc = helper("APPLEBC")

--- A recipient by contact id (CONVERSATION processing mode only).
function _M.contact(id)
  if type(id) ~= "string" or id == "" then
    error(format("recipient: contact id must be a non-empty string (got %s)",
      id == "" and "an empty string" or type(id)), 2)
  end
  return { contact_id = id }
end

local IDENTITY_KEYS = { channel = true, identity = true, app_id = true }

-- Check an identity table `{channel=, identity=, app_id=}` with no other keys.
local function identity_table(path, t)
  if type(t) ~= "table" then
    return nil, format("%s: expected a table (got %s)", path, type(t))
  end
  for k in pairs(t) do
    if not IDENTITY_KEYS[k] then
      return nil, format("%s.%s: unknown field (known: app_id, channel, identity)", path, tostring(k))
    end
  end
  return identity(path, t.channel, t.identity, t.app_id)
end

--- One recipient with several channel identities, tried by the API in its order:
-- `any{ {channel="WHATSAPP", identity="+46…"}, {"SMS", "+46…"}, R.sms("+46…") }`.
-- Entries are `{channel=, identity=, app_id=}`, positional `{channel, identity, app_id}`,
-- or recipients made by the helpers above (their identities are spliced in).
function _M.any(list)
  if type(list) ~= "table" or list[1] == nil then
    error("recipient.any: expected a non-empty array of channel identities", 2)
  end
  local out = {}
  for i, entry in ipairs(list) do
    local path = format("recipient.any[%d]", i)
    if type(entry) == "table" and entry.identified_by then
      local ids = type(entry.identified_by) == "table" and entry.identified_by.channel_identities
      if type(ids) ~= "table" then
        error(path .. ".identified_by: expected channel_identities", 2)
      end
      for j, ci in ipairs(ids) do
        local c, err = identity_table(format("%s.identified_by.channel_identities[%d]", path, j), ci)
        if not c then error(err, 2) end
        out[#out + 1] = c
      end
    else
      local c, err
      if type(entry) == "table" and entry[1] ~= nil then
        c, err = identity(path, entry[1], entry[2], entry[3])
      else
        c, err = identity_table(path, entry)
      end
      if not c then error(err, 2) end
      out[#out + 1] = c
    end
  end
  if out[1] == nil then
    error("recipient.any: expected a non-empty array of channel identities", 2)
  end
  return identified_by(out)
end

--- Check a recipient table (for hand-made or decoded recipients).
-- Returns true, or nil and a message naming the field and the rule.
function _M.validate(r, path)
  path = path or "recipient"
  if type(r) ~= "table" then
    return nil, format("%s: expected a table (got %s)", path, type(r))
  end
  if getmetatable(r) == Recipient then
    local c, err = identity(path, r[1], r[2], r[3])
    if not c then return nil, err end
    return true
  end
  for k in pairs(r) do
    if k ~= "contact_id" and k ~= "identified_by" then
      return nil, format("%s.%s: unknown field (known: contact_id, identified_by)", path, tostring(k))
    end
  end
  if r.contact_id ~= nil then
    if r.identified_by ~= nil then
      return nil, path .. ": give contact_id or identified_by, not both"
    end
    if type(r.contact_id) ~= "string" or r.contact_id == "" then
      return nil, path .. ".contact_id: expected a non-empty string"
    end
    return true
  end
  local by = r.identified_by
  if by == nil then
    return nil, path .. ": needs contact_id or identified_by"
  end
  if type(by) ~= "table" then
    return nil, format("%s.identified_by: expected a table (got %s)", path, type(by))
  end
  for k in pairs(by) do
    if k ~= "channel_identities" then
      return nil, format("%s.identified_by.%s: unknown field (known: channel_identities)", path, tostring(k))
    end
  end
  local ids = by.channel_identities
  local ipath = path .. ".identified_by.channel_identities"
  if type(ids) ~= "table" then
    return nil, format("%s: expected an array (got %s)", ipath, type(ids))
  end
  local n = #ids
  if n == 0 then
    return nil, ipath .. ": at least 1 channel identity"
  end
  for k in pairs(ids) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      return nil, format("%s: expected an array (found key %s)", ipath, tostring(k))
    end
  end
  for i = 1, n do
    local c, err = identity_table(format("%s[%d]", ipath, i), ids[i])
    if not c then return nil, err end
  end
  return true
end

return _M
