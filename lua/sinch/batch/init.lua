--- sinch.batch: a client for the Sinch Conversation Batch API.
--
--    local batch = require "sinch.batch"
--    local client = assert(batch.client{ project_id = P, app_id = A, region = "eu",
--                                        key_id = K, key_secret = S })
--    local res, err = client:send{ message = batch.message.text("Hi ${name}"),
--      recipients = { { recipient = batch.recipient.sms("+46700000001"),
--                       parameters = { name = "Ann" } } } }
--
-- Misuse (wrong types, unknown options, a closed client, no region) raises;
-- operational failures return `nil, err` (see sinch.batch.errors).
--
-- The modules: client (the client and its operations), batch (client:batch's
-- builder), options (option-table checks), fields (batch fields, RFC 3339,
-- languages), rules (the C core's API rules), message and params (messages and
-- ${param}s), recipient, chunk, webhook, ledger, errors.
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"

local error, tostring, setmetatable, getmetatable, require, type, pairs =
  error, tostring, setmetatable, getmetatable, require, type, pairs

local _M = { _VERSION = "0.1.0" }

if core._VERSION ~= _M._VERSION then
  error("sinch.batch: the C module sinch.batch.core is version " .. tostring(core._VERSION)
    .. " but the Lua modules are " .. _M._VERSION .. " (a stale core.so on package.cpath?)")
end
core.set_error_mt(errors.mt)

local client = require "sinch.batch.client"
local fields = require "sinch.batch.fields"

_M.core = core
_M.errors = errors
_M.MAX_RECIPIENTS = core.MAX_RECIPIENTS
_M.Client = client.Client
_M.Batch = require("sinch.batch.batch").Batch
--- Seconds since the epoch of an RFC 3339 time ("2026-03-01T09:00:00Z",
-- with an offset or fractional seconds), as `send_after` takes it.
-- @function parse_rfc3339
-- @param s the time
-- @return seconds | nil, err
_M.parse_rfc3339 = fields.parse_rfc3339
_M.LANGUAGES = fields.LANGUAGES

--- client:campaign{…}: sends a contact list as one campaign (see
-- sinch.batch.campaign): batches in flight, a pace, a journal for an
-- exactly-once resume.  Returns its report.  Defined here, above both the
-- client and the campaign package, so that neither requires the other's side.
function client.Client:campaign(opts)
  if getmetatable(self) ~= client.Client then
    error("bad self to 'campaign' (expected a sinch.batch client; use client:campaign(...))", 2)
  end
  if self.closed then error("attempt to use a closed client", 2) end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'campaign' (expected a table of options)", 2)
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.client = self
  return require("sinch.batch.campaign").run(o)
end

--- Creates a client (see sinch.batch.client.new for the options).
-- @return client | nil, err
_M.client = client.new

-- Helpers load on first use: batch.message, batch.recipient, batch.chunk, ...
local submodules = { message = true, recipient = true, chunk = true, webhook = true,
                     ledger = true, campaign = true, params = true, options = true,
                     fields = true, rules = true, outcomes = true }
setmetatable(_M, { __index = function(t, k)
  if submodules[k] then
    local m = require("sinch.batch." .. k)
    t[k] = m
    return m
  end
end })

return _M
