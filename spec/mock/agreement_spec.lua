-- The client's rules against the sandbox's, one case per rule: the same
-- request goes through the client and, raw, to the sandbox (whose checks are
-- written on their own from the API reference, docs/api-rules.md).
--
--   rule = "api":  a rule of the reference.  The client refuses it before
--                  sending exactly when the sandbox refuses the raw body.
--   rule = "ours": our stricter check (labelled in docs/api-rules.md).  The
--                  client refuses it, the sandbox takes it, the sandbox with
--                  --strict refuses it, and the way around it (`raw`) sends
--                  it and the sandbox takes it.
--
-- A client rule that differs from the reference shows up here as a failure.
local mock = require "support.mock"
local support = require "support.api"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"

local function sms(id, ch)
  return { recipient = { identified_by = { channel_identities = {
    { channel = ch or "SMS", identity = id } } } } }
end

-- A send body: one SMS recipient, overridden by `extra` (a function's result,
-- so each use gets fresh tables: the client marks the tables it encodes).
local function send_body(extra)
  local b = { app_id = APP, message = { text_message = { text = "Hi" } },
              recipient_and_params = { sms("+46700000001") } }
  for k, v in pairs(extra or {}) do b[k] = v end
  return b
end

local function iso(secs) return os.date("!%Y-%m-%dT%H:%M:%SZ", secs) end

-- The client's form of a raw send body.
local FIELDS = { batch_metadata = true, message_metadata = true, conversation_metadata = true,
                 send_after = true, ttl = true, processing_strategy = true, callback_url = true,
                 channel_priority_order = true, channel_properties = true, correlation_id = true }
local function client_send(c, raw, opts)
  local o = { app_id = raw.app_id, message = raw.message, recipients = {} }
  for i, rp in ipairs(raw.recipient_and_params or {}) do
    o.recipients[i] = { recipient = rp.recipient, parameters = rp.parameters,
                        message_metadata = rp.message_metadata }
  end
  for k, v in pairs(raw) do
    if FIELDS[k] then o[k] = v end
  end
  for k, v in pairs(opts or {}) do o[k] = v end
  return c:send(o)
end

local contact = function(ids, extra)
  local c = { channel_identities = ids, language = "EN_US" }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- op: how the raw body goes (method, path) and how the client sends it.
local OPS = {
  send = { "POST", "/messages", client_send },
  contacts = { "POST", "/contacts", function(c, raw) return c:create_contacts(raw.contacts) end },
  consents = { "POST", "/consents", function(c, raw)
    return c:insert_consents{ app_id = raw.app_id, records = raw.consent_records } end },
  cancel = { "DELETE", "/messages", function(c, raw)
    if raw.batch_ids then return c:cancel{ batch_ids = raw.batch_ids } end
    return c:cancel{ key = raw.metadata_key, value = raw.metadata_value } end },
}

