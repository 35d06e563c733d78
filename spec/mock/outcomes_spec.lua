-- sinch-batch-mock: realistic delivery outcomes (POST /_mock/outcomes,
-- --outcomes), the API's failure for empty parameter values, the ${param}
-- grammar, and the range of POST /_mock/advance.  Callbacks are taken by a
-- LuaSocket server in this spec.
local mock = require "support.mock"
local cjson = require "cjson.safe"
local socket = require "socket"

local function sms(n, params)
  return { recipient = { identified_by = { channel_identities = {
             { channel = "SMS", identity = string.format("+467%08d", n) } } } },
           parameters = params }
end

local function batch(n, params)
  local list = {}
  for i = 1, n do list[i] = sms(i, params) end
  return { app_id = "01APP", message = { text_message = { text = "Hi ${name}" } },
           recipient_and_params = list }
end

-- Accept one callback on srv, answer 200, return its decoded body.
local function take(srv) return assert(mock.take_callback(srv).json) end

-- The n delivery reports of one batch (its status update is skipped).
local function reports(srv, n)
  local out = {}
  while #out < n do
    local ev = take(srv)
    if ev.message_delivery_report then
      local r = ev.message_delivery_report
      r.index = cjson.decode(ev.message_metadata).messageIndex
      out[#out + 1] = r
    end
  end
  return out
end

describe("sinch-batch-mock outcomes", function()
  local m, srv

  setup(function()
    local url
    srv, url = mock.callback_server()
    m = mock.start{ args = { "--webhook", url } }
  end)
  teardown(function()
    if m then m:stop() end
    if srv then srv:close() end
  end)
  before_each(function() m:reset() end)

  local function outcomes(cfg)
    local status, raw = m:post("/_mock/outcomes", cjson.encode(cfg))
    return status, cjson.decode(raw)
  end

  local function send(b)
    local status, raw, _, res = m:api("POST", "/messages", b)
    assert.equal(200, status, raw)
    return res.batch_id
  end

  -- wait (bounded) until the sandbox has counted what it sent
  local function stats_when(pred) return m:stats_when(pred) end

  it("fails a recipient whose parameter value is empty, with the API's text", function()
    local id = send({ app_id = "01APP", message = { text_message = { text = "Hi ${name}" } },
                      recipient_and_params = {
                        sms(1, { name = "Ann" }),
                        sms(2, { name = "" }),               -- used, empty
                        sms(3, { name = "Cy", unused = "" }), -- not used, still empty
                        sms(4, { name = "Di", [""] = "x" }),  -- blank key
                      } })
    local got = reports(srv, 4)
    table.sort(got, function(a, b) return a.index < b.index end)
    assert.equal("DELIVERED", got[1].status)
    for i = 2, 4 do
      assert.equal("FAILED", got[i].status)
      assert.equal("BAD_REQUEST", got[i].reason.code)
      assert.equal("Validation failed after parameters substitution for batch [" .. id
                   .. "] and message at index [" .. (i - 1) .. "]. Details: [Parameter key "
                   .. "cannot be blank and value cannot be empty]", got[i].reason.description)
    end
    local st = stats_when(function(s) return s.outcomes.receipts_sent == 4 end)
    assert.same({ BAD_REQUEST = 3 }, st.outcomes.failed_by_code)
  end)

  it("knows a parameter by the one ${name} grammar, however long or odd the name", function()
    local long = string.rep("x", 300)
    send({ app_id = "01APP", message = { text_message = { text = "${" .. long .. "} ${first name}" } },
           recipient_and_params = { sms(1, { ["first name"] = "Ann" }),
                                    sms(2, { ["first name"] = "Bo", [long] = "v" }) } })
    local got = reports(srv, 2)
    table.sort(got, function(a, b) return a.index < b.index end)
    assert.equal("FAILED", got[1].status)
    assert.matches("Details: %[parameter 'x+' has no value%]", got[1].reason.description)
    assert.equal("DELIVERED", got[2].status)
  end)

  it("fails a share of recipients by rate, with the configured reason code, exactly counted", function()
    local status, cfg = outcomes({ fail_rate = 0.3, fail_code = "RECIPIENT_NOT_REACHABLE", seed = 7 })
    assert.equal(200, status)
    assert.equal(0.3, cfg.fail_rate)
    send(batch(200, { name = "n" }))
    local got = reports(srv, 200)
    local failed = 0
    for _, r in ipairs(got) do
      if r.status == "FAILED" then
        failed = failed + 1
        assert.equal("RECIPIENT_NOT_REACHABLE", r.reason.code)
      end
    end
    assert.is_true(failed > 20 and failed < 100, tostring(failed))
    local st = stats_when(function(s) return s.outcomes.receipts_sent == 200 end).outcomes
    assert.equal(200 - failed, st.delivered)
    assert.equal(failed, st.failed)
    assert.same({ RECIPIENT_NOT_REACHABLE = failed }, st.failed_by_code)
    assert.equal(0, st.duplicates_sent)
  end)

  it("fails given numbers (with or without +), each with its own code", function()
    assert.equal(200, (outcomes({ fail_numbers = { ["+46700000002"] = "CHANNEL_FAILURE",
                                                   ["46700000004"] = "MESSAGE_EXPIRED" } })))
    send(batch(5, { name = "n" }))
    local got = reports(srv, 5)
    local by = {}
    for _, r in ipairs(got) do by[r.index] = r end
    assert.equal("DELIVERED", by[0].status)
    assert.equal("CHANNEL_FAILURE", by[1].reason.code)
    assert.equal("DELIVERED", by[2].status)
    assert.equal("MESSAGE_EXPIRED", by[3].reason.code)
    assert.equal("DELIVERED", by[4].status)
    assert.equal(200, (outcomes({ fail_numbers = { "+46700000001" } })))
    send(batch(2, { name = "n" }))
    got = reports(srv, 2)
    table.sort(got, function(a, b) return a.index < b.index end)
    assert.equal("RECIPIENT_NOT_REACHABLE", got[1].reason.code) -- the default fail_code
    assert.equal("DELIVERED", got[2].status)
  end)

  it("sends some receipts twice (the same receipt, as a retry) and counts them", function()
    assert.equal(200, (outcomes({ duplicate_rate = 0.25, seed = 3 })))
    send(batch(100, { name = "n" }))
    local st = stats_when(function(s) return s.outcomes.delivered == 100 end).outcomes
    local dups = st.duplicates_sent
    assert.is_true(dups > 5 and dups < 60, tostring(dups))
    assert.equal(100 + dups, st.receipts_sent)
    local got = reports(srv, 100 + dups)
    local seen, twice = {}, 0
    for _, r in ipairs(got) do
      if seen[r.message_id] then
        twice = twice + 1
        assert.same(seen[r.message_id], r)
      end
      seen[r.message_id] = r
    end
    assert.equal(dups, twice)
  end)

  it("delivers receipts out of order when shuffling, the same order for the same seed", function()
    local function run()
      m:reset()
      assert.equal(200, (outcomes({ shuffle = true, fail_rate = 0.2, duplicate_rate = 0.1,
                                    seed = 42 })))
      send(batch(60, { name = "n" }))
      local st = stats_when(function(s) return s.outcomes.delivered + s.outcomes.failed == 60 end)
      local got = reports(srv, st.outcomes.receipts_sent)
      local seq = {}
      for i, r in ipairs(got) do seq[i] = r.index .. ":" .. r.status end
      return seq, got
    end
    local a, got = run()
    local inversions = 0
    for i = 2, #got do
      if got[i].index < got[i - 1].index then inversions = inversions + 1 end
    end
    assert.is_true(inversions > 5, tostring(inversions))
    local b = run()
    assert.same(a, b)
  end)

  it("sends the receipts before the send's answer when early", function()
    assert.equal(200, (outcomes({ early = true })))
    local token = m:token()
    local body = cjson.encode(batch(5, { name = "n" }))
    local c = assert(socket.connect(m.host, m.port))
    c:send(table.concat({ "POST " .. m:path("/messages") .. " HTTP/1.1",
                          "Host: 127.0.0.1", "Connection: close",
                          "Authorization: Bearer " .. token,
                          "Content-Type: application/json",
                          "Content-Length: " .. #body, "", body }, "\r\n"))
    -- events in the order they reach this process: "cb" per callback, "answer"
    local order, callbacks = {}, 0
    while callbacks < 6 do
      local ready = socket.select({ srv, c }, nil, 10)
      assert.is_true(#ready > 0, "nothing happened")
      for _, s in ipairs(ready) do
        if s == srv then
          take(srv)
          callbacks = callbacks + 1
          order[#order + 1] = "cb"
        elseif order[#order] ~= "answer" then
          order[#order + 1] = "answer"
        end
      end
      if order[#order] == "answer" and callbacks < 6 then break end
    end
    c:settimeout(10)
    local status, raw = mock.read_response(c)
    c:close()
    assert.equal(200, status, raw)
    assert.same({ "cb", "cb", "cb", "cb", "cb", "cb" }, order)
  end)

  it("takes its configuration from --outcomes and returns to it on reset", function()
    local hook, url = mock.callback_server()
    local m2 = mock.start{ args = { "--webhook", url,
                                    "--outcomes", '{"fail_rate":1,"fail_code":"CHANNEL_FAILURE"}' } }
    local ok, err = pcall(function()
      m2:post("/_mock/outcomes", "{}")
      m2:reset()
      local _, raw = m2:get("/_mock/outcomes")
      local cfg = cjson.decode(raw)
      assert.equal(1, cfg.fail_rate)
      assert.equal("CHANNEL_FAILURE", cfg.fail_code)
      m2:api("POST", "/messages", batch(2, { name = "n" }))
      for _, r in ipairs(reports(hook, 2)) do assert.equal("CHANNEL_FAILURE", r.reason.code) end
    end)
    m2:stop()
    hook:close()
    assert(ok, err)
  end)

  it("refuses a bad configuration, naming the field and the rule", function()
    local cases = {
      { { fail_rate = 2 }, "fail_rate: must be a number from 0 to 1" },
      { { duplicate_rate = -0.1 }, "duplicate_rate: must be a number from 0 to 1" },
      { { fail_code = "not a code" }, "^fail_code: must be a reason code" },
      { { fail_numbers = { 5 } }, "fail_numbers[0]: must be a phone number string" },
      { { shuffle = "yes" }, "shuffle: must be true or false" },
      { { seed = -1 }, "seed: must be a whole number >= 0" },
      { { colour = 1 }, "^colour: unknown field" },
    }
    for _, c in ipairs(cases) do
      local status, res = outcomes(c[1])
      assert.equal(400, status)
      if c[2]:sub(1, 1) == "^" then
        assert.matches(c[2], res.error.message)
      else
        assert.equal(c[2], res.error.message)
      end
    end
  end)

  it("refuses an advance out of range (no undefined cast), naming the rule", function()
    local own = mock.start{} -- its clock ends 1000 years ahead: a sandbox of its own
    finally(function() own:stop() end)
    local rule = "seconds: must be a number from 0 to 3153600000 (100 years)"
    for _, body in ipairs({ '{"seconds":1e308}', '{"seconds":-1}', '{"seconds":"1"}',
                            '{"seconds":3153600001}', '{"seconds":-1e308}', '{}' }) do
      local status, raw = own:post("/_mock/advance", body)
      assert.equal(400, status, body)
      assert.equal(rule, cjson.decode(raw).error.message)
    end
    for _ = 1, 10 do assert.equal(200, (own:post("/_mock/advance", '{"seconds":3153600000}'))) end
    local status, raw = own:post("/_mock/advance", '{"seconds":3153600000}')
    assert.equal(400, status)
    assert.equal("seconds: the sandbox clock runs at most 1000 years ahead",
                 cjson.decode(raw).error.message)
  end)
end)
