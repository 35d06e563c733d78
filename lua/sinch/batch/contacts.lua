--- sinch.batch.contacts: the request bodies of the client's contact and
-- consent operations (`client:create_contacts`, `client:delete_contacts`,
-- `client:insert_consents`).  Each checks its items against the API
-- reference's rules and returns the JSON body, or nil and an `invalid` error
-- naming the item, the field and the rule; nothing is sent then.  The client
-- checks its arguments' types and takes a raw `{ body = … }` as it is.
local core = require "sinch.batch.core"
local cjson = require "cjson.safe"
local fields = require "sinch.batch.fields"

local type, ipairs, tostring, setmetatable = type, ipairs, tostring, setmetatable
local fmt = string.format
local encode = cjson.encode
local invalid, is_array, is_id = fields.invalid, fields.is_array, fields.is_id

local _M = {}

local function check_list(list, what, max)
  if type(list) ~= "table" or not is_array(list) then
    return invalid(what .. ": expected an array")
  end
  if #list == 0 then return invalid(what .. ": at least 1 item is required") end
  if max and #list > max then
    return invalid(fmt("%s[%d]: at most %d items per request", what, max + 1, max))
  end
  return true
end

-- The channels the reference names app-scoped (a contact's identity on them
-- needs its app_id).
local APP_SCOPED = { MESSENGER = true, INSTAGRAM = true, LINE = true, WECHAT = true }

--- The body of a bulk create: 1–1000 contacts, each
-- `{ channel_identities = {{channel=…, identity=…}}, language = "EN_US", display_name=…, … }`.
-- @return the JSON body | nil, err
function _M.create_body(contacts)
  local ok, err = check_list(contacts, "contacts", core.MAX_RECIPIENTS)
  if not ok then return nil, err end
  for i, c in ipairs(contacts) do
    local where = fmt("contacts[%d]", i)
    if type(c) ~= "table" then return invalid(where .. ": expected a table") end
    local ids = c.channel_identities
    if type(ids) ~= "table" or #ids == 0 then
      return invalid(where .. ".channel_identities: at least one channel identity is required")
    end
    for j, id in ipairs(ids) do
      if type(id) ~= "table" or type(id.channel) ~= "string" or type(id.identity) ~= "string" then
        return invalid(fmt("%s.channel_identities[%d]: needs channel and identity strings", where, j))
      end
      -- the reference: app_id is required on the app-scoped channels
      if APP_SCOPED[id.channel] and (type(id.app_id) ~= "string" or id.app_id == "") then
        return invalid(fmt("%s.channel_identities[%d].app_id: required for the app-scoped "
          .. "channel %s", where, j, id.channel))
      end
    end
    -- the reference (the Conversation API's contact model): at most 1024 characters
    if c.metadata ~= nil and (type(c.metadata) ~= "string" or #c.metadata > 1024) then
      return invalid(fmt("%s.metadata: expected a string of at most 1024 characters", where))
    end
    if not fields.LANGUAGES[c.language] then
      return invalid(fmt("%s.language: %q is not a contact language (e.g. EN_US)", where,
        tostring(c.language)))
    end
    setmetatable(ids, cjson.array_mt)
  end
  return encode{ contacts = setmetatable(contacts, cjson.array_mt) }
end

--- The body of a bulk delete: 1–1000 contact ids.
-- @return the JSON body | nil, err
function _M.delete_body(ids)
  local ok, err = check_list(ids, "contact_ids", core.MAX_RECIPIENTS)
  if not ok then return nil, err end
  for i, id in ipairs(ids) do
    if not is_id(id) then return invalid(fmt("contact_ids[%d]: expected a non-empty string", i)) end
  end
  return encode{ contact_ids = setmetatable(ids, cjson.array_mt) }
end

local CONSENT_TYPES = { OPT_OUT_ALL = true, OPT_OUT_NOTIFICATION = true, OPT_OUT_MARKETING = true }

--- The body of a consents insert: `{ app_id = …, records = { {identification =,
-- consent_type =}, … } }` or an array of records, the app_id then `app_id`
-- (the client's).  The docs give no maximum number of records, so none is
-- applied here.
-- @return the JSON body | nil, err
function _M.consents_body(o, app_id)
  local records = o.records or o
  app_id = o.app_id or app_id
  if not is_id(app_id) then return invalid("app_id: required (pass it to client{} or here)") end
  local ok, err = check_list(records, "consent_records")
  if not ok then return nil, err end
  for i, r in ipairs(records) do
    local where = fmt("consent_records[%d]", i)
    if type(r) ~= "table" or not is_id(r.identification) then
      return invalid(where .. ".identification: required, a phone number or contact id")
    end
    if r.consent_type ~= nil and not CONSENT_TYPES[r.consent_type] then
      return invalid(fmt("%s.consent_type: %q is not one of OPT_OUT_ALL, OPT_OUT_NOTIFICATION, "
        .. "OPT_OUT_MARKETING", where, tostring(r.consent_type)))
    end
  end
  return encode{ app_id = app_id, consent_records = setmetatable(records, cjson.array_mt) }
end

return _M
