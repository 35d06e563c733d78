--- sinch.batch.client: the client and its operations (send, status, find,
-- cancel, create_contacts, delete_contacts, insert_consents).  Made by
-- `require("sinch.batch").client{…}`.  The contact and consent bodies are
-- checked and encoded by sinch.batch.contacts, a cancel is confirmed by
-- sinch.batch.cancel.
local core = require "sinch.batch.core"
local cjson = require "cjson.safe"
local options = require "sinch.batch.options"
local fields = require "sinch.batch.fields"
local batch = require "sinch.batch.batch"
local ledger_mod = require "sinch.batch.ledger"
local answer = require "sinch.batch.answer"
local contacts = require "sinch.batch.contacts"
local cancel = require "sinch.batch.cancel"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local error, setmetatable, getmetatable, next, require = error, setmetatable, getmetatable, next, require
local floor = math.floor
local fmt = string.format
local encode = cjson.encode
local invalid, is_array = fields.invalid, fields.is_array

local _M = { _VERSION = "0.1.0" }

local Client = {}
Client.__index = Client
_M.Client = Client

local function argerror(n, fname, msg, level)
  error(fmt("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 2) + 1)
end

-- The client's options: the C client's, listed once in the binding
-- (core.CLIENT_OPTIONS, src/lua/client.c: names, types, ranges, defaults;
-- a `*_ms` one is given here in seconds, without the suffix), and those the
-- Lua side keeps.
local LUA_OPTIONS = {
  app_id = "string", transport = "any", shared_dict = "string", ledger = "table",
  pool_size = "number", keepalive_timeout = "seconds",
}
local CLIENT_OPTIONS = {}
for k, v in pairs(LUA_OPTIONS) do CLIENT_OPTIONS[k] = v end
for k, v in pairs(core.CLIENT_OPTIONS) do
  local s = k:match("^(.*)_ms$")
  if s then CLIENT_OPTIONS[s] = "seconds" else CLIENT_OPTIONS[k] = v end
end
local LUA_ONLY = LUA_OPTIONS -- these are not passed to the C client
_M.REGIONS = { "us", "eu", "br" }

local function ms(s) return s and floor(s * 1000 + 0.5) end

--- Creates a client.
-- @tparam table opts project_id (required), app_id (default for send and
--   consents), region ("us"|"eu"|"br", required unless base_url is given),
--   base_url, auth_url, key_id + key_secret (OAuth2) or token,
--   timeout/connect_timeout/deadline (seconds), max_attempts, ca_file,
--   insecure, http2, transport ("curl"|"ngx"|object).
-- @return client | nil, err
function _M.new(opts)
  options.assert(opts, CLIENT_OPTIONS, "client", 1, 1)
  if opts.region == nil and opts.base_url == nil then
    argerror(1, "client", "opts.region: required, one of \"us\", \"eu\", \"br\" (the region of "
      .. "your Conversation API app), or give base_url")
  end
  local c_opts = {}
  for k, v in pairs(opts) do
    if not LUA_ONLY[k] then
      if CLIENT_OPTIONS[k] == "seconds" then
        c_opts[k .. "_ms"] = ms(v)
      else
        c_opts[k] = v
      end
    end
  end
  local tr = opts.transport
  if tr == "curl" or ((tr == nil or tr == "auto") and not (ngx and ngx.socket)) then -- luacheck: ignore 113
    require "sinch.batch.curl" -- the libcurl driver: its own C module, never loaded under nginx
  end
  local c, err = core.client(c_opts)
  if not c then return nil, err end
  local self = setmetatable({ core = c, app_id = opts.app_id, ledger = opts.ledger }, Client)
  local transport = opts.transport
  if transport == nil or transport == "auto" then
    if ngx and ngx.get_phase and ngx.socket then -- luacheck: ignore 113
      transport = "ngx"
    end
  end
  if transport == "ngx" then
    transport = require("sinch.batch.transport.ngx").new{
      shared_dict = opts.shared_dict, pool_size = opts.pool_size,
      keepalive_timeout = ms(opts.keepalive_timeout),
      ssl_verify = not opts.insecure,
      connect_timeout = ms(opts.connect_timeout),
      ca_file = opts.ca_file, -- refused there: nginx.conf names the CA file
    }
  elseif transport == "curl" then
    transport = nil
  elseif transport ~= nil and type(transport) ~= "table" then
    argerror(1, "client", "opts.transport: expected \"curl\", \"ngx\", \"auto\" or a transport object")
  end
  self.transport = transport
  return self
end

function Client:__tostring()
  return tostring(self.core)
end

local function check_client(self, fname)
  if getmetatable(self) ~= Client then
    error(fmt("bad self to '%s' (expected a sinch.batch client; use client:%s(...))", fname, fname), 3)
  end
  if self.closed then error("attempt to use a closed client", 3) end
end

--- Closes the client (idempotent); further calls raise.  Also `__close`,
-- for `local client <close> = …` on Lua 5.4.
function Client:close()
  if not self.closed then
    self.closed = true
    self.core:close()
  end
end
Client.__close = Client.close

--- The one decoder of API answers, for every driver (sinch.batch.answer).
_M.decode = answer.decode

-- Runs one API operation and decodes its answer.
function Client:_call(op, body, a, b)
  local status, resp
  if self.transport then
    status, resp = self.transport:run(self.core, op, body, a, b)
  else
    status, resp = self.core:call(op, body, a, b)
  end
  if not status then return nil, resp end
  return answer.decode(op, status, resp)
end

--- A batch under construction (the fast path): recipients go straight into
-- the request body, in C.
-- @tparam table opts message (required), app_id (default: the client's),
--   batch_metadata, message_metadata, conversation_metadata, send_after, ttl
--   ("86400s" or whole seconds; 3 to 315576000000 is our bound), processing_strategy,
--   callback_url, channel_priority_order, channel_properties, correlation_id, fields
--   (raw top-level fields, unchecked: newer fields, or a value past our rules),
--   defaults (values for missing ${params}), check (false: skip the ${param}
--   check), strict_phone (true: our E.164 shape on phone identities).  Which
--   rules are the API's and which ours: docs/api-rules.md.
-- @return batch | nil, err
function Client:batch(opts)
  check_client(self, "batch")
  local b, err = batch.new(self, opts, "batch") -- not a tail call: errors blame our caller
  return b, err
end

local SEND_OPTIONS = { ledger = "any", rows = "any", recipients = "any", tag = "any" }

--- Sends a batch: a Batch from client:batch(), `{ body = raw_json }`, or a table
-- `{ message = …, recipients = { {recipient=…, parameters=…}, … }, …options of client:batch }`.
-- Nothing is sent when any check fails.
-- @return `{ batch_id = …, send_after = … }` | nil, err (err.may_have_been_processed
--   set when the batch may have been accepted: look it up before resending)
function Client:send(b, opts)
  check_client(self, "send")
  if opts ~= nil then
    if type(opts) ~= "table" then argerror(2, "send", "expected a table of options") end
    options.assert(opts, SEND_OPTIONS, "send", 2, 1)
  end
  local entries, body = nil, nil
  if getmetatable(b) ~= batch.Batch then
    if type(b) ~= "table" then argerror(1, "send", "expected a batch or a table") end
    if b.body ~= nil then -- a raw JSON body, sent as it is
      if type(b.body) ~= "string" then argerror(1, "send", "body: expected a raw JSON string") end
      if next(b, "body") ~= nil or next(b) ~= "body" then
        argerror(1, "send", "body: a raw body goes alone, without other options")
      end
      body = b.body
    else
      entries = b.recipients
      local err
      b, err = batch.new(self, b, "send")
      if not b then return nil, err end
      local ok
      ok, err = batch.fill(b, entries)
      if not ok then return nil, err end
    end
  end
  local ledger = (opts and opts.ledger) or self.ledger
  local entry
  if ledger then
    local err
    entry, err = ledger_mod.prepare(ledger, not body and b:count() or nil,
      not body and b.batch_metadata or nil, opts, entries)
    if not entry then return nil, err end
  end
  local res, err = self:_call("send", body or b.b)
  if res and not body then
    local unused = b:unused()
    if next(unused) ~= nil then res.unused = unused end
  end
  if res and ledger and res.batch_id then
    local ok, lerr = ledger_mod.commit(ledger, entry, res.batch_id)
    if not ok then return nil, lerr end
  end
  return res, err
end

local id_ok = fields.is_id

--- Status of one batch: `{ batch_id, status, meta_data, send_after }`.
function Client:status(batch_id)
  check_client(self, "status")
  if not id_ok(batch_id) then argerror(1, "status", "batch_id: expected a non-empty string") end
  return self:_call("status", nil, batch_id)
end

--- Batches whose batch_metadata has key = value: an array of statuses.
-- `client:find("campaign", "spring")` or `client:find{ key = …, value = … }`.
function Client:find(key, value)
  check_client(self, "find")
  if type(key) == "table" then key, value = key.key, key.value end
  if not id_ok(key) then argerror(1, "find", "key: expected a non-empty string") end
  if type(value) ~= "string" then argerror(2, "find", "value: expected a string") end
  return self:_call("find", nil, key, value)
end

local function raw_body(o, fname)
  if o.body ~= nil then
    if type(o.body) ~= "string" then argerror(1, fname, "body: expected a raw JSON string", 3) end
    return o.body
  end
end

local CONFIRM_OPTIONS = { timeout = "seconds", interval = "seconds" }
_M.CONFIRM_TIMEOUT, _M.CONFIRM_INTERVAL = 10, 0.5

local CANCEL_OPTIONS = { batch_id = "any", batch_ids = "any", metadata = "any", key = "any",
                         value = "any", body = "any", confirm = "any" }

--- Cancels scheduled batches: `{ batch_id = … }`, `{ batch_ids = {…} }`,
-- `{ metadata = { key = value } }` (or `{ key = …, value = … }`), or
-- `{ body = raw_json }`.  The API answers 200 at once whatever it matched and
-- cancels later (asynchronously), so with `confirm = true` (or `confirm = {
-- timeout = 10, interval = 0.5 }`, seconds) the batches are looked up
-- afterwards (status by id, find by metadata), again until none is still
-- SCHEDULED or the timeout has passed.  The answer is `{ cancelled = { ids },
-- pending = { {batch_id =, status = "SCHEDULED"} }, not_cancelled = { {batch_id
-- =, status =} } }`: pending is not a failure, the cancel may still happen.
function Client:cancel(o)
  check_client(self, "cancel")
  if type(o) == "string" then o = { batch_id = o } end
  if type(o) ~= "table" then argerror(1, "cancel", "expected a table") end
  options.assert(o, CANCEL_OPTIONS, "cancel", 1, 1)
  local body = raw_body(o, "cancel")
  local ids, k, v
  if o.confirm ~= nil and type(o.confirm) ~= "boolean" then
    if type(o.confirm) ~= "table" then
      argerror(1, "cancel", "confirm: expected true or { timeout =, interval = } (seconds)")
    end
    options.assert(o.confirm, CONFIRM_OPTIONS, "cancel", 1, 1)
  end
  if body then
    if o.confirm then argerror(1, "cancel", "confirm: a raw body cannot be confirmed") end
  elseif o.batch_id ~= nil then
    if not id_ok(o.batch_id) then return invalid("batch_id: expected a non-empty string") end
    ids = { o.batch_id }
    body = encode{ batch_id = o.batch_id }
  elseif o.batch_ids ~= nil then
    if not is_array(o.batch_ids) or #o.batch_ids == 0 then
      return invalid("batch_ids: expected a non-empty array of batch ids")
    end
    for i, id in ipairs(o.batch_ids) do
      if not id_ok(id) then return invalid(fmt("batch_ids[%d]: expected a non-empty string", i)) end
    end
    ids = o.batch_ids
    body = encode{ batch_ids = o.batch_ids }
  else
    k, v = o.key, o.value
    if o.metadata ~= nil then
      if type(o.metadata) ~= "table" then return invalid("metadata: expected { key = value }") end
      k, v = next(o.metadata)
      if next(o.metadata, k) ~= nil then
        return invalid("metadata: cancel matches one key = value pair")
      end
    end
    if not id_ok(k) or type(v) ~= "string" then
      return invalid("cancel: give batch_id, batch_ids, metadata = { key = value } or body")
    end
    body = encode{ metadata_key = k, metadata_value = v }
  end
  local res, err = self:_call("cancel", body)
  if not res or not o.confirm then return res, err end
  return cancel.confirm(self, ids, k, v, o.confirm, _M.CONFIRM_TIMEOUT, _M.CONFIRM_INTERVAL)
end

--- Bulk-creates 1–1000 contacts, each
-- `{ channel_identities = {{channel=…, identity=…}}, language = "EN_US", display_name=…, … }`.
-- `create_contacts{ body = raw }` sends a raw JSON body.
function Client:create_contacts(list)
  check_client(self, "create_contacts")
  if type(list) ~= "table" then argerror(1, "create_contacts", "expected an array of contacts") end
  local body = raw_body(list, "create_contacts")
  if not body then
    local err
    body, err = contacts.create_body(list)
    if not body then return nil, err end
  end
  return self:_call("create_contacts", body)
end

--- Bulk-deletes 1–1000 contacts by id.
function Client:delete_contacts(ids)
  check_client(self, "delete_contacts")
  if type(ids) ~= "table" then argerror(1, "delete_contacts", "expected an array of contact ids") end
  local body = raw_body(ids, "delete_contacts")
  if not body then
    local err
    body, err = contacts.delete_body(ids)
    if not body then return nil, err end
  end
  return self:_call("delete_contacts", body)
end

--- Inserts consent (opt-out) records:
-- `insert_consents{ app_id = …, records = { { identification = "+467…", consent_type = "OPT_OUT_ALL" } } }`
-- or an array of records (app_id from the client).  The docs give no
-- maximum number of records, so none is applied here.
function Client:insert_consents(o)
  check_client(self, "insert_consents")
  if type(o) ~= "table" then argerror(1, "insert_consents", "expected a table") end
  local body = raw_body(o, "insert_consents")
  if not body then
    local err
    body, err = contacts.consents_body(o, self.app_id)
    if not body then return nil, err end
  end
  return self:_call("insert_consents", body)
end

return _M
