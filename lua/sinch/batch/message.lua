--- Messages of a batch: one constructor per AppMessage kind, the extras beside
-- it, and `${parameter}` checking and preview.
--
--   local M = require "sinch.batch.message"
--   local msg = M.text("Hi ${name}, your code is ${code}")  --> { text_message = { text = "…" } }
--   msg = M.with(msg, { agent = M.agent{ display_name = "Ann", type = "HUMAN" } })
--   M.params(msg)                                  --> { "code", "name" }
--   assert(M.check(msg, { { recipient = R.sms("+46700000001"), parameters = { name = "Bo", code = "1" } } }))
--   M.preview(msg, { name = "Bo", code = "1" })    --> the message as that recipient gets it
--
-- Every constructor returns a plain table in the API's own JSON shape, checked
-- against the documented rules; bad input raises (level 2) with the field path
-- and the rule, e.g. `choice_message.choices: at most 10 choices (got 11)`.
-- `M.raw(t)` accepts any table as-is, for kinds and fields newer than this library.
--
-- Empty optional arrays are left out of the result (plain lua-cjson encodes an
-- empty table as `{}`); arrays carry `cjson.array_mt` when the cjson in use has it.
--
-- Parameters: `${name}` where name is one or more bytes, none of them `}` (the
-- C core's grammar); a `${` without a closing `}` is literal text.  Format
-- rules (URLs, phone numbers, dates) are not applied to a string that holds a
-- `${`, since its value is only known per recipient.  Phone numbers take an
-- optional `+`.
--
-- The schemas live in sinch.batch.message.schema (combinators) and
-- sinch.batch.message.kinds; params/check/preview in sinch.batch.params.
local type, pairs, error = type, pairs, error
local select, setmetatable = select, setmetatable

local kinds = require "sinch.batch.message.kinds"
local params = require "sinch.batch.params"
local check_options = require("sinch.batch.options").check
local empty_array = require("cjson").empty_array

local KIND, APP_MESSAGE, EXTRAS_ONLY = kinds.KIND, kinds.APP_MESSAGE, kinds.EXTRAS_ONLY
local CHOICE, AGENT = kinds.CHOICE, kinds.AGENT
local KINDS, EXTRAS = kinds.KINDS, kinds.EXTRAS

local _M = { _VERSION = "0.1.0" }

_M.KINDS = {}
for i, k in ipairs(KINDS) do _M.KINDS[i] = k[1] end
_M.EXTRAS = {}
for i, k in ipairs(EXTRAS) do _M.EXTRAS[i] = k[1] end

-- Tables made by `raw` (weak keys: they go away with the table).
local raws = setmetatable({}, { __mode = "k" })

--- Accept `t` as a message as-is (no checks): for kinds newer than the library.
function _M.raw(t)
  if type(t) ~= "table" then
    error("message.raw: expected a table", 2)
  end
  raws[t] = true
  return t
end

--- True when `t` came from `raw`.
function _M.is_raw(t)
  return raws[t] == true
end

--- Check a message (any AppMessage table): true, or nil and "field: rule".
function _M.validate(msg)
  if type(msg) ~= "table" then
    return nil, "message: expected a table"
  end
  if raws[msg] then return true end
  local m, err = APP_MESSAGE(msg, "")
  if not m then return nil, err end
  return true
end

-- Constructor helpers: check an option table and build one kind.

local function options(name, t, known)
  local ok, err = check_options(t, known, "message." .. name)
  if not ok then return nil, err end
  return t
end

local function set(...)
  local s = {}
  for i = 1, select("#", ...) do s[select(i, ...)] = true end
  return s
end

local function kind(name, body)
  local c, err = KIND[name](body, name)
  if not c then return nil, err end
  return { [name] = c }
end

local function media_opts(m)
  if type(m) == "string" then return { url = m } end
  return m
end

--- `text("Hi ${name}")` → `{ text_message = { text = "Hi ${name}" } }`.
function _M.text(text, extra)
  if extra ~= nil then
    error("message.text: takes one argument; add extras with message.with(msg, extras)", 2)
  end
  local m, err = kind("text_message", { text = text })
  if not m then error(err, 2) end
  return m
end

--- `media(url)` or `media{ url =, thumbnail_url =, filename_override = }`.
function _M.media(url_or_opts)
  if type(url_or_opts) ~= "table" and type(url_or_opts) ~= "string" then
    error("message.media: expected a URL string or a table of options", 2)
  end
  local m, err = kind("media_message", media_opts(url_or_opts))
  if not m then error(err, 2) end
  return m
end

local TEMPLATE_OPTS = set("omni_template", "channel_template")

--- `template{ omni_template = { template_id =, version =, language_code =, parameters = },
--             channel_template = { WHATSAPP = { template_id =, … } } }`.
function _M.template(opts)
  local o, err = options("template", opts, TEMPLATE_OPTS)
  local m
  if o then m, err = kind("template_message", o) end
  if not m then error(err, 2) end
  return m
end

local CHOICE_OPTS = set("text", "choices", "whatsapp_footer")

--- `choice{ text = "Pick one", choices = { M.choices.text("Yes"), … }, whatsapp_footer = "…" }`.
function _M.choice(opts)
  local o, err = options("choice", opts, CHOICE_OPTS)
  local m
  if o then
    m, err = kind("choice_message", {
      text_message = o.text ~= nil and { text = o.text } or nil,
      choices = o.choices,
      message_properties = o.whatsapp_footer ~= nil and { whatsapp_footer = o.whatsapp_footer } or nil,
    })
  end
  if not m then error(err, 2) end
  return m
end

local CARD_OPTS = set("title", "description", "media", "height", "choices", "whatsapp_header")

local function card_body(o)
  return {
    title = o.title, description = o.description, height = o.height, choices = o.choices,
    media_message = media_opts(o.media),
    message_properties = o.whatsapp_header ~= nil and { whatsapp_header = o.whatsapp_header } or nil,
  }
end

--- `card{ title =, description =, media = url | {url =, …}, height = "MEDIUM", choices =,
--         whatsapp_header = }`.
function _M.card(opts)
  local o, err = options("card", opts, CARD_OPTS)
  local m
  if o then m, err = kind("card_message", card_body(o)) end
  if not m then error(err, 2) end
  return m
end

local CAROUSEL_OPTS = set("cards", "choices")

--- `carousel{ cards = { M.card{…}, … }, choices = { … } }` (≤ 10 cards, ≤ 3 choices).
-- Cards may be `card` results or bare card_message tables.
function _M.carousel(opts)
  local o, err = options("carousel", opts, CAROUSEL_OPTS)
  local m
  if o then
    local cards = o.cards
    if type(cards) == "table" and cards ~= empty_array then
      local unwrapped = {}
      for i, c in pairs(cards) do
        unwrapped[i] = type(c) == "table" and c.card_message or c
      end
      cards = unwrapped
    end
    m, err = kind("carousel_message", { cards = cards, choices = o.choices })
  end
  if not m then error(err, 2) end
  return m
end

local LOCATION_OPTS = set("title", "coordinates", "label")

--- `location{ title =, coordinates = { latitude =, longitude = }, label = }`.
function _M.location(opts)
  local o, err = options("location", opts, LOCATION_OPTS)
  local m
  if o then m, err = kind("location_message", o) end
  if not m then error(err, 2) end
  return m
end

local CONTACT_OPTS = set("name", "phone_numbers", "addresses", "email_addresses", "organization",
  "urls", "birthday")

--- `contact_info{ name = { full_name = … }, phone_numbers = { { phone_number = … } }, … }`.
function _M.contact_info(opts)
  local o, err = options("contact_info", opts, CONTACT_OPTS)
  local m
  if o then m, err = kind("contact_info_message", o) end
  if not m then error(err, 2) end
  return m
end

local LIST_OPTS = set("title", "description", "sections", "media", "catalog_id", "menu", "whatsapp_header")

--- `list{ title =, description =, sections = { { title =, items = { { choice = {…} } } } },
--         media =, catalog_id =, menu =, whatsapp_header = }`; items are all
-- `{ choice = { title =, description =, media =, postback_data = } }` or all
-- `{ product = { id =, marketplace =, quantity =, item_price =, currency = } }`.
function _M.list(opts)
  local o, err = options("list", opts, LIST_OPTS)
  local m
  if o then
    local props
    if o.catalog_id ~= nil or o.menu ~= nil or o.whatsapp_header ~= nil then
      props = { catalog_id = o.catalog_id, menu = o.menu, whatsapp_header = o.whatsapp_header }
    end
    m, err = kind("list_message", {
      title = o.title, description = o.description, sections = o.sections,
      media = media_opts(o.media), message_properties = props,
    })
  end
  if not m then error(err, 2) end
  return m
end

--- Choices for `choice`, `card` and `carousel`.
_M.choices = {}

local function choice(body, postback)
  body.postback_data = postback
  return CHOICE(body, "choice")
end

--- A text choice.
-- @function choices.text
function _M.choices.text(text, postback)
  local c, err = choice({ text_message = { text = text } }, postback)
  if not c then error(err, 2) end
  return c
end

--- A URL choice.
-- @function choices.url
function _M.choices.url(title, url, postback)
  local c, err = choice({ url_message = { title = title, url = url } }, postback)
  if not c then error(err, 2) end
  return c
end

--- A call choice.
-- @function choices.call
function _M.choices.call(title, phone_number, postback)
  local c, err = choice({ call_message = { title = title, phone_number = phone_number } }, postback)
  if not c then error(err, 2) end
  return c
end

--- A share-location choice.
-- @function choices.share_location
function _M.choices.share_location(title, fallback_url, postback)
  local c, err = choice({ share_location_message = { title = title, fallback_url = fallback_url } },
    postback)
  if not c then error(err, 2) end
  return c
end

local LOCATION_CHOICE_OPTS = set("title", "coordinates", "label", "postback_data")

--- `choices.location{ title =, coordinates = { latitude =, longitude = }, label =, postback_data = }`.
-- @function choices.location
function _M.choices.location(opts)
  local o, err = options("choices.location", opts, LOCATION_CHOICE_OPTS)
  local c
  if o then
    local body = { title = o.title, coordinates = o.coordinates, label = o.label }
    c, err = choice({ location_message = body }, o.postback_data)
  end
  if not c then error(err, 2) end
  return c
end

local CALENDAR_OPTS = set("title", "event_start", "event_end", "event_title", "event_description",
  "fallback_url", "postback_data")

--- `choices.calendar{ title =, event_start =, event_end =, event_title =, event_description =,
--                     fallback_url =, postback_data = }`.
-- @function choices.calendar
function _M.choices.calendar(opts)
  local o, err = options("choices.calendar", opts, CALENDAR_OPTS)
  local c
  if o then
    local body = {}
    for k, v in pairs(o) do
      if k ~= "postback_data" then body[k] = v end
    end
    c, err = choice({ calendar_message = body }, o.postback_data)
  end
  if not c then error(err, 2) end
  return c
end

local AGENT_OPTS = set("display_name", "type", "picture_url")

--- `agent{ display_name =, type = "HUMAN"|"BOT"|"UNKNOWN_AGENT_TYPE", picture_url = }`.
function _M.agent(opts)
  local o, err = options("agent", opts, AGENT_OPTS)
  local a
  if o then a, err = AGENT(o, "agent") end
  if not a then error(err, 2) end
  return a
end

--- A copy of `msg` with extras beside its kind: `with(msg, { agent =, explicit_channel_message =,
-- explicit_channel_omni_message =, channel_specific_message = })`.
function _M.with(msg, extras)
  if type(msg) ~= "table" then
    error("message.with: expected a message table", 2)
  end
  local e, err = EXTRAS_ONLY(extras, "extras")
  if not e then error(err, 2) end
  local out = {}
  for k, v in pairs(msg) do out[k] = v end
  for k, v in pairs(e) do out[k] = v end
  if raws[msg] then
    raws[out] = true
    return out
  end
  local m
  m, err = APP_MESSAGE(out, "")
  if not m then error(err, 2) end
  return m
end


--- Sorted names of every `${name}` in the message (sinch.batch.params.params).
-- @function params
-- @param msg a message
-- @return { "name", … }
_M.params = params.params

--- Checks that every recipient gives every parameter the message uses, before
-- anything is sent (sinch.batch.params.check): `true, report`, or `nil, err`
-- naming the first bad position, e.g. `recipients[3].parameters: missing
-- value for ${code}`.
-- @function check
-- @param msg a message
-- @param recipients the RecipientAndParam list
-- @param opts optional: `defaults`, values for missing parameters
-- @return true, report | nil, err
_M.check = params.check

--- What one recipient receives: a copy of the message with every `${name}`
-- replaced (sinch.batch.params.preview).
-- @function preview
-- @param msg a message
-- @param parameters the recipient's parameters
-- @param opts optional: `defaults`
-- @return the copy | nil, err
_M.preview = params.preview

return _M
