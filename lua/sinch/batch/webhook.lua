--- sinch.batch.webhook: verify and parse Sinch Conversation API callbacks.
--
--   local webhook = require "sinch.batch.webhook"
--   local ok, err = webhook.verify(secret, headers, raw_body, { replay = true })
--   if not ok then return 401, err.reason end
--   local event = assert(webhook.parse(raw_body))
--   if event.type == "message_delivery" then … event.batch_id, event.message_index … end
--
-- verify() checks the x-sinch-webhook-signature headers (HMAC-SHA256 in C,
-- constant-time compare), how old the signed timestamp is, and optionally
-- that the nonce was not seen before.  parse() turns a body into an event
-- with a `type` for every trigger and ties delivery receipts to their batch.

local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local check_options = require("sinch.batch.options").check
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local error, setmetatable = error, setmetatable
local os_time, lower, format, match = os.time, string.lower, string.format, string.match
local floor = math.floor
local decode, null = cjson.decode, cjson.null
local sign, check, receipt = core.webhook_sign, core.webhook_check, core.receipt

local _M = { _VERSION = "0.1.0" }

local H_SIGNATURE = "x-sinch-webhook-signature"
local H_NONCE = "x-sinch-webhook-signature-nonce"
local H_TIMESTAMP = "x-sinch-webhook-signature-timestamp"

_M.HEADER_SIGNATURE, _M.HEADER_NONCE, _M.HEADER_TIMESTAMP = H_SIGNATURE, H_NONCE, H_TIMESTAMP
-- The age a signed callback may have, either way, in seconds.  Ours: the
-- API reference states no freshness rule (no Sinch SDK checks one); 300 s
-- is our default, `tolerance = false` turns the age check off
-- (docs/api-rules.md).
_M.DEFAULT_TOLERANCE = 300

local function auth_error(reason, message)
  return errors.new("auth", message, { reason = reason })
end

-- Replay store ------------------------------------------------------------

local MemoryStore = {}
MemoryStore.__index = MemoryStore

--- An in-memory nonce store: seen(nonce, ttl [, now]) answers true when the
-- nonce was recorded before and has not expired, and records it otherwise.
-- It holds at most max_entries nonces (default 10000), dropping the oldest.
function _M.memory_store(max_entries)
  if max_entries ~= nil and (type(max_entries) ~= "number" or max_entries < 1) then
    error("memory_store: max_entries must be a number >= 1, got " .. tostring(max_entries), 2)
  end
  return setmetatable({ max = max_entries or 10000, expires = {}, order = {},
                        head = 1, tail = 0, count = 0 }, MemoryStore)
end

--- True when the nonce is recorded and has not expired; records nothing
-- (for a receiver that records a nonce only once its callback was handled).
function MemoryStore:has(nonce, now)
  local expires = self.expires[nonce]
  if expires == nil then return false end
  return expires == true or expires > (now or os_time())
end

--- True when the nonce was seen before and has not expired; records it
-- (for `ttl` seconds) otherwise.
function MemoryStore:seen(nonce, ttl, now)
  now = now or os_time()
  local expires = self.expires[nonce]
  if expires and (expires == true or expires > now) then return true end
  if expires == nil then
    -- evict the oldest entries (insertion order) to stay within max
    while self.count >= self.max do
      local old = self.order[self.head]
      self.order[self.head] = nil
      self.head = self.head + 1
      if old ~= nil and self.expires[old] ~= nil then
        self.expires[old] = nil
        self.count = self.count - 1
      end
    end
    self.tail = self.tail + 1
    self.order[self.tail] = nonce
    self.count = self.count + 1
  end
  self.expires[nonce] = ttl and (now + ttl) or true
  return false
end

local default_store -- shared by every verify(…, { replay = true }) in this Lua state

-- verify ------------------------------------------------------------------

