-- Every Batch API operation through the Lua client, against the sandbox on
-- 127.0.0.1, checking both the decoded answers and the exact requests the
-- sandbox received (method, path, headers, JSON body).
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"

local M, R = batch.message, batch.recipient
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"

local support = require "support.api"
local lower_headers, api_requests = support.lower_headers, support.api_requests
local last_api_request = support.last_api_request

describe("client against the sandbox", function()
  local m, client

  setup(function()
    m = mock.start()
  end)

  teardown(function()
    if client then client:close() end
    if m then m:stop() end
  end)

  before_each(function()
    m:reset()
    if client then client:close() end
    client = m:client{ app_id = APP, backoff_base = 0.01, seed = 7 }
  end)

  it("sends a batch and the sandbox receives exactly that body", function()
    local res, err = client:send{
      message = M.text("Hi ${name}, your code is ${code}"),
      batch_metadata = { campaign = "spring" },
      message_metadata = { campaign = "spring" },
      processing_strategy = "DEFAULT",
      ttl = 86400,
      channel_priority_order = { "SMS" },
      recipients = {
        { recipient = R.sms("+46700000001"), parameters = { name = "Ann", code = "1234" },
          message_metadata = { row = "1" } },
        { recipient = R.contact("01CONTACTXXXXXXXXXXXXXXXXX"), parameters = { name = "Bo", code = "5678" } },
      },
    }
    assert.is_nil(err)
    assert.is_string(res.batch_id)
    assert.equal(26, #res.batch_id)

    local req = last_api_request(m)
    assert.equal("POST", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/messages", req.path)
    local h = lower_headers(req.headers)
    assert.equal("Bearer <redacted>", h.authorization)
    assert.equal("application/json", h["content-type"])
    assert.matches("^sinch%-batch/" .. batch._VERSION:gsub("%.", "%%.") .. " %(", h["user-agent"])
    assert.matches("libcurl/", h["user-agent"])
    assert.same({
      app_id = APP,
      message = { text_message = { text = "Hi ${name}, your code is ${code}" } },
      recipient_and_params = {
        { recipient = { identified_by = { channel_identities = {
            { channel = "SMS", identity = "+46700000001" } } } },
          parameters = { name = "Ann", code = "1234" }, message_metadata = { row = "1" } },
        { recipient = { contact_id = "01CONTACTXXXXXXXXXXXXXXXXX" },
          parameters = { name = "Bo", code = "5678" } },
      },
      batch_metadata = { campaign = "spring" },
      message_metadata = { campaign = "spring" },
      processing_strategy = "DEFAULT",
      ttl = "86400s",
      channel_priority_order = { "SMS" },
    }, cjson.decode(req.body))
  end)

  it("reports parameters the message never uses, and fills defaults without touching the caller's tables",
    function()
      local p1 = { name = "Ann", nmae = "typo" }
      local p2 = { nmae = "typo", extra = "x" }
      local res, err = client:send{ message = M.text("Hi ${name}"), defaults = { name = "there" },
        recipients = { { recipient = R.sms("+46700000001"), parameters = p1 },
                       { recipient = R.sms("+46700000002"), parameters = p2 } } }
      assert.is_nil(err)
      assert.same({ nmae = 2, extra = 1 }, res.unused)
      assert.same({ nmae = "typo", extra = "x" }, p2) -- the default went into a copy
      local body = cjson.decode(last_api_request(m).body)
      assert.equal("there", body.recipient_and_params[2].parameters.name)
      assert.equal("Ann", body.recipient_and_params[1].parameters.name)

      local b = assert(client:batch{ message = M.text("Hi ${name}") })
      assert(b:add(R.sms("+46700000003"), { name = "Cy" }))
      assert.same({}, b:unused())
      res = assert(client:send(b))
      assert.is_nil(res.unused)
    end)

  it("sends through the C builder (client:batch) with the same result", function()
    local b = assert(client:batch{ message = M.text("Code ${code}"), batch_metadata = { campaign = "fast" } })
    for i = 1, 1000 do
      assert(b:add(R.sms(("+4670%07d"):format(i)), { code = tostring(i) }))
    end
    local extra, err = b:add(R.sms("+46800000000"), { code = "x" })
    assert.is_nil(extra)
    assert.equal("invalid", err.kind)
    assert.equal("recipients[1001]: a batch holds at most 1000 recipients", err.message)
    local res = assert(client:send(b))
    assert.is_string(res.batch_id)
    local body = cjson.decode(last_api_request(m).body)
    assert.equal(1000, #body.recipient_and_params)
    assert.same({ code = "1000" }, body.recipient_and_params[1000].parameters)
    local stats = m:stats()
    assert.equal(1, stats.batches_accepted)
    assert.equal(1000, stats.recipients_accepted)
  end)

  it("fetches one token and reuses it across calls", function()
    assert(client:find("campaign", "none"))
    assert(client:find("campaign", "none"))
    assert(client:find("campaign", "none"))
    assert.equal(1, m:stats().tokens_issued)
  end)

  it("gets a batch's status by id and finds it by metadata", function()
    local res = assert(client:send{ message = M.text("hello"), batch_metadata = { campaign = "st" },
      recipients = { { recipient = R.sms("+46700000009") } } })
    local st = assert(client:status(res.batch_id))
    assert.equal(res.batch_id, st.batch_id)
    assert.same({ campaign = "st" }, st.meta_data)
    assert.is_truthy(({ READY = true, PROCESSED = true })[st.status])
    local req = last_api_request(m)
    assert.equal("GET", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/messages/" .. res.batch_id, req.path)

    local found = assert(client:find{ key = "campaign", value = "st" })
    assert.equal(1, #found)
    assert.equal(res.batch_id, found[1].batch_id)
    req = last_api_request(m)
    assert.equal("GET", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/messages", req.path)
    assert.matches("metadataKey=campaign", req.query)
    assert.matches("metadataValue=st", req.query)
  end)

  it("reads a find answer wrapped in an object as well as a bare array", function()
    m:fault{ kind = "status", status = 200, method = "GET",
             body = { batches = { { batch_id = "01WRAPPED", status = "PROCESSED" } } } }
    local found = assert(client:find("campaign", "wrapped"))
    assert.equal(1, #found)
    assert.equal("01WRAPPED", found[1].batch_id)
    -- `{}` lists nothing and is no list either: no answer, never "no batch"
    m:fault{ kind = "status", status = 200, method = "GET", body = {} }
    local err
    found, err = client:find("campaign", "none")
    assert.is_nil(found)
    assert.equal("json", err.kind)
    assert.is_falsy(err.may_have_been_processed)
  end)

  it("cancels a scheduled batch by id and by metadata", function()
    local when = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
    local a = assert(client:send{ message = M.text("later"), send_after = when,
      batch_metadata = { campaign = "c1" }, recipients = { { recipient = R.sms("+46700000010") } } })
    local b = assert(client:send{ message = M.text("later"), send_after = when,
      batch_metadata = { campaign = "c2" }, recipients = { { recipient = R.sms("+46700000011") } } })
    assert.equal("SCHEDULED", assert(client:status(a.batch_id)).status)

    assert(client:cancel{ batch_id = a.batch_id })
    local req = last_api_request(m)
    assert.equal("DELETE", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/messages", req.path)
    assert.same({ batch_id = a.batch_id }, cjson.decode(req.body))
    -- the API cancels later: the sandbox after 1 s of its clock
    m:advance(1)
    assert.equal("CANCELLED", assert(client:status(a.batch_id)).status)

    assert(client:cancel{ metadata = { campaign = "c2" } })
    assert.same({ metadata_key = "campaign", metadata_value = "c2" }, cjson.decode(last_api_request(m).body))
    m:advance(1)
    assert.equal("CANCELLED", assert(client:status(b.batch_id)).status)
  end)

  it("bulk-creates and deletes contacts", function()
    local res, err = client:create_contacts{
      { channel_identities = { { channel = "SMS", identity = "+46700000020" } }, language = "EN_US",
        display_name = "Ann" },
      { channel_identities = { { channel = "WHATSAPP", identity = "+46700000021" } }, language = "SV" },
    }
    assert.is_nil(err)
    assert.is_table(res)
    local req = last_api_request(m)
    assert.equal("POST", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/contacts", req.path)
    local body = cjson.decode(req.body)
    assert.equal(2, #body.contacts)
    assert.equal("Ann", body.contacts[1].display_name)

    assert(client:delete_contacts{ "01C1", "01C2" })
    req = last_api_request(m)
    assert.equal("DELETE", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/contacts", req.path)
    assert.same({ contact_ids = { "01C1", "01C2" } }, cjson.decode(req.body))
  end)

  it("inserts consent records", function()
    local res = assert(client:insert_consents{ records = {
      { identification = "+46700000030", consent_type = "OPT_OUT_MARKETING" },
      { identification = "+46700000031", consent_type = "OPT_OUT_ALL" } } })
    assert.is_string(res.batch_id)
    local req = last_api_request(m)
    assert.equal("POST", req.method)
    assert.equal("/v1/projects/" .. m.project_id .. "/consents", req.path)
    assert.same({ app_id = APP, consent_records = {
      { identification = "+46700000030", consent_type = "OPT_OUT_MARKETING" },
      { identification = "+46700000031", consent_type = "OPT_OUT_ALL" } } }, cjson.decode(req.body))
  end)

  it("passes a raw JSON body through for any operation", function()
    assert(client:cancel{ body = '{"batch_ids":["01A","01B"]}' })
    assert.equal('{"batch_ids":["01A","01B"]}', last_api_request(m).body)
    local raw = '{"app_id":"' .. APP .. '","message":{"text_message":{"text":"raw"}},'
      .. '"recipient_and_params":[{"recipient":{"contact_id":"01RAW"}}]}'
    local res = assert(client:send{ body = raw })
    assert.is_string(res.batch_id)
    assert.equal(raw, last_api_request(m).body)
    assert.has_error(function() client:send{ body = raw, ttl = 10 } end,
      "bad argument #1 to 'send' (body: a raw body goes alone, without other options)")
  end)

  it("blames the caller's line, and names send, for a misused send", function()
    local ok, err = pcall(function()
      client:send{ message = M.text("x"), recipientz = {} } -- the line to blame
    end)
    assert.is_false(ok)
    assert.matches("client_spec%.lua:%d+: bad argument #1 to 'send' %(unknown option 'recipientz'%)", err)
    ok, err = pcall(function() client:batch{ message = M.text("x"), colour = 1 } end)
    assert.is_false(ok)
    assert.matches("client_spec%.lua:%d+: bad argument #1 to 'batch' %(unknown option 'colour'%)", err)
  end)

  describe("bad input is refused before anything is sent", function()
    local function nothing_sent() assert.equal(0, #api_requests(m)) end

    it("a recipient without a ${param} value", function()
      local res, err = client:send{ message = M.text("Hi ${name}"),
        recipients = { { recipient = R.sms("+46700000001"), parameters = { name = "A" } },
                       { recipient = R.sms("+46700000002"), parameters = {} } } }
      assert.is_nil(res)
      assert.equal("invalid", err.kind)
      assert.equal("recipients[2].parameters: missing value for ${name}", err.message)
      nothing_sent()
    end)

    it("1001 recipients", function()
      local list = {}
      for i = 1, 1001 do list[i] = { recipient = R.sms(("+4670%07d"):format(i)) } end
      local res, err = client:send{ message = M.text("x"), recipients = list }
      assert.is_nil(res)
      assert.equal("recipients[1001]: a batch holds at most 1000 recipients", err.message)
      nothing_sent()
    end)

    it("an empty batch, _batch_id metadata, send_after beyond 7 days, a bad ttl", function()
      local cases = {
        { { recipients = {} }, "recipients: a batch needs at least 1 recipient" },
        { { message_metadata = { _batch_id = "x" } },
          "message_metadata._batch_id: reserved, the API overwrites it with the batch id (our check" },
        { { send_after = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 8 * 86400) }, "more than 7 days ahead" },
        { { ttl = "10m" }, 'ttl: "10m" is not a duration like "86400s"' },
        { { processing_strategy = "FAST" },
          'processing_strategy: "FAST" is not one of DEFAULT, DISPATCH_ONLY' },
        { { processing_strategy = "DISPATCH_ONLY", recipients = { { recipient = R.contact("01C") } } },
          "recipients[1].recipient.contact_id: processing_strategy DISPATCH_ONLY takes identified_by "
          .. "recipients only" },
      }
      for _, case in ipairs(cases) do
        local o = { message = M.text("x"), recipients = { { recipient = R.sms("+46700000001") } } }
        for k, v in pairs(case[1]) do o[k] = v end
        local res, err = client:send(o)
        assert.is_nil(res)
        assert.equal("invalid", err.kind)
        assert.truthy(err.message:find(case[2], 1, true), err.message)
      end
      nothing_sent()
    end)

    it("misuse raises naming the argument", function()
      assert.has_error(function() client:send("x") end,
        "bad argument #1 to 'send' (expected a batch or a table)")
      assert.has_error(function() client:status(42) end,
        "bad argument #1 to 'status' (batch_id: expected a non-empty string)")
      assert.has_error(function() client:batch{ message = M.text("x"), colour = "red" } end,
        "bad argument #1 to 'batch' (unknown option 'colour')")
      assert.has_error(function() batch.client{ project_id = "p", token = "t", retries = 3 } end,
        "bad argument #1 to 'client' (unknown option 'retries')")
      assert.has_error(function() batch.client("p") end,
        "bad argument #1 to 'client' (expected a table of options, got string)")
      assert.has_error(function() batch.client{ project_id = "p", token = "t", timeout = "5" } end,
        "bad argument #1 to 'client' (opts.timeout: expected a number, got string)")
      assert.has_error(function() client:batch("x") end,
        "bad argument #1 to 'batch' (expected a table of options)")
      assert.has_error(function() client:find(nil, "v") end,
        "bad argument #1 to 'find' (key: expected a non-empty string)")
      assert.has_error(function() client:find("k", 1) end,
        "bad argument #2 to 'find' (value: expected a string)")
      assert.has_error(function() client:cancel(42) end,
        "bad argument #1 to 'cancel' (expected a table)")
      assert.has_error(function() client:create_contacts("c") end,
        "bad argument #1 to 'create_contacts' (expected an array of contacts)")
      assert.has_error(function() client:delete_contacts(nil) end,
        "bad argument #1 to 'delete_contacts' (expected an array of contact ids)")
      assert.has_error(function() client:insert_consents(true) end,
        "bad argument #1 to 'insert_consents' (expected a table)")
      for _, op in ipairs{ "cancel", "create_contacts", "delete_contacts", "insert_consents" } do
        assert.has_error(function() client[op](client, { body = { not_raw = true } }) end,
          "bad argument #1 to '" .. op .. "' (body: expected a raw JSON string)")
      end
      -- the error points at the caller's line, not inside the library
      local ok, msg = pcall(function() client:cancel{ body = 1 } end)
      assert.is_false(ok)
      assert.matches("^spec/integration/client_spec%.lua:%d+: bad argument", msg)
      assert.has_error(function() client.status({}, "01X") end,
        "bad self to 'status' (expected a sinch.batch client; use client:status(...))")
      local closed = assert(batch.client{ project_id = "p", base_url = m.url, token = "t" })
      closed:close()
      closed:close()
      for _, op in ipairs{ "send", "status", "find", "cancel", "create_contacts", "delete_contacts",
                           "insert_consents", "batch" } do
        assert.has_error(function() closed[op](closed, {}) end, "attempt to use a closed client")
      end
      nothing_sent()
    end)
  end)

  describe("server errors come back as nil, err", function()
    it("with kind, status, api_status and the server's message", function()
      local res, err = client:status("01NOSUCHBATCHXXXXXXXXXXXXX")
      assert.is_nil(res)
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      assert.equal("NOT_FOUND", err.api_status)
      assert.is_string(err.message)
      assert.matches("01NOSUCHBATCHXXXXXXXXXXXXX", err.message)
    end)

    it("for validation the sandbox does server-side", function()
      local res, err = client:create_contacts{ body = '{"contacts":[]}' }
      assert.is_nil(res)
      assert.equal("http", err.kind)
      assert.equal(400, err.status)
      assert.equal("INVALID_ARGUMENT", err.api_status)
      assert.matches("contacts", err.message)
    end)

    it("wrong credentials: kind auth, and no secret in the error", function()
      local bad = assert(batch.client{ project_id = m.project_id, app_id = APP, base_url = m.url,
        auth_url = m.url, key_id = m.key_id, key_secret = "wrong-secret-value" })
      local res, err = bad:status("01X")
      bad:close()
      assert.is_nil(res)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.is_nil(tostring(err):find("wrong-secret-value", 1, true))
    end)

    it("no secret or token in tostring(client) or in any field of an error", function()
      local secret, token = "Sx-91-distinctive-key-secret", "Tk-37-distinctive-static-token"
      local function clean(v)
        for _, s in ipairs{ secret, token } do
          assert.is_nil(tostring(v):find(s, 1, true), tostring(v))
        end
      end
      local with_key = assert(batch.client{ project_id = m.project_id, region = "eu",
        base_url = m.url, auth_url = m.url, key_id = m.key_id, key_secret = secret })
      local with_token = assert(batch.client{ project_id = m.project_id, base_url = m.url, token = token })
      assert.equal("sinch.batch.Client (eu, project " .. m.project_id .. ")", tostring(with_key))
      clean(tostring(with_key))
      clean(tostring(with_token))
      local _, e1 = with_key:status("01X")   -- key refused by the token endpoint
      local _, e2 = with_token:status("01X") -- token refused by the API
      with_key:close()
      with_token:close()
      assert.equal("auth", e1.kind)
      assert.equal("auth", e2.kind)
      assert.equal(401, e2.status)
      for _, e in ipairs{ e1, e2 } do
        clean(tostring(e))
        for _, v in pairs(e) do clean(v) end
      end
    end)

    it("retries a 429 and a 503, then succeeds", function()
      m:fault{ kind = "status", status = 429, retry_after = "0", times = 1 }
      m:fault{ kind = "status", status = 503, times = 1 }
      local res, err = client:find("campaign", "x")
      assert.is_nil(err)
      assert.is_table(res)
      assert.equal(3, #api_requests(m))
    end)

    it("never resends a batch that may have been accepted", function()
      m:fault{ kind = "accept_then_error", status = 500, method = "POST",
               path = "/v1/projects/" .. m.project_id .. "/messages" }
      local res, err = client:send{ message = M.text("once"), batch_metadata = { campaign = "once" },
        recipients = { { recipient = R.sms("+46700000040") } } }
      assert.is_nil(res)
      assert.is_true(err.may_have_been_processed)
      assert.is_false(err.retryable)
      assert.equal(1, #api_requests(m))
      assert.equal(1, m:stats().batches_accepted)
      -- the way out: look it up by its tag
      local found = assert(client:find("campaign", "once"))
      assert.equal(1, #found)
    end)

    it("refreshes an expired token once and retries", function()
      local m2 = mock.start{ args = { "--token-ttl", "120" } }
      local c2 = assert(batch.client{ project_id = m2.project_id, base_url = m2.url, auth_url = m2.url,
        key_id = m2.key_id, key_secret = m2.key_secret, refresh_ahead = 0 })
      assert(c2:find("k", "v"))
      m2:advance(121) -- the sandbox's clock moves; the client still holds the old token
      local res, err = c2:find("k", "v")
      c2:close()
      local stats = m2:stats()
      local reqs = m2:requests()
      m2:stop()
      assert.is_nil(err)
      assert.is_table(res)
      assert.equal(2, stats.tokens_issued)
      local api = {}
      for _, r in ipairs(reqs) do if r.path ~= "/oauth2/token" then api[#api + 1] = r end end
      assert.equal(3, #api)
      assert.equal(1, api[2].token_index)
      assert.equal(2, api[3].token_index)
    end)
  end)
end)

-- Issue 10 section 3, client side: what the docs do not state is not refused,
-- the client and the sandbox agree, and nothing is silently lost.
describe("client rules against the sandbox", function()
  local m, client

  setup(function() m = mock.start() end)
  teardown(function()
    if client then client:close() end
    if m then m:stop() end
  end)
  before_each(function()
    m:reset()
    if client then client:close() end
    client = m:client{ app_id = APP, backoff_base = 0.01, seed = 7 }
  end)

  it("sends phone numbers with or without +, and the reference's own \"+0987654321\" form", function()
    local res, err = client:send{ message = M.text("Hi"), recipients = {
      { recipient = R.sms("46700000001") },
      support.sms("48123456789"),
      { recipient = R.sms("+46700000002") },
    } }
    assert.is_nil(err)
    assert.is_string(res.batch_id)
    local body = cjson.decode(last_api_request(m).body)
    local ids = body.recipient_and_params[2].recipient.identified_by.channel_identities
    assert.equal("48123456789", ids[1].identity)
    -- one such number used to refuse the whole send
    res, err = client:send{ message = M.text("Hi"), recipients = {
      { recipient = R.sms("+0987654321") }, support.sms("0701234567"),
      { recipient = R.whatsapp("+0987654321") } } }
    assert.is_nil(err)
    assert.is_string(res.batch_id)
    local _, bad = client:send{ message = M.text("Hi"), recipients = { support.sms("070 1234567") } }
    assert.equal("invalid", bad.kind)
    assert.matches("recipients%[1%]%.recipient.*070 1234567.*not a phone number", bad.message)
    -- our stricter E.164 shape only when asked for
    _, bad = client:send{ message = M.text("Hi"), strict_phone = true,
                          recipients = { { recipient = R.sms("+0987654321") } } }
    assert.equal("invalid", bad.kind)
    assert.matches("not in E.164 shape", bad.message)
  end)

  it("sends app-scoped identities without an app_id (the batch's applies)", function()
    local res, err = client:send{ message = M.text("Hi"), recipients = {
      { recipient = { identified_by = { channel_identities = {
        { channel = "MESSENGER", identity = "psid-1" } } } } },
    } }
    assert.is_nil(err)
    assert.is_string(res.batch_id)
    local body = cjson.decode(last_api_request(m).body)
    assert.same({ { channel = "MESSENGER", identity = "psid-1" } },
      body.recipient_and_params[1].recipient.identified_by.channel_identities)
  end)

  it("does not limit the number of consent records (the docs give no maximum)", function()
    local records = {}
    for i = 1, 1001 do records[i] = { identification = string.format("+4670%07d", i) } end
    local before = #api_requests(m)
    client:insert_consents{ records = records } -- whatever the sandbox answers
    assert.equal(before + 1, #api_requests(m))
    local body = cjson.decode(last_api_request(m).body)
    assert.equal(1001, #body.consent_records)
  end)

  it("sends a body taken from a builder in place, freed only after the send", function()
    local core = batch.core
    local b = assert(core.builder(APP, cjson.encode(M.text("Hi ${name}"))))
    for i = 1, 3 do b:add(R.sms("+4670000000" .. i), { name = "N" .. i }) end
    local expected = assert(b:body())
    local body = assert(b:take())
    local multi = assert(require("sinch.batch.curl").multi(client.core))
    local call = assert(client.core:start("send", body))
    multi:add(call, "job")
    body:free() -- the call still reads it: freed when the call ends
    assert.equal(#expected, body:len())
    local key, status, resp
    for _ = 1, 200 do
      multi:poll(50)
      key, status, resp = multi:done()
      if key then break end
    end
    assert.equal("job", key)
    assert.equal(200, status, tostring(resp))
    assert.equal(expected, last_api_request(m).body)
    call:close()
    multi:close()
    assert.equal(0, body:len()) -- the deferred free happened with the call
    local ok, err = pcall(client.core.start, client.core, "send", body)
    assert.is_false(ok)
    assert.matches("the Body was freed", err)
  end)

  it("takes ttl in the reference's \"<int>s\" form, bounded to 3..315576000000 s (our bound, "
     .. "the single-send API's; raw through fields)", function()
    for _, ttl in ipairs{ 3, "3s", 315576000000, "315576000000s", "0086400s" } do
      local res, err = client:send{ message = M.text("Hi"), ttl = ttl,
        recipients = { { recipient = R.sms("+46700000001") } } }
      assert.is_nil(err, tostring(ttl))
      assert.is_string(res.batch_id)
      assert.equal(type(ttl) == "number" and string.format("%.0fs", ttl) or ttl,
        cjson.decode(last_api_request(m).body).ttl)
    end
    local before = #api_requests(m)
    for _, ttl in ipairs{ 2, "2s", 1, 315576000001, "315576000001s", "0s" } do
      local res, err = client:send{ message = M.text("Hi"), ttl = ttl,
        recipients = { { recipient = R.sms("+46700000001") } } }
      assert.is_nil(res)
      assert.equal("invalid", err.kind)
      assert.matches("^ttl: .* outside 3 to 315576000000 seconds %(our bound", err.message)
    end
    for _, ttl in ipairs{ 2.5, "60", "1.5s", 0 / 0, math.huge } do
      local res, err = client:send{ message = M.text("Hi"), ttl = ttl,
        recipients = { { recipient = R.sms("+46700000001") } } }
      assert.is_nil(res)
      assert.matches("^ttl: .* is not a duration like \"86400s\"", err.message)
    end
    assert.equal(before, #api_requests(m)) -- nothing sent
    -- the raw value passes through, and the sandbox (like the reference) takes it
    local res, err = client:send{ message = M.text("Hi"), fields = { ttl = "2s" },
      recipients = { { recipient = R.sms("+46700000001") } } }
    assert.is_nil(err)
    assert.is_string(res.batch_id)
  end)

  it("passes unknown fields and raw messages through to the API as they are", function()
    local msg = M.raw{ future_message = { text = "Hi ${name}" } }
    client:send{ message = msg, fields = { future_field = { a = 1 } }, check = false,
      recipients = { { recipient = R.sms("+46700000001"), parameters = { name = "Ann" } } } }
    local body = cjson.decode(last_api_request(m).body)
    assert.same({ a = 1 }, body.future_field)
    assert.same({ future_message = { text = "Hi ${name}" } }, body.message)
  end)

  it("requires a region (or base_url), naming the accepted values", function()
    local ok, err = pcall(batch.client, { project_id = "p", key_id = "k", key_secret = "s" })
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'client' %(opts%.region: required, one of "
      .. '"us", "eu", "br"', err)
    assert.matches("base_url", err)
    local c = assert(batch.client{ project_id = "p", key_id = "k", key_secret = "s", region = "br" })
    c:close()
    -- the same rule in the C core (its own error, not Lua's)
    local core = require "sinch.batch.core"
    local none, cerr = core.client{ project_id = "p", key_id = "k", key_secret = "s" }
    assert.is_nil(none)
    assert.matches("^region: required, one of us, eu, br", cerr.message)
  end)

  it("keeps the key secret out of an error whose non-JSON answer echoes it JSON-escaped", function()
    local secret = 's3"cr&t\\x/y'
    local c = assert(batch.client{ project_id = m.project_id, base_url = m.url, key_id = "k",
                                   key_secret = secret, max_attempts = 1 })
    -- escaped as encoders do, mixed: \" and \\ and \u0026, the slash as it is or escaped
    m:fault{ path = "/oauth2/token", kind = "status", status = 400,
             body = '<html>bad request: {"k": "s3\\"cr\\u0026t\\\\x/y", '
               .. '"again": "s3\\"cr&t\\\\x\\/y"}</html>' }
    local res, err = c:status("01NOSUCHBATCHXXXXXXXXXXXXX")
    c:close()
    assert.is_nil(res)
    assert.is_nil(err.message:find("s3", 1, true), err.message)
    assert.is_nil(err.message:find("u0026", 1, true), err.message)
    assert.is_nil(err.message:find("&t", 1, true), err.message)
    assert.matches("[redacted]", err.message, 1, true)
  end)

  it("sends the key secret only where it was pointed: base_url without auth_url fetches the "
     .. "token from base_url, never from auth.sinch.com", function()
    local c = assert(batch.client{ project_id = m.project_id, base_url = m.url,
                                   key_id = m.key_id, key_secret = m.key_secret })
    local res, err = c:status("01NOSUCHBATCHXXXXXXXXXXXXX")
    c:close()
    assert.is_nil(res)
    assert.equal(404, err.status) -- authenticated by the sandbox: the token came from it
    local token_requests = 0
    for _, r in ipairs(m:requests()) do
      if r.path == "/oauth2/token" then token_requests = token_requests + 1 end
    end
    assert.equal(1, token_requests)
  end)

  describe("cancel with confirm", function()
    local function schedule(campaign)
      local when = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
      return assert(client:send{ message = M.text("later"), send_after = when,
        batch_metadata = { campaign = campaign }, recipients = { { recipient = R.sms("+46700000010") } } })
    end

    it("reports the batches it cancelled and those it did not, by id", function()
      local a = schedule("x1")
      local now = assert(client:send{ message = M.text("now"),
        recipients = { { recipient = R.sms("+46700000011") } } })
      local res, err = client:cancel{ batch_ids = { a.batch_id, now.batch_id }, confirm = true }
      assert.is_nil(err)
      assert.same({ a.batch_id }, res.cancelled)
      assert.equal(1, #res.not_cancelled)
      assert.equal(now.batch_id, res.not_cancelled[1].batch_id)
      assert.not_equal("CANCELLED", res.not_cancelled[1].status)
    end)

    it("looks batches up by metadata after a cancel by metadata", function()
      local a, b = schedule("x2"), schedule("x2")
      local res = assert(client:cancel{ metadata = { campaign = "x2" }, confirm = true })
      table.sort(res.cancelled)
      local want = { a.batch_id, b.batch_id }
      table.sort(want)
      assert.same(want, res.cancelled)
      assert.same({}, res.not_cancelled)
    end)

    it("polls until the asynchronous cancel has happened, not one lookup at once", function()
      local a = schedule("x4")
      local res = assert(client:cancel{ batch_id = a.batch_id, confirm = { interval = 0.1 } })
      assert.same({ a.batch_id }, res.cancelled)
      assert.same({}, res.pending)
      assert.same({}, res.not_cancelled)
      -- (one lookup at once would have seen SCHEDULED: the sandbox cancels 1 s later)
    end)

    it("reports a cancel still SCHEDULED at its deadline as pending, not as failed", function()
      -- a sandbox whose cancels take 10 minutes of its clock: SCHEDULED however slow this run is
      local slow = mock.start{ args = { "--cancel-delay-ms", "600000" } }
      local sc = slow:client{ app_id = APP }
      local ok, e = pcall(function()
        local when = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
        local a = assert(sc:send{ message = M.text("later"), send_after = when,
          recipients = { { recipient = R.sms("+46700000010") } } })
        local res = assert(sc:cancel{ batch_id = a.batch_id,
                                      confirm = { timeout = 0.2, interval = 0.05 } })
        assert.same({}, res.cancelled)
        assert.same({}, res.not_cancelled)
        assert.same({ { batch_id = a.batch_id, status = "SCHEDULED" } }, res.pending)
        slow:advance(600)
        assert.equal("CANCELLED", assert(sc:status(a.batch_id)).status)
      end)
      sc:close()
      slow:stop()
      assert(ok, e)
      local a = schedule("x5")
      assert.has_error(function() client:cancel{ batch_id = a.batch_id, confirm = { wait = 1 } } end)
      assert.has_error(function() client:cancel{ batch_id = a.batch_id, confirm = 1 } end)
    end)

    it("reports an unknown batch id as not cancelled (not found)", function()
      local res = assert(client:cancel{ batch_id = "01NOSUCHBATCHXXXXXXXXXXXXX", confirm = true })
      assert.same({ { batch_id = "01NOSUCHBATCHXXXXXXXXXXXXX" } }, res.not_cancelled)
    end)

    it("shows a cancel that matched nothing", function()
      local a = schedule("x3")
      local res = assert(client:cancel{ metadata = { campaign = "nope" }, confirm = true })
      assert.same({}, res.cancelled)
      assert.equal("SCHEDULED", assert(client:status(a.batch_id)).status)
      local _, err = pcall(client.cancel, client, { body = "{}", confirm = true })
      assert.matches("confirm: a raw body cannot be confirmed", err)
    end)
  end)
end)