local CASES = {
  -- phone numbers (the reference: an MSISDN for SMS, WhatsApp, Viber; no format)
  { "the reference's own \"+0987654321\" form", "api", "send",
    function() return send_body{ recipient_and_params = { sms("+0987654321") } } end, false },
  { "a number without +", "api", "send",
    function() return send_body{ recipient_and_params = { sms("46700000001", "WHATSAPP") } } end, false },
  { "a short number (no length is documented)", "api", "send",
    function() return send_body{ recipient_and_params = { sms("+4612", "VIBERBM") } } end, false },
  { "letters in a phone number", "api", "send",
    function() return send_body{ recipient_and_params = { sms("+46abc") } } end, true },
  { "spaces in a phone number", "api", "send",
    function() return send_body{ recipient_and_params = { sms("+46 700 000 001") } } end, true },
  { "an empty identity", "api", "send",
    function() return send_body{ recipient_and_params = { sms("") } } end, true },
  { "letters on MMS (MMS and RCS as phone channels: ours)", "ours", "send",
    function() return send_body{ recipient_and_params = { sms("abc", "MMS") } } end, true },
  { "an unknown channel", "api", "send",
    function() return send_body{ recipient_and_params = { sms("x", "PIGEON") } } end, true },
  { "an app-scoped recipient without app_id (the batch's applies)", "api", "send",
    function() return send_body{ recipient_and_params = { sms("psid-1", "MESSENGER") } } end, false },
  { "a contact_id with DISPATCH_ONLY", "api", "send",
    function() return send_body{ processing_strategy = "DISPATCH_ONLY",
      recipient_and_params = { { recipient = { contact_id = "01C" } } } } end, true },
  { "an unknown processing_strategy", "api", "send",
    function() return send_body{ processing_strategy = "FAST" } end, true },
  { "an empty app_id", "api", "send", function() return send_body{ app_id = "" } end, true },
  { "no recipients", "api", "send", function() return send_body{ recipient_and_params = {} } end, true },
  { "1001 recipients", "api", "send", function()
      local list = {}
      for i = 1, 1001 do list[i] = sms(string.format("+4670%07d", i)) end
      return send_body{ recipient_and_params = list }
    end, true },
  { "two message kinds", "api", "send", function() return send_body{ message = {
      text_message = { text = "a" }, media_message = { url = "https://x.example/a.png" } } } end, true },
  { "a media url that is not http(s) (the format is ours)", "ours", "send",
    function() return send_body{ message = { media_message = { url = "ftp://x.example/a.png" } } } end,
    true, { message = require("sinch.batch.message").raw{
      media_message = { url = "ftp://x.example/a.png" } } } },
  { "a choice message of 11 choices (at most 10)", "api", "send", function()
      local choices = {}
      for i = 1, 11 do choices[i] = { text_message = { text = "c" .. i } } end
      return send_body{ message = { choice_message = { choices = choices } } }
    end, true },
  { "no message kind", "api", "send",
    function() return send_body{ message = { agent = { display_name = "x" } } } end, true },
  { "a channel_priority_order naming no channel", "api", "send",
    function() return send_body{ channel_priority_order = { "PIGEON" } } end, true },
  { "a callback_url that is not http(s) (no format is documented)", "api", "send",
    function() return send_body{ callback_url = "ftp://example.com/cb" } end, false },
  -- ttl: the reference's "<int>s"; the range is single-send's, ours for batches
  { "ttl \"86400s\"", "api", "send", function() return send_body{ ttl = "86400s" } end, false },
  { "ttl \"0086400s\"", "api", "send", function() return send_body{ ttl = "0086400s" } end, false },
  { "ttl \"1 day\"", "api", "send", function() return send_body{ ttl = "1 day" } end, true },
  { "ttl \"1.5s\"", "api", "send", function() return send_body{ ttl = "1.5s" } end, true },
  { "ttl \"2s\" (below the single-send range: ours)", "ours", "send",
    function() return send_body{ ttl = "2s" } end, true, { fields = { ttl = "2s" } } },
  -- send_after: at most 7 days ahead once rounded up to 5 minutes
  { "send_after in an hour", "api", "send",
    function() return send_body{ send_after = iso(os.time() + 3600) } end, false },
  { "send_after in 8 days", "api", "send",
    function() return send_body{ send_after = iso(os.time() + 8 * 86400) } end, true },
  { "send_after within 7 days that rounding up takes past them", "api", "send", function()
      -- just after a 5-minute mark, at least 3 s before the 7 days end
      while (os.time() + 7 * 86400) % 300 < 3 do os.execute("sleep 1") end
      local limit = os.time() + 7 * 86400
      return send_body{ send_after = iso(limit - limit % 300 + 1) }
    end, true },
  { "send_after that is not RFC 3339", "api", "send",
    function() return send_body{ send_after = "tomorrow" } end, true },
  -- limits the reference states only for single send: not applied to batches
  { "a correlation_id of 129 characters", "api", "send",
    function() return send_body{ correlation_id = string.rep("c", 129) } end, false },
  { "a channel_properties value of 1025 characters", "api", "send",
    function() return send_body{ channel_properties = { SMS_SENDER = string.rep("x", 1025) } } end,
    false },
  -- _batch_id: the reference says the API overwrites it; refusing is ours
  { "_batch_id in message_metadata", "ours", "send",
    function() return send_body{ message_metadata = { _batch_id = "x" } } end, true,
    { fields = { message_metadata = { _batch_id = "x" } } } },
  -- ${name}: a name of only blanks is text (ours, in both: the reference gives no grammar)
  { "a message with ${ } and no parameters", "api", "send",
    function() return send_body{ message = { text_message = { text = "Hi ${ }" } } } end, false },
  -- contacts
  { "a contact on an app-scoped channel without app_id", "api", "contacts", function()
      return { contacts = { contact({ { channel = "INSTAGRAM", identity = "psid-1" } }) } } end, true },
  { "a contact on an app-scoped channel with app_id", "api", "contacts", function()
      return { contacts = { contact({ { channel = "LINE", identity = "u1", app_id = APP } }) } } end,
    false },
  { "contact metadata of 1025 characters", "api", "contacts", function()
      return { contacts = { contact({ { channel = "SMS", identity = "+46700000001" } },
        { metadata = string.rep("m", 1025) }) } } end, true },
  { "a contact language not in the enum", "api", "contacts", function()
      return { contacts = { contact({ { channel = "SMS", identity = "+46700000001" } },
        { language = "KLINGON" }) } } end, true },
  -- consents
  { "a consent_type not in the enum", "api", "consents", function()
      return { app_id = APP, consent_records = { { identification = "+46700000001",
        consent_type = "OPT_IN" } } } end, true },
  { "a consent record without consent_type (documented as not required)", "api", "consents",
    function() return { app_id = APP, consent_records = { { identification = "+46700000001" } } } end,
    false },
  -- cancel
  { "cancel 1001 batch ids (no maximum is documented)", "api", "cancel", function()
      local ids = {}
      for i = 1, 1001 do ids[i] = "01B" .. i end
      return { batch_ids = ids } end, false },
  { "cancel by an empty metadata value", "api", "cancel",
    function() return { metadata_key = "k", metadata_value = "" } end, false },
}

