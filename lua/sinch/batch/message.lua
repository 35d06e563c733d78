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
-- Parameters: `${name}` where name is one or more of `[A-Za-z0-9_.-]`; a `${`
-- without a closing `}` (or with other characters inside) is literal text.
-- Format rules (URLs, E.164 numbers, dates) are not applied to a string that
-- holds a `${`, since its value is only known per recipient.
local type, pairs, ipairs, next, error, tostring = type, pairs, ipairs, next, error, tostring
local select, setmetatable, getmetatable, tonumber = select, setmetatable, getmetatable, tonumber
local format, find, gsub, gmatch, match = string.format, string.find, string.gsub, string.gmatch, string.match
local sort, concat = table.sort, table.concat
local floor, huge = math.floor, math.huge

local cjson = require "cjson"
local array_mt = cjson.array_mt
local empty_array = cjson.empty_array

local _M = { _VERSION = "0.1.0" }

-- Validators: `v(value, path)` returns a checked copy, or nil and an error
-- "path: rule".  nil with no error means "leave the field out" (an empty
-- optional array).

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

local function is_e164(s)
  return find(s, "^%+[1-9]%d%d%d%d%d%d+$") ~= nil and #s <= 16
end
local E164 = str{ nonempty = true, format = is_e164, rule = "must be an E.164 number (+ and 7-15 digits)" }

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

-- The kinds and their parts (API reference §2.1, §2.2).

local MEDIA = object{
  { "url", URL, true }, { "thumbnail_url", URL }, { "filename_override", STR },
}
local TEXT = object{ { "text", NESTR, true } }
local OMNI_TEMPLATE = object{
  { "template_id", NESTR, true }, { "version", NESTR, true },
  { "language_code", STR }, { "parameters", string_map },
}
local CHANNEL_TEMPLATE = object{
  { "template_id", NESTR, true }, { "version", NESTR },
  { "language_code", STR }, { "parameters", string_map },
}
local TEMPLATE = object({
  { "omni_template", OMNI_TEMPLATE }, { "channel_template", channel_map(CHANNEL_TEMPLATE) },
}, function(out, path)
  if out.omni_template == nil and out.channel_template == nil then
    return path .. ": needs omni_template or channel_template"
  end
end)
local COORDINATES = object{
  { "latitude", number(-90, 90), true }, { "longitude", number(-180, 180), true },
}
local LOCATION = object{
  { "coordinates", COORDINATES, true }, { "title", NESTR, true }, { "label", STR },
}
local URL_MESSAGE = object{ { "title", NESTR, true }, { "url", URL, true } }
local CALL_MESSAGE = object{ { "title", NESTR, true }, { "phone_number", E164, true } }
local CALENDAR_MESSAGE = object{
  { "title", NESTR, true }, { "event_start", DATETIME, true }, { "event_end", DATETIME, true },
  { "event_title", NESTR, true }, { "event_description", STR }, { "fallback_url", URL, true },
}
local SHARE_LOCATION = object{ { "title", NESTR, true }, { "fallback_url", URL, true } }
local CHOICE = one_of({
  { "text_message", TEXT }, { "url_message", URL_MESSAGE }, { "call_message", CALL_MESSAGE },
  { "location_message", LOCATION }, { "calendar_message", CALENDAR_MESSAGE },
  { "share_location_message", SHARE_LOCATION },
}, { { "postback_data", STR } })

local CHOICE_MESSAGE = object{
  { "text_message", TEXT },
  { "choices", array(CHOICE, 1, 10, "choice", "choices"), true },
  { "message_properties", object{ { "whatsapp_footer", STR } } },
}
local CARD = object{
  { "title", STR }, { "description", STR }, { "media_message", MEDIA },
  { "height", enum{ "UNSPECIFIED_HEIGHT", "SHORT", "MEDIUM", "TALL" } },
  { "choices", array(CHOICE, 0, 10, "choice", "choices") },
  { "message_properties", object{ { "whatsapp_header", STR } } },
}
local CAROUSEL = object{
  { "cards", array(CARD, 1, 10, "card", "cards"), true },
  { "choices", array(CHOICE, 0, 3, "choice", "choices") },
}
local OPT = function(name) return { name, STR } end
local CONTACT_INFO = object{
  { "name", object{ { "full_name", NESTR, true }, OPT "first_name", OPT "last_name",
                    OPT "middle_name", OPT "prefix", OPT "suffix" }, true },
  { "phone_numbers", array(object{ { "phone_number", NESTR, true }, OPT "type" },
                           1, nil, "phone number", "phone numbers"), true },
  { "addresses", array(object{ OPT "city", OPT "country", OPT "state", OPT "zip", OPT "type",
                               OPT "country_code" }, 0, nil, "address", "addresses") },
  { "email_addresses", array(object{ { "email_address", NESTR, true }, OPT "type" },
                             0, nil, "email address", "email addresses") },
  { "organization", object{ OPT "company", OPT "department", OPT "title" } },
  { "urls", array(object{ { "url", URL, true }, OPT "type" }, 0, nil, "url", "urls") },
  { "birthday", DATE },
}
local LIST_CHOICE = object{
  { "title", NESTR, true }, { "description", STR }, { "media", MEDIA }, { "postback_data", STR },
}
local PRODUCT = object{
  { "id", NESTR, true }, { "marketplace", NESTR, true }, { "quantity", number(1, nil, true) },
  { "item_price", number(0) }, { "currency", STR },
}
local LIST_ITEM = one_of{ { "choice", LIST_CHOICE }, { "product", PRODUCT } }
local SECTION = object{ { "title", STR }, { "items", array(LIST_ITEM, 1, nil, "item", "items"), true } }
local LIST = object({
  { "title", NESTR, true }, { "description", STR },
  { "sections", array(SECTION, 1, nil, "section", "sections"), true },
  { "media", MEDIA },
  { "message_properties", object{ { "catalog_id", NESTR }, OPT "menu", OPT "whatsapp_header" } },
}, function(out, path)
  local first
  for i, section in ipairs(out.sections) do
    for j, item in ipairs(section.items) do
      local kind = item.choice and "choice" or "product"
      first = first or kind
      if kind ~= first then
        return format("%s.sections[%d].items[%d]: %s", path, i, j,
          "a list holds either choice items or product items, not both")
      end
    end
  end
  if first == "product" and not (out.message_properties and out.message_properties.catalog_id) then
    return path .. ".message_properties.catalog_id: required for product lists"
  end
end)

