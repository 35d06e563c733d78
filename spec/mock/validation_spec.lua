-- sinch-batch-mock: the server-side validation of POST /messages, one rule
-- per case, each checked by the error text the API shape carries.
local mock = require "support.mock"
local cjson = require "cjson.safe"

local function sms(n) return { identified_by = { channel_identities = {
  { channel = "SMS", identity = "+4670" .. n } } } }
end

local function body(extra, n)
  local list = {}
  for i = 1, n or 1 do list[i] = { recipient = sms(i), parameters = { name = "x" } } end
  local b = { app_id = "01APP", message = { text_message = { text = "Hi ${name}" } },
              recipient_and_params = list }
  for k, v in pairs(extra or {}) do
    if v == cjson.null then b[k] = nil else b[k] = v end
  end
  return b
end

-- an empty JSON array (cjson writes an empty table as {})
local EMPTY = "__empty_array__"

describe("sinch-batch-mock validation", function()
  local m

  setup(function() m = mock.start{} end)
  teardown(function() if m then m:stop() end end)

  -- send b, expect 400 INVALID_ARGUMENT with this message and field
  local function refused(b, message, field)
    local status, raw, _, res = m:api("POST", "/messages",
                                      (cjson.encode(b):gsub('"' .. EMPTY .. '"', "[]")))
    assert.equal(400, status, raw)
    assert.equal(400, res.error.code)
    assert.equal("INVALID_ARGUMENT", res.error.status)
    assert.equal(message, res.error.message)
    local v = res.error.details[1].fieldViolations[1]
    assert.equal(field, v.field)
    assert.equal(message, v.field .. ": " .. v.description)
  end

  it("accepts the reference body", function()
    local status, raw = m:api("POST", "/messages", body({
      processing_strategy = "DISPATCH_ONLY", batch_metadata = { campaign = "spring" },
      message_metadata = { campaign = "spring" }, ttl = "86400s",
      channel_priority_order = { "SMS" }, channel_properties = { SMS_SENDER = "MyBrand" } }))
    assert.equal(200, status, raw)
  end)

  it("refuses a body that is not JSON, or not an object", function()
    local status, raw = m:request("POST", m:path("/messages"), "{nope",
                                  { Authorization = "Bearer " .. m:token() })
    assert.equal(400, status)
    assert.matches("^body: not valid JSON %(", cjson.decode(raw).error.message)
    refused({ 1, 2 }, "body: must be a JSON object", "body")
  end)

  it("requires app_id, message and recipient_and_params", function()
    refused(body({ app_id = cjson.null }), "app_id: is required", "app_id")
    refused(body({ app_id = 5 }), "app_id: must be a string", "app_id")
    refused(body({ message = cjson.null }), "message: is required", "message")
    refused(body({ recipient_and_params = cjson.null }), "recipient_and_params: is required",
            "recipient_and_params")
  end)

  it("accepts and records unknown fields (top level, message, recipient entry)", function()
    local b = body({ colour = "red" })
    b.message.sticker = { id = "s1" }
    b.recipient_and_params[1].extra = true
    local status, raw, _, res = m:api("POST", "/messages", b)
    assert.equal(200, status, raw)
    local want = { "colour", "message.sticker", "recipient_and_params[0].extra" }
    table.sort(want)
    local reqs = m:requests()
    local got = reqs[#reqs].unknown_fields
    table.sort(got)
    assert.same(want, got)
    local _, _, _, batch = m:api("GET", "/messages/" .. res.batch_id)
    table.sort(batch.unknown_fields)
    assert.same(want, batch.unknown_fields)
    local counts = m:stats().unknown_fields
    assert.equal(1, counts.colour)
    assert.equal(1, counts["message.sticker"])
  end)

  it("refuses unknown fields with --strict, naming the field", function()
    local strict = mock.start{ args = { "--strict" } }
    local ok, err = pcall(function()
      local function refused_strict(b, message, field)
        local status, raw, _, res = strict:api("POST", "/messages", b)
        assert.equal(400, status, raw)
        assert.equal(message, res.error.message)
        assert.equal(field, res.error.details[1].fieldViolations[1].field)
      end
      refused_strict(body({ colour = "red" }), "colour: unknown field", "colour")
      refused_strict(body({ message = { text_message = { text = "a" }, sticker = {} } }),
                     "message.sticker: unknown field", "message.sticker")
      local b = body()
      b.recipient_and_params[1].extra = true
      refused_strict(b, "recipient_and_params[0].extra: unknown field",
                     "recipient_and_params[0].extra")
      assert.equal(0, strict:stats().batches_accepted)
    end)
    strict:stop()
    assert(ok, err)
  end)

  it("holds 1 to 1000 recipients", function()
    refused(body({ recipient_and_params = EMPTY }),
            "recipient_and_params: a batch holds at least 1 recipient", "recipient_and_params")
    refused(body(nil, 1001), "recipient_and_params[1000]: a batch holds at most 1000 recipients",
            "recipient_and_params[1000]")
    assert.equal(200, (m:api("POST", "/messages", body(nil, 1000))))
  end)

  it("takes exactly one message kind", function()
    refused(body({ message = { agent = { display_name = "A" } } }),
            "message: give exactly one message kind (one of text_message, media_message, "
            .. "template_message, choice_message, card_message, carousel_message, "
            .. "location_message, contact_info_message, list_message)", "message")
    local two = body({ message = { text_message = { text = "a" }, media_message = { url = "u" } } })
    local status, _, _, res = m:api("POST", "/messages", two)
    assert.equal(400, status)
    assert.matches("^message: holds both [a-z_]+ and [a-z_]+; give exactly one message kind$",
                   res.error.message)
  end)

  it("checks the required fields of the message kind", function()
    refused(body({ message = { text_message = {} } }), "message.text_message.text: is required",
            "message.text_message.text")
    refused(body({ message = { media_message = { url = "" } } }),
            "message.media_message.url: must not be empty", "message.media_message.url")
    refused(body({ message = { template_message = {} } }),
            "message.template_message: needs omni_template or channel_template",
            "message.template_message")
    local choices = {}
    for i = 1, 11 do choices[i] = { text_message = { text = "c" .. i } } end
    refused(body({ message = { choice_message = { choices = choices } } }),
            "message.choice_message.choices[10]: holds at most 10 items",
            "message.choice_message.choices[10]")
    refused(body({ message = { location_message = { title = "t", coordinates = { latitude = 1 } } } }),
            "message.location_message.coordinates: needs numeric latitude and longitude",
            "message.location_message.coordinates")
  end)

  it("takes contact_id xor identified_by", function()
    local both = body()
    both.recipient_and_params[1].recipient.contact_id = "01C"
    refused(both, "recipient_and_params[0].recipient: give exactly one of contact_id and "
            .. "identified_by", "recipient_and_params[0].recipient")
    local neither = body(nil, 2)
    neither.recipient_and_params[2].recipient = {}
    refused(neither, "recipient_and_params[1].recipient: give exactly one of contact_id and "
            .. "identified_by", "recipient_and_params[1].recipient")
  end)

  it("takes only identified_by recipients with DISPATCH_ONLY", function()
    local b = body({ processing_strategy = "DISPATCH_ONLY" })
    b.recipient_and_params[1].recipient = { contact_id = "01C" }
    refused(b, "recipient_and_params[0].recipient.contact_id: processing_strategy DISPATCH_ONLY "
            .. "takes identified_by recipients only", "recipient_and_params[0].recipient.contact_id")
  end)

  it("checks channel identities against the channel enum", function()
    local b = body()
    b.recipient_and_params[1].recipient.identified_by.channel_identities[1].channel = "FAX"
    local status, _, _, res = m:api("POST", "/messages", b)
    assert.equal(400, status)
    assert.matches("^recipient_and_params%[0%]%.recipient%.identified_by%.channel_identities%[0%]"
                   .. "%.channel: 'FAX' is not a channel %(one of WHATSAPP, RCS, SMS, ",
                   res.error.message)
    b.recipient_and_params[1].recipient.identified_by.channel_identities = EMPTY
    refused(b, "recipient_and_params[0].recipient.identified_by.channel_identities: must hold "
            .. "at least 1 channel identity",
            "recipient_and_params[0].recipient.identified_by.channel_identities")
    refused(body({ channel_priority_order = { "SMS", "PIGEON" } }),
            "channel_priority_order[1]: 'PIGEON' is not a channel (one of WHATSAPP, RCS, SMS, "
            .. "MESSENGER, VIBERBM, MMS, INSTAGRAM, TELEGRAM, KAKAOTALK, KAKAOTALKCHAT, LINE, "
            .. "WECHAT, APPLEBC, SINCH_CHAT)", "channel_priority_order[1]")
  end)

  it("takes string parameters only", function()
    local b = body()
    b.recipient_and_params[1].parameters = { name = 5 }
    refused(b, "recipient_and_params[0].parameters.name: must be a string",
            "recipient_and_params[0].parameters.name")
  end)

  it("checks processing_strategy against its enum", function()
    refused(body({ processing_strategy = "FAST" }),
            "processing_strategy: 'FAST' is not a processing strategy (one of DEFAULT, "
            .. "DISPATCH_ONLY)", "processing_strategy")
  end)

  it("checks the ttl format (\"<int>s\"), and no range: the reference gives none for batches", function()
    refused(body({ ttl = "1 day" }), "ttl: '1 day' is not a duration like \"86400s\"", "ttl")
    refused(body({ ttl = 86400 }), "ttl: must be a string like \"86400s\"", "ttl")
    refused(body({ ttl = "1.5s" }), "ttl: '1.5s' is not a duration like \"86400s\"", "ttl")
    for _, ok in ipairs({ "3s", "86400s", "315576000000s", "000000000000003s", "2s", "0s",
                          "315576000001s" }) do
      local status, raw = m:api("POST", "/messages", body({ ttl = ok }))
      assert.equal(200, status, ok .. ": " .. raw)
    end
  end)

  it("checks send_after is an RFC 3339 date-time", function()
    refused(body({ send_after = "tomorrow" }), "send_after: 'tomorrow' is not an RFC 3339 "
            .. "date-time (like 2025-10-01T08:00:00Z)", "send_after")
  end)

  it("takes batch_metadata as an object of strings", function()
    refused(body({ batch_metadata = { n = 1 } }), "batch_metadata.n: must be a string",
            "batch_metadata.n")
    refused(body({ batch_metadata = "x" }), "batch_metadata: must be an object of strings",
            "batch_metadata")
  end)

  it("takes limits the reference states only for single send: correlation_id, channel_properties",
     function()
    local status, raw = m:api("POST", "/messages", body({
      channel_properties = { SMS_SENDER = string.rep("x", 1025) },
      correlation_id = string.rep("c", 129) }))
    assert.equal(200, status, raw)
    refused(body({ correlation_id = 5 }), "correlation_id: must be a string", "correlation_id")
  end)

  it("takes an MSISDN on SMS, WhatsApp and Viber (\"+0987654321\", the reference's form), "
     .. "refuses letters, and leaves other channels' identities alone", function()
    for _, ch in ipairs({ "SMS", "WHATSAPP", "VIBERBM" }) do
      for _, id in ipairs({ "+0987654321", "46700000001", "+1" }) do
        local status, raw = m:api("POST", "/messages", body({ recipient_and_params = { {
          recipient = { identified_by = { channel_identities = { { channel = ch, identity = id } } } },
          parameters = { name = "x" } } } }))
        assert.equal(200, status, ch .. " " .. id .. ": " .. raw)
      end
    end
    local function with(ch, id)
      return body({ recipient_and_params = { { recipient = { identified_by = {
        channel_identities = { { channel = ch, identity = id } } } }, parameters = { name = "x" } } } })
    end
    refused(with("SMS", "+46 700"), "recipient_and_params[0].recipient.identified_by."
            .. "channel_identities[0].identity: '+46 700' is not an MSISDN (an optional + and "
            .. "digits) for channel SMS",
            "recipient_and_params[0].recipient.identified_by.channel_identities[0].identity")
    refused(with("WHATSAPP", "hello"), "recipient_and_params[0].recipient.identified_by."
            .. "channel_identities[0].identity: 'hello' is not an MSISDN (an optional + and "
            .. "digits) for channel WHATSAPP",
            "recipient_and_params[0].recipient.identified_by.channel_identities[0].identity")
    -- MMS and RCS: the reference names no format (our phone rule is --strict only)
    for _, ch in ipairs({ "MMS", "RCS", "TELEGRAM" }) do
      local status, raw = m:api("POST", "/messages", with(ch, "not-a-number"))
      assert.equal(200, status, ch .. ": " .. raw)
    end
  end)

  it("takes _batch_id in metadata (the API overwrites it)", function()
    local status, raw = m:api("POST", "/messages", body({ message_metadata = { _batch_id = "x" } }))
    assert.equal(200, status, raw)
  end)

  it("answers 413 for a body announced over 10 MiB, before reading it", function()
    local socket = require "socket"
    local sock = socket.tcp()
    sock:settimeout(10)
    assert(sock:connect("127.0.0.1", m.port))
    assert(sock:send("POST " .. m:path("/messages") .. " HTTP/1.1\r\nHost: x\r\n"
                     .. "Content-Type: application/json\r\n"
                     .. "Content-Length: " .. (10 * 1024 * 1024 + 1) .. "\r\n\r\n"))
    local status, raw = mock.read_response(sock)
    sock:close()
    assert.equal(413, status)
    assert.equal("body: larger than the 10 MiB this server accepts", cjson.decode(raw).error.message)
  end)

  it("answers 413 for a chunked body that grows over 10 MiB", function()
    local socket = require "socket"
    local sock = socket.tcp()
    sock:settimeout(10)
    assert(sock:connect("127.0.0.1", m.port))
    assert(sock:send("POST " .. m:path("/messages") .. " HTTP/1.1\r\nHost: x\r\n"
                     .. "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"))
    local chunk = string.rep("x", 1024 * 1024)
    for _ = 1, 11 do assert(sock:send(string.format("%x\r\n%s\r\n", #chunk, chunk))) end
    assert(sock:send("0\r\n\r\n"))
    local status, raw = mock.read_response(sock)
    sock:close()
    assert.equal(413, status)
    assert.equal("body: larger than the 10 MiB this server accepts", cjson.decode(raw).error.message)
  end)

  it("accepts a body just under the limit up to validation", function()
    local pad = string.rep("x", 9 * 1024 * 1024)
    local status, _, _, res = m:api("POST", "/messages", body({ ttl = pad }))
    assert.equal(400, status)
    assert.equal("ttl: '" .. string.rep("x", 32) .. "' is not a duration like \"86400s\"",
                 res.error.message)
  end)
end)

describe("sinch-batch-mock validation --strict (our stricter checks, labelled in docs/api-rules.md)",
         function()
  local m

  setup(function() m = mock.start{ args = { "--strict" } } end)
  teardown(function() if m then m:stop() end end)

  local function refused(b, message)
    local status, raw, _, res = m:api("POST", "/messages", b)
    assert.equal(400, status, raw)
    assert.equal(message, res.error.message)
  end

  -- a body whose recipient is in E.164 shape
  local function sbody(extra)
    local b = body(extra)
    b.recipient_and_params[1].recipient = { identified_by = { channel_identities = {
      { channel = "SMS", identity = "+46700000001" } } } }
    return b
  end

  local function to(ch, id)
    return body({ recipient_and_params = { { recipient = { identified_by = {
      channel_identities = { { channel = ch, identity = id } } } }, parameters = { name = "x" } } } })
  end

  it("adds the E.164 shape, MMS and RCS as phone channels", function()
    local field = "recipient_and_params[0].recipient.identified_by.channel_identities[0].identity"
    refused(to("SMS", "+0987654321"), field .. ": '+0987654321' is not in E.164 shape (7 to 15 "
            .. "digits, the first not 0; --strict)")
    refused(to("MMS", "abc"), field .. ": 'abc' is not an MSISDN (an optional + and digits) "
            .. "for channel MMS")
    assert.equal(200, (m:api("POST", "/messages", to("RCS", "+46700000001"))))
  end)

  it("adds the single-send ranges and limits, and refuses _batch_id", function()
    local range = "ttl: must be a whole number of seconds from 3 to 315576000000 (--strict: "
      .. "the single-send range)"
    refused(sbody({ ttl = "2s" }), range)
    refused(sbody({ ttl = "315576000001s" }), range)
    refused(sbody({ ttl = "99999999999999999999999s" }), range) -- no overflow
    refused(sbody({ correlation_id = string.rep("c", 129) }),
            "correlation_id: must be a string of at most 128 characters (--strict)")
    refused(sbody({ channel_properties = { SMS_SENDER = string.rep("x", 1025) } }),
            "channel_properties.SMS_SENDER: is longer than 1024 characters")
    refused(sbody({ message_metadata = { _batch_id = "x" } }),
            "message_metadata._batch_id: reserved: the API sets it to the batch id (--strict)")
  end)
end)
