-- sinch-batch-mock: POST /_mock/faults, one kind at a time, over raw HTTP.
local mock = require "support.mock"
local cjson = require "cjson.safe"
local socket = require "socket"

local SEND = "/v1/projects/demo-project/messages"

local function batch(tag)
  return { app_id = "01APP", message = { text_message = { text = "Hi" } },
           batch_metadata = { campaign = tag },
           recipient_and_params = { { recipient = { identified_by = { channel_identities = {
             { channel = "SMS", identity = "+46700000001" } } } } } } }
end

describe("sinch-batch-mock faults", function()
  local m

  setup(function() m = mock.start{} end)
  teardown(function() if m then m:stop() end end)
  before_each(function()
    m:reset()
    m.cached_token = m:token() -- before any fault is queued
  end)

  it("answers a queued 429 with Retry-After instead of handling the request", function()
    assert.same({ queued = 1 }, m:fault{ method = "POST", path = SEND, kind = "status",
                                          status = 429, retry_after = "1" })
    local status, raw, headers, res = m:api("POST", "/messages", batch("r"))
    assert.equal(429, status, raw)
    assert.equal("1", headers["retry-after"])
    assert.same({ code = 429, status = "RESOURCE_EXHAUSTED", message = "injected fault: HTTP 429",
                  details = {} }, res.error)
    assert.equal(0, m:stats().batches_accepted)
    -- consumed: the next request is handled
    assert.equal(200, (m:api("POST", "/messages", batch("r"))))
    assert.equal(1, m:stats().batches_accepted)
  end)

  it("answers 429 without Retry-After, 500 and 503, in FIFO order, `times` times", function()
    m:fault{ faults = { { kind = "status", status = 429 },
                        { kind = "status", status = 500, times = 2 },
                        { kind = "status", status = 503 } } }
    local seen = {}
    local retry_after
    for i = 1, 5 do
      local status, _, headers = m:api("POST", "/messages", batch("f"))
      seen[i] = status
      if i == 1 then retry_after = headers["retry-after"] end
    end
    assert.same({ 429, 500, 500, 503, 200 }, seen)
    assert.is_nil(retry_after)
    assert.equal(1, m:stats().batches_accepted)
  end)

  it("uses a given body and headers", function()
    m:fault{ kind = "status", status = 502, body = "<html>bad gateway</html>",
             headers = { ["X-Gateway"] = "edge" } }
    local status, raw, headers = m:api("GET", "/messages/X")
    assert.equal(502, status)
    assert.equal("<html>bad gateway</html>", raw)
    assert.equal("edge", headers["x-gateway"])
  end)

  it("matches method and path prefix, and leaves others alone", function()
    m:fault{ method = "GET", path = "/v1/projects/demo-project/messages/", kind = "status",
             status = 503 }
    assert.equal(200, (m:api("POST", "/messages", batch("m"))))
    assert.equal(503, (m:api("GET", "/messages/ANY")))
    assert.equal(404, (m:api("GET", "/messages/ANY")))
  end)

  it("leaves the token endpoint alone unless the path names it", function()
    m:fault{ kind = "status", status = 500 }
    assert.is_string(m:token())
    assert.equal(500, (m:api("GET", "/messages/X")))
    m:fault{ path = "/oauth2/token", kind = "status", status = 429, retry_after = "2" }
    local status, _, headers = m:post("/oauth2/token", "grant_type=client_credentials",
      { Authorization = m:basic(), ["Content-Type"] = "application/x-www-form-urlencoded" })
    assert.equal(429, status)
    assert.equal("2", headers["retry-after"])
  end)

  it("drops the connection without an answer", function()
    m:fault{ kind = "drop" }
    local status, err = m:api("POST", "/messages", batch("d"))
    assert.is_nil(status)
    assert.equal("closed", err)
    assert.equal(0, m:stats().batches_accepted)
    -- the request was seen all the same
    local reqs = m:requests()
    assert.equal(SEND, reqs[#reqs].path)
  end)

  it("accepts the batch, then answers 500 (the ambiguous case)", function()
    m:fault{ kind = "accept_then_error" }
    local status, _, _, res = m:api("POST", "/messages", batch("amb"))
    assert.equal(500, status)
    assert.equal("INTERNAL", res.error.status)
    local st = m:stats()
    assert.equal(1, st.batches_accepted)
    assert.same({ batches = 1, recipients = 1 }, st.by_metadata["campaign=amb"])
    -- the batch can be found by its metadata
    local _, _, _, found = m:api("GET", "/messages?metadataKey=campaign&metadataValue=amb")
    assert.equal(1, #found)
    assert.equal("PROCESSED", found[1].status)
  end)

  it("accepts then answers another status when told", function()
    m:fault{ kind = "accept_then_error", status = 504 }
    assert.equal(504, (m:api("POST", "/messages", batch("amb2"))))
    assert.equal(1, m:stats().batches_accepted)
  end)

  it("delays one request without holding up another", function()
    m:fault{ kind = "delay", delay_ms = 2000, path = "/v1/projects/demo-project/messages/SLOW" }
    -- start the slow request, then make a fast one while it waits
    local slow = socket.tcp()
    slow:settimeout(10)
    assert(slow:connect("127.0.0.1", m.port))
    assert(slow:send("GET " .. m:path("/messages/SLOW") .. " HTTP/1.1\r\nHost: x\r\n"
                     .. "Authorization: Bearer " .. m.cached_token .. "\r\n\r\n"))
    -- the fast request is answered while the slow one still has no answer
    assert.equal(404, (m:api("GET", "/messages/FAST")))
    slow:settimeout(0)
    local early = slow:receive(1)
    assert.is_nil(early)
    slow:settimeout(10)
    local status = mock.read_response(slow)
    slow:close()
    assert.equal(404, status) -- then handled normally
  end)

  it("refuses a fault it does not understand", function()
    local status, raw = m:post("/_mock/faults", cjson.encode({ kind = "explode" }))
    assert.equal(400, status)
    assert.equal("faults[0].kind: must be one of status, delay, drop, accept_then_error",
                 cjson.decode(raw).error.message)
    status, raw = m:post("/_mock/faults", cjson.encode({ kind = "status" }))
    assert.equal(400, status)
    assert.equal("faults[0].status: is required for kind status", cjson.decode(raw).error.message)
  end)

  it("forgets queued faults on reset", function()
    m:fault{ kind = "status", status = 500, times = 10 }
    m:reset()
    assert.equal(404, (m:api("GET", "/messages/X")))
  end)
end)