local AGENT = object{
  { "display_name", NESTR, true }, { "type", enum{ "UNKNOWN_AGENT_TYPE", "HUMAN", "BOT" } },
  { "picture_url", URL },
}

local function explicit_payload(v, path)
  if type(v) == "table" then return cjson.encode(v) end
  if type(v) ~= "string" then
    return nil, path .. ": expected a string (the channel's own JSON payload) or a table"
  end
  return v
end

local function opaque(v, path)
  if type(v) ~= "table" then return nil, path .. ": expected a table" end
  return v
end

local KINDS = {
  { "text_message", TEXT }, { "media_message", MEDIA }, { "template_message", TEMPLATE },
  { "choice_message", CHOICE_MESSAGE }, { "card_message", CARD }, { "carousel_message", CAROUSEL },
  { "location_message", LOCATION }, { "contact_info_message", CONTACT_INFO }, { "list_message", LIST },
}
local OMNI_KINDS = {}
for _, k in ipairs(KINDS) do
  OMNI_KINDS[#OMNI_KINDS + 1] = k[1] == "template_message" and { "template_reference", OMNI_TEMPLATE } or k
end
local OMNI = one_of(OMNI_KINDS)
local EXTRAS = {
  { "explicit_channel_message", channel_map(explicit_payload) },
  { "explicit_channel_omni_message", channel_map(OMNI, { "WHATSAPP", "KAKAOTALK", "WECHAT" }) },
  { "channel_specific_message", channel_map(opaque) },
  { "agent", AGENT },
}
local APP_MESSAGE = one_of(KINDS, EXTRAS,
  "not a message field (kinds: %s; extras: %s)")
local EXTRAS_ONLY = object(EXTRAS)
local KIND = {}
for _, k in ipairs(KINDS) do KIND[k[1]] = k[2] end

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
  if type(t) ~= "table" then
    return nil, format("message.%s: expected a table of options", name)
  end
  for k in pairs(t) do
    if not known[k] then
      return nil, format("message.%s: unknown option %q (known: %s)", name, tostring(k),
        concat(sorted_keys(known), ", "))
    end
  end
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

function _M.choices.text(text, postback)
  local c, err = choice({ text_message = { text = text } }, postback)
  if not c then error(err, 2) end
  return c
end

function _M.choices.url(title, url, postback)
  local c, err = choice({ url_message = { title = title, url = url } }, postback)
  if not c then error(err, 2) end
  return c
end

function _M.choices.call(title, phone_number, postback)
  local c, err = choice({ call_message = { title = title, phone_number = phone_number } }, postback)
  if not c then error(err, 2) end
  return c
end

function _M.choices.share_location(title, fallback_url, postback)
  local c, err = choice({ share_location_message = { title = title, fallback_url = fallback_url } },
    postback)
  if not c then error(err, 2) end
  return c
end

local LOCATION_CHOICE_OPTS = set("title", "coordinates", "label", "postback_data")

--- `choices.location{ title =, coordinates = { latitude =, longitude = }, label =, postback_data = }`.
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

-- Parameters.

local PARAM = "%${([%w_%.%-]+)}"

local function collect(v, seen)
  local t = type(v)
  if t == "string" then
    for name in gmatch(v, PARAM) do seen[name] = true end
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

local CHECK_OPTS = set("defaults")

local function check_defaults(fname, opts)
  if opts == nil then return nil end
  local o, err = options(fname, opts, CHECK_OPTS)
  if not o then return nil, err end
  local d = o.defaults
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
    if p == nil then
      p = {}
    elseif type(p) ~= "table" then
      return nil, path .. ".parameters: expected a table"
    end
    for k, v in pairs(p) do
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
      if not used[k] then
        report.unused[k] = (report.unused[k] or 0) + 1
      end
    end
    for _, name in ipairs(names) do
      if p[name] == nil then
        local d = defaults and defaults[name]
        if d == nil then
          return nil, format("%s.parameters: missing value for ${%s}", path, name)
        end
        nfills = nfills + 1
        fills[nfills] = { entry, name, d }
        report.defaulted[name] = (report.defaulted[name] or 0) + 1
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

local function render(v, sub)
  if type(v) == "string" then
    return (gsub(v, PARAM, sub))
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
