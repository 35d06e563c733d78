-- webhook.verify against the shared vectors, every tampering, rotation,
-- tolerance, replay and header spelling; webhook.parse for every trigger.
local webhook = require "sinch.batch.webhook"
local cjson = require "cjson.safe"

local FIXTURES = os.getenv("SINCH_BATCH_FIXTURES") or "spec/fixtures"
local VECTORS = FIXTURES .. "/vectors/"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local vectors = assert(cjson.decode(slurp(VECTORS .. "conversation-webhook-signature-vectors.json"))).vectors
for _, v in ipairs(vectors) do
  if v.body_file then v.body = slurp(VECTORS .. v.body_file) end
end

local function headers_of(v, over)
  local h = {
    ["x-sinch-webhook-signature"] = v.expected_signature,
    ["x-sinch-webhook-signature-nonce"] = v.nonce,
    ["x-sinch-webhook-signature-timestamp"] = v.timestamp,
    ["x-sinch-webhook-signature-algorithm"] = "HmacSHA256",
  }
  for k, val in pairs(over or {}) do
    if val == false then h[k] = nil else h[k] = val end
  end
  return h
end

-- the vectors are from 2021: verify them "at" their own timestamp
local function at(v, extra)
  local opts = { now = tonumber(v.timestamp) }
  for k, val in pairs(extra or {}) do opts[k] = val end
  return opts
end

local function flip_byte(s, i)
  local c = s:byte(i)
  return s:sub(1, i - 1) .. string.char(c == 65 and 66 or 65) .. s:sub(i + 1)
end

local function fails_with(reason, ok, err)
  assert.is_nil(ok)
  assert.is_table(err)
  assert.equal("auth", err.kind)
  assert.equal(reason, err.reason)
  return err
end

