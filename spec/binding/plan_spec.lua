-- The builder's plan (b:plan{}): the per-recipient rules applied in C while
-- each entry is written, the same through add, add_row and add_columns.
local core = require "sinch.batch.core"
local cjson = require "cjson"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local MESSAGE = { text_message = { text = "Hi ${name}, your code is ${code}" } }

local function sms(number)
  return { identified_by = { channel_identities = { { channel = "SMS", identity = number } } } }
end

local function new(opts, message)
  local b = assert(core.builder(APP, cjson.encode(message or MESSAGE)))
  if opts then assert.equal(b, b:plan(opts)) end
  return b
end

local function entries(b)
  local body = assert(b:body())
  return cjson.decode(body).recipient_and_params
end

describe("builder plan", function()
  it("reads the message's ${names} once, with the one grammar", function()
    local b = new(nil, { text_message = { text = "${first name} ${code} ${code} ${} ${x" } })
    assert.same({ "first name", "code" }, b:params())
  end)

  it("never sends an empty value, even without a plan", function()
    local b = new()
    assert.equal(1, b:add(sms("+46700000001"), { name = "", code = "1", other = "" }))
    b:columns{ "name", "code" }
    assert.equal(2, b:add_row("SMS", "+46700000002", "Bo", ""))
    assert.same({ { code = "1" }, { name = "Bo" } },
      { entries(b)[1].parameters, entries(b)[2].parameters })
  end)

  describe("check", function()
    it("names the row and the parameter that is missing or empty", function()
      local b = new{ check = true }
      local n, err = b:add(sms("+46700000001"), { name = "Ann" })
      assert.is_nil(n)
      assert.equal("invalid", err.kind)
      assert.equal("recipients[1].parameters: missing value for ${code}", err.message)
      err = select(2, b:add(sms("+46700000001"), { name = "Ann", code = "" }))
      assert.equal("recipients[1].parameters.code: empty; the message uses ${code}", err.message)
      b:columns{ "name", "code" }
      err = select(2, b:add_row("SMS", "+46700000001", "", "1"))
      assert.equal("recipients[1].parameters.name: empty; the message uses ${name}", err.message)
      err = select(2, b:add_columns("SMS", { "+46700000001" }, { name = { "Ann" } }))
      assert.equal("recipients[1].parameters: missing value for ${code}", err.message)
      assert.equal(0, b:count())
    end)

    it("fills missing and empty values from the defaults", function()
      local b = new{ check = true, defaults = { code = 42, unknown = "x" } }
      assert.equal(1, b:add(sms("+46700000001"), { name = "Ann" }))
      assert.equal(2, b:add(sms("+46700000002"), { name = "Bo", code = "" }))
      b:columns{ "name" }
      assert.equal(3, b:add_row("SMS", "+46700000003", "Cy"))
      local e = entries(b)
      assert.same({ name = "Ann", code = "42" }, e[1].parameters)
      assert.same({ name = "Bo", code = "42" }, e[2].parameters)
      assert.same({ name = "Cy", code = "42" }, e[3].parameters)
    end)

    it("counts names the message never uses, until reset", function()
      local b = new{ check = true }
      b:add(sms("+46700000001"), { name = "A", code = "1", nmae = "typo" })
      b:add(sms("+46700000002"), { name = "B", code = "2", nmae = "typo", extra = "x" })
      b:columns{ "name", "code", "extra" }
      b:add_row("SMS", "+46700000003", "C", "3", "y")
      assert.same({ nmae = 2, extra = 2 }, b:unused())
      b:reset()
      assert.same({}, b:unused())
    end)
  end)

  it("applies to CSV rows: an empty cell is missing (default, else a bad row) or left out",
    function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write("identity,name,code,note\n+46700000001,Ann,1,\n+46700000002,Bo,,x\n"
        .. "+46700000003,,3,\n")
      f:close()
      local b = new{ check = true, defaults = { name = "you" } }
      local r = assert(core.csv_open(path, { channel = "SMS" }))
      local n, rows = r:fill(b, 10)
      assert.equal(2, n)
      assert.same({ 2, 4 }, rows)
      assert.same({ { name = "Ann", code = "1" }, { name = "you", code = "3" } },
        { entries(b)[1].parameters, entries(b)[2].parameters })
      assert.same({ { line = 3, reason = "recipients[2].parameters.code: empty; the message "
        .. "uses ${code}" } }, r:bad())
      r:close()
      os.remove(path)
    end)

  it("add_entries: RecipientAndParam tables in one call, stopping at metadata", function()
    local b = new{ check = true }
    local list = {
      { recipient = sms("+46700000001"), parameters = { name = "A", code = "1" } },
      { recipient = sms("+46700000002"), parameters = { name = "B", code = "2" },
        message_metadata = { row = "2" } },
      { recipient = sms("+46700000003"), parameters = { name = "C", code = "3" } },
    }
    assert.equal(2, b:add_entries(list, 1, 3))
    assert.equal(1, b:count())
    assert.equal(4, b:add_entries(list, 3, 3))
    assert.equal(2, b:count())
    local n, err = b:add_entries({ list[1], { parameters = {} } }, 1, 2)
    assert.is_nil(n)
    assert.equal("recipients[4].recipient: required, a recipient table", err.message)
    n, err = b:add_entries({ { recipient = sms("+46700000004"), parameters = { name = "D" } } }, 1, 1)
    assert.is_nil(n)
    assert.equal("recipients[4].parameters: missing value for ${code}", err.message)
    assert.matches("parameters: expected a table, got string", select(2, pcall(b.add_entries, b,
      { { recipient = sms("+46700000004"), parameters = "x" } }, 1, 1)))
  end)

  describe("validate", function()
    it("takes phone numbers with or without +, and names a bad one", function()
      local b = new{ validate = true }
      assert.equal(1, b:add(sms("46700000001"), nil))
      assert.equal(2, b:add(sms("+46700000002")))
      local n, err = b:add(sms("070 1234"))
      assert.is_nil(n)
      assert.equal('recipients[3].recipient.identified_by.channel_identities[1].identity: '
        .. '"070 1234" is not a phone number (an optional +, then digits) '
        .. 'for channel SMS', err.message)
      b:columns{}
      err = select(2, b:add_row("SMS", "+07o1234567"))
      assert.matches("channel_identities%[1%]%.identity: \"%+07o1234567\" is not a phone number",
        err.message)
      assert.equal(2, b:count())
    end)

    it("knows the caller's channels", function()
      local b = new{ validate = true, channels = { SMS = { phone = true }, PIGEON = {} } }
      b:columns{}
      assert.equal(1, b:add_row("PIGEON", "coop"))
      local n, err = b:add_row("TELEGRAM", "someone")
      assert.is_nil(n)
      assert.matches('^recipients%[2%]%.recipient%.identified_by%.channel_identities%[1%]%.channel: '
        .. 'unknown channel "TELEGRAM" %(known: ', err.message)
    end)

    it("adds our E.164 shape with e164 = true, on every path (add, add_row, add_entries)", function()
      local plain = new{ validate = true }
      assert.equal(1, plain:add(sms("+0987654321")))
      local b = new{ validate = true, e164 = true }
      local n, err = b:add(sms("+0987654321"))
      assert.is_nil(n)
      assert.matches('"%+0987654321" is not in E.164 shape', err.message)
      n, err = b:add_entries({ { recipient = sms("+0987654321") } }, 1, 1)
      assert.is_nil(n)
      assert.matches("not in E.164 shape", err.message)
      b:columns{}
      n, err = b:add_row("SMS", "+0987654321")
      assert.is_nil(n)
      assert.matches("not in E.164 shape", err.message)
      assert.equal(1, b:add_row("SMS", "+46700000001"))
    end)

    it("refuses contacts under DISPATCH_ONLY", function()
      local b = new{ dispatch_only = true }
      local n, err = b:add({ contact_id = "C1" })
      assert.is_nil(n)
      assert.equal("recipients[1].recipient.contact_id: processing_strategy DISPATCH_ONLY takes "
        .. "identified_by recipients only", err.message)
    end)
  end)
end)
