-- The Builder type of sinch.batch.core: the C contract seen from Lua.
local core = require "sinch.batch.core"
local cjson = require "cjson"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local MESSAGE = { text_message = { text = "Hi ${name}, your code is ${code}" } }

local function new(max)
  return assert(core.builder(APP, cjson.encode(MESSAGE), max))
end

local function sms(number)
  return { identified_by = { channel_identities = { { channel = "SMS", identity = number } } } }
end

-- The error raised by fn, without the "file:line: " prefix.
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

describe("core.builder", function()
  it("builds a body that decodes to the equivalent Lua table", function()
    local b = new()
    assert.equal(1, b:add(sms("+46700000001"), { name = "Ann", code = "1234" }, '{"row":"1"}'))
    assert.equal(2, b:add({ contact_id = "01CONTACT" }, { name = "Bo", code = 5678 }))
    assert.equal(3, b:add({ identified_by = { channel_identities = {
      { channel = "SMS", identity = "+46700000003" },
      { channel = "MESSENGER", identity = "PSID3", app_id = "01OTHERAPP" } } } },
      nil, '{"row":"3"}', '{"topic":"x"}'))
    assert(b:field("batch_metadata", '{"campaign":"spring"}'))
    assert(b:field_string("ttl", "86400s"))
    assert.same({
      app_id = APP,
      message = MESSAGE,
      recipient_and_params = {
        { recipient = sms("+46700000001"), parameters = { name = "Ann", code = "1234" },
          message_metadata = { row = "1" } },
        { recipient = { contact_id = "01CONTACT" }, parameters = { name = "Bo", code = "5678" } },
        { recipient = { identified_by = { channel_identities = {
            { channel = "SMS", identity = "+46700000003" },
            { channel = "MESSENGER", identity = "PSID3", app_id = "01OTHERAPP" } } } },
          message_metadata = { row = "3" }, conversation_metadata = { topic = "x" } },
      },
      batch_metadata = { campaign = "spring" },
      ttl = "86400s",
    }, cjson.decode((assert(b:body()))))
  end)

  it("keeps strings byte for byte: quotes, backslashes, control characters, UTF-8", function()
    local b = new()
    local value = 'say "hi" \\ \n\t\1 caf\195\169 \240\159\152\128'
    b:add({ contact_id = "c" }, { note = value })
    local body = b:body()
    assert.equal(value, cjson.decode(body).recipient_and_params[1].parameters.note)
    assert.truthy(body:find('"note":"say \\"hi\\" \\\\ \\n\\t\\u0001 caf\195\169 ', 1, true))
  end)

  it("spells numbers as tostring does", function()
    local b = new()
    b:add({ contact_id = "c" }, { int = 42, float = 1.5 })
    local p = cjson.decode(b:body()).recipient_and_params[1].parameters
    assert.same({ int = tostring(42), float = tostring(1.5) }, p)
  end)

  it("returns nil, err for invalid UTF-8 and adds nothing", function()
    local b = new()
    b:add({ contact_id = "c1" }, { name = "Ann" })
    local n, err = b:add({ contact_id = "c2" }, { name = "A\255n" })
    assert.is_nil(n)
    assert.equal("invalid", err.kind)
    assert.equal("recipients[2].parameters.name: invalid UTF-8 at byte 2", err.message)
    assert.equal(1, b:count())
    assert.equal(2, b:add({ contact_id = "c3" }))
  end)

  it("takes 1000 recipients and refuses the 1001st with nil, err", function()
    local b = new()
    for i = 1, 1000 do assert.equal(i, b:add(sms("+4670" .. i))) end
    local n, err = b:add(sms("+46701001"))
    assert.is_nil(n)
    assert.equal("invalid", err.kind)
    assert.equal("recipients[1001]: a batch holds at most 1000 recipients", err.message)
    assert.equal(1000, b:count())
    assert.equal(1000, #cjson.decode(b:body()).recipient_and_params)
  end)

  it("honours a lower maximum", function()
    local b = new(2)
    b:add(sms("+1"))
    b:add(sms("+2"))
    local _, err = b:add(sms("+3"))
    assert.equal("recipients[3]: a batch holds at most 2 recipients", err.message)
  end)

  it("returns nil, err for a recipient with neither contact_id nor identities", function()
    local b = new()
    local n, err = b:add({}, { name = "x" })
    assert.is_nil(n)
    assert.equal("recipients[1].recipient: a contact_id or at least one channel identity is required",
                 err.message)
    n, err = b:add({ identified_by = { channel_identities = {} } })
    assert.is_nil(n)
    assert.equal("recipients[1].recipient: a contact_id or at least one channel identity is required",
                 err.message)
    n, err = b:add({ contact_id = "c", identified_by = sms("+1").identified_by })
    assert.is_nil(n)
    assert.equal("recipients[1].recipient: a contact_id or channel identities, not both", err.message)
    assert.equal(0, b:count())
  end)

  it("refuses an empty batch", function()
    local body, err = new():body()
    assert.is_nil(body)
    assert.equal("invalid", err.kind)
    assert.equal("recipients: a batch needs at least 1 recipient", err.message)
  end)

  it("returns the same body twice, then is closed until reset", function()
    local b = new()
    b:add(sms("+1"))
    local one = b:body()
    assert.equal(one, b:body())
    local n, err = b:add(sms("+2"))
    assert.is_nil(n)
    assert.equal("batch already closed; reset() it first", err.message)
    b:reset()
    assert.equal(0, b:count())
    assert.equal(1, b:add(sms("+3")))
    assert.equal("+3", cjson.decode(b:body()).recipient_and_params[1].recipient
      .identified_by.channel_identities[1].identity)
  end)

  it("replaces a field set twice and refuses the builder's own keys", function()
    local b = new()
    b:add(sms("+1"))
    assert(b:field_string("ttl", "60s"))
    assert(b:field_string("ttl", "120s"))
    assert.equal("120s", cjson.decode(b:body()).ttl)
    local ok, err = b:field("app_id", '"X"')
    assert.is_nil(ok)
    assert.equal("app_id: written by the builder itself, not settable as a field", err.message)
    ok, err = b:field_string("recipient_and_params", "x")
    assert.is_nil(ok)
    assert.equal("recipient_and_params: written by the builder itself, not settable as a field",
                 err.message)
  end)

  it("returns nil, err for bad constructor values", function()
    local b, err = core.builder(APP, cjson.encode(MESSAGE), 1001)
    assert.is_nil(b)
    assert.equal("max_recipients: a batch holds at most 1000 recipients, got 1001", err.message)
    b, err = core.builder("", "{}")
    assert.is_nil(b)
    assert.equal("app_id: must not be empty", err.message)
    b, err = core.builder(APP, "")
    assert.is_nil(b)
    assert.equal("message: expected a JSON object ({...}) encoded once for the batch", err.message)
  end)

  describe("misuse raises, naming the argument", function()
    local b = new()
    it("add", function()
      assert.equal("bad argument #1 to 'add' (table expected, got string)",
                   raised(function() b:add("+46700000001") end))
      assert.equal("bad argument #2 to 'add' (parameters.code: expected a string or number, got table)",
                   raised(function() b:add({ contact_id = "c" }, { code = {} }) end))
      assert.equal("bad argument #2 to 'add' (parameters: a parameter name must be a string, got number)",
                   raised(function() b:add({ contact_id = "c" }, { "x" }) end))
      assert.equal("bad argument #1 to 'add' (recipient.contact_id: expected a string, got number)",
                   raised(function() b:add({ contact_id = 1 }) end))
      assert.equal("bad argument #1 to 'add' (recipient.identified_by: expected a table, got string)",
                   raised(function() b:add({ identified_by = "SMS" }) end))
      assert.equal("bad argument #1 to 'add' (recipient.identified_by.channel_identities[2].identity: "
                   .. "expected a string, got nil)",
                   raised(function()
                     b:add({ identified_by = { channel_identities = {
                       { channel = "SMS", identity = "+1" }, { channel = "SMS" } } } })
                   end))
      assert.equal("bad argument #3 to 'add' (string expected, got table)",
                   raised(function() b:add({ contact_id = "c" }, nil, {}) end))
      -- nothing was written by the calls that raised
      assert.equal(0, b:count())
    end)
    it("core.builder", function()
      assert.equal("bad argument #1 to 'builder' (string expected, got nil)",
                   raised(function() core.builder(nil, "{}") end))
      assert.equal("bad argument #3 to 'builder' (max: expected a non-negative integer)",
                   raised(function() core.builder(APP, "{}", -1) end))
    end)
    it("a method on something that is not a builder", function()
      assert.truthy(raised(function() b.count({}) end):find("sinch.batch.Builder expected", 1, true))
    end)
  end)

  describe("add_columns", function()
    local numbers, names, codes = {}, {}, {}
    for i = 1, 5 do
      numbers[i], names[i], codes[i] = "+4670000000" .. i, "N" .. i, i * 11
    end

    it("writes the same body as add() row by row", function()
      local a, b = new(), new()
      for i = 1, 5 do a:add(sms(numbers[i]), { name = names[i], code = codes[i] }) end
      assert.equal(5, b:add_columns("SMS", numbers, { name = names, code = codes }))
      assert.same(cjson.decode(a:body()), cjson.decode(b:body()))
    end)

    it("takes a row range and no parameters", function()
      local b = new()
      assert.equal(2, b:add_columns("SMS", numbers, nil, 2, 3))
      local r = cjson.decode(b:body()).recipient_and_params
      assert.equal(2, #r)
      assert.equal(numbers[3], r[2].recipient.identified_by.channel_identities[1].identity)
      assert.is_nil(r[2].parameters)
    end)

    it("stops at the limit with nil, err and keeps the rows before", function()
      local b = new(3)
      local n, err = b:add_columns("SMS", numbers, { name = names })
      assert.is_nil(n)
      assert.equal("recipients[4]: a batch holds at most 3 recipients", err.message)
      assert.equal(3, b:count())
    end)

    it("raises on a hole in a column, naming it", function()
      local b = new()
      assert.equal("bad argument #3 to 'add_columns' (columns.name[2]: expected a string or number, "
                   .. "got nil)",
                   raised(function() b:add_columns("SMS", numbers, { name = { "a" } }) end))
      assert.equal("bad argument #2 to 'add_columns' (identities[2]: expected a string, got boolean)",
                   raised(function() b:add_columns("SMS", { "+1", true }) end))
      -- the rows before the bad one (one per call) are in
      assert.equal(2, b:count())
    end)
  end)

  describe("columns and add_row", function()
    it("writes the same body as add() row by row", function()
      local a, b = new(), new()
      a:add(sms("+46700000001"), { name = "Ann", code = "0123" })
      a:add(sms("+46700000002"), { name = 'B"o', code = 42 })
      assert.equal(2, b:columns({ "name", "code" }))
      assert.equal(1, b:add_row("SMS", "+46700000001", "Ann", "0123"))
      assert.equal(2, b:add_row("SMS", "+46700000002", 'B"o', 42))
      assert.same(cjson.decode(a:body()), cjson.decode(b:body()))
    end)

    it("keeps the columns across reset() until columns() replaces them", function()
      local b = new()
      b:columns({ "code" })
      b:add_row("SMS", "+1", "1")
      b:reset()
      b:add_row("MESSENGER", "PSID2", 2)
      local r = cjson.decode(b:body()).recipient_and_params
      assert.same({ code = "2" }, r[1].parameters)
      assert.equal("MESSENGER", r[1].recipient.identified_by.channel_identities[1].channel)
      b:reset()
      assert.equal(0, b:columns({}))
      b:add_row("SMS", "+3")
      assert.is_nil(cjson.decode(b:body()).recipient_and_params[1].parameters)
    end)

    it("returns nil, err for an API rule and adds nothing", function()
      local b = new(2)
      b:columns({ "name" })
      b:add_row("SMS", "+1", "Ann")
      local n, err = b:add_row("SMS", "+2", "A\255n")
      assert.is_nil(n)
      assert.equal("invalid", err.kind)
      assert.equal("recipients[2].parameters.name: invalid UTF-8 at byte 2", err.message)
      n, err = b:add_row("SMS", "", "Bo")
      assert.is_nil(n)
      assert.equal("recipients[2].recipient.identified_by.channel_identities[1].identity: "
                   .. "must not be empty", err.message)
      assert.equal(1, b:count())
      assert.equal(2, b:add_row("SMS", "+2", "Bo"))
      n, err = b:add_row("SMS", "+3", "Cy")
      assert.is_nil(n)
      assert.equal("recipients[3]: a batch holds at most 2 recipients", err.message)
      b:columns({ "" })
      b:reset()
      n, err = b:add_row("SMS", "+1", "x")
      assert.is_nil(n)
      assert.equal("recipients[1].parameters: a parameter name must not be empty", err.message)
    end)

    it("raises on misuse, naming the argument and the column", function()
      local b = new()
      b:columns({ "name", "code" })
      assert.equal("bad argument #3 to 'add_row' (name: expected a string or number, got nil)",
                   raised(function() b:add_row("SMS", "+1") end))
      assert.equal("bad argument #4 to 'add_row' (code: expected a string or number, got table)",
                   raised(function() b:add_row("SMS", "+1", "Ann", {}) end))
      assert.equal("bad argument #5 to 'add_row' (3 values for 2 columns)",
                   raised(function() b:add_row("SMS", "+1", "Ann", 1, "extra") end))
      assert.equal("bad argument #2 to 'add_row' (identity: expected a string, got number)",
                   raised(function() b:add_row("SMS", 46700000001, "Ann", 1) end))
      assert.equal("bad argument #1 to 'add_row' (string expected, got nil)",
                   raised(function() b:add_row(nil, "+1", "Ann", 1) end))
      assert.equal("bad argument #1 to 'columns' (table expected, got string)",
                   raised(function() b:columns("name") end))
      assert.equal("bad argument #1 to 'columns' (columns[2]: expected a string, got number)",
                   raised(function() b:columns({ "name", 2 }) end))
      assert.equal('bad argument #1 to \'columns\' (columns[3]: "name" given twice)',
                   raised(function() b:columns({ "name", "code", "name" }) end))
      -- a raising columns() left the columns as they were
      assert.equal(1, b:add_row("SMS", "+1", "Ann", 1))
      b:close()
      assert.equal("attempt to use a closed builder",
                   raised(function() b:add_row("SMS", "+1", "Ann", 1) end))
    end)
  end)

  describe("Recipients (core.Recipient, made by sinch.batch.recipient)", function()
    local R = require "sinch.batch.recipient"

    it("write the same entry as the nested tables they stand for", function()
      local a, b = new(), new()
      a:add(R.sms("+46700000001"), { name = "A", code = "1" })
      a:add(R.messenger("psid-1", "01APP"), { name = "B", code = "2" })
      b:add(sms("+46700000001"), { name = "A", code = "1" })
      b:add({ identified_by = { channel_identities = {
        { channel = "MESSENGER", identity = "psid-1", app_id = "01APP" } } } },
        { name = "B", code = "2" })
      assert.equal(b:body(), a:body())
      local c = new() -- and through add_entries, the table path of client:send
      assert.equal(3, c:add_entries({ { recipient = R.sms("+46700000001"),
        parameters = { name = "A", code = "1" } }, { recipient = R.messenger("psid-1", "01APP"),
        parameters = { name = "B", code = "2" } } }, 1, 2))
      assert.equal(b:body(), c:body())
    end)

    it("are checked like any recipient: a wrong type raises, naming the field", function()
      local r = setmetatable({ "SMS", 46700000001 }, core.Recipient)
      assert.matches("recipient%.identity: expected a string, got number",
        raised(function() new():add(r, { name = "A", code = "1" }) end))
      r = setmetatable({ "SMS", "+46700000001", true }, core.Recipient)
      assert.matches("recipient%.app_id: expected a string, got boolean",
        raised(function() new():add(r, { name = "A", code = "1" }) end))
    end)
  end)

  describe("take", function()
    it("hands over the closed body without a copy and resets the builder", function()
      local b, ref = new(), new()
      for i = 1, 3 do
        b:add(sms("+4670000000" .. i), { name = "N" .. i, code = "C" .. i })
        ref:add(sms("+4670000000" .. i), { name = "N" .. i, code = "C" .. i })
      end
      local body = assert(b:take())
      assert.equal(ref:body(), body:string())
      assert.equal(#ref:body(), body:len())
      if _VERSION ~= "Lua 5.1" then assert.equal(#ref:body(), #body) end
      assert.matches("^sinch%.batch%.Body %(%d+ bytes%)$", tostring(body))
      -- the builder starts the next batch with its head intact
      assert.equal(0, b:count())
      b:add(sms("+46700000009"), { name = "Z", code = "9" })
      local other = new()
      other:add(sms("+46700000009"), { name = "Z", code = "9" })
      assert.equal(other:body(), b:body())
      assert.equal(ref:body(), body:string()) -- the body taken is its own
    end)

    it("refuses an empty batch with nil, err", function()
      local body, err = new():take()
      assert.is_nil(body)
      assert.matches("at least 1 recipient", err.message)
    end)

    it("free is idempotent; a freed body is empty and cannot be read", function()
      local b = new()
      b:add(sms("+46700000001"), { name = "A", code = "1" })
      local body = assert(b:take())
      body:free()
      body:free()
      assert.equal(0, body:len())
      assert.equal("sinch.batch.Body (freed)", tostring(body))
      assert.matches("freed Body", raised(function() return body:string() end))
    end)
  end)

  describe("lifetime", function()
    it("close is idempotent; a closed builder raises", function()
      local b = new()
      b:add(sms("+1"))
      assert.equal("sinch.batch.Builder (1 recipient)", tostring(b))
      b:add(sms("+2"))
      assert.equal("sinch.batch.Builder (2 recipients)", tostring(b))
      b:close()
      b:close()
      assert.equal("sinch.batch.Builder (closed)", tostring(b))
      assert.equal("attempt to use a closed builder", raised(function() b:count() end))
      assert.equal("attempt to use a closed builder", raised(function() b:add(sms("+3")) end))
    end)

    it("collects 10,000 builders without growth", function()
      local msg = cjson.encode(MESSAGE)
      local function churn()
        for _ = 1, 1000 do
          local b = core.builder(APP, msg)
          b:add(sms("+1"), { name = "x" })
          b:body()
        end
        collectgarbage("collect")
        collectgarbage("collect")
      end
      churn()
      local before = collectgarbage("count")
      for _ = 1, 9 do churn() end
      assert.is_true(collectgarbage("count") < before + 64,
                     "heap grew from " .. before .. " KB to " .. collectgarbage("count") .. " KB")
    end)
  end)
end)