describe("webhook.verify", function()
  it("accepts both shared vectors", function()
    assert.equal(2, #vectors)
    assert.equal(723, #vectors[2].body)
    for _, v in ipairs(vectors) do
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, at(v)))
    end
  end)

  it("signs the vectors to the expected signatures", function()
    for _, v in ipairs(vectors) do
      local h = webhook.sign(v.secret, v.body, v.nonce, v.timestamp)
      assert.equal(v.expected_signature, h["x-sinch-webhook-signature"])
      assert.equal(v.timestamp, h["x-sinch-webhook-signature-timestamp"])
      assert.is_true(webhook.verify(v.secret, h, v.body, at(v)))
    end
  end)

  describe("rejects each tampering with its reason", function()
    for n, v in ipairs(vectors) do
      it("vector " .. n .. ": a body byte (first, middle, last), with the same message for each", function()
        local messages = {}
        for _, i in ipairs({ 1, math.floor(#v.body / 2), #v.body }) do
          local err = fails_with("bad_signature",
                                 webhook.verify(v.secret, headers_of(v), flip_byte(v.body, i), at(v)))
          messages[err.message] = true
        end
        -- never which byte: one message whatever was changed
        assert.same({ ["header x-sinch-webhook-signature: signature does not match the body, "
                      .. "nonce and timestamp"] = true }, messages)
      end)

      it("vector " .. n .. ": the nonce", function()
        local h = headers_of(v, { ["x-sinch-webhook-signature-nonce"] = flip_byte(v.nonce, 5) })
        fails_with("bad_signature", webhook.verify(v.secret, h, v.body, at(v)))
      end)

      it("vector " .. n .. ": the timestamp (signed, so a one-second change fails)", function()
        local ts = tostring(tonumber(v.timestamp) + 1)
        local h = headers_of(v, { ["x-sinch-webhook-signature-timestamp"] = ts })
        fails_with("bad_signature", webhook.verify(v.secret, h, v.body, at(v)))
      end)

      it("vector " .. n .. ": the secret", function()
        local wrong = v.wrong_secret_must_fail or (v.secret .. "x")
        fails_with("bad_signature", webhook.verify(wrong, headers_of(v), v.body, at(v)))
      end)

      it("vector " .. n .. ": the signature", function()
        local h = headers_of(v, { ["x-sinch-webhook-signature"] = flip_byte(v.expected_signature, 10) })
        fails_with("bad_signature", webhook.verify(v.secret, h, v.body, at(v)))
      end)
    end

    it("a missing header, naming it", function()
      local v = vectors[1]
      for _, name in ipairs({ "x-sinch-webhook-signature", "x-sinch-webhook-signature-nonce",
                              "x-sinch-webhook-signature-timestamp" }) do
        local err = fails_with("missing_header",
                               webhook.verify(v.secret, headers_of(v, { [name] = false }), v.body, at(v)))
        assert.equal("missing header " .. name, err.message)
        -- an empty value counts as missing
        err = fails_with("missing_header",
                         webhook.verify(v.secret, headers_of(v, { [name] = "" }), v.body, at(v)))
        assert.equal("missing header " .. name, err.message)
      end
    end)

    it("a stale timestamp (default tolerance 300 s)", function()
      local v = vectors[1]
      local err = fails_with("too_old", webhook.verify(v.secret, headers_of(v), v.body,
                                                         { now = tonumber(v.timestamp) + 301 }))
      assert.equal("header x-sinch-webhook-signature-timestamp: timestamp is 301 s old, "
                   .. "outside the 300 s tolerance", err.message)
      -- and with the real clock: the 2021 vectors are far too old
      fails_with("too_old", webhook.verify(v.secret, headers_of(v), v.body))
    end)

    it("a replayed nonce", function()
      local v = vectors[2]
      local store = webhook.memory_store()
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, at(v, { replay = store })))
      local err = fails_with("replayed", webhook.verify(v.secret, headers_of(v), v.body,
                                                          at(v, { replay = store })))
      assert.equal("header x-sinch-webhook-signature-nonce: nonce already seen (replayed callback)",
                   err.message)
    end)

    it("a nonce with a NUL byte appended (which a C string would cut off)", function()
      local v = vectors[1]
      local h = headers_of(v, { ["x-sinch-webhook-signature-nonce"] = v.nonce .. "\0x" })
      fails_with("bad_signature", webhook.verify(v.secret, h, v.body, at(v)))
      assert.has_error(function() webhook.sign(v.secret, v.body, v.nonce .. "\0x", v.timestamp) end)
    end)

    it("a timestamp that is not decimal seconds", function()
      local v = vectors[1]
      for _, ts in ipairs({ "1634579353.5", "-1634579353", "2021-10-18T17:49:13Z", " 1634579353" }) do
        local err = fails_with("bad_timestamp", webhook.verify(v.secret,
          headers_of(v, { ["x-sinch-webhook-signature-timestamp"] = ts }), v.body, at(v)))
        assert.equal("header x-sinch-webhook-signature-timestamp: expected Unix epoch seconds "
                     .. "as decimal digits", err.message)
      end
    end)
  end)

  it("never puts the secret or a signature into the error", function()
    local v = vectors[1]
    local _, err = webhook.verify(v.secret, headers_of(v), v.body .. " ", at(v))
    local expected_for_tampered = webhook.sign(v.secret, v.body .. " ", v.nonce, v.timestamp)
    local text = tostring(err)
    assert.equal("sinch.batch: not authorized: header x-sinch-webhook-signature: "
                 .. "signature does not match the body, "
                 .. "nonce and timestamp", text)
    assert.is_nil(text:find(v.secret, 1, true))
    assert.is_nil(text:find(v.expected_signature, 1, true))
    assert.is_nil(text:find(expected_for_tampered["x-sinch-webhook-signature"], 1, true))
  end)

  it("refuses an empty secret, which anyone can sign with", function()
    local body = "{}"
    local headers = webhook.sign("x", body, "n1", os.time())
    assert.has_error(function() webhook.verify("", headers, body) end,
      "verify: secret: must not be empty (anyone can sign with it)")
    assert.has_error(function() webhook.verify({ "real", "" }, headers, body) end,
      "verify: secret[2]: must not be empty (anyone can sign with it)")
  end)

  describe("secret rotation", function()
    it("accepts when any secret of the list matches", function()
      local v = vectors[1]
      assert.is_true(webhook.verify({ "new_secret", v.secret }, headers_of(v), v.body, at(v)))
      assert.is_true(webhook.verify({ v.secret, "new_secret" }, headers_of(v), v.body, at(v)))
    end)

    it("fails when none matches", function()
      local v = vectors[1]
      local err = fails_with("bad_signature",
                             webhook.verify({ "old", "new" }, headers_of(v), v.body, at(v)))
      assert.matches("for any of the secrets", err.message, 1, true)
    end)
  end)

  describe("tolerance", function()
    local v = vectors[1]
    local ts = tonumber(v.timestamp)

    it("accepts up to the edge of the window, both ways", function()
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, { now = ts + 300 }))
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, { now = ts - 300 }))
    end)

    it("rejects a timestamp from the future beyond the window", function()
      local err = fails_with("too_old", webhook.verify(v.secret, headers_of(v), v.body, { now = ts - 301 }))
      assert.equal("header x-sinch-webhook-signature-timestamp: timestamp is 301 s in the future, "
                   .. "outside the 300 s tolerance", err.message)
    end)

    it("can be changed", function()
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, { now = ts + 3000, tolerance = 3600 }))
      fails_with("too_old", webhook.verify(v.secret, headers_of(v), v.body,
                                           { now = ts + 11, tolerance = 10 }))
    end)

    it("can be turned off", function()
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, { tolerance = false }))
    end)

    it("checks the signature first: a tampered stale callback is a bad signature", function()
      fails_with("bad_signature", webhook.verify(v.secret, headers_of(v), v.body .. "x", { now = ts + 9999 }))
    end)
  end)

  describe("replay protection", function()
    local v = vectors[1]
    local ts = tonumber(v.timestamp)

    it("does not record the nonce of a request that failed the signature check", function()
      local store = webhook.memory_store()
      fails_with("bad_signature", webhook.verify(v.secret, headers_of(v), v.body .. "x",
                                                 at(v, { replay = store })))
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, at(v, { replay = store })))
    end)

    it("tells different nonces apart", function()
      local store = webhook.memory_store()
      for i = 1, 3 do
        local h = webhook.sign("s", "{}", "nonce-" .. i, ts)
        assert.is_true(webhook.verify("s", h, "{}", { now = ts, replay = store }))
      end
      fails_with("replayed", webhook.verify("s", webhook.sign("s", "{}", "nonce-2", ts), "{}",
                                            { now = ts, replay = store }))
    end)

    it("replay = true uses a shared in-memory store", function()
      local nonce = "shared-" .. tostring({}):gsub("%W", "")
      local h = webhook.sign("s", "{}", nonce, ts)
      assert.is_true(webhook.verify("s", h, "{}", { now = ts, replay = true }))
      fails_with("replayed", webhook.verify("s", h, "{}", { now = ts, replay = true }))
    end)

    it("passes the nonce and a ttl covering the tolerance window to a custom store", function()
      local calls = {}
      local store = { seen = function(_, nonce, ttl) calls[#calls + 1] = { nonce, ttl } return false end }
      assert.is_true(webhook.verify(v.secret, headers_of(v), v.body, { now = ts + 100, replay = store }))
      assert.same({ { v.nonce, 201 } }, calls)
      local answer_yes = { seen = function() return true end }
      fails_with("replayed", webhook.verify(v.secret, headers_of(v), v.body, at(v, { replay = answer_yes })))
    end)

    it("memory_store forgets a nonce after its ttl and keeps at most max_entries", function()
      local store = webhook.memory_store(2)
      assert.is_false(store:seen("a", 10, 1000))
      assert.is_true(store:seen("a", 10, 1009))
      assert.is_false(store:seen("a", 10, 1010)) -- expired, recorded again
      assert.is_false(store:seen("b", nil, 1000))
      assert.is_false(store:seen("c", nil, 1000)) -- evicts "a", the oldest
      assert.is_true(store:seen("b", nil, 5000))
      assert.is_true(store:seen("c", nil, 5000))
      assert.is_false(store:seen("a", 10, 1010))
    end)

    it("memory_store:has looks a nonce up without recording it", function()
      local store = webhook.memory_store()
      assert.is_false(store:has("a", 1000))
      assert.is_false(store:has("a", 1000)) -- still not recorded
      assert.is_false(store:seen("a", 10, 1000))
      assert.is_true(store:has("a", 1009))
      assert.is_false(store:has("a", 1010)) -- expired
    end)
  end)

  describe("headers", function()
    local v = vectors[1]

    it("are matched case-insensitively", function()
      local h = {
        ["X-Sinch-Webhook-Signature"] = v.expected_signature,
        ["X-SINCH-WEBHOOK-SIGNATURE-NONCE"] = v.nonce,
        ["x-Sinch-webhook-Signature-Timestamp"] = v.timestamp,
      }
      assert.is_true(webhook.verify(v.secret, h, v.body, at(v)))
    end)

    it("may hold arrays, as ngx.req.get_headers() gives for repeated headers (first wins)", function()
      local h = headers_of(v, { ["x-sinch-webhook-signature"] = { v.expected_signature, "AAAA" } })
      assert.is_true(webhook.verify(v.secret, h, v.body, at(v)))
      h = headers_of(v, { ["x-sinch-webhook-signature"] = { "AAAA", v.expected_signature } })
      fails_with("bad_signature", webhook.verify(v.secret, h, v.body, at(v)))
    end)

    it("do not need the algorithm header", function()
      local h = headers_of(v, { ["x-sinch-webhook-signature-algorithm"] = false })
      assert.is_true(webhook.verify(v.secret, h, v.body, at(v)))
    end)
  end)

  describe("misuse raises", function()
    local v = vectors[1]
    local h = headers_of(v)
    local cases = {
      { "verify: secret: expected a string or an array of strings, got number", 42, h, v.body },
      { "verify: secret: expected a string or a non-empty array of strings", {}, h, v.body },
      { "verify: secret[2]: expected a string, got boolean", { "a", true }, h, v.body },
      { "verify: headers: expected a table, got string", v.secret, "x", v.body },
      { "verify: raw_body: expected the raw request body as a string, got table", v.secret, h, {} },
      { "verify: raw_body: expected the raw request body as a string, got nil", v.secret, h, nil },
      { "verify: unknown option 'tolerence' (known: now, replay, tolerance)",
        v.secret, h, v.body, { tolerence = 5 } },
      { "verify: opts.tolerance: expected a finite number of seconds >= 0 or false, got -1",
        v.secret, h, v.body, { tolerance = -1 } },
      -- NaN would turn the age check and replay protection off
      { "verify: opts.tolerance: expected a finite number of seconds >= 0 or false, got " .. tostring(0 / 0),
        v.secret, h, v.body, { tolerance = 0 / 0 } },
      { "verify: opts.tolerance: expected a finite number of seconds >= 0 or false, got "
        .. tostring(math.huge), v.secret, h, v.body, { tolerance = math.huge } },
      { "verify: opts.now: expected a finite number of seconds, got string", v.secret, h, v.body,
        { now = "1" } },
      { "verify: opts.now: expected a finite number of seconds, got " .. tostring(0 / 0),
        v.secret, h, v.body, { now = 0 / 0 } },
      { "verify: opts.now: expected a finite number of seconds, got " .. tostring(-math.huge),
        v.secret, h, v.body, { now = -math.huge } },
      { "verify: opts.replay: expected true or a store with :seen(nonce, ttl)",
        v.secret, h, v.body, { replay = 5 } },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local ok, msg = pcall(webhook.verify, c[2], c[3], c[4], c[5])
        assert.is_false(ok)
        assert.matches(c[1], msg, 1, true)
      end)
    end

    it("memory_store with a bad size", function()
      assert.has_error(function() webhook.memory_store(0) end,
                       "memory_store: max_entries must be a number >= 1, got 0")
    end)
  end)
end)

