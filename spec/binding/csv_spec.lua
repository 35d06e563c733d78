-- The C contract of sinch.batch.core's Csv reader: misuse raises, failures
-- return nil, err, close is idempotent, rows go straight into a Builder, and
-- dropped readers release their files.
local core = require "sinch.batch.core"
local batch = require "sinch.batch"
local chunk = require "sinch.batch.chunk"
local cjson = require "cjson"

local FIX = "spec/fixtures/csv/"
local MSG = '{"text_message":{"text":"Hi ${name}, your code is ${code}"}}'

local function sms(identity, params)
  return { recipient = { identified_by = { channel_identities = {
    { channel = "SMS", identity = identity } } } }, parameters = params }
end

local function open_fds()
  local n = 0
  local p = io.popen("ls /proc/" .. "self/fd 2>/dev/null | wc -l")
  if p then
    n = tonumber(p:read("*l")) or 0
    p:close()
  end
  return n
end

describe("core.csv_open", function()
  it("raises naming the option on wrong types", function()
    assert.has_error(function() core.csv_open({}) end)
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", "SMS") end)
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { channel = 1 }) end,
      "bad argument #2 to 'csv_open' (opts.channel: expected a string, got number)")
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { dedupe = 1 }) end,
      "bad argument #2 to 'csv_open' (opts.dedupe: expected a boolean, got number)")
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { params = { "name", 2 } }) end,
      "bad argument #2 to 'csv_open' (opts.params[2]: expected a string, got number)")
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { delimiter = ";;" }) end,
      "bad argument #2 to 'csv_open' (opts.delimiter: expected one character)")
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { channels = "SMS" }) end,
      "bad argument #2 to 'csv_open' (opts.channels: expected a table, got string)")
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { channels = { "SMS" } }) end,
      "bad argument #2 to 'csv_open' (opts.channels: expected NAME = { phone = true, ... } entries)")
    assert.has_error(function()
      core.csv_open(FIX .. "basic.csv", { channels = { SMS = { phone = "yes" } } })
    end, "bad argument #2 to 'csv_open' (opts.channels.SMS.phone: expected a boolean, got string)")
  end)

  it("returns nil, err for a file it cannot use", function()
    local r, err = core.csv_open(FIX .. "empty.csv")
    assert.is_nil(r)
    assert.equal("invalid", err.kind)
    assert.equal("header: the file is empty, the first row must name the columns", err.message)
    r, err = core.csv_open(FIX .. "basic.csv", { channel = "" })
    assert.is_nil(r)
    assert.equal("channel: must not be empty", err.message)
  end)

  it("takes the channel table from Lua: a registered phone channel is checked", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("channel,identity\nNEWPHONE,abc\nNEWPHONE,46700000001\nMESSENGER,abc\nSMS,x\n")
    f:close()
    local r = assert(core.csv_open(path, { channels = {
      NEWPHONE = { phone = true }, MESSENGER = { app_scoped = true } } }))
    local _, rows = r:next_rows(10)
    assert.same({ 3, 4, 5 }, rows) -- SMS is not in this table: unchecked
    assert.same({ 2 }, { r:bad()[1].line })
    r:close()
    -- without the option, core.CHANNELS: SMS is checked, NEWPHONE is not
    r = assert(core.csv_open(path))
    _, rows = r:next_rows(10)
    assert.same({ 2, 3, 4 }, rows)
    assert.same({ 5 }, { r:bad()[1].line })
    r:close()
    os.remove(path)
    assert.has_error(function() core.csv_open(FIX .. "basic.csv", { channels = "SMS" }) end,
      "bad argument #2 to 'csv_open' (opts.channels: expected a table, got string)")
    assert.has_error(function()
      core.csv_open(FIX .. "basic.csv", { channels = { SMS = { phone = "yes" } } })
    end, "bad argument #2 to 'csv_open' (opts.channels.SMS.phone: expected a boolean, got string)")
  end)

  it("returns read errors as nil, err, from the reader and from chunk.csv's iterator",
    function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write("channel,identity,note\nSMS,+46700000001,\"")
      f:write(string.rep("x", 17 * 1024 * 1024))
      f:close()
      local r = assert(core.csv_open(path))
      local rows, err = r:next_rows(10)
      assert.is_nil(rows)
      assert.equal("invalid", err.kind)
      assert.matches("^line 2: a field is longer than 16777216 bytes", err.message)
      r:close()
      local src = assert(chunk.csv(path))
      local c, err2 = src()
      assert.is_nil(c)
      assert.matches("^line 2: a field is longer than", err2.message)
      assert.equal(err2, src.err)
      assert.is_nil(src()) -- and it stays ended
      os.remove(path)
    end)

  it("closes idempotently and refuses use after close", function()
    local r = assert(core.csv_open(FIX .. "basic.csv"))
    assert.matches("^sinch%.batch%.Csv %(", tostring(r))
    r:close()
    r:close()
    assert.equal("sinch.batch.Csv (closed)", tostring(r))
    assert.has_error(function() r:next_rows(10) end, "attempt to use a closed Csv")
  end)

  it("reads rows as tables with their lines, then empty tables at the end", function()
    local r = assert(core.csv_open(FIX .. "basic.csv"))
    assert.same({ "channel", "identity", "name", "code" }, r:columns())
    assert.same({ "name", "code" }, r:params())
    local recipients, rows = r:next_rows(2)
    assert.same({ 2, 3 }, rows)
    assert.same(sms("+46700000001", { name = "Ann", code = "1234" }), recipients[1])
    recipients, rows = r:next_rows(2)
    assert.same({ 4 }, rows)
    assert.equal(1, #recipients)
    recipients, rows = r:next_rows(2)
    assert.same({}, recipients)
    assert.same({}, rows)
    assert.has_error(function() r:next_rows(1001) end)
    r:close()
  end)

  it("lists bad rows from a given position", function()
    local r = assert(core.csv_open(FIX .. "nasty.csv"))
    r:next_rows(1000)
    assert.equal(3, #r:bad())
    assert.same({ { line = 9, reason = 'identity: not a phone number (an optional "+", then '
      .. 'digits) for channel SMS' } }, r:bad(3))
    assert.same({}, r:bad(4))
    r:close()
  end)

  it("fills a builder with the exact request body and the rows' lines", function()
    local b = assert(core.builder("01APP", MSG))
    local r = assert(core.csv_open(FIX .. "basic.csv"))
    local n, rows = r:fill(b, 2)
    assert.equal(2, n)
    assert.same({ 2, 3 }, rows)
    assert.same({
      app_id = "01APP",
      message = { text_message = { text = "Hi ${name}, your code is ${code}" } },
      recipient_and_params = { sms("+46700000001", { name = "Ann", code = "1234" }),
                               sms("+46700000002", { name = "Bo", code = "5678" }) },
    }, cjson.decode((assert(b:body()))))
    b:reset()
    n, rows = r:fill(b, 2)
    assert.equal(1, n)
    assert.same({ 4 }, rows)
    b:reset()
    n, rows = r:fill(b, 2)
    assert.equal(0, n)
    assert.same({}, rows)
    assert.has_error(function() r:fill("not a builder", 2) end)
    assert.has_error(function() r:fill(b, 0) end)
    r:close()
    b:close()
  end)

  it("returns nil, err when the builder is full, naming the line", function()
    local b = assert(core.builder("01APP", MSG, 1))
    local r = assert(core.csv_open(FIX .. "basic.csv"))
    local n, err = r:fill(b, 5)
    assert.is_nil(n)
    assert.equal("invalid", err.kind)
    assert.equal("line 3: recipients[2]: a batch holds at most 1 recipients", err.message)
    r:close()
  end)

  it("releases the file of a reader dropped without close", function()
    collectgarbage()
    collectgarbage()
    local before = open_fds()
    for _ = 1, 200 do core.csv_open(FIX .. "basic.csv") end
    collectgarbage()
    collectgarbage()
    assert.is_true(open_fds() <= before + 1)
  end)
end)

describe("chunk.csv with a builder (rows straight into the body)", function()
  local client = assert(batch.client{ project_id = "p1", app_id = "01APP", token = "t",
                                      base_url = "http://127.0.0.1:9" })

  it("fills a client batch per chunk and remembers the lines", function()
    local b = assert(client:batch{ message = batch.message.text("Hi ${name}, code ${code}"),
                                   batch_metadata = { campaign = "spring" } })
    local src = assert(chunk.csv(FIX .. "basic.csv", { builder = b, size = 2 }))
    local c1 = src()
    assert.same({ rows = { 2, 3 }, count = 2 }, c1)
    local body = cjson.decode((assert(b:body())))
    assert.same({ campaign = "spring" }, body.batch_metadata)
    assert.same(sms("+46700000002", { name = "Bo", code = "5678" }), body.recipient_and_params[2])
    local c2 = src()
    assert.same({ rows = { 4 }, count = 1 }, c2)
    body = cjson.decode((assert(b:body())))
    assert.equal(1, #body.recipient_and_params)
    assert.equal("WHATSAPP", body.recipient_and_params[1].recipient.identified_by
      .channel_identities[1].channel)
    assert.is_nil(src())
    assert.is_nil(src())
  end)

  it("refuses a file whose columns do not cover the message's ${params}", function()
    local b = assert(client:batch{ message = batch.message.text("Hi ${name}, code ${code}") })
    local src, err = chunk.csv(FIX .. "nasty.csv", { builder = b })
    assert.is_nil(src)
    assert.equal("invalid", err.kind)
    assert.equal("params: the message uses ${code} but no CSV column gives it (defaults do "
      .. "not apply to rows filled from a file)", err.message)
  end)

  it("reports bad rows beside the filled chunks", function()
    local b = assert(core.builder("01APP", MSG))
    local src = assert(chunk.csv(FIX .. "nasty.csv", { builder = b }))
    local c = src()
    assert.same({ rows = { 2, 3, 10, 12 }, count = 4 }, c)
    assert.equal(4, #cjson.decode((assert(b:body()))).recipient_and_params)
    assert.is_nil(src())
    assert.same({ 7, 8, 9 }, { src.bad[1].line, src.bad[2].line, src.bad[3].line })
  end)
end)
