-- The receipts store (sinch.batch.outcomes on sinch.batch.sqlite): receipts
-- counted once, outcomes that only move forward, rows joined through the
-- batches of the journal, any number of writers on one file.
local outcomes = require "sinch.batch.outcomes"
local webhook = require "sinch.batch.webhook"
local cjson = require "cjson"

local function receipt(batch_id, index, status, code, message_id)
  local body = {
    app_id = "app", project_id = "p",
    event_time = string.format("2026-11-29T10:00:%02dZ", index % 60),
    message_delivery_report = {
      message_id = message_id or (batch_id .. "-" .. index), status = status,
      reason = code and { code = code, description = code .. " text" } or nil,
    },
    message_metadata = cjson.encode({ batchId = batch_id, messageIndex = index }),
  }
  return assert(webhook.parse(cjson.encode(body)))
end

local tmp
local function fresh()
  tmp = os.tmpname()
  os.remove(tmp)
  return assert(outcomes.open(tmp))
end
local function cleanup()
  for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(tmp .. sfx) end
end

describe("outcomes store", function()
  after_each(cleanup)

  it("counts a retried callback once", function()
    local s = fresh()
    assert.is_true(s:add(receipt("B1", 0, "DELIVERED")))
    assert.is_false(s:add(receipt("B1", 0, "DELIVERED")))
    assert.equal(1, s:add_many({ receipt("B1", 0, "DELIVERED"), receipt("B1", 1, "DELIVERED") }))
    assert(s:add_batch{ batch_id = "B1", campaign = "c", chunk = 1, rows = { 2, 3, 4 } })
    local r = assert(s:report("c"))
    assert.equal(3, r.recipients)
    assert.equal(2, r.delivered)
    assert.equal(2, r.receipts)
    assert.equal(1, r.pending)
    s:close()
  end)

  it("moves an outcome forward only, whatever the order", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "B", campaign = "c", rows = { 10, 11, 12 } })
    s:add(receipt("B", 0, "DELIVERED"))
    s:add(receipt("B", 0, "QUEUED_ON_CHANNEL"))          -- late and out of order
    s:add(receipt("B", 1, "FAILED", "RECIPIENT_NOT_REACHABLE"))
    s:add(receipt("B", 2, "FAILED", "CHANNEL_FAILURE"))
    s:add(receipt("B", 2, "DELIVERED"))                  -- a fallback channel made it
    local r = assert(s:report("c"))
    assert.equal(2, r.delivered)
    assert.equal(1, r.failed)
    assert.same({ RECIPIENT_NOT_REACHABLE = 1 }, r.failed_by_reason)
    local f = assert(s:failed("c"))
    assert.equal(1, #f)
    assert.equal(11, f[1].row)
    assert.equal("RECIPIENT_NOT_REACHABLE", f[1].reason)
    s:close()
  end)

  it("joins a receipt that overtook its batch when the batch is recorded", function()
    local s = fresh()
    s:add(receipt("EARLY", 1, "FAILED", "BAD_REQUEST"))
    local r = assert(s:report())
    assert.equal(1, r.unmatched_receipts)
    assert(s:add_batch{ batch_id = "EARLY", campaign = "late", chunk = 7, rows = { 5, 6 } })
    r = assert(s:report("late"))
    assert.equal(0, r.unmatched_receipts)
    assert.equal(1, r.failed)
    assert.equal(6, assert(s:failed("late"))[1].row)
    s:close()
  end)

  it("ignores events that are not batch delivery receipts", function()
    local s = fresh()
    local ev = assert(webhook.parse('{"message_delivery_report":{"status":"DELIVERED"}}'))
    assert.is_false(s:add(ev))
    local other = assert(webhook.parse('{"contact_create_notification":{"contact":{"id":"x"}}}'))
    assert.is_false(s:add(other))
    assert.equal(0, assert(s:report()).receipts)
    s:close()
  end)

  it("asks core.text_ok (C) whether text needs cleaning: valid UTF-8, no NUL, in each argument", function()
    local ok = require("sinch.batch.core").text_ok
    assert.is_true(ok("plain", "Åsa 😀", "", nil, 42, {}))
    assert.is_true(ok())
    for _, bad in ipairs{ "a\0b", "\255", "\192\128", "\237\160\128", "\244\144\128\128",
                          "\226\130" } do
      assert.is_false(ok(bad), bad)
      assert.is_false(ok("fine", nil, bad), bad)
      assert.are_not.equal(bad, outcomes.clean_text(bad))
    end
  end)

  it("cleans text PostgreSQL cannot hold: NUL and each bad UTF-8 sequence become U+FFFD", function()
    local F, clean = "\239\191\189", outcomes.clean_text
    for _, case in ipairs{
      { "PM0 é 😀 \239\191\189", "PM0 é 😀 \239\191\189" },      -- valid: unchanged
      { "a\0b", "a" .. F .. "b" }, { "\0", F },
      { "a\255\254b", "a" .. F .. F .. "b" },                   -- two bytes that start nothing
      { "x\226\130y", "x" .. F .. "y" },                        -- a 3-byte sequence cut short: one
      { "x\226\130", "x" .. F },                               -- cut by the end
      { "\192\175", F .. F },                                  -- overlong "/"
      { "\237\160\128", F .. F .. F },                          -- a surrogate
      { "\244\144\128\128", F .. F .. F .. F },                  -- past U+10FFFF
      { "\240\159\152", F }, { "\240\159\152\128", "\240\159\152\128" },
    } do
      assert.equal(case[2], clean(case[1]))
    end
    assert.is_nil(clean(nil))
    assert.equal(5, clean(5))
    -- the key keeps which bytes were bad (stable, and two such ids stay two)
    assert.equal("PM1" .. F .. "00x|S", outcomes.receipt_key{ message_id = "PM1\0x", status = "S" })
    assert.equal("PM1" .. F .. "FFx|S", outcomes.receipt_key{ message_id = "PM1\255x", status = "S" })
    assert.equal("B" .. F .. "E282#3|S", outcomes.receipt_key{ batch_id = "B\226\130", message_index = 3,
      status = "S" })
    -- over 1000 bytes (an index entry's limit is 2704): cut between two characters, then "…" and the
    -- SHA-256 of the whole; the same id, the same key; another, another
    local core = require "sinch.batch.core"
    local long = ("é"):rep(600) .. "x"
    local key = outcomes.receipt_key{ message_id = long, status = "S" }
    assert.equal(("é"):rep(450) .. "…" .. core.digest(long .. "|S"), key)
    assert.equal(key, outcomes.receipt_key{ message_id = long, status = "S" })
    assert.not_equal(key, outcomes.receipt_key{ message_id = long .. "y", status = "S" })
    local k2 = outcomes.receipt_key{ message_id = "a" .. long, status = "S" } -- 900 ends inside an é
    assert.equal("a" .. ("é"):rep(449) .. "…" .. core.digest("a" .. long .. "|S"), k2)
    local short = ("x"):rep(995) .. "|S"
    assert.equal(short, outcomes.receipt_key{ message_id = ("x"):rep(995), status = "S" }) -- 997: whole
    local _, batch_id = outcomes.receipt_row{ batch_id = "B" .. long, message_index = 0, status = "S",
      event_time = "t" }
    assert.equal("B" .. ("é"):rep(449) .. "…" .. core.digest("B" .. long), batch_id)
  end)

  it("stores receipts holding a NUL byte or bad UTF-8 cleaned, with their group, once", function()
    local poison = require "support.poison"
    local F = poison.FFFD
    local s = fresh()
    local evs = poison.events()
    assert.equal(poison.COUNT, s:add_many(evs))
    assert.equal(0, s:add_many(evs))
    for _, ev in ipairs(evs) do assert.is_false(s:add(ev)) end
    poison.add_batch(s)
    local r = assert(s:report(poison.CAMPAIGN))
    assert.same({ 4, 3, 3, 8, 2 }, { r.delivered, r.failed, r.pending, r.receipts, r.unmatched_receipts })
    assert.same({ ["BAD" .. F .. "CODE"] = 1, [F .. F] = 1, RECIPIENT_NOT_REACHABLE = 1 }, r.failed_by_reason)
    assert.equal("2026-11-29T10:00:0" .. F .. "3Z", r.last_receipt)
    assert.equal(poison.COUNT, #poison.rows(s))
    s:close()
  end)

  -- every row of the receipts and outcomes tables, in key order
  local function tables(s)
    local out = {}
    for _, t in ipairs{ "SELECT key, batch_id, msg_index, message_id, status, reason, description, "
                        .. "event_time FROM receipts ORDER BY key",
                        "SELECT * FROM outcomes ORDER BY batch_id, msg_index" } do
      local st = assert(s.db:prepare(t))
      out[#out + 1] = assert(st:rows())
      st:close()
    end
    return out
  end

  it("writes a group with add_many as one receipt at a time with add", function()
    local events = {
      receipt("G", 0, "DELIVERED"), receipt("G", 0, "DELIVERED"),  -- a retry within the group
      receipt("G", 1, "FAILED", "RECIPIENT_NOT_REACHABLE"), receipt("G", 1, "DELIVERED", nil, "G-1b"),
      receipt("G", 2, "DELIVERED", nil, "G-2"), receipt("G", 2, "FAILED", "CHANNEL_FAILURE", "G-2"),
      receipt("G", 3, "QUEUED_ON_CHANNEL"), receipt("G", 3, "FAILED", "X", "G-3"),
      -- the same key again for another recipient: a duplicate, so no outcome for index 6
      receipt("G", 5, "FAILED", "Y", "m"), receipt("G", 6, "FAILED", "Y", "m"),
      assert(webhook.parse('{"message_delivery_report":{"message_id":"big","status":"DELIVERED"},'
        .. '"message_metadata":"{\\"batchId\\":\\"G\\",\\"messageIndex\\":1e300}"}')),
      assert(webhook.parse('{"message_delivery_report":{"status":"FAILED","reason":{"code":"R"}},'
        .. '"message_metadata":"{\\"batchId\\":\\"G\\",\\"messageIndex\\":4}"}')),
      assert(webhook.parse('{"batch_status_update":{"batch_id":"G","batch_status":"DONE"}}')),
    }
    local one = fresh()
    local one_path = tmp
    local new = 0
    for _, ev in ipairs(events) do
      if one:add(ev) then new = new + 1 end
    end
    local many = fresh()
    assert.equal(new, many:add_many(events))
    assert.equal(0, many:add_many(events)) -- again: nothing new, nothing moved
    local a, b = tables(one), tables(many)
    assert.equal(10, #a[1])
    assert.equal(6, #a[2])
    assert.same(a, b)
    one:close()
    many:close()
    for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(one_path .. sfx) end
  end)

  it("reports misuse and a closed store", function()
    assert.has_error(function() outcomes.open("") end)
    assert.has_error(function() outcomes.open("x", { nope = 1 }) end)
    local s = fresh()
    assert.has_error(function() s:add("x") end)
    assert.has_error(function() s:add_batch{ rows = {} } end)
    s:close()
    s:close()
    assert.has_error(function() s:report() end)
    assert.matches("closed", tostring(s))
  end)

  it("returns nil, err for a file it cannot open", function()
    local s, err = outcomes.open("/nonexistent-dir/x/receipts.db")
    assert.is_nil(s)
    assert.equal("internal", err.kind)
    assert.matches("nonexistent", err.message)
  end)

  it("takes writers from several processes on one file", function()
    local s = fresh()
    s:close()
    local lua = arg and arg[-1] or "lua5.4"
    local build = os.getenv("SINCH_BATCH_BUILD") or "build"
    local script = [[
      local outcomes = require "sinch.batch.outcomes"
      local webhook, cjson = require "sinch.batch.webhook", require "cjson"
      local s = assert(outcomes.open(arg[1]))
      local w = arg[2]
      for i = 0, 299 do
        local body = cjson.encode{ message_delivery_report = { message_id = w .. i, status = "DELIVERED" },
          message_metadata = cjson.encode{ batchId = "W" .. w, messageIndex = i } }
        assert(s:add(assert(webhook.parse(body))))
      end
      s:close()
    ]]
    local f = assert(io.open(tmp .. ".lua", "w")); f:write(script); f:close()
    local cmd = {}
    for w = 1, 3 do
      cmd[#cmd + 1] = string.format(
        "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' %s %s %s %d &",
        package.cpath:match("^([^;]+)/%?%.so") or build, lua, tmp .. ".lua", tmp, w)
    end
    cmd[#cmd + 1] = "wait"
    assert(os.execute(table.concat(cmd, " ")))
    os.remove(tmp .. ".lua")
    s = assert(outcomes.open(tmp))
    for w = 1, 3 do assert(s:add_batch{ batch_id = "W" .. w, campaign = "multi", rows = {} }) end
    assert.equal(900, assert(s:report("multi")).receipts)
    s:close()
  end)
  describe("joined with a campaign journal", function()
    local jpath
    local function journal(lines)
      local f = assert(io.open(jpath, "a"))
      for _, l in ipairs(lines) do f:write(cjson.encode(l), "\n") end
      f:close()
    end
    before_each(function()
      jpath = os.tmpname()
      journal{ { event = "header", format = "sinch-batch-log", version = 1, kind = "journal",
                 campaign = "cJ", path = "list.csv" },
               { event = "intent", chunk = 1, rows = { 2, 4 } },
               { event = "accepted", chunk = 1, batch_id = "J1" },
               { event = "bad_row", row = 3, reason = "bad number" },
               { event = "intent", chunk = 2, rows = { 5, 6 } } }
    end)
    after_each(function() os.remove(jpath) end)

    it("imports the campaign and its accepted batches, again only when the journal grew", function()
      local s = fresh()
      s:add(receipt("J2", 1, "FAILED", "CHANNEL_FAILURE")) -- overtook its batch's answer
      local imp = assert(s:import_journal(jpath))
      assert.same({ campaign = "cJ", batches = 1, unchanged = false }, imp)
      assert.same({ campaign = "cJ", batches = 0, unchanged = true }, assert(s:import_journal(jpath)))
      local r = assert(s:report("cJ"))
      assert.equal(5, r.rows) -- 4 in chunks, 1 bad
      assert.equal(1, r.batches)
      assert.equal(2, r.recipients)
      assert.equal(1, r.chunks_not_accepted)
      assert.is_false(r.sending_done)
      assert.equal("list.csv", r.source)
      assert.equal(jpath, r.journal)
      journal{ { event = "accepted", chunk = 2, batch_id = "J2" }, { event = "end", summary = {} } }
      imp = assert(s:import_journal(jpath))
      assert.equal(1, imp.batches) -- J1 is not written again
      r = assert(s:report("cJ"))
      assert.equal(2, r.batches)
      assert.equal(4, r.recipients)
      assert.equal(1, r.failed)
      assert.is_true(r.sending_done)
      assert.equal(6, assert(s:failed("cJ"))[1].row)
      assert.same({ "cJ" }, assert(s:campaigns()))
      s:close()
    end)

    it("outcomes.report{ journal, store } takes a store path or an open store", function()
      local s = fresh()
      s:add(receipt("J1", 0, "DELIVERED"))
      s:close()
      local r = assert(outcomes.report{ journal = jpath, store = tmp })
      assert.equal("cJ", r.campaign)
      assert.equal(1, r.delivered)
      assert.equal(1, r.pending)
      s = assert(outcomes.open(tmp))
      assert.equal(1, assert(outcomes.report{ journal = jpath, store = s }).delivered)
      s:close()
      assert.has_error(function() outcomes.report{ store = tmp } end)
      assert.has_error(function() outcomes.report{ journal = jpath, store = 42 } end)
    end)

    it("refuses a file that is not a journal, naming it", function()
      local s = fresh()
      local other = os.tmpname()
      local f = assert(io.open(other, "w")); f:write("phone,name\n"); f:close()
      local ok, err = s:import_journal(other)
      assert.is_nil(ok)
      assert.matches("is not a sinch%-batch log", err.message)
      assert.matches(other, err.message, 1, true)
      os.remove(other)
      ok, err = s:import_journal(other)
      assert.is_nil(ok)
      assert.matches("cannot read", err.message)
      s:close()
    end)
  end)

  it("writes failed rows as CSV: the source's bytes, a quoted multi-line field, the reason last", function()
    local cli_report = require "sinch.batch.cli.report"
    local src, out = os.tmpname(), os.tmpname()
    os.remove(out) -- the CSV is never written over a file
    local f = assert(io.open(src, "w"))
    f:write('phone,name,note\r\n+46700000001,Ann,"two\nlines"\r\n+46700000002,Bob,x\r\n'
      .. '+46700000003,Cy,"a ""q"""\r\n')
    f:close()
    local n = assert(cli_report.write_failed_csv(out, src, {
      { row = 5, reason = "RECIPIENT_NOT_REACHABLE" }, { row = 2, reason = "CHANNEL_FAILURE" } }))
    assert.equal(2, n)
    local text = assert(io.open(out)):read("*a")
    assert.equal('phone,name,note,failure_reason\n+46700000001,Ann,"two\nlines",CHANNEL_FAILURE\n'
      .. '+46700000003,Cy,"a ""q""",RECIPIENT_NOT_REACHABLE\n', text)
    -- a follow-up of a follow-up: the old reason column is replaced, not repeated
    local out2 = os.tmpname()
    assert.matches("exists already", select(2, cli_report.write_failed_csv(out2, out, {})))
    assert.equal(1, assert(cli_report.write_failed_csv(out2, out, { { row = 4, reason = "X_Y" } }, true)))
    assert.equal('phone,name,note,failure_reason\n+46700000003,Cy,"a ""q""",X_Y\n',
      assert(io.open(out2)):read("*a"))
    local ok, err = cli_report.write_failed_csv(out2, src, { { row = 9, reason = "X" } })
    assert.is_nil(ok)
    assert.matches("has no row 9", err)
    for _, p in ipairs{ src, out, out2 } do os.remove(p) end
  end)
end)
