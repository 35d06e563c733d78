-- sinch.batch.campaign against the sandbox: every source kind, batches in
-- flight, the metadata that names each chunk, the pause on Retry-After,
-- ambiguous sends resolved by lookup, interruption and resume exactly once,
-- and (under nginx) light threads on cosockets.
local cjson = require "cjson.safe"
local mock = require "support.mock"
local batch = require "sinch.batch"
local journal = require "sinch.batch.journal"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"

local function people(n, from)
  local list = {}
  for i = 1, n do
    list[i] = { recipient = batch.recipient.sms(("+4670%07d"):format((from or 0) + i)),
                parameters = { name = "n" .. i } }
  end
  return list
end

local function tmp()
  local p = os.tmpname()
  os.remove(p)
  return p
end

-- After a 429 with Retry-After 2 on the first send of a 10-batch campaign at
-- 10 sends/s: between the refused send and its retry go only those already in
-- flight or started before the 429 came back; without the pause all 9 others
-- go out well within the 2 seconds the server asked for.
local function assert_paused(m)
  local sends = {}
  for _, r in ipairs(m:requests()) do
    if r.method == "POST" and r.path == m:path("/messages") then
      sends[#sends + 1] = cjson.decode(r.body).batch_metadata.sinch_campaign
    end
  end
  local retry_at
  for i = 2, #sends do
    if sends[i] == sends[1] then retry_at = i break end
  end
  assert.is_true(retry_at ~= nil and retry_at - 2 <= 5, "sent during the pause: " .. tostring(retry_at))
  assert.equal(11, #sends)
end

-- every chunk of the campaign accepted exactly once; returns batches, recipients
local function exactly_once(m, id)
  local st, batches, recipients = m:stats(), 0, 0
  for key, e in pairs(st.by_metadata) do
    if key:find("^sinch_campaign=" .. id .. ":") then
      assert.equal(1, e.batches, key)
      batches, recipients = batches + 1, recipients + e.recipients
    end
  end
  return batches, recipients
end

describe("sinch.batch.campaign", function()
  local m, client
  local msg = batch.message.text("Hi ${name}")

  setup(function()
    m = mock.start()
    client = assert(batch.client{ project_id = m.project_id, app_id = APP, base_url = m.url,
      auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret, timeout = 1,
      backoff_base = 0.01 })
  end)
  teardown(function()
    client:close()
    m:stop()
  end)
  before_each(function() m:reset() end)

  it("a list: batches of 1000 in flight, each named <campaign>:<chunk> in batch_metadata", function()
    local seen = {}
    local rep = assert(client:campaign{ message = msg, source = people(2500), concurrency = 3,
      tag = "wave=spring", on_batch = function(b) seen[#seen + 1] = b end })
    assert.equal("curl-multi", rep.driver)
    assert.same({ 3, 2500, 2500, true }, { rep.batches, rep.recipients, rep.rows, rep.complete })
    assert.equal(3, #seen)
    assert.same({ 3, 2500 }, { exactly_once(m, rep.campaign) })
    local found = assert(client:find("sinch_campaign", rep.campaign .. ":3"))
    assert.equal(1, #found)
    assert.equal(500, m:stats().by_metadata["sinch_campaign=" .. rep.campaign .. ":3"].recipients)
    assert.equal(3, m:stats().by_metadata["wave=spring"].batches)
    for _, b in ipairs(seen) do
      if b.chunk == 3 then
        assert.equal(found[1].batch_id, b.batch_id)
        assert.same({ 2001, 2500 }, { b.first_row, b.last_row })
      end
    end
  end)

  it("an iterator with bad rows, duplicates (dedupe) and defaults", function()
    local i, bad = 0, {}
    local rep = assert(client:campaign{ message = batch.message.text("Hi ${name} ${zip}"),
      defaults = { zip = "000" }, dedupe = true,
      on_bad_row = function(row, reason) bad[#bad + 1] = { row, reason } end,
      source = function()
        i = i + 1
        if i > 1200 then return nil end
        if i == 5 then
          return { recipient = batch.recipient.sms("+46700000001"), parameters = { name = "again" } }
        end
        if i == 7 then return { recipient = { contact_id = 7 } } end
        return { recipient = batch.recipient.sms(("+4670%07d"):format(i)), parameters = { name = "x" } }
      end })
    assert.same({ 2, 1198, 1200 }, { rep.batches, rep.recipients, rep.rows + #rep.skipped })
    assert.equal(2, #bad)
    assert.same({ 5, "duplicate of row 1" }, bad[1])
    assert.equal(7, bad[2][1])
    assert.is_false(rep.complete == nil)
    local body = cjson.decode(m:requests()[2].body)
    assert.equal("000", body.recipient_and_params[1].parameters.zip)
  end)

  it("a CSV: rows from the file into the body in C; the journal maps receipts back to lines", function()
    local csv, jpath = tmp(), tmp()
    local f = assert(io.open(csv, "w"))
    f:write("phone,name\n")
    for i = 1, 2100 do f:write(("+4670%07d,n%d\n"):format(i, i)) end
    f:write("1-2,short\n")
    f:close()
    local rep = assert(client:campaign{ message = msg, source = csv, csv = { channel = "SMS" },
                                         journal = jpath })
    assert.same({ 3, 2100, 1 }, { rep.batches, rep.recipients, #rep.skipped })
    assert.equal(2102, rep.skipped[1].row) -- header on line 1, rows on 2..2101
    local st = assert(journal.read(jpath))
    assert.equal(rep.campaign, st.header.campaign)
    local ledger = require("sinch.batch.ledger").open(jpath)
    for id, c in pairs(st.batches) do
      local hit = ledger:lookup(id, 0)
      assert.equal((c.chunk - 1) * 1000 + 2, hit.row) -- line 1 is the header
      assert.equal(rep.campaign, hit.tag)
    end
    ledger:close()
    -- the same journal with another message is refused: a resume cannot mix campaigns
    local c2, err = batch.campaign{ client = client, message = batch.message.text("other ${name}"),
                                    source = csv, csv = { channel = "SMS" }, journal = jpath }
    assert.is_nil(c2)
    assert.matches("made from another message", err.message)
    os.remove(csv)
    os.remove(jpath)
  end)

  it("a 429 with Retry-After pauses the whole campaign, not one request", function()
    m:fault{ kind = "status", status = 429, retry_after = 2, method = "POST", path = m:path("/messages") }
    local rep = assert(client:campaign{ message = msg, source = people(10000), concurrency = 4,
                                         rate = 10 })
    assert.same({ 10, true }, { rep.batches, rep.complete })
    assert_paused(m)
  end)

  it("ambiguous sends (accept-then-error, dropped, timed out) are looked up, resent only if absent",
     function()
    local p = m:path("/messages")
    m:fault{ faults = {
      { kind = "accept_then_error", method = "POST", path = p },
      { kind = "drop", method = "POST", path = p },
      { kind = "delay", delay_ms = 1500, method = "POST", path = p } } }
    -- the delayed send times out after 1 s and the sandbox records it at 1.5 s;
    -- the lookup waits settle = 3 s, so a loaded machine still finds it (a
    -- lookup made before the server has recorded a batch is the one case a
    -- settle too short for the server resends: docs/lua.md, `settle`)
    local rep = assert(client:campaign{ message = msg, source = people(5000), concurrency = 1,
                                         settle = 3 })
    assert.same({ 5, 5000, true, 0 }, { rep.batches, rep.recipients, rep.complete, rep.unresolved })
    local how = {}
    for _, a in ipairs(rep.ambiguous) do how[a.chunk] = a.resolution end
    assert.same({ "found", "resent", "found" }, { how[1], how[2], how[3] })
    assert.same({ 5, 5000 }, { exactly_once(m, rep.campaign) })
  end)

  it("stopped half-way, then resumed with the journal: every row accepted exactly once", function()
    local jpath, list, n = tmp(), people(6000), 0
    local rep = assert(client:campaign{ message = msg, source = list, journal = jpath,
      concurrency = 1, stop = function() return n >= 2 end,
      on_batch = function() n = n + 1 end })
    assert.is_true(rep.interrupted)
    assert.is_false(rep.complete)
    assert.equal(2, rep.batches)
    local rep2 = assert(client:campaign{ message = msg, source = list, journal = jpath, concurrency = 3 })
    assert.equal(rep.campaign, rep2.campaign)
    assert.same({ 2, 6, 6000, true }, { rep2.already, rep2.batches, rep2.recipients, rep2.complete })
    assert.same({ 6, 6000 }, { exactly_once(m, rep.campaign) })
    assert.equal(6, m:stats().batches_accepted)
    os.remove(jpath)
  end)

  it("bad options are refused before anything is sent", function()
    assert.has_error(function() client:campaign{ message = msg, source = {}, concurency = 2 } end,
      "bad argument #1 to 'campaign' (unknown option 'concurency')")
    assert.has_error(function() client:campaign{ message = msg, source = 42 } end)
    assert.has_error(function() client:campaign{ message = msg, source = {}, concurrency = 0 } end)
    assert.equal(0, #m:requests())
  end)
end)

describe("sinch.batch.campaign under nginx (cosockets, light threads)", function()
  local nginx = require "support.nginx"
  local m, n
  setup(function()
    m = mock.start()
    n = nginx.start{ main = "thread_pool default threads=2;", server = ([[
      set $mock_url "%s";
      location = /campaign { content_by_lua_block { require("campaign_ngx").run() } }
    ]]):format(m.url) }
  end)
  teardown(function()
    if n then n:stop() end
    if m then m:stop() end
  end)

  it("sends every batch through ngx.thread and never blocks the worker", function()
    local status, body = n:request("GET", "/campaign?n=2500&c=3")
    assert.equal(200, status, body)
    local res = cjson.decode(body)
    assert.is_nil(res.err)
    assert.equal("ngx.thread", res.report.driver)
    assert.same({ 3, 2500, true }, { res.report.batches, res.report.recipients, res.report.complete })
    assert.is_true(res.ticks > 0) -- a timer ran while the campaign waited on the network
    assert.same({ 3, 2500 }, { exactly_once(m, res.report.campaign) })
  end)

  it("syncs its journal in a worker thread, never in the worker", function()
    m:reset()
    local jpath = tmp()
    local status, body = n:request("GET", "/campaign?n=2500&c=3&journal=" .. jpath)
    assert.equal(200, status, body)
    local res = cjson.decode(body)
    assert.is_nil(res.err)
    assert.same({ 3, true }, { res.report.batches, res.report.complete })
    -- group commit: the header and the 3 intents (the chunks about to start)
    -- in one sync, the 3 answers with the end in another (or one more when
    -- they waited 200 ms for it); each sync made by the pool
    assert.is_true(res.syncs.thread_syncs >= 2 and res.syncs.thread_syncs <= 3,
      "thread syncs: " .. tostring(res.syncs.thread_syncs))
    assert.equal(0, res.syncs.worker_syncs)
    local st = assert(journal.read(jpath))
    for k = 1, 3 do assert.equal("accepted", st.chunks[k].status) end
    os.remove(jpath)
  end)

  it("a 429 with Retry-After pauses the whole campaign here too", function()
    m:reset()
    m:fault{ kind = "status", status = 429, retry_after = 2, method = "POST", path = m:path("/messages") }
    local status, body = n:request("GET", "/campaign?n=10000&c=4&rate=10")
    assert.equal(200, status, body)
    local res = cjson.decode(body)
    assert.is_nil(res.err)
    assert.same({ 10, true }, { res.report.batches, res.report.complete })
    assert_paused(m)
  end)
end)
