-- sinch-batch-mock: send, status, find and cancel, over raw HTTP.
local mock = require "support.mock"
local cjson = require "cjson.safe"

local function sms(n) return { identified_by = { channel_identities = {
  { channel = "SMS", identity = string.format("+4670%07d", n) } } } }
end

local function batch_body(n, extra)
  local list = {}
  for i = 1, n do
    list[i] = { recipient = sms(i), parameters = { name = "R" .. i } }
  end
  local body = { app_id = "01APP", message = { text_message = { text = "Hi ${name}" } },
                 recipient_and_params = list }
  for k, v in pairs(extra or {}) do body[k] = v end
  return body
end

-- "2025-10-01T08:00:00Z" -> seconds since the epoch (UTC)
local function epoch(s)
  local y, mo, d, h, mi, sec = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  local t = { year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h),
              min = tonumber(mi), sec = tonumber(sec), isdst = false }
  local here = os.time(t)
  local utc = os.date("!*t", here)
  utc.isdst = false
  return here + (here - os.time(utc))
end

local TOO_FAR = "send_after: must be at most 7 days ahead (after rounding up to the next 5 minutes)"

local function iso(secs) return os.date("!%Y-%m-%dT%H:%M:%SZ", secs) end

describe("sinch-batch-mock messages", function()
  local m

  -- cancels take a minute of the sandbox's clock here: still SCHEDULED until
  -- m:advance moves it on, however slow this run is
  setup(function() m = mock.start{ args = { "--max-batches", "50", "--cancel-delay-ms", "60000" } } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  -- the mock's clock, read from POST /_mock/advance {"seconds":0}
  local function mock_now() return epoch(m:advance(0).now) end

  it("accepts a batch with a 26-character ULID-like id and processes it", function()
    local status, body, _, res = m:api("POST", "/messages", batch_body(3, {
      batch_metadata = { campaign = "spring" } }))
    assert.equal(200, status, body)
    assert.matches("^[0-9A-HJKMNP-TV-Z]+$", res.batch_id)
    assert.equal(26, #res.batch_id)
    assert.is_nil(res.send_after)

    local _, _, _, st = m:api("GET", "/messages/" .. res.batch_id)
    assert.same({ batch_id = res.batch_id, meta_data = { campaign = "spring" },
                  status = "PROCESSED" }, st)
  end)

  it("gives each batch its own id", function()
    local _, _, _, a = m:api("POST", "/messages", batch_body(1))
    local _, _, _, b = m:api("POST", "/messages", batch_body(1))
    assert.not_equal(a.batch_id, b.batch_id)
  end)

  it("answers 404 NOT_FOUND for an unknown batch id", function()
    local status, _, _, e = m:api("GET", "/messages/01NOSUCHBATCHXXXXXXXXXXXXX")
    assert.equal(404, status)
    assert.equal("NOT_FOUND", e.error.status)
    assert.equal("batch_id: no batch '01NOSUCHBATCHXXXXXXXXXXXXX' in project 'demo-project' "
                 .. "(GET /v1/projects/demo-project/messages/01NOSUCHBATCHXXXXXXXXXXXXX; is the "
                 .. "region or base_url right?)", e.error.message)
  end)

  it("finds batches by metadata as a bare array", function()
    local _, _, _, a = m:api("POST", "/messages", batch_body(2, { batch_metadata = { c = "x" } }))
    local _, _, _, b = m:api("POST", "/messages", batch_body(2, { batch_metadata = { c = "x", d = "1" } }))
    m:api("POST", "/messages", batch_body(2, { batch_metadata = { c = "y" } }))
    local status, body = m:api("GET", "/messages?metadataKey=c&metadataValue=x")
    assert.equal(200, status)
    assert.matches("^%[", body)
    local list = cjson.decode(body)
    assert.equal(2, #list)
    assert.equal(a.batch_id, list[1].batch_id)
    assert.equal(b.batch_id, list[2].batch_id)
    assert.same({ c = "x", d = "1" }, list[2].meta_data)
    local _, none = m:api("GET", "/messages?metadataKey=c&metadataValue=zzz")
    assert.equal("[]", none)
  end)

  it("requires both metadataKey and metadataValue to find", function()
    local status, _, _, e = m:api("GET", "/messages?metadataValue=x")
    assert.equal(400, status)
    assert.equal("metadataKey: is required", e.error.message)
    status, _, _, e = m:api("GET", "/messages?metadataKey=c")
    assert.equal(400, status)
    assert.equal("metadataValue: is required", e.error.message)
  end)

  it("keeps a batch READY for --process-delay-ms, then PROCESSED", function()
    local slow = mock.start{ args = { "--process-delay-ms", "60000" } }
    local _, _, _, res = slow:api("POST", "/messages", batch_body(1))
    local _, _, _, st = slow:api("GET", "/messages/" .. res.batch_id)
    assert.equal("READY", st.status)
    slow:advance(61)
    _, _, _, st = slow:api("GET", "/messages/" .. res.batch_id)
    assert.equal("PROCESSED", st.status)
    slow:stop()
  end)

  it("schedules with send_after rounded up to the next 5 minutes", function()
    local now = mock_now()
    local want = now + 3600 + 7 -- an hour ahead, off the 5-minute grid
    local status, body, _, res = m:api("POST", "/messages", batch_body(1, { send_after = iso(want) }))
    assert.equal(200, status, body)
    local eff = epoch(res.send_after)
    assert.equal(0, eff % 300)
    assert.is_true(eff >= want and eff < want + 300)
    local _, _, _, st = m:api("GET", "/messages/" .. res.batch_id)
    assert.equal("SCHEDULED", st.status)
    assert.equal(res.send_after, st.send_after)
    m:advance(eff - now + 1)
    _, _, _, st = m:api("GET", "/messages/" .. res.batch_id)
    assert.equal("PROCESSED", st.status)
  end)

  it("keeps send_after as given when it is at most a minute ahead", function()
    local now = mock_now()
    local want = now + 30
    local _, _, _, res = m:api("POST", "/messages", batch_body(1, { send_after = iso(want) }))
    assert.equal(iso(want), res.send_after)
  end)

  it("refuses send_after more than 7 days ahead", function()
    local now = mock_now()
    local status, _, _, e = m:api("POST", "/messages",
                                  batch_body(1, { send_after = iso(now + 8 * 86400) }))
    assert.equal(400, status)
    assert.equal(TOO_FAR, e.error.message)
  end)

  it("takes send_after up to 7 days ahead after rounding up to 5 minutes, and not a minute more",
     function()
    local now = mock_now()
    local status, body = m:api("POST", "/messages",
                               batch_body(1, { send_after = iso(now + 7 * 86400 - 600) }))
    assert.equal(200, status, body)
    local _, _, _, e = m:api("POST", "/messages", batch_body(1, { send_after = iso(now + 7 * 86400 + 60) }))
    assert.equal(TOO_FAR, e.error.message)
    -- within 7 days as given, past it once rounded up to the next 5-minute mark
    -- (t = now + 7 days - 1 s, unless a 5-minute mark falls within 3 s of it:
    -- then move the sandbox's clock on and take its time again)
    local t = now + 7 * 86400 - 1
    while (t + 299) - (t + 299) % 300 <= now + 7 * 86400 + 2 do
      now = epoch(m:advance(5).now)
      t = now + 7 * 86400 - 1
    end
    _, _, _, e = m:api("POST", "/messages", batch_body(1, { send_after = iso(t) }))
    assert.equal(TOO_FAR, e.error.message)
  end)

  it("cancels a scheduled batch by id, by ids and by metadata (both forms)", function()
    local later = iso(mock_now() + 3600)
    local ids = {}
    for i = 1, 5 do
      local _, _, _, res = m:api("POST", "/messages", batch_body(1, {
        send_after = later, batch_metadata = { wave = i <= 3 and "a" or "b", n = tostring(i) } }))
      ids[i] = res.batch_id
    end
    local function status_of(i)
      local _, _, _, st = m:api("GET", "/messages/" .. ids[i])
      return st.status
    end
    -- the API cancels asynchronously: SCHEDULED until --cancel-delay-ms of
    -- the sandbox's clock has passed
    local s, body = m:api("DELETE", "/messages", { batch_id = ids[1] })
    assert.equal(200, s)
    assert.equal("{}", body)
    assert.equal("SCHEDULED", status_of(1))
    m:advance(60)
    assert.equal("CANCELLED", status_of(1))
    assert.equal("SCHEDULED", status_of(2))
    assert.equal(200, (m:api("DELETE", "/messages", { batch_ids = { ids[2] } })))
    m:advance(60)
    assert.equal("CANCELLED", status_of(2))
    assert.equal(200, (m:api("DELETE", "/messages", { metadata_key = "n", metadata_value = "3" })))
    m:advance(60)
    assert.equal("CANCELLED", status_of(3))
    assert.equal("SCHEDULED", status_of(4))
    assert.equal(200, (m:api("DELETE", "/messages", { batch_metadata = { wave = "b" } })))
    m:advance(60)
    assert.equal("CANCELLED", status_of(4))
    assert.equal("CANCELLED", status_of(5))
    -- a cancelled batch never becomes PROCESSED
    m:advance(7200)
    assert.equal("CANCELLED", status_of(1))
  end)

  it("takes the cancel delay from --cancel-delay-ms: 0 cancels at once; a cancel that takes "
     .. "effect after send_after cancels nothing, yet was answered 200", function()
    local m0 = mock.start{ args = { "--cancel-delay-ms", "0" } }
    local m2 = mock.start{ args = { "--cancel-delay-ms", "120000" } }
    local ok, err = pcall(function()
      local _, _, _, res = m0:api("POST", "/messages", batch_body(1, {
        send_after = iso(os.time() + 3600) }))
      assert.equal(200, (m0:api("DELETE", "/messages", { batch_id = res.batch_id })))
      local _, _, _, st = m0:api("GET", "/messages/" .. res.batch_id)
      assert.equal("CANCELLED", st.status)
      -- within a minute: kept as given; the cancel would take effect 2 minutes later
      _, _, _, res = m2:api("POST", "/messages", batch_body(1, { send_after = iso(os.time() + 30) }))
      assert.equal(200, (m2:api("DELETE", "/messages", { batch_id = res.batch_id })))
      _, _, _, st = m2:api("GET", "/messages/" .. res.batch_id)
      assert.equal("SCHEDULED", st.status)
      m2:advance(200)
      _, _, _, st = m2:api("GET", "/messages/" .. res.batch_id)
      assert.equal("PROCESSED", st.status)
    end)
    m0:stop()
    m2:stop()
    assert(ok, err)
  end)

  it("does not cancel a batch that was sent at once, yet answers 200", function()
    local _, _, _, res = m:api("POST", "/messages", batch_body(1))
    assert.equal(200, (m:api("DELETE", "/messages", { batch_id = res.batch_id })))
    local _, _, _, st = m:api("GET", "/messages/" .. res.batch_id)
    assert.equal("PROCESSED", st.status)
  end)

  it("refuses a cancel body with no or two selectors", function()
    local status, _, _, e = m:api("DELETE", "/messages", { })
    assert.equal(400, status)
    assert.equal("body: give exactly one of batch_id, batch_ids, metadata_key with "
                 .. "metadata_value, or batch_metadata", e.error.message)
    status, _, _, e = m:api("DELETE", "/messages", { metadata_key = "k" })
    assert.equal(400, status)
    assert.equal("metadata_value: is required", e.error.message)
  end)

  it("counts accepted batches and recipients per batch_metadata value", function()
    m:api("POST", "/messages", batch_body(3, { batch_metadata = { campaign = "a" } }))
    m:api("POST", "/messages", batch_body(4, { batch_metadata = { campaign = "a" } }))
    m:api("POST", "/messages", batch_body(5, { batch_metadata = { campaign = "b" } }))
    m:api("POST", "/messages", { app_id = "x" }) -- refused: not counted
    local st = m:stats()
    assert.equal(3, st.batches_accepted)
    assert.equal(12, st.recipients_accepted)
    assert.same({ batches = 2, recipients = 7 }, st.by_metadata["campaign=a"])
    assert.same({ batches = 1, recipients = 5 }, st.by_metadata["campaign=b"])
  end)

  it("keeps at most --max-batches batches, dropping the oldest", function()
    local first
    for i = 1, 51 do
      local _, _, _, res = m:api("POST", "/messages", batch_body(1))
      if i == 1 then first = res.batch_id end
    end
    assert.equal(50, m:stats().batches_stored)
    assert.equal(404, (m:api("GET", "/messages/" .. first)))
  end)

  it("clears batches, counters and requests on reset", function()
    local _, _, _, res = m:api("POST", "/messages", batch_body(1))
    m:reset()
    local st = m:stats()
    assert.equal(0, st.batches_accepted)
    assert.same({}, st.by_metadata)
    assert.equal(404, (m:api("GET", "/messages/" .. res.batch_id)))
    assert.equal(1, #m:requests()) -- only the GET just made
  end)

  it("answers 405 for a method a route does not take", function()
    local status, _, headers, e = m:api("PUT", "/messages", "{}")
    assert.equal(405, status)
    assert.equal("GET, POST, DELETE", headers["allow"])
    assert.equal("PUT is not allowed on /messages (allowed: GET, POST, DELETE)", e.error.message)
  end)
end)
