-- The API rules written once in C (src/core/rules.c), as the binding shows them.
local core = require "sinch.batch.core"

describe("core rules", function()
  it("MAX_RECIPIENTS is the API's limit", function()
    assert.equal(1000, core.MAX_RECIPIENTS)
  end)

  it("phone_ok takes a number with or without +", function()
    assert.is_true(core.phone_ok("+46700000001"))
    assert.is_true(core.phone_ok("48123456789"))
    assert.is_false(core.phone_ok("+0123456789"))
    assert.is_false(core.phone_ok("12345"))
    assert.is_false(core.phone_ok("+4670000000a"))
    assert.has_error(function() core.phone_ok({}) end)
  end)

  it("param_names reads the one parameter grammar", function()
    local t = core.param_names("Hi ${first name}, ${code} ${} ${open")
    assert.same({ ["first name"] = true, code = true }, t)
    local acc = {}
    assert.equal(acc, core.param_names("${a}", acc))
    core.param_names("${b}", acc)
    assert.same({ a = true, b = true }, acc)
  end)

  it("CHANNELS lists phone and app-scoped channels", function()
    assert.is_true(core.CHANNELS.SMS.phone)
    assert.is_true(core.CHANNELS.MESSENGER.app_scoped)
    assert.is_nil(core.CHANNELS.TELEGRAM.phone)
  end)
end)