describe("the client's rules agree with the sandbox's (the API reference)", function()
  local m, strict, client

  setup(function()
    m = mock.start()
    strict = mock.start{ args = { "--strict" } }
    client = m:client{ app_id = APP }
  end)
  teardown(function()
    if client then client:close() end
    if m then m:stop() end
    if strict then strict:stop() end
  end)

  local function raw_status(sandbox, op, body)
    return (sandbox:api(OPS[op][1], OPS[op][2], body))
  end

  -- The client's outcome: true when it refused before sending anything.
  local function client_refuses(op, body, opts)
    local before = #support.api_requests(m)
    local res, err = OPS[op][3](client, body, opts)
    local sent = #support.api_requests(m) - before
    if err and err.kind == "invalid" then
      assert.equal(0, sent, "refused, yet something was sent: " .. err.message)
      return true, err.message
    end
    assert.equal(1, sent)
    return false, res and "sent" or ("sent, answered " .. tostring(err and err.message))
  end

  for _, case in ipairs(CASES) do
    local name, rule, op, make, refused, raw_opts = case[1], case[2], case[3], case[4], case[5],
      case[6]
    it(rule .. ": " .. name, function()
      local sandbox = raw_status(m, op, make())
      local by_client, why = client_refuses(op, make())
      if refused ~= nil then -- the expected answer, so the case itself is checked too
        assert.equal(refused and 400 or 200, rule == "api" and sandbox or raw_status(strict, op, make()))
      end
      if rule == "api" then
        assert.equal(sandbox == 400, by_client,
          string.format("client %s, sandbox answered %d: %s",
            by_client and "refused" or "sent", sandbox, why))
      else
        assert.equal(200, sandbox, "the reference does not refuse it: the sandbox must take it")
        assert.equal(400, raw_status(strict, op, make()), "--strict applies our check")
        assert.is_true(by_client, "the client applies our check by default: " .. why)
        if raw_opts then -- the way around it
          local b = make()
          for k in pairs(raw_opts.fields or {}) do b[k] = nil end
          local around, how = client_refuses(op, b, raw_opts)
          assert.is_false(around, how)
          assert.equal("sent", how)
        end
      end
    end)
  end

  it("ours: the E.164 shape, only with strict_phone (the client) and --strict (the sandbox)", function()
    local body = function() return send_body{ recipient_and_params = { sms("+0987654321") } } end
    assert.equal(200, raw_status(m, "send", body()))
    assert.equal(400, raw_status(strict, "send", body()))
    assert.is_false((client_refuses("send", body())))
    assert.is_true((client_refuses("send", body(), { strict_phone = true })))
  end)

  it("the sandbox links none of the client's rule code", function()
    local bin = os.getenv("SINCH_BATCH_MOCK_BIN")
    local p = io.popen("nm " .. support.shell_quote(bin) .. " 2>/dev/null | grep -c ' T sinch_batch_'")
    local n = p and tonumber(p:read("*a"))
    if p then p:close() end
    assert.equal(0, n)
  end)
end)
