--- sinch.batch: a client for the Sinch Conversation Batch API.
--
--    local batch = require "sinch.batch"
--    local client = assert(batch.client{ project_id = P, app_id = A, region = "eu",
--                                        key_id = K, key_secret = S })
--    local res, err = client:send{ message = batch.message.text("Hi ${name}"),
--      recipients = { { recipient = batch.recipient.sms("+46700000001"),
--                       parameters = { name = "Ann" } } } }
--
-- Misuse (wrong types, unknown options, a closed client) raises; operational
-- failures return `nil, err` (see sinch.batch.errors).
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local error, setmetatable, getmetatable, next, require = error, setmetatable, getmetatable, next, require
local floor = math.floor
local os_time = os.time
local fmt, find, match = string.format, string.find, string.match
local encode, decode = cjson.encode, cjson.decode
local fail = errors.fail

local _M = { _VERSION = "0.1.0" }

if core._VERSION ~= _M._VERSION then
  error("sinch.batch: the C module sinch.batch.core is version " .. tostring(core._VERSION)
    .. " but the Lua modules are " .. _M._VERSION .. " (a stale core.so on package.cpath?)")
end
core.set_error_mt(errors.mt)

_M.core = core
_M.errors = errors
_M.MAX_RECIPIENTS = 1000

-- Helpers load on first use: batch.message, batch.recipient, batch.chunk, ...
local submodules = { message = true, recipient = true, chunk = true, webhook = true,
                     ledger = true, campaign = true }
setmetatable(_M, { __index = function(t, k)
  if submodules[k] then
    local m = require("sinch.batch." .. k)
    t[k] = m
    return m
  end
end })

