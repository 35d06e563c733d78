--- sinch.batch.batch: a batch under construction (the fast path), made by
-- `client:batch{…}`: recipients go straight into the request body, in C.
local core = require "sinch.batch.core"
local cjson = require "cjson.safe"
local fields = require "sinch.batch.fields"
local options = require "sinch.batch.options"

local type, pairs, ipairs, tostring, error, setmetatable = type, pairs, ipairs, tostring, error,
  setmetatable
local pcall, require = pcall, require
local fmt = string.format
local sort = table.sort
local encode = cjson.encode
local invalid, check_metadata = fields.invalid, fields.check_metadata

local _M = { _VERSION = "0.1.0" }

local Batch = {}
Batch.__index = Batch
_M.Batch = Batch

local message, recipient -- loaded on first use
local function load()
  if not message then
    message = require "sinch.batch.message"
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
  local defaults = opts.defaults
  if defaults ~= nil then
    if type(defaults) ~= "table" then return invalid("defaults: expected a table of strings") end
    for k, v in pairs(defaults) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        return invalid(fmt("defaults.%s: expected a string", tostring(k)))
      end
    end
  end
  -- every per-recipient rule runs in C, as the builder writes each entry:
  -- channel and phone number, ${name} coverage, defaults, empty values,
  -- unused names, DISPATCH_ONLY
  local check = opts.check ~= false
  b:plan{ check = check, defaults = defaults, validate = true, channels = recipient.channels,
          dispatch_only = opts.processing_strategy == "DISPATCH_ONLY",
          e164 = opts.strict_phone == true }
  local names = check and b:params() or {}
  sort(names)
  return setmetatable({ b = b, params = names, check = check, client = client,
                        batch_metadata = opts.batch_metadata }, Batch)
end

--- Adds one recipient: one call into the C builder, which checks the
-- recipient (channel, phone number), covers the message's ${name}s
-- (defaults; an empty value counts as missing, and is never sent) and
-- counts unused names as it writes the entry.
-- @param recipient_t a recipient table (sinch.batch.recipient.*)
-- @param params table of ${name} values, or nil
-- @param message_metadata table merged over the batch's, or nil
-- @param conversation_metadata table, or nil
-- @return the number of recipients so far | nil, err
function Batch:add(recipient_t, params, message_metadata, conversation_metadata)
  if message_metadata == nil and conversation_metadata == nil then
    return self.b:add(recipient_t, params)
  end
  local n = self.b:count() + 1
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

--- Column data without a table per recipient, with the same checks as add():
-- `b:columns{"name", "code"}` then `b:add_row("SMS", "+46…", "Ann", "1234")`,
-- or `b:add_columns("SMS", identities, { name = names, code = codes } [, first [, last]])`.
-- @tparam {string,...} names the parameter names of the columns, in order
function Batch:columns(names) return self.b:columns(names) end
--- One recipient from column values (see columns).
function Batch:add_row(...) return self.b:add_row(...) end
--- Many recipients from column arrays (see columns).
function Batch:add_columns(...) return self.b:add_columns(...) end

--- The number of recipients added so far.
function Batch:count() return self.b:count() end
--- The request body (closes the batch until reset()).
-- @return the JSON string | nil, err
function Batch:body() return self.b:body() end
--- Empties the batch (the message and fields stay) for the next chunk.
function Batch:reset() self.b:reset() end

--- Parameters given to add() that the message never uses: `{ name = count }`
-- (they are sent, and ignored by the API; often a typo in a column name).
function Batch:unused() return self.b:unused() end
--- Frees the batch's body now (the garbage collector does it otherwise);
-- the batch is not used after this.
function Batch:close() self.b:close() end

-- The entries go into the builder in C (add_entries), a run at a time; an
-- entry with metadata stops the run and goes through Batch:add (which
-- encodes the metadata).
local function fill_rows(b, recipients, n)
  local cb = b.b
  local i = 1
  while i <= n do
    local nxt, err = cb:add_entries(recipients, i, n)
    if not nxt then return nil, err end
    if nxt > n then break end
    local e = recipients[nxt]
    local ok
    ok, err = b:add(e.recipient, e.parameters, e.message_metadata, e.conversation_metadata)
    if not ok then return nil, err end
    i = nxt + 1
  end
  return true
end

--- Checks and adds the recipient entries of a convenience send
-- (`{ {recipient=…, parameters=…, message_metadata=…, conversation_metadata=…}, … }`):
-- the checks run in C as each entry is written; a wrong type is an error
-- naming the entry, not a raise.
function _M.fill(b, recipients)
  if type(recipients) ~= "table" then return invalid("recipients: required, an array") end
  local n = #recipients
  if n == 0 then return invalid("recipients: a batch needs at least 1 recipient") end
  local max = core.MAX_RECIPIENTS
  if n > max then
    return invalid(fmt("recipients[%d]: a batch holds at most %d recipients", max + 1, max))
  end
  local ok, res, err = pcall(fill_rows, b, recipients, n)
  if ok then return res, err end
  local msg = tostring(type(res) == "table" and res.message or res)
  msg = msg:gsub("^.-bad argument #%d+ to '[%w_]+' %((.*)%)$", "%1")
  return invalid(fmt("recipients[%d]: %s", b.b:count() + 1, msg))
end

return _M
