-- sinch-batch-mock: callbacks, received by a LuaSocket server in this spec,
-- their signatures recomputed with the openssl command (not project code).
local mock = require "support.mock"
local cjson = require "cjson.safe"

local SECRET = "hook-secret-123"
local fixtures = os.getenv("SINCH_BATCH_FIXTURES") or "spec/fixtures"

-- base64(HMAC-SHA256(secret, data)) by the openssl command line
local function hmac(secret, data)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  local p = assert(io.popen("openssl dgst -sha256 -hmac '" .. secret:gsub("'", "'\\''")
                            .. "' -binary '" .. path .. "' | openssl base64 -A"))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

local function signature_ok(secret, req)
  local h = req.headers
  return hmac(secret, req.body .. "." .. h["x-sinch-webhook-signature-nonce"] .. "."
              .. h["x-sinch-webhook-signature-timestamp"]) == h["x-sinch-webhook-signature"]
end

local take = mock.take_callback -- one callback: answer status, return the request

local function sms(n, params, meta)
  return { recipient = { identified_by = { channel_identities = {
             { channel = "SMS", identity = "+4670000000" .. n } } } },
           parameters = params, message_metadata = meta }
end

describe("sinch-batch-mock callbacks", function()
  local m, srv

  setup(function()
    local url
    srv, url = mock.callback_server()
    m = mock.start{ args = { "--webhook", url, "--webhook-secret", SECRET } }
  end)
  teardown(function()
    if m then m:stop() end
    if srv then srv:close() end
  end)
  before_each(function() m:reset() end)

  -- wait (bounded) until the sandbox has counted what it sent
  local function stats_when(pred) return m:stats_when(pred) end

  it("checks signatures with the algorithm of the shared test vectors", function()
    local f = assert(io.open(fixtures .. "/vectors/conversation-webhook-signature-vectors.json"))
    local vectors = cjson.decode(f:read("*a")).vectors
    f:close()
    for _, v in ipairs(vectors) do
      local body = v.body
      if v.body_file then
        local bf = assert(io.open(fixtures .. "/vectors/" .. v.body_file, "rb"))
        body = bf:read("*a")
        bf:close()
      end
      local data = body .. "." .. v.nonce .. "." .. v.timestamp
      assert.equal(v.expected_signature, hmac(v.secret, data))
      if v.wrong_secret_must_fail then
        assert.not_equal(v.expected_signature, hmac(v.wrong_secret_must_fail, data))
      end
    end
  end)

  it("posts a signed status update and one delivery report per recipient", function()
    local status, raw, _, res = m:api("POST", "/messages", {
      app_id = "01APP",
      message = { text_message = { text = "Hi ${name}, code ${code}" } },
      batch_metadata = { campaign = "cb" },
      message_metadata = { campaign = "cb", row = "top" },
      correlation_id = "corr-1",
      recipient_and_params = {
        sms(1, { name = "Ann", code = "1" }, { row = "1" }),
        sms(2, { name = "Bo" }),                       -- no value for ${code}
        { recipient = { contact_id = "01CONTACT" }, parameters = { name = "Cy", code = "3" } },
      } })
    -- answered while no callback has been taken yet: delivery never blocks the API
    assert.equal(200, status, raw)
    local id = res.batch_id

    local got = {}
    for i = 1, 4 do got[i] = take(srv) end
    for _, req in ipairs(got) do
      assert.equal("POST /hook HTTP/1.1", req.line)
      assert.equal("application/json", req.headers["content-type"])
      assert.equal("HmacSHA256", req.headers["x-sinch-webhook-signature-algorithm"])
      assert.matches("^%d+$", req.headers["x-sinch-webhook-signature-timestamp"])
      assert.equal(26, #req.headers["x-sinch-webhook-signature-nonce"])
      assert.is_true(signature_ok(SECRET, req))
      assert.is_false(signature_ok("wrong", req))
      assert.equal("demo-project", req.json.project_id)
      assert.equal("01APP", req.json.app_id)
    end

    local su = got[1].json.batch_status_update_notification
    assert.same({ batch_id = id, batch_status = "BATCH_STATUS_PROCESSED",
                  batch_type = "BATCH_TYPE_MESSAGES",
                  additional_data = { message_batch_data = { batch_metadata = { campaign = "cb" } } } },
                su)
    assert.equal("", got[1].json.message_metadata)

    for i = 2, 4 do
      local ev = got[i].json
      local r = ev.message_delivery_report
      assert.same({ batchId = id, messageIndex = i - 2 }, cjson.decode(ev.message_metadata))
      assert.equal("corr-1", ev.correlation_id)
      assert.equal("CONVERSATION", r.processing_mode)
      assert.equal(id, cjson.decode(r.metadata)._batch_id)
      assert.equal("cb", cjson.decode(r.metadata).campaign)
    end
    local r1, r2, r3 = got[2].json.message_delivery_report, got[3].json.message_delivery_report,
                       got[4].json.message_delivery_report
    assert.equal("DELIVERED", r1.status)
    assert.is_nil(r1.reason)
    assert.same({ channel = "SMS", identity = "+46700000001", app_id = "" }, r1.channel_identity)
    assert.equal("1", cjson.decode(r1.metadata).row) -- the recipient's value wins
    assert.equal("top", cjson.decode(r2.metadata).row)

    assert.equal("FAILED", r2.status)
    assert.equal("BAD_REQUEST", r2.reason.code)
    assert.equal("Validation failed after parameters substitution for batch [" .. id
                 .. "] and message at index [1]. Details: [parameter 'code' has no value]",
                 r2.reason.description)

    assert.equal("DELIVERED", r3.status)
    assert.equal("01CONTACT", r3.contact_id)
    assert.equal("SMS", r3.channel_identity.channel)

    local st = stats_when(function(s) return s.webhooks_delivered == 4 end)
    assert.equal(4, st.webhooks_delivered)
    assert.equal(0, st.webhooks_failed)
  end)

  it("reads ${name} on its own: a name of only blanks is text, an unclosed ${ is text", function()
    m:api("POST", "/messages", { app_id = "A",
      message = { text_message = { text = "Hi ${ } and ${\t} ${name" } },
      recipient_and_params = { sms(1), sms(2, { [" "] = "x" }) } })
    local got = { take(srv), take(srv), take(srv) }
    for i = 2, 3 do
      assert.equal("DELIVERED", got[i].json.message_delivery_report.status)
    end
    m:api("POST", "/messages", { app_id = "A",
      message = { text_message = { text = "Hi ${ x }" } }, recipient_and_params = { sms(1) } })
    got = { take(srv), take(srv) }
    assert.equal("FAILED", got[2].json.message_delivery_report.status)
    assert.matches("parameter ' x ' has no value", got[2].json.message_delivery_report.reason.description,
                   1, true)
    stats_when(function(s) return s.webhooks_delivered == 5 end)
  end)

  it("uses DISPATCH mode for DISPATCH_ONLY batches", function()
    m:api("POST", "/messages", { app_id = "A", processing_strategy = "DISPATCH_ONLY",
                                 message = { text_message = { text = "x" } },
                                 recipient_and_params = { sms(1) } })
    take(srv)
    local r = take(srv).json.message_delivery_report
    assert.equal("DISPATCH", r.processing_mode)
    assert.equal("", r.conversation_id)
    assert.equal("", r.contact_id)
  end)

  it("retries a callback the receiver did not take with a 2xx", function()
    m:api("POST", "/messages", { app_id = "A", message = { text_message = { text = "x" } },
                                 recipient_and_params = { sms(1) } })
    local first = take(srv, 500)
    local second = take(srv, 200)
    local third = take(srv, 200)
    assert.is_table(first.json.batch_status_update_notification)
    assert.is_table(second.json.message_delivery_report)
    -- the refused one comes again, byte for byte, freshly signed
    assert.equal(first.body, third.body)
    assert.is_true(signature_ok(SECRET, third))
    local st = stats_when(function(s) return s.webhooks_delivered == 2 end)
    assert.equal(2, st.webhooks_delivered)
    assert.equal(0, st.webhooks_failed)
  end)

  it("counts a callback as failed after five refusals", function()
    m:api("POST", "/messages", { app_id = "A", message = { text_message = { text = "x" } },
                                 recipient_and_params = { sms(1) } })
    local status_update = 0
    local function refuse_updates(req)
      return req.json.batch_status_update_notification and 503 or 200
    end
    for _ = 1, 6 do
      local req = take(srv, refuse_updates)
      if req.json.batch_status_update_notification then status_update = status_update + 1 end
    end
    assert.equal(5, status_update)
    local st = stats_when(function(s) return s.webhooks_failed == 1 end)
    assert.equal(1, st.webhooks_failed)
    assert.equal(1, st.webhooks_delivered)
  end)

  it("posts nothing for a scheduled batch until it is due, and a cancel update", function()
    local later = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 7200)
    local _, _, _, res = m:api("POST", "/messages", {
      app_id = "A", message = { text_message = { text = "x" } },
      recipient_and_params = { sms(1) }, send_after = later })
    m:api("DELETE", "/messages", { batch_id = res.batch_id })
    m:advance(1) -- the cancel takes effect a second (of the sandbox's clock) later
    local req = take(srv)
    local su = req.json.batch_status_update_notification
    assert.equal(res.batch_id, su.batch_id)
    assert.equal("BATCH_STATUS_CANCELLED", su.batch_status)
    assert.equal(res.send_after, (su.additional_data.message_batch_data.send_after:gsub("%.000Z$", "Z")))
  end)

  it("posts the reports of a scheduled batch once its send_after is due", function()
    local later = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
    local _, raw, _, res = m:api("POST", "/messages", {
      app_id = "01SCHED", message = { text_message = { text = "Hi ${name}" } },
      message_metadata = { wave = "w1" }, send_after = later,
      recipient_and_params = { sms(1, { name = "Ann" }, { row = "1" }), sms(2, { name = "Bo" }) } })
    assert.is_string(res.batch_id, raw)
    -- other bodies parsed meanwhile must not disturb what the batch kept
    for i = 1, 3 do
      m:api("POST", "/messages", { app_id = "OTHER" .. i, message = { text_message = { text = "z" } },
                                   recipient_and_params = { sms(3) }, send_after = later })
    end
    m:advance(3 * 3600)
    local reports, updates = {}, {}
    for _ = 1, 9 do -- 3 callbacks for this batch, 2 for each other one
      local ev = take(srv).json
      if ev.app_id == "01SCHED" then
        if ev.message_delivery_report then
          reports[#reports + 1] = ev.message_delivery_report
        else
          updates[#updates + 1] = ev.batch_status_update_notification
        end
      end
    end
    assert.equal(1, #updates)
    assert.equal(res.batch_id, updates[1].batch_id)
    assert.equal(2, #reports)
    table.sort(reports, function(a, b) return a.channel_identity.identity < b.channel_identity.identity end)
    assert.same({ channel = "SMS", identity = "+46700000001", app_id = "" }, reports[1].channel_identity)
    assert.same({ wave = "w1", row = "1", _batch_id = res.batch_id }, cjson.decode(reports[1].metadata))
    assert.same({ wave = "w1", _batch_id = res.batch_id }, cjson.decode(reports[2].metadata))
  end)

  it("posts contact create and delete events", function()
    local status = m:api("POST", "/contacts", { contacts = {
      { channel_identities = { { channel = "SMS", identity = "+46700000009" } }, language = "EN_US",
        display_name = "Nine" } } })
    assert.equal(200, status)
    local created = take(srv).json.contact_create_notification.contact
    assert.equal("Nine", created.display_name)
    assert.equal("EN_US", created.language)
    assert.equal(26, #created.id)
    assert.same({ { channel = "SMS", identity = "+46700000009" } }, created.channel_identities)

    assert.equal(200, (m:api("DELETE", "/contacts", { contact_ids = { created.id, "01NOTTHERE" } })))
    local deleted = take(srv).json.contact_delete_notification.contact
    assert.equal(created.id, deleted.id)
  end)

  it("names a stored contact's identity in its delivery report", function()
    m:api("POST", "/contacts", { contacts = {
      { channel_identities = { { channel = "WHATSAPP", identity = "+46700000042" } },
        language = "SV" } } })
    local id = take(srv).json.contact_create_notification.contact.id
    m:api("POST", "/messages", { app_id = "A", message = { text_message = { text = "x" } },
                                 recipient_and_params = { { recipient = { contact_id = id } } } })
    take(srv)
    local r = take(srv).json.message_delivery_report
    assert.same({ channel = "WHATSAPP", identity = "+46700000042", app_id = "" }, r.channel_identity)
    assert.equal(id, r.contact_id)
  end)
end)