local function argerror(n, fname, msg, level)
  error(fmt("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 2) + 1)
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

------------------------------------------------------------------ options

local SECONDS = "seconds"
local CLIENT_OPTIONS = {
  project_id = "string", app_id = "string", region = "string", base_url = "string",
  auth_url = "string", key_id = "string", key_secret = "string", token = "string",
  user_agent = "string", ca_file = "string", insecure = "boolean", http2 = "boolean",
  max_attempts = "number", seed = "number",
  timeout = SECONDS, connect_timeout = SECONDS, deadline = SECONDS,
  backoff_base = SECONDS, backoff_max = SECONDS, refresh_ahead = SECONDS,
  transport = "any", shared_dict = "string", ledger = "table",
  pool_size = "number", keepalive_timeout = SECONDS,
}
-- options the Lua side keeps (the rest go to the C client)
local LUA_ONLY = { transport = true, shared_dict = true, pool_size = true, keepalive_timeout = true,
                   app_id = true, ledger = true }

local function check_options(opts, known, fname, level)
  if type(opts) ~= "table" then
    argerror(1, fname, "expected a table of options, got " .. type(opts), level + 1)
  end
  for k, v in pairs(opts) do
    local want = known[k]
    if want == nil then
      argerror(1, fname, "unknown option '" .. tostring(k) .. "'", level + 1)
    end
    local got = type(v)
    if want == SECONDS then want = "number" end
    if want ~= "any" and got ~= want then
      argerror(1, fname, fmt("opts.%s: expected a %s, got %s", k, want, got), level + 1)
    end
  end
end

------------------------------------------------------------------ client

local Client = {}
Client.__index = Client
_M.Client = Client

--- Creates a client.
-- @tparam table opts project_id (required), app_id (default for send and
--   consents), region ("us"|"eu"|"br") or base_url, auth_url, key_id +
--   key_secret (OAuth2) or token, timeout/connect_timeout/deadline (seconds),
--   max_attempts, ca_file, insecure, http2, transport ("curl"|"ngx"|object).
-- @return client | nil, err
function _M.client(opts)
  check_options(opts, CLIENT_OPTIONS, "client", 1)
  local c_opts = {}
  for k, v in pairs(opts) do
    if not LUA_ONLY[k] then
      if CLIENT_OPTIONS[k] == SECONDS then
        c_opts[k .. "_ms"] = floor(v * 1000 + 0.5)
      else
        c_opts[k] = v
      end
    end
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
      keepalive_timeout = opts.keepalive_timeout and floor(opts.keepalive_timeout * 1000 + 0.5),
      ssl_verify = not opts.insecure,
      connect_timeout = opts.connect_timeout and floor(opts.connect_timeout * 1000 + 0.5),
    }
  elseif transport == "curl" then
    transport = nil
  elseif transport ~= nil and type(transport) ~= "table" then
    argerror(1, "client", "opts.transport: expected \"curl\", \"ngx\", \"auto\" or a transport object", 1)
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

-- Runs one API operation and decodes its JSON answer.
function Client:_call(op, body, a, b)
  local status, resp
  if self.transport then
    status, resp = self.transport:run(self.core, op, body, a, b)
  else
    status, resp = self.core:call(op, body, a, b)
  end
  if not status then return nil, resp end
  if resp == "" then return {} end
  local data = decode(resp)
  if data == nil then
    return fail("json", fmt("HTTP %d: the response is not JSON (%d bytes)", status, #resp),
      { status = status })
  end
  return data
end

------------------------------------------------------------ validation

local function invalid(msg) return fail("invalid", msg) end

-- "2025-10-01T08:00:00Z" / "...+02:00" / fractions -> Unix seconds, or nil
local function parse_rfc3339(s)
  local y, mo, d, h, mi, sec, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  rest = rest:gsub("^%.%d+", "")
  local offset
  if rest == "Z" or rest == "z" then
    offset = 0
  else
    local sign, oh, om = match(rest, "^([%+%-])(%d%d):(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sign == "-" then offset = -offset end
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or tonumber(h) > 23 or tonumber(mi) > 59
     or tonumber(sec) > 60 then
    return nil
  end
  -- days from civil (proleptic Gregorian), no os.time (local time zones)
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) - offset
end
_M.parse_rfc3339 = parse_rfc3339

local MAX_SCHEDULE = 7 * 86400
local STRATEGIES = { DEFAULT = true, DISPATCH_ONLY = true }

local function check_string_map(t, field)
  if type(t) ~= "table" then return invalid(field .. ": expected a table of strings") end
  for k, v in pairs(t) do
    if type(k) ~= "string" then return invalid(field .. ": keys must be strings") end
    if type(v) ~= "string" then
      return invalid(fmt("%s.%s: expected a string, got %s", field, k, type(v)))
    end
  end
  return true
end

local function check_metadata(t, field)
  if type(t) ~= "table" then return invalid(field .. ": expected a table") end
  if t._batch_id ~= nil then
    return invalid(field .. "._batch_id: reserved, the API sets it to the batch id")
  end
  return true
end

-- Options of a batch besides message and recipients, checked and encoded
-- once per batch. Returns an array of {key, raw_json} or nil, err.
local BATCH_FIELDS = {
  app_id = true, message = true, recipients = true, batch_metadata = true,
  message_metadata = true, conversation_metadata = true, send_after = true, ttl = true,
  processing_strategy = true, callback_url = true, channel_priority_order = true,
  channel_properties = true, correlation_id = true, defaults = true, check = true,
  fields = true, now = true, max_recipients = true,
}

local function batch_fields(o)
  local out = {}
  local function add(k, v)
    local j = encode(v)
    if not j then return invalid(k .. ": cannot be encoded as JSON") end
    out[#out + 1] = { k, j }
    return true
  end
  local ok, err
  if o.batch_metadata ~= nil then
    ok, err = check_string_map(o.batch_metadata, "batch_metadata")
    if not ok then return nil, err end
    add("batch_metadata", o.batch_metadata)
  end
  for _, k in ipairs{ "message_metadata", "conversation_metadata" } do
    if o[k] ~= nil then
      ok, err = check_metadata(o[k], k)
      if not ok then return nil, err end
      add(k, o[k])
    end
  end
  if o.send_after ~= nil then
    local t = type(o.send_after) == "string" and parse_rfc3339(o.send_after)
    if not t then
      return invalid(fmt("send_after: %q is not an RFC 3339 date-time (2025-10-01T08:00:00Z)",
        tostring(o.send_after)))
    end
    local now = o.now or os_time()
    if t - now > MAX_SCHEDULE then
      return invalid(fmt("send_after: %s is more than 7 days ahead; the API schedules at most 7 days out",
        o.send_after))
    end
    add("send_after", o.send_after)
  end
  if o.ttl ~= nil then
    local ttl = o.ttl
    if type(ttl) == "number" and ttl >= 1 and ttl == floor(ttl) then
      ttl = fmt("%ds", ttl)
    end
    if type(ttl) ~= "string" or not find(ttl, "^[1-9]%d*s$") then
      return invalid(fmt("ttl: %q must be a whole number of seconds like \"86400s\" or 86400",
        tostring(o.ttl)))
    end
    add("ttl", ttl)
  end
  if o.processing_strategy ~= nil then
    if not STRATEGIES[o.processing_strategy] then
      return invalid(fmt("processing_strategy: %q is not one of DEFAULT, DISPATCH_ONLY",
        tostring(o.processing_strategy)))
    end
    add("processing_strategy", o.processing_strategy)
  end
  if o.callback_url ~= nil then
    if type(o.callback_url) ~= "string" or not find(o.callback_url, "^https?://") then
      return invalid("callback_url: expected an http(s) URL")
    end
    add("callback_url", o.callback_url)
  end
  if o.channel_priority_order ~= nil then
    if not is_array(o.channel_priority_order) then
      return invalid("channel_priority_order: expected an array of channel names")
    end
    for i, ch in ipairs(o.channel_priority_order) do
      if type(ch) ~= "string" then
        return invalid(fmt("channel_priority_order[%d]: expected a channel name", i))
      end
    end
    add("channel_priority_order", setmetatable(o.channel_priority_order, cjson.array_mt))
  end
  if o.channel_properties ~= nil then
    ok, err = check_string_map(o.channel_properties, "channel_properties")
    if not ok then return nil, err end
    add("channel_properties", o.channel_properties)
  end
  if o.correlation_id ~= nil then
    if type(o.correlation_id) ~= "string" then return invalid("correlation_id: expected a string") end
    add("correlation_id", o.correlation_id)
  end
  if o.fields ~= nil then -- raw passthrough for fields newer than this library
    for k, v in pairs(o.fields) do add(k, v) end
  end
  return out
end

------------------------------------------------------------------ batches

local Batch = {}
Batch.__index = Batch
_M.Batch = Batch

--- A batch under construction (the fast path): recipients go straight into
-- the request body, in C.
-- @tparam table opts message (required), app_id (default: the client's),
--   batch_metadata, message_metadata, conversation_metadata, send_after, ttl,
--   processing_strategy, callback_url, channel_priority_order,
--   channel_properties, correlation_id, fields (raw extra top-level fields),
--   defaults (values for missing ${params}), check (false: skip the
--   ${param} check)
-- @return batch | nil, err
local new_batch

function Client:batch(opts)
  check_client(self, "batch")
  local b, err = new_batch(self, opts, "batch") -- not a tail call: errors blame our caller
  return b, err
end

-- fname: the public function misuse is reported against (its caller is blamed)
function new_batch(self, opts, fname)
  if type(opts) ~= "table" then argerror(1, fname, "expected a table of options", 3) end
  for k in pairs(opts) do
    if not BATCH_FIELDS[k] then argerror(1, fname, "unknown option '" .. tostring(k) .. "'", 3) end
  end
  local app_id = opts.app_id or self.app_id
  if type(app_id) ~= "string" or app_id == "" then
    return invalid("app_id: required (pass it to client{} or to the batch)")
  end
  local msg = opts.message
  if type(msg) ~= "table" then return invalid("message: required, a message table") end
  local message = _M.message
  local ok, err = message.validate(msg)
  if not ok then return invalid("message: " .. tostring(err)) end
  local msg_json = encode(msg)
  if not msg_json then return invalid("message: cannot be encoded as JSON") end
  local fields
  fields, err = batch_fields(opts)
  if not fields then return nil, err end
  local b
  b, err = core.builder(app_id, msg_json, opts.max_recipients)
  if not b then return nil, err end
  for _, f in ipairs(fields) do
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
  -- every per-recipient rule runs in C, as the builder writes the entry
  local check = opts.check ~= false
  b:plan{ check = check, defaults = defaults, validate = true, channels = _M.recipient.channels,
          dispatch_only = opts.processing_strategy == "DISPATCH_ONLY" }
  local params = check and b:params() or {}
  table.sort(params)
  return setmetatable({ b = b, params = params, check = check, client = self,
                        batch_metadata = opts.batch_metadata }, Batch)
end

--- Adds one recipient: one call into the C builder, which checks the
-- recipient (channel, phone number), covers the message's ${name}s
-- (defaults, empty values) and counts unused names as it writes the entry.
-- @param recipient a recipient table (sinch.batch.recipient.*)
-- @param params table of ${name} values, or nil
-- @param message_metadata table merged over the batch's, or nil
-- @param conversation_metadata table, or nil
-- @return the number of recipients so far | nil, err
function Batch:add(recipient, params, message_metadata, conversation_metadata)
  if message_metadata == nil and conversation_metadata == nil then
    return self.b:add(recipient, params)
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
  return self.b:add(recipient, params, mm, cm)
end

--- Column data without a table per recipient (see the core builder):
-- `b:columns{"name", "code"}` then `b:add_row("SMS", "+46…", "Ann", "1234")`,
-- or `b:add_columns("SMS", identities, { name = names, code = codes })`.
-- The same checks as add().
function Batch:columns(names) return self.b:columns(names) end
function Batch:add_row(...) return self.b:add_row(...) end
function Batch:add_columns(...) return self.b:add_columns(...) end

function Batch:count() return self.b:count() end
function Batch:body() return self.b:body() end
function Batch:reset() self.b:reset() end

--- Parameters given to add() that the message never uses: `{ name = count }`
-- (they are sent, and ignored by the API; often a typo in a column name).
function Batch:unused() return self.b:unused() end
function Batch:close() self.b:close() end

local function fill_rows(b, recipients, n)
  local add = b.b.add
  local cb = b.b
  for i = 1, n do
    local e = recipients[i]
    if type(e) ~= "table" or type(e.recipient) ~= "table" then
      return invalid(fmt("recipients[%d].recipient: required, a recipient table", i))
    end
    local mm, cm = e.message_metadata, e.conversation_metadata
    local ok, err
    if mm == nil and cm == nil then
      ok, err = add(cb, e.recipient, e.parameters)
    else
      ok, err = b:add(e.recipient, e.parameters, mm, cm)
    end
    if not ok then return nil, err end
  end
  return true
end

--- The recipient entries of a convenience send, checked and added (the
-- checks run in C, as each entry is written; a wrong type is an error
-- naming the entry, not a raise).
local function fill(b, recipients)
  if type(recipients) ~= "table" then return invalid("recipients: required, an array") end
  local n = #recipients
  if n == 0 then return invalid("recipients: a batch needs at least 1 recipient") end
  if n > _M.MAX_RECIPIENTS then
    return invalid(fmt("recipients[%d]: a batch holds at most %d recipients",
      _M.MAX_RECIPIENTS + 1, _M.MAX_RECIPIENTS))
  end
  local ok, res, err = pcall(fill_rows, b, recipients, n)
  if ok then return res, err end
  local msg = tostring(type(res) == "table" and res.message or res)
  msg = msg:gsub("^.-bad argument #%d+ to '[%w_]+' %((.*)%)$", "%1")
  return invalid(fmt("recipients[%d]: %s", b.b:count() + 1, msg))
end

-- The ledger entry of a batch about to be sent, checked before anything
-- goes out (a ledger that cannot take it must not cost a sent batch).
local SEND_OPTIONS = { ledger = true, rows = true, recipients = true, tag = true }

local function ledger_entry(ledger, n, batch_metadata, opts, entries)
  local tag = opts and opts.tag
  if tag == nil and batch_metadata then
    local keys = {}
    for k in pairs(batch_metadata) do keys[#keys + 1] = k end
    table.sort(keys)
    if keys[1] then tag = keys[1] .. "=" .. batch_metadata[keys[1]] end
  end
  local rows, recipients = opts and opts.rows, opts and opts.recipients
  if recipients == nil then recipients = entries end
  if n == nil then -- a raw body: the caller says what is in it
    n = rows and #rows or recipients and #recipients
    if n == nil then return invalid("rows: a raw body sent with a ledger needs rows or recipients") end
  end
  if rows == nil and recipients == nil then
    rows = {}
    for i = 1, n do rows[i] = i end
  end
  if rows ~= nil and #rows ~= n then
    return invalid(fmt("rows: %d given for %d recipients; the ledger needs one per recipient", #rows, n))
  end
  if recipients ~= nil and #recipients ~= n then
    return invalid(fmt("recipients: %d given for %d recipients in the batch", #recipients, n))
  end
  if ledger.is_open and not ledger:is_open() then return invalid("ledger: the ledger is closed") end
  return { tag = tag, rows = rows, recipients = recipients }
end

-- Records an accepted batch before send returns. A failed write is
-- reported with the batch id: the batch WAS accepted.
local function record(ledger, entry, batch_id)
  entry.batch_id = batch_id
  local ok, res, err = pcall(ledger.record, ledger, entry)
  if not ok or not res then
    local why = ok and err or res
    return fail("internal", fmt("batch %s was accepted but the ledger write failed: %s", batch_id,
      tostring(type(why) == "table" and why.message or why)),
      { batch_id = batch_id, may_have_been_processed = true })
  end
  return true
end

--- Sends a batch: a Batch from client:batch(), `{ body = raw_json }`, or a table
-- `{ message = …, recipients = { {recipient=…, parameters=…}, … }, …options of client:batch }`.
-- Nothing is sent when any check fails.
-- @return `{ batch_id = …, send_after = … }` | nil, err (err.may_have_been_processed
--   set when the batch may have been accepted: look it up before resending)
function Client:send(batch, opts)
  check_client(self, "send")
  if opts ~= nil then
    if type(opts) ~= "table" then argerror(2, "send", "expected a table of options") end
    for k in pairs(opts) do
      if not SEND_OPTIONS[k] then argerror(2, "send", "unknown option '" .. tostring(k) .. "'") end
    end
  end
  local b, entries, body = batch, nil, nil
  if getmetatable(batch) ~= Batch then
    if type(batch) ~= "table" then argerror(1, "send", "expected a batch or a table") end
    if batch.body ~= nil then -- a raw JSON body, sent as it is
      if type(batch.body) ~= "string" then argerror(1, "send", "body: expected a raw JSON string") end
      if next(batch, "body") ~= nil or next(batch) ~= "body" then
        argerror(1, "send", "body: a raw body goes alone, without other options")
      end
      body = batch.body
    else
      entries = batch.recipients
      local err
      b, err = new_batch(self, batch, "send")
      if not b then return nil, err end
      local ok
      ok, err = fill(b, entries)
      if not ok then return nil, err end
    end
  end
  local ledger = (opts and opts.ledger) or self.ledger
  local entry
  if ledger then
    local err
    entry, err = ledger_entry(ledger, not body and b:count() or nil, not body and b.batch_metadata or nil,
      opts, entries)
    if not entry then return nil, err end
  end
  local res, err = self:_call("send", body or b.b)
  if res and not body then
    local unused = b:unused()
    if next(unused) ~= nil then res.unused = unused end
  end
  if res and ledger and res.batch_id then
    local ok, lerr = record(ledger, entry, res.batch_id)
    if not ok then return nil, lerr end
  end
  return res, err
end

------------------------------------------------------------ other operations

local function id_ok(s) return type(s) == "string" and s ~= "" end

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
  local res, err = self:_call("find", nil, key, value)
  if not res then return nil, err end
  if is_array(res) then return setmetatable(res, cjson.array_mt) end
  for _, v in pairs(res) do -- wrapped: { batches = [...] } or similar
    if type(v) == "table" and is_array(v) then return v end
  end
  return setmetatable({}, cjson.array_mt)
end

local function raw_body(o, fname)
  if o.body ~= nil then
    if type(o.body) ~= "string" then argerror(1, fname, "body: expected a raw JSON string", 3) end
    return o.body
  end
end

--- Cancels scheduled batches: `{ batch_id = … }`, `{ batch_ids = {…} }`,
-- `{ metadata = { key = value } }` (or `{ key = …, value = … }`), or
-- `{ body = raw_json }`.  The API answers 200 at once and cancels later.
function Client:cancel(o)
  check_client(self, "cancel")
  if type(o) == "string" then o = { batch_id = o } end
  if type(o) ~= "table" then argerror(1, "cancel", "expected a table") end
  local body = raw_body(o, "cancel")
  if not body then
    if o.batch_id ~= nil then
      if not id_ok(o.batch_id) then return invalid("batch_id: expected a non-empty string") end
      body = encode{ batch_id = o.batch_id }
    elseif o.batch_ids ~= nil then
      if not is_array(o.batch_ids) or #o.batch_ids == 0 then
        return invalid("batch_ids: expected a non-empty array of batch ids")
      end
      for i, id in ipairs(o.batch_ids) do
        if not id_ok(id) then return invalid(fmt("batch_ids[%d]: expected a non-empty string", i)) end
      end
      body = encode{ batch_ids = o.batch_ids }
    else
      local k, v = o.key, o.value
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
  end
  return self:_call("cancel", body)
end

local LANGUAGES = {}
for l in ([[AF SQ AR AZ BN BG CA ZH ZH_CN ZH_HK ZH_TW HR CS DA NL EN EN_GB EN_US ET FIL FI FR DE
  EL GU HA HE HI HU ID GA IT JA KN KK KO LO LV LT MK MS ML MR NB FA PL PT PT_BR PT_PT PA RO RU SR
  SK SL ES ES_AR ES_ES ES_MX SW SV TA TE TH TR UK UR UZ VI ZU]]):gmatch("%S+") do
  LANGUAGES[l] = true
end
_M.LANGUAGES = LANGUAGES

local function check_list(list, what, max)
  if type(list) ~= "table" or not is_array(list) then
    return invalid(what .. ": expected an array")
  end
  if #list == 0 then return invalid(what .. ": at least 1 item is required") end
  if #list > max then
    return invalid(fmt("%s[%d]: at most %d items per request", what, max + 1, max))
  end
  return true
end

--- Bulk-creates 1–1000 contacts, each
-- `{ channel_identities = {{channel=…, identity=…}}, language = "EN_US", display_name=…, … }`.
-- `create_contacts{ body = raw }` sends a raw JSON body.
function Client:create_contacts(contacts)
  check_client(self, "create_contacts")
  if type(contacts) ~= "table" then argerror(1, "create_contacts", "expected an array of contacts") end
  local body = raw_body(contacts, "create_contacts")
  if not body then
    local ok, err = check_list(contacts, "contacts", 1000)
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
      end
      if not LANGUAGES[c.language] then
        return invalid(fmt("%s.language: %q is not a contact language (e.g. EN_US)", where,
          tostring(c.language)))
      end
      setmetatable(ids, cjson.array_mt)
    end
    body = encode{ contacts = setmetatable(contacts, cjson.array_mt) }
  end
  return self:_call("create_contacts", body)
end

--- Bulk-deletes 1–1000 contacts by id.
function Client:delete_contacts(ids)
  check_client(self, "delete_contacts")
  if type(ids) ~= "table" then argerror(1, "delete_contacts", "expected an array of contact ids") end
  local body = raw_body(ids, "delete_contacts")
  if not body then
    local ok, err = check_list(ids, "contact_ids", 1000)
    if not ok then return nil, err end
    for i, id in ipairs(ids) do
      if not id_ok(id) then return invalid(fmt("contact_ids[%d]: expected a non-empty string", i)) end
    end
    body = encode{ contact_ids = setmetatable(ids, cjson.array_mt) }
  end
  return self:_call("delete_contacts", body)
end

local CONSENT_TYPES = { OPT_OUT_ALL = true, OPT_OUT_NOTIFICATION = true, OPT_OUT_MARKETING = true }

--- Inserts consent (opt-out) records:
-- `insert_consents{ app_id = …, records = { { identification = "+467…", consent_type = "OPT_OUT_ALL" } } }`
-- or an array of records (app_id from the client).
function Client:insert_consents(o)
  check_client(self, "insert_consents")
  if type(o) ~= "table" then argerror(1, "insert_consents", "expected a table") end
  local body = raw_body(o, "insert_consents")
  if not body then
    local records = o.records or o
    local app_id = o.app_id or self.app_id
    if not id_ok(app_id) then return invalid("app_id: required (pass it to client{} or here)") end
    local ok, err = check_list(records, "consent_records", 1000)
    if not ok then return nil, err end
    for i, r in ipairs(records) do
      local where = fmt("consent_records[%d]", i)
      if type(r) ~= "table" or not id_ok(r.identification) then
        return invalid(where .. ".identification: required, a phone number or contact id")
      end
      if r.consent_type ~= nil and not CONSENT_TYPES[r.consent_type] then
        return invalid(fmt("%s.consent_type: %q is not one of OPT_OUT_ALL, OPT_OUT_NOTIFICATION, "
          .. "OPT_OUT_MARKETING", where, tostring(r.consent_type)))
      end
    end
    body = encode{ app_id = app_id, consent_records = setmetatable(records, cjson.array_mt) }
  end
  return self:_call("insert_consents", body)
end

return _M
