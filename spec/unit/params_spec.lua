local M = require "sinch.batch.message"
local R = require "sinch.batch.recipient"

local function err_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  local rest = tostring(err):match("^[^:]*params_spec%.lua:%d+: (.*)$")
  assert.is_string(rest, "error does not point at the caller: " .. tostring(err))
  return rest
end

local function entry(params, i)
  return { recipient = R.sms("+4670000000" .. (i or 1)), parameters = params }
end

describe("message parameters", function()
  local card = M.card{
    title = "Hi ${name}",
    description = "Your code is ${code}; ${code} again",
    media = "https://ex.com/${image}.png",
    choices = { M.choices.url("Track ${order.id}", "https://ex.com/t/${order.id}", "track-${order-no}") },
  }

  describe("params()", function()
    it("finds every ${name} in every string field, nested, sorted and once each", function()
      assert.same({ "code", "image", "name", "order-no", "order.id" }, M.params(card))
    end)

    it("looks at values, not keys", function()
      assert.same({}, M.params(M.raw{ text_message = { ["${key}"] = "plain" } }))
      assert.same({ "v" }, M.params(M.raw{ text_message = { ["${key}"] = "${v}" } }))
    end)

    it("reads the C core's grammar: a name is any bytes up to the first }", function()
      assert.same({ "5 or ${ ", "a b" }, M.params(M.text("Costs ${5 or ${ } or ${} or ${a b} or $name")))
      assert.same({ "a ${b" }, M.params(M.text("${a ${b}")))
      assert.same({ "first name" }, M.params(M.text("Hi ${first name}")))
      assert.same({}, M.params(M.text("Costs $5 or ${} or $name or ${open")))
    end)

    it("checks coverage of names with spaces (the sandbox's grammar too)", function()
      local msg = M.text("Hi ${first name}")
      local ok, err = M.check(msg, { { recipient = R.sms("+46700000001"), parameters = { first = "Ann" } } })
      assert.is_nil(ok)
      assert.equal("recipients[1].parameters: missing value for ${first name}", err)
      assert.is_true((M.check(msg, { { recipient = R.sms("46700000001"),
        parameters = { ["first name"] = "Ann" } } })))
    end)

    it("looks inside extras and raw messages too", function()
      local msg = M.with(M.text("x"), { explicit_channel_message = { SMS = "Hi ${sms_name}" },
                                        agent = M.agent{ display_name = "${agent}" } })
      assert.same({ "agent", "sms_name" }, M.params(msg))
    end)

    it("rejects a non-table", function()
      assert.equal("message.params: expected a message table", err_of(function() M.params("${x}") end))
    end)
  end)

  describe("check()", function()
    local msg = M.text("Hi ${name}, your code is ${code}")

    it("accepts recipients that have every parameter, and reports unused ones", function()
      local ok, report = M.check(msg, {
        entry({ name = "Ann", code = "1" }, 1),
        entry({ name = "Bo", code = "2", nickname = "B" }, 2),
        entry({ name = "Cy", code = "3", nickname = "C", city = "Lund" }, 3),
      })
      assert.is_true(ok)
      assert.same({ "code", "name" }, report.params)
      assert.same({ nickname = 2, city = 1 }, report.unused)
      assert.same({}, report.defaulted)
    end)

    it("names the first recipient with a missing value, 1-based", function()
      local ok, err = M.check(msg, {
        entry({ name = "Ann", code = "1" }),
        entry({ name = "Bo", code = "2" }),
        entry({ name = "Cy" }),
        entry({}),
      })
      assert.is_nil(ok)
      assert.equal("recipients[3].parameters: missing value for ${code}", err)
    end)

    it("treats absent parameters as empty", function()
      local ok, err = M.check(msg, { { recipient = R.sms("+46700000001") } })
      assert.is_nil(ok)
      assert.equal("recipients[1].parameters: missing value for ${code}", err)
      assert.is_true((M.check(M.text("Hi"), { { recipient = R.sms("+46700000001") } })))
    end)

    it("fills missing values from defaults, and only once every recipient passed", function()
      local list = { entry({ name = "Ann", code = "1" }), entry({ code = "2" }),
        { recipient = R.contact("c") } }
      local ok, report = M.check(msg, list, { defaults = { name = "friend", code = "0000" } })
      assert.is_true(ok)
      assert.same({ name = "Ann", code = "1" }, list[1].parameters)
      assert.same({ name = "friend", code = "2" }, list[2].parameters)
      assert.same({ name = "friend", code = "0000" }, list[3].parameters)
      assert.same({ name = 2, code = 1 }, report.defaulted)

      local untouched = { entry({ code = "2" }), entry({}) }
      local ok2, err = M.check(msg, untouched, { defaults = { name = "friend" } })
      assert.is_nil(ok2)
      assert.equal("recipients[2].parameters: missing value for ${code}", err)
      assert.same({ code = "2" }, untouched[1].parameters)
    end)

    it("accepts numbers and writes them back as strings", function()
      local list = { entry({ name = "Ann", code = 1234 }), entry({ name = "Bo", code = 0.5 }) }
      assert.is_true((M.check(msg, list)))
      assert.equal("1234", list[1].parameters.code)
      assert.equal("0.5", list[2].parameters.code)
    end)

    it("rejects values that are not strings or numbers, naming the parameter", function()
      local ok, err = M.check(msg, { entry({ name = "Ann", code = "1" }), entry({ name = "Bo",
        code = true }) })
      assert.is_nil(ok)
      assert.equal("recipients[2].parameters.code: expected a string", err)
      ok, err = M.check(msg, { entry({ name = "Ann", code = 0 / 0 }) })
      assert.is_nil(ok)
      assert.equal("recipients[1].parameters.code: expected a string", err)
      ok, err = M.check(msg, { entry({ name = "Ann", code = "1", "positional" }) })
      assert.is_nil(ok)
      assert.equal("recipients[1].parameters[1]: parameter names must be strings", err)
    end)

    it("rejects entries of the wrong shape", function()
      local ok, err = M.check(msg, { entry({ name = "Ann", code = "1" }), "Bo" })
      assert.is_nil(ok)
      assert.equal("recipients[2]: expected a table", err)
      ok, err = M.check(msg, { { recipient = R.contact("c"), parameters = "name=Ann" } })
      assert.is_nil(ok)
      assert.equal("recipients[1].parameters: expected a table", err)
    end)

    it("raises on misuse", function()
      assert.equal("message.check: expected a message table", err_of(function() M.check(nil, {}) end))
      assert.equal("message.check: recipients must be an array", err_of(function() M.check(msg) end))
      assert.equal("message.check: unknown option 'default' (known: defaults)",
        err_of(function() M.check(msg, {}, { default = {} }) end))
      assert.equal("message.check: defaults must be a table", err_of(function() M.check(msg, {},
        { defaults = "x" }) end))
      assert.equal("message.check: defaults.code: expected a string",
        err_of(function() M.check(msg, {}, { defaults = { code = {} } }) end))
    end)
  end)

  describe("preview()", function()
    it("renders what one recipient gets, nested, leaving the message unchanged", function()
      local out = M.preview(card, { name = "Ann", code = "1234", image = "sale", ["order.id"] = "A1",
                                    ["order-no"] = "7" })
      assert.same(M.card{
        title = "Hi Ann",
        description = "Your code is 1234; 1234 again",
        media = "https://ex.com/sale.png",
        choices = { M.choices.url("Track A1", "https://ex.com/t/A1", "track-7") },
      }, out)
      assert.equal("Hi ${name}", card.card_message.title)
    end)

    it("substitutes once: a value holding ${...} stays as it is", function()
      assert.same(M.text("Hi ${code}!"), M.preview(M.text("Hi ${name}!"), { name = "${code}", code = "x" }))
    end)

    it("keeps literal ${ text and formats numbers", function()
      assert.same(M.text("Pay 42 or ${} or ${open"),
        M.preview(M.text("Pay ${n} or ${} or ${open"), { n = 42 }))
      assert.same(M.text("Pay 5 to 42"), M.preview(M.text("Pay ${ 5 to ${n}"), { [" 5 to ${n"] = "5 to 42" }))
    end)

    it("reports a missing value, or uses a default", function()
      local ok, err = M.preview(M.text("Hi ${name}, ${code}"), { name = "Ann" })
      assert.is_nil(ok)
      assert.equal("parameters: missing value for ${code}", err)
      assert.same(M.text("Hi Ann, 0000"),
        M.preview(M.text("Hi ${name}, ${code}"), { name = "Ann" }, { defaults = { code = "0000" } }))
      assert.same(M.text("Hi friend"), M.preview(M.text("Hi ${name}"), nil,
        { defaults = { name = "friend" } }))
    end)

    it("rejects bad values and misuse", function()
      local ok, err = M.preview(M.text("Hi ${name}"), { name = {} })
      assert.is_nil(ok)
      assert.equal("parameters.name: expected a string", err)
      assert.equal("message.preview: params must be a table", err_of(function() M.preview(M.text("x"),
        "a") end))
      assert.equal("message.preview: expected a message table", err_of(function() M.preview("x", {}) end))
    end)
  end)
end)
