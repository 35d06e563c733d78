--- sinch.batch.batch: a batch under construction (the fast path), made by
-- `client:batch{…}`: recipients go straight into the request body, in C.
local core = require "sinch.batch.core"
local cjson = require "cjson.safe"
local fields = require "sinch.batch.fields"
local options = require "sinch.batch.options"

local type, ipairs, tostring, error, setmetatable = type, ipairs, tostring, error, setmetatable
local require = require
local fmt = string.format
local encode = cjson.encode
local invalid, check_metadata = fields.invalid, fields.check_metadata

local _M = { _VERSION = "0.1.0" }

local Batch = {}
Batch.__index = Batch
_M.Batch = Batch

local message, params_mod, recipient -- loaded on first use
local function load()
  if not message then
    message = require "sinch.batch.message"
    params_mod = require "sinch.batch.params"
    recipient = require "sinch.batch.recipient"
  end
end

--- A new batch for `client` (see client:batch for the options); `fname` is the
-- public function misuse is reported against (its caller is blamed).
-- @return batch | nil, err
function _M.new(client, opts, fname)
  if type(opts) ~= "table" then
    error(fmt("bad argument #1 to '%s' (expected a table of options)", fname), 3)
  end
  options.assert(opts, fields.BATCH_OPTIONS, fname, 1, 2)
  load()
  local app_id = opts.app_id or client.app_id
  if type(app_id) ~= "string" or app_id == "" then
    return invalid("app_id: required (pass it to client{} or to the batch)")
  end
  local msg = opts.message
  if type(msg) ~= "table" then return invalid("message: required, a message table") end
  local ok, err = message.validate(msg)
  if not ok then return invalid("message: " .. tostring(err)) end
  local msg_json = encode(msg)
  if not msg_json then return invalid("message: cannot be encoded as JSON") end
  local fs
  fs, err = fields.batch_fields(opts)
  if not fs then return nil, err end
  local b
  b, err = core.builder(app_id, msg_json, opts.max_recipients)
  if not b then return nil, err end
  for _, f in ipairs(fs) do
    ok, err = b:field(f[1], f[2])
    if not ok then return nil, err end
  end
  local check = opts.check ~= false
  local names = check and message.params(msg) or {}
  local known = {}
  for i = 1, #names do known[names[i]] = true end
  return setmetatable({ b = b, params = names, known = known, unused_counts = {}, check = check,
                        defaults = opts.defaults, client = client,
                        batch_metadata = opts.batch_metadata,
                        dispatch_only = opts.processing_strategy == "DISPATCH_ONLY" }, Batch)
end

--- Adds one recipient.
-- @param recipient_t a recipient table (sinch.batch.recipient.*)
-- @param params table of ${name} values, or nil
-- @param message_metadata table merged over the batch's, or nil
-- @param conversation_metadata table, or nil
-- @return the number of recipients so far | nil, err
function Batch:add(recipient_t, params, message_metadata, conversation_metadata)
  local n = self.b:count() + 1
  if self.dispatch_only and type(recipient_t) == "table" and recipient_t.contact_id ~= nil then
    return invalid(fmt("recipients[%d].recipient.contact_id: processing_strategy DISPATCH_ONLY "
      .. "takes identified_by recipients only", n))
  end
  if self.check then
    if params ~= nil and type(params) ~= "table" then
      error(fmt("bad argument #2 to 'add' (parameters: expected a table, got %s)", type(params)), 2)
    end
    local filled, missing = params_mod.cover(self.params, self.known, params, self.defaults,
      self.unused_counts)
    if not filled and missing then
      return invalid(fmt("recipients[%d].parameters: missing value for ${%s}", n, missing))
    end
    params = filled
  end
  local mm, cm
  if message_metadata ~= nil then
    local ok, err = check_metadata(message_metadata, fmt("recipients[%d].message_metadata", n))
    if not ok then return nil, err end
    mm = encode(message_metadata)
  end
  if conversation_metadata ~= nil then
    cm = encode(conversation_metadata)
    if not cm then return invalid(fmt("recipients[%d].conversation_metadata: not JSON", n)) end
  end
  return self.b:add(recipient_t, params, mm, cm)
end

--- The number of recipients added so far.
function Batch:count() return self.b:count() end
--- The request body (closes the batch until reset()).
-- @return the JSON string | nil, err
function Batch:body() return self.b:body() end
--- Empties the batch (the message and fields stay) for the next chunk.
function Batch:reset()
  self.b:reset()
  self.unused_counts = {}
end

--- Parameters given to add() that the message never uses: `{ name = count }`
-- (they are sent, and ignored by the API; often a typo in a column name).
function Batch:unused() return self.unused_counts end
function Batch:close() self.b:close() end

--- Checks and adds the recipient entries of a convenience send
-- (`{ {recipient=…, parameters=…, message_metadata=…, conversation_metadata=…}, … }`).
function _M.fill(b, recipients)
  if type(recipients) ~= "table" then return invalid("recipients: required, an array") end
  local n = #recipients
  if n == 0 then return invalid("recipients: a batch needs at least 1 recipient") end
  local max = core.MAX_RECIPIENTS
  if n > max then
    return invalid(fmt("recipients[%d]: a batch holds at most %d recipients", max + 1, max))
  end
  load()
  local validate = recipient.validate
  for i = 1, n do
    local e = recipients[i]
    if type(e) ~= "table" or type(e.recipient) ~= "table" then
      return invalid(fmt("recipients[%d].recipient: required, a recipient table", i))
    end
    local ok, err = validate(e.recipient)
    if not ok then return invalid(fmt("recipients[%d].recipient: %s", i, tostring(err))) end
    ok, err = b:add(e.recipient, e.parameters, e.message_metadata, e.conversation_metadata)
    if not ok then return nil, err end
  end
  return true
end

return _M
