--- sinch.batch.message.kinds: the schemas of the nine AppMessage kinds,
-- their parts and the extras beside them (API reference §2.1, §2.2).
local S = require "sinch.batch.message.schema"
local cjson = require "cjson"

local type, ipairs = type, ipairs
local format = string.format
local object, one_of, array, enum, number = S.object, S.one_of, S.array, S.enum, S.number
local channel_map, string_map = S.channel_map, S.string_map
local STR, NESTR, URL, PHONE, DATE, DATETIME = S.STR, S.NESTR, S.URL, S.PHONE, S.DATE, S.DATETIME

local _M = { _VERSION = "0.1.0" }

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
local CALL_MESSAGE = object{ { "title", NESTR, true }, { "phone_number", PHONE, true } }
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

_M.KINDS = KINDS
_M.EXTRAS = EXTRAS
_M.APP_MESSAGE = APP_MESSAGE
_M.EXTRAS_ONLY = EXTRAS_ONLY
_M.KIND = KIND
_M.CHOICE = CHOICE
_M.AGENT = AGENT

return _M