-- One pass over the headers: the three we need, by lower-cased name.
-- OpenResty's ngx.req.get_headers() may give an array for a repeated header.
local function pick_headers(headers)
  -- the usual case first: the three under their lower-case names (a
  -- receiver that lower-cases names, OpenResty's get_headers)
  local sig, nonce, ts = rawget(headers, H_SIGNATURE), rawget(headers, H_NONCE),
    rawget(headers, H_TIMESTAMP)
  if type(sig) == "string" and sig ~= "" and type(nonce) == "string" and nonce ~= ""
     and type(ts) == "string" and ts ~= "" then
    return sig, nonce, ts
  end
  sig, nonce, ts = nil, nil, nil
  for name, value in pairs(headers) do
    if type(name) == "string" then
      if type(value) == "table" then value = value[1] end
      if type(value) == "string" and value ~= "" then
        local n = lower(name)
        if n == H_SIGNATURE then sig = value
        elseif n == H_NONCE then nonce = value
        elseif n == H_TIMESTAMP then ts = value
        end
      end
    end
  end
  return sig, nonce, ts
end

local VERIFY_OPTS = { tolerance = true, now = true, replay = true }

local function check_args(secret, headers, raw_body, opts)
  if type(secret) == "table" then
    if secret[1] == nil then
      error("verify: secret: expected a string or a non-empty array of strings", 3)
    end
    for i, s in ipairs(secret) do
      if type(s) ~= "string" then
        error(format("verify: secret[%d]: expected a string, got %s", i, type(s)), 3)
      end
      if s == "" then
        error(format("verify: secret[%d]: must not be empty (anyone can sign with it)", i), 3)
      end
    end
  elseif type(secret) ~= "string" then
    error("verify: secret: expected a string or an array of strings, got " .. type(secret), 3)
  elseif secret == "" then
    error("verify: secret: must not be empty (anyone can sign with it)", 3)
  end
  if type(headers) ~= "table" then
    error("verify: headers: expected a table, got " .. type(headers), 3)
  end
  if type(raw_body) ~= "string" then
    error("verify: raw_body: expected the raw request body as a string, got " .. type(raw_body), 3)
  end
  if opts == nil then return end
  if type(opts) ~= "table" then error("verify: opts: expected a table, got " .. type(opts), 3) end
  local ok, err = check_options(opts, VERIFY_OPTS, "verify")
  if not ok then error(err, 3) end
  -- NaN or an infinity would turn the age check and replay protection off
  -- (every comparison with NaN is false): refused
  local tol = opts.tolerance
  if tol ~= nil and tol ~= false and (type(tol) ~= "number" or tol ~= tol or tol < 0
                                      or tol == math.huge) then
    error("verify: opts.tolerance: expected a finite number of seconds >= 0 or false, got "
      .. tostring(tol), 3)
  end
  local now = opts.now
  if now ~= nil and (type(now) ~= "number" or now ~= now or now == math.huge
                     or now == -math.huge) then
    error("verify: opts.now: expected a finite number of seconds, got "
      .. (type(now) == "number" and tostring(now) or type(now)), 3)
  end
  local r = opts.replay
  if r ~= nil and r ~= true and r ~= false
     and not ((type(r) == "table" or type(r) == "userdata") and r.seen) then
    error("verify: opts.replay: expected true or a store with :seen(nonce, ttl)", 3)
  end
end

local function signature_matches(secret, raw_body, nonce, ts, sig)
  if type(secret) == "string" then return check(secret, raw_body, nonce, ts, sig) end
  for _, s in ipairs(secret) do
    if check(s, raw_body, nonce, ts, sig) then return true end
  end
  return false
end

--- Verifies a callback: true, or nil and an `auth` error whose `reason` names
-- the failed check (missing_header, bad_timestamp, bad_signature, too_old,
-- replayed); never a secret or a signature.
--
-- The age check is this library's, not the API's: the docs state no limit.
-- Its trade-off: a receiver that is down longer than `tolerance` (say 10
-- minutes against the default 5) refuses every retry Sinch makes of the
-- callbacks it missed, for good.  Where losing callbacks matters more than a
-- bounded replay window, set `tolerance` larger (or `false`) and rely on a
-- nonce store (`replay`) that keeps nonces at least as long, and record a
-- nonce only once the callback was handled (see examples/webhook_receiver.lua).
-- @param secret the webhook secret, or an array of them (rotation: any matches)
-- @param headers the request headers (any case; OpenResty's arrays are fine)
-- @param raw_body the body exactly as received
-- @param opts `tolerance` (seconds, default 300, `false`: no age check), `now`,
--   `replay` (true: an in-memory nonce store, or any object with `:seen(nonce, ttl)`)
function _M.verify(secret, headers, raw_body, opts)
  check_args(secret, headers, raw_body, opts)
  opts = opts or {}
  local sig, nonce, ts = pick_headers(headers)
  if not sig then return nil, auth_error("missing_header", "missing header " .. H_SIGNATURE) end
  if not nonce then return nil, auth_error("missing_header", "missing header " .. H_NONCE) end
  if not ts then return nil, auth_error("missing_header", "missing header " .. H_TIMESTAMP) end
  if not match(ts, "^%d+$") or #ts > 15 then
    return nil, auth_error("bad_timestamp", "header " .. H_TIMESTAMP
                           .. ": expected Unix epoch seconds as decimal digits")
  end
  if not signature_matches(secret, raw_body, nonce, ts, sig) then
    return nil, auth_error("bad_signature", "header " .. H_SIGNATURE
                           .. ": signature does not match the body, nonce and timestamp"
                           .. (type(secret) == "table" and " for any of the secrets" or ""))
  end

  local tolerance = opts.tolerance
  if tolerance == nil then tolerance = _M.DEFAULT_TOLERANCE end
  local now = opts.now or os_time()
  local age = now - tonumber(ts)
  if tolerance and (age > tolerance or -age > tolerance) then
    local what = age > 0 and format("%d s old", age) or format("%d s in the future", -age)
    return nil, auth_error("too_old", format("header %s: timestamp is %s, outside the %d s tolerance",
                                             H_TIMESTAMP, what, tolerance))
  end

  local store = opts.replay
  if store == true then
    default_store = default_store or _M.memory_store()
    store = default_store
  end
  if store then
    -- remember the nonce for as long as its timestamp would be accepted
    local ttl = tolerance and (tolerance - age + 1) or nil
    if store:seen(nonce, ttl, now) then
      return nil, auth_error("replayed", "header " .. H_NONCE .. ": nonce already seen (replayed callback)")
    end
  end
  return true
end

--- Signs a body as Sinch would: returns the headers table for it.
-- (For tests, sandboxes and forwarding proxies.)
function _M.sign(secret, raw_body, nonce, timestamp)
  timestamp = tostring(timestamp or os_time())
  return {
    [H_SIGNATURE] = sign(secret, raw_body, nonce, timestamp),
    [H_NONCE] = nonce,
    [H_TIMESTAMP] = timestamp,
    ["x-sinch-webhook-signature-algorithm"] = "HmacSHA256",
  }
end

-- parse -------------------------------------------------------------------

-- payload key → event type, trigger (§5.1); order only matters for bodies
-- that carry several payload keys, which Sinch never sends.
local PAYLOADS = {
  { "message_delivery_report", "message_delivery", "MESSAGE_DELIVERY" },
  { "batch_status_update_notification", "batch_status_update", "BATCH_STATUS_UPDATE" },
  { "batch_status_update", "batch_status_update", "BATCH_STATUS_UPDATE" },
  { "message_submit_notification", "message_submit", "MESSAGE_SUBMIT" },
  { "message", "message_inbound", "MESSAGE_INBOUND" },
  { "message_redaction", "message_inbound_smart_conversation_redaction",
    "MESSAGE_INBOUND_SMART_CONVERSATION_REDACTION" },
  { "event", "event_inbound", "EVENT_INBOUND" },
  { "event_delivery_report", "event_delivery", "EVENT_DELIVERY" },
  { "conversation_start_notification", "conversation_start", "CONVERSATION_START" },
  { "conversation_stop_notification", "conversation_stop", "CONVERSATION_STOP" },
  { "conversation_delete_notification", "conversation_delete", "CONVERSATION_DELETE" },
  { "contact_create_notification", "contact_create", "CONTACT_CREATE" },
  { "contact_delete_notification", "contact_delete", "CONTACT_DELETE" },
  { "contact_merge_notification", "contact_merge", "CONTACT_MERGE" },
  { "contact_update_notification", "contact_update", "CONTACT_UPDATE" },
  { "duplicated_identities", "contact_identities_duplication", "CONTACT_IDENTITIES_DUPLICATION" },
  { "duplicated_contact_identities_notification", "contact_identities_duplication",
    "CONTACT_IDENTITIES_DUPLICATION" },
  { "capability_notification", "capability", "CAPABILITY" },
  { "opt_in_notification", "opt_in", "OPT_IN" },
  { "opt_out_notification", "opt_out", "OPT_OUT" },
  { "channel_event_notification", "channel_event", "CHANNEL_EVENT" },
  { "unsupported_callback", "unsupported", "UNSUPPORTED" },
  { "smart_conversation_notification", "smart_conversations", "SMART_CONVERSATIONS" },
  { "record_notification", "record_notification", "RECORD_NOTIFICATION" },
}
_M.PAYLOADS = PAYLOADS

-- JSON null and non-tables/strings become nil in convenience fields.
local function str(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end
local function tbl(v) return type(v) == "table" and v or nil end

-- A metadata value is a JSON string (or, leniently, an object): decode it,
-- ignoring empty or malformed strings.
local function metadata_table(v)
  if type(v) == "table" then return v end
  if type(v) ~= "string" or v == "" then return nil end
  local t = decode(v)
  if type(t) == "table" then return t end
  return nil
end

local function first_string(t, a, b, c)
  if not t then return nil end
  local v = str(t[a]) or str(t[b]) or (c and str(t[c]))
  if v == "" then return nil end
  return v
end

local function index_of(t)
  if not t then return nil end
  local v = t.messageIndex
  if v == nil or v == null then v = t.message_index end
  if type(v) == "string" and match(v, "^%d+$") then v = tonumber(v) end
  -- a whole number >= 0; floor() gives Lua 5.4 an integer for cjson's 7.0
  if type(v) == "number" and v >= 0 and v % 1 == 0 then return floor(v) end
  return nil
end

-- Where the API puts the batch reference (§5.2/5.2b): the envelope's
-- message_metadata string, the report's metadata string, and plain fields
-- of the report or envelope.
local function batch_ref(event, envelope_md, report_md, report, body)
  event.batch_id = first_string(envelope_md, "batchId", "batch_id")
    or first_string(report_md, "_batch_id", "batch_id", "batchId")
    or first_string(report, "batch_id", "batchId")
    or first_string(body, "batch_id", "batchId")
  event.message_index = index_of(envelope_md) or index_of(report_md)
    or index_of(report) or index_of(body)
end

local function delivery_fields(event, p)
  event.status = str(p.status)
  event.reason = tbl(p.reason)
  event.message_id = str(p.message_id)
  event.event_id = str(p.event_id)
  event.conversation_id = str(p.conversation_id)
  event.contact_id = str(p.contact_id)
  event.channel_identity = tbl(p.channel_identity)
  event.processing_mode = str(p.processing_mode)
end

local function batch_status_fields(event, p)
  event.batch_id = str(p.batch_id)
  event.status = str(p.batch_status) or str(p.status)
  event.batch_type = str(p.batch_type)
  local data = tbl(p.additional_data)
  local mb = data and tbl(data.message_batch_data)
  event.batch_metadata = mb and tbl(mb.batch_metadata)
  event.send_after = mb and str(mb.send_after)
end

--- Parses a callback body into an event: `type` from the payload key
-- (`message_delivery`, `batch_status_update`, `message_inbound`, …, or
-- `unknown` with the decoded `body`), plus for delivery receipts `status`,
-- `reason`, `batch_id` and `message_index` (0-based), and for batch status
-- updates `batch_id`, `status`, `batch_type` and `batch_metadata`.
-- @param raw_body the body exactly as received
-- @return event | nil, err (kind "json")
function _M.parse(raw_body)
  if type(raw_body) ~= "string" then
    error("parse: raw_body: expected the raw request body as a string, got " .. type(raw_body), 2)
  end
  local body, derr = decode(raw_body)
  if body == nil then
    return nil, errors.new("json", "callback body: not valid JSON (" .. tostring(derr) .. ")")
  end
  if type(body) ~= "table" or not match(raw_body, "^%s*{") then
    return nil, errors.new("json", "callback body: expected a JSON object")
  end

  -- every field an event may get is named here (most stay nil), so that
  -- the table is made at its size once rather than grown twice
  local event = {
    type = "unknown", body = body,
    app_id = str(body.app_id), project_id = str(body.project_id),
    accepted_time = str(body.accepted_time), event_time = str(body.event_time),
    correlation_id = str(body.correlation_id),
    message_metadata = str(body.message_metadata),
    trigger = nil, payload = nil, status = nil, reason = nil, message_id = nil, event_id = nil,
    conversation_id = nil, contact_id = nil, channel_identity = nil, processing_mode = nil,
    metadata = nil, batch_id = nil, message_index = nil,
  }
  for _, p in ipairs(PAYLOADS) do
    local payload = body[p[1]]
    if type(payload) == "table" then
      event.type, event.trigger, event.payload = p[2], p[3], payload
      break
    end
  end

  local p, kind = event.payload, event.type
  if kind == "batch_status_update" then
    batch_status_fields(event, p)
  elseif p then
    if kind == "message_delivery" or kind == "event_delivery" then
      delivery_fields(event, p)
    else
      event.message_id = str(p.message_id) or (kind == "message_inbound" and str(p.id)) or nil
      event.contact_id = str(p.contact_id)
      event.conversation_id = str(p.conversation_id)
      event.channel_identity = tbl(p.channel_identity)
      if kind == "contact_create" or kind == "contact_delete" or kind == "contact_update" then
        local contact = tbl(p.contact)
        event.contact = contact
        event.contact_id = contact and str(contact.id) or event.contact_id
      end
    end
    event.metadata = metadata_table(p.metadata)
    batch_ref(event, metadata_table(body.message_metadata), event.metadata, p, body)
  else
    batch_ref(event, metadata_table(body.message_metadata), nil, nil, body)
  end
  return event
end

--- The fast path for a plain delivery receipt: the fields a receipts store
-- needs, read in C in one pass over the body, without decoding the rest.
-- Returns nil for any other body and for anything unusual in one (an
-- escape or a number where text goes, a key given twice, the batch
-- reference elsewhere than message_metadata, …): then call `parse`, which
-- takes every body.  What it returns is always what `parse` gives for
-- those fields.  Verify the signature first.
--
--   local r = webhook.receipt(raw_body)
--   if not r then local event = webhook.parse(raw_body) … end
-- @param raw_body the body exactly as received
-- @return a table with `type` ("message_delivery"), `batch_id`,
--   `message_index`, `message_id`, `status`, `reason` (`code`,
--   `description`), `event_time` and `accepted_time` (absent ones nil), or nil
function _M.receipt(raw_body)
  if type(raw_body) ~= "string" then
    error("receipt: raw_body: expected the raw request body as a string, got " .. type(raw_body), 2)
  end
  return receipt(raw_body)
end

return _M