describe("webhook.parse", function()
  local function parse(t)
    local body = type(t) == "string" and t or assert(cjson.encode(t))
    local ev, err = webhook.parse(body)
    assert.is_nil(err)
    return ev
  end

  local function envelope(payload_key, payload, extra)
    local t = { app_id = "APP", project_id = "PROJ", accepted_time = "2025-01-01T00:00:00Z",
                event_time = "2025-01-01T00:00:01Z", message_metadata = "", correlation_id = "corr" }
    t[payload_key] = payload
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end

  it("gives every trigger of §5.1 its type and trigger name", function()
    assert.is_true(#webhook.PAYLOADS >= 24)
    for _, p in ipairs(webhook.PAYLOADS) do
      local ev = parse(envelope(p[1], { some = "field" }))
      assert.equal(p[2], ev.type)
      assert.equal(p[3], ev.trigger)
      assert.equal("field", ev.payload.some)
      assert.equal("APP", ev.app_id)
      assert.equal("PROJ", ev.project_id)
      assert.equal("2025-01-01T00:00:00Z", ev.accepted_time)
      assert.equal("2025-01-01T00:00:01Z", ev.event_time)
      assert.equal("corr", ev.correlation_id)
    end
  end)

  it("knows every payload key of §5.1 (listed here, not taken from the module)", function()
    local keys = {
      message = "MESSAGE_INBOUND",
      message_redaction = "MESSAGE_INBOUND_SMART_CONVERSATION_REDACTION",
      message_submit_notification = "MESSAGE_SUBMIT",
      message_delivery_report = "MESSAGE_DELIVERY",
      event = "EVENT_INBOUND",
      event_delivery_report = "EVENT_DELIVERY",
      conversation_start_notification = "CONVERSATION_START",
      conversation_stop_notification = "CONVERSATION_STOP",
      conversation_delete_notification = "CONVERSATION_DELETE",
      contact_create_notification = "CONTACT_CREATE",
      contact_delete_notification = "CONTACT_DELETE",
      contact_merge_notification = "CONTACT_MERGE",
      contact_update_notification = "CONTACT_UPDATE",
      duplicated_identities = "CONTACT_IDENTITIES_DUPLICATION",
      duplicated_contact_identities_notification = "CONTACT_IDENTITIES_DUPLICATION",
      capability_notification = "CAPABILITY",
      opt_in_notification = "OPT_IN",
      opt_out_notification = "OPT_OUT",
      channel_event_notification = "CHANNEL_EVENT",
      unsupported_callback = "UNSUPPORTED",
      smart_conversation_notification = "SMART_CONVERSATIONS",
      record_notification = "RECORD_NOTIFICATION",
      batch_status_update_notification = "BATCH_STATUS_UPDATE",
    }
    for key, trigger in pairs(keys) do
      local ev = parse(envelope(key, { id = "x" }))
      assert.equal(trigger, ev.trigger, key)
      assert.equal(trigger:lower(), ev.type, key) -- the type is the trigger in lower case
      assert.equal("x", ev.payload.id, key)
    end
  end)

  it("names the types the issue lists", function()
    local want = {
      message_delivery_report = "message_delivery", batch_status_update_notification = "batch_status_update",
      message_submit_notification = "message_submit", message = "message_inbound", event = "event_inbound",
      event_delivery_report = "event_delivery", contact_create_notification = "contact_create",
      contact_delete_notification = "contact_delete", contact_merge_notification = "contact_merge",
      contact_update_notification = "contact_update", conversation_start_notification = "conversation_start",
    }
    for key, t in pairs(want) do assert.equal(t, parse(envelope(key, {})).type) end
  end)

  it("parses the contact_create vector", function()
    local ev = parse(vectors[1].body)
    assert.equal("contact_create", ev.type)
    assert.equal("CONTACT_CREATE", ev.trigger)
    assert.equal("01FJA8B466Y0R2GNXD78MD9SM1", ev.contact_id)
    assert.equal("New Test Contact", ev.contact.display_name)
    assert.equal("e2df3a34-a71b-4448-9db5-a8d2baad28e4", ev.project_id)
    assert.is_nil(ev.batch_id)
  end)

  it("parses the multi-line event vector as an inbound event", function()
    local ev = parse(vectors[2].body)
    assert.equal("event_inbound", ev.type)
    assert.equal("EVENT_INBOUND", ev.trigger)
    assert.equal("01W4FFL35P4NC4K35CONTACT01", ev.contact_id)
    assert.equal("01W4FFL35P4NC4K35CONVERS01", ev.conversation_id)
    assert.equal("RCS", ev.channel_identity.channel)
    assert.equal("", ev.correlation_id)
  end)

  describe("message delivery reports", function()
    local report = {
      message_id = "MSG1", conversation_id = "", status = "DELIVERED", contact_id = "",
      channel_identity = { channel = "SMS", identity = "+46700000001", app_id = "" },
      metadata = '{"campaign":"spring","row":"1","_batch_id":"01BATCH"}', processing_mode = "DISPATCH",
    }

    it("read _batch_id and the other keys from the report's metadata string", function()
      local ev = parse(envelope("message_delivery_report", report))
      assert.equal("message_delivery", ev.type)
      assert.equal("MESSAGE_DELIVERY", ev.trigger)
      assert.equal("DELIVERED", ev.status)
      assert.equal("MSG1", ev.message_id)
      assert.equal("+46700000001", ev.channel_identity.identity)
      assert.equal("DISPATCH", ev.processing_mode)
      assert.equal("01BATCH", ev.batch_id)
      assert.same({ campaign = "spring", row = "1", _batch_id = "01BATCH" }, ev.metadata)
      assert.is_nil(ev.message_index)
      assert.is_nil(ev.reason)
    end)

    it("read batchId / messageIndex from the top-level message_metadata string (failed, §5.2b)", function()
      local ev = parse([[{ "app_id": "your_app_id", "project_id": "your_project_id",
        "message_delivery_report": { "message_id": "message_identifier", "status": "FAILED",
           "contact_id": "contact_identifier",
           "reason": { "code": "BAD_REQUEST", "description":
  "Validation failed after parameters substitution for batch [b] and message at index [7]. Details: []"
           } },
        "message_metadata": "{\"batchId\":\"01FAILED\",\"messageIndex\":7}",
        "correlation_id": "optional_correlation_id" }]])
      assert.equal("FAILED", ev.status)
      assert.equal("BAD_REQUEST", ev.reason.code)
      assert.matches("at index %[7%]", ev.reason.description)
      assert.equal("01FAILED", ev.batch_id)
      assert.equal(7, ev.message_index)
      assert.equal("contact_identifier", ev.contact_id)
      assert.is_nil(ev.metadata)
    end)

    it("accept the snake_case variants", function()
      local ev = parse(envelope("message_delivery_report", { status = "FAILED", metadata = "" },
                                { message_metadata = '{"batch_id":"01SNAKE","message_index":0}' }))
      assert.equal("01SNAKE", ev.batch_id)
      assert.equal(0, ev.message_index)
      ev = parse(envelope("message_delivery_report", { status = "READ", metadata = '{"batch_id":"01B"}' }))
      assert.equal("01B", ev.batch_id)
      ev = parse(envelope("message_delivery_report",
                          { status = "READ", metadata = '{"batchId":"01C","messageIndex":"12"}' }))
      assert.equal("01C", ev.batch_id)
      assert.equal(12, ev.message_index)
      ev = parse(envelope("message_delivery_report",
                          { status = "FAILED", batch_id = "01TOP", message_index = 4 }))
      assert.equal("01TOP", ev.batch_id)
      assert.equal(4, ev.message_index)
    end)

    it("prefer the envelope's message_metadata over the report's metadata", function()
      local r = { status = "FAILED", metadata = '{"_batch_id":"01REPORT","row":"9"}' }
      local ev = parse(envelope("message_delivery_report", r,
                                { message_metadata = '{"batchId":"01ENV","messageIndex":3}' }))
      assert.equal("01ENV", ev.batch_id)
      assert.equal(3, ev.message_index)
      assert.equal("9", ev.metadata.row)
    end)

    it("ignore empty metadata strings", function()
      local ev = parse(envelope("message_delivery_report", { status = "DELIVERED", metadata = "" },
                                { message_metadata = "" }))
      assert.equal("DELIVERED", ev.status)
      assert.is_nil(ev.batch_id)
      assert.is_nil(ev.message_index)
      assert.is_nil(ev.metadata)
    end)

    it("ignore malformed metadata strings", function()
      for _, bad in ipairs({ "{not json", '{"batchId":', "[1,2]", "42", '"str"', "null", "{}" }) do
        local ev = parse(envelope("message_delivery_report", { status = "FAILED", metadata = bad },
                                  { message_metadata = bad }))
        assert.equal("FAILED", ev.status)
        assert.is_nil(ev.batch_id)
        assert.is_nil(ev.message_index)
      end
    end)

    it("ignore a messageIndex that is not a whole number >= 0", function()
      for _, bad in ipairs({ '"seven"', "1.5", "-1", '"-1"', "true", "{}" }) do
        local ev = parse(envelope("message_delivery_report", { status = "FAILED" },
                                  { message_metadata = '{"batchId":"01X","messageIndex":' .. bad .. '}' }))
        assert.equal("01X", ev.batch_id)
        assert.is_nil(ev.message_index)
      end
    end)

    it("give message_index as an integer", function()
      local ev = parse(envelope("message_delivery_report", { status = "FAILED" },
                                { message_metadata = '{"batchId":"01X","messageIndex":7}' }))
      assert.equal("7", tostring(ev.message_index))
    end)

    it("turn JSON null into nil", function()
      local ev = parse('{"message_delivery_report":{"status":null,"reason":null,"metadata":null},'
                       .. '"message_metadata":null,"correlation_id":null,"app_id":null}')
      assert.equal("message_delivery", ev.type)
      assert.is_nil(ev.status)
      assert.is_nil(ev.reason)
      assert.is_nil(ev.metadata)
      assert.is_nil(ev.correlation_id)
      assert.is_nil(ev.app_id)
      assert.is_nil(ev.batch_id)
    end)
  end)

  it("reads message submit notifications and their batch reference", function()
    local ev = parse(envelope("message_submit_notification", {
      message_id = "M2", channel_identity = { channel = "SMS", identity = "+4670" },
      submitted_message = { text_message = { text = "hi" } }, metadata = '{"_batch_id":"01SUB"}' },
      { message_metadata = '{"batchId":"01SUB","messageIndex":5}' }))
    assert.equal("message_submit", ev.type)
    assert.equal("M2", ev.message_id)
    assert.equal("01SUB", ev.batch_id)
    assert.equal(5, ev.message_index)
  end)

  it("reads inbound messages", function()
    local ev = parse(envelope("message", { id = "MO1", direction = "TO_APP", contact_id = "C1",
      conversation_id = "CV1", channel_identity = { channel = "SMS", identity = "+4670" },
      contact_message = { text_message = { text = "STOP" } }, metadata = '{"_batch_id":"01MO"}' }))
    assert.equal("message_inbound", ev.type)
    assert.equal("MO1", ev.message_id)
    assert.equal("C1", ev.contact_id)
    assert.equal("STOP", ev.payload.contact_message.text_message.text)
    assert.equal("01MO", ev.batch_id)
  end)

  it("reads event delivery reports", function()
    local ev = parse(envelope("event_delivery_report", { event_id = "E1", status = "FAILED",
      reason = { code = "RECIPIENT_NOT_REACHABLE" } }))
    assert.equal("event_delivery", ev.type)
    assert.equal("E1", ev.event_id)
    assert.equal("FAILED", ev.status)
    assert.equal("RECIPIENT_NOT_REACHABLE", ev.reason.code)
  end)

  it("reads contact delete and merge notifications", function()
    local ev = parse(envelope("contact_delete_notification", { contact = { id = "C9" } }))
    assert.equal("contact_delete", ev.type)
    assert.equal("C9", ev.contact_id)
    ev = parse(envelope("contact_merge_notification", { preserved_contact = { id = "P" },
                                                        deleted_contact = { id = "D" } }))
    assert.equal("contact_merge", ev.type)
    assert.equal("P", ev.payload.preserved_contact.id)
  end)

  describe("batch status updates", function()
    it("read the sinch/skills sample shape", function()
      local ev = parse([[{ "app_id": "A", "accepted_time": "2023-05-15T14:22:33.123456789Z",
        "event_time": "2023-05-15T14:22:33Z", "project_id": "P",
        "batch_status_update_notification": {
           "batch_id": "01FGBATCH", "batch_status": "BATCH_STATUS_PROCESSED",
           "batch_type": "BATCH_TYPE_MESSAGES",
           "additional_data": { "message_batch_data": {
              "send_after": "2023-05-15T12:00:00.000000000Z",
              "batch_metadata": { "campaign": "summer_sale" } } } },
        "message_metadata": "" }]])
      assert.equal("batch_status_update", ev.type)
      assert.equal("BATCH_STATUS_UPDATE", ev.trigger)
      assert.equal("01FGBATCH", ev.batch_id)
      assert.equal("BATCH_STATUS_PROCESSED", ev.status)
      assert.equal("BATCH_TYPE_MESSAGES", ev.batch_type)
      assert.same({ campaign = "summer_sale" }, ev.batch_metadata)
      assert.equal("2023-05-15T12:00:00.000000000Z", ev.send_after)
      assert.is_nil(ev.message_index)
    end)

    it("read the alternative shape and survive missing additional_data", function()
      local ev = parse(envelope("batch_status_update", { batch_id = "01ALT", status = "FAILED" }))
      assert.equal("batch_status_update", ev.type)
      assert.equal("01ALT", ev.batch_id)
      assert.equal("FAILED", ev.status)
      assert.is_nil(ev.batch_metadata)
      ev = parse(envelope("batch_status_update_notification", { batch_id = "01E",
                          batch_status = "BATCH_STATUS_CANCELLED", additional_data = "weird" }))
      assert.equal("BATCH_STATUS_CANCELLED", ev.status)
      assert.is_nil(ev.batch_metadata)
    end)
  end)

  it("returns unknown payloads with the decoded body", function()
    local ev = parse('{"app_id":"A","batch_processing_report_notification":{"x":1},"message_metadata":""}')
    assert.equal("unknown", ev.type)
    assert.is_nil(ev.trigger)
    assert.is_nil(ev.payload)
    assert.equal(1, ev.body.batch_processing_report_notification.x)
    assert.equal("A", ev.app_id)
    ev = parse("{}")
    assert.equal("unknown", ev.type)
    -- a known key whose value is not an object is not that trigger
    ev = parse('{"message":"hello"}')
    assert.equal("unknown", ev.type)
  end)

  it("fails with kind json on a body that is not a JSON object", function()
    for _, bad in ipairs({ "", "not json", "{\"a\":", "[1,2]", "[]", "42", "\"s\"", "null" }) do
      local ev, err = webhook.parse(bad)
      assert.is_nil(ev)
      assert.equal("json", err.kind)
      assert.matches("^callback body: ", err.message)
    end
    local _, err = webhook.parse("[1]")
    assert.equal("sinch.batch: invalid JSON: callback body: expected a JSON object", tostring(err))
  end)

  it("raises on a body that is not a string", function()
    assert.has_error(function() webhook.parse({}) end,
                     "parse: raw_body: expected the raw request body as a string, got table")
  end)
end)
