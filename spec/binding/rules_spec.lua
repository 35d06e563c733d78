-- The API rules written once in C (src/core/rules.c), as the binding shows them.
local core = require "sinch.batch.core"

describe("core rules", function()
  it("MAX_RECIPIENTS is the API's limit", function()
    assert.equal(1000, core.MAX_RECIPIENTS)
  end)

  it("phone_ok takes a number with or without +, of any length, any first digit", function()
    assert.is_true(core.phone_ok("+46700000001"))
    assert.is_true(core.phone_ok("48123456789"))
    assert.is_true(core.phone_ok("+0123456789")) -- the reference's own example form
    assert.is_true(core.phone_ok("12345"))
    assert.is_false(core.phone_ok("+4670000000a"))
    assert.is_false(core.phone_ok("+46 70"))
    assert.is_false(core.phone_ok(""))
    -- a predicate: anything but a string is not a phone identity (numbers neither)
    assert.is_false(core.phone_ok({}))
    assert.is_false(core.phone_ok(46700000001))
    assert.is_false(core.phone_ok(nil))
  end)

  it("e164_ok is our stricter E.164 shape", function()
    assert.is_true(core.e164_ok("+46700000001"))
    assert.is_false(core.e164_ok("+0123456789"))
    assert.is_false(core.e164_ok("12345"))
    assert.is_false(core.e164_ok(46700000001))
  end)

  it("phone_check is the same rule, through the FFI under LuaJIT", function()
    local rules = require "sinch.batch.rules"
    local check = rules.phone_check()
    for _, s in ipairs{ "+46700000001", "48123456789", "+0123456789", "12345", "+4670000000a",
                        "", "+", "1234567", "1234567890123456", "+123456789012345" } do
      assert.equal(core.phone_ok(s), check(s), s)
    end
    assert.is_false(check(46700000001))
    assert.is_false(check(nil))
    if rawget(_G, "jit") then
      assert.are_not.equal(core.phone_ok, check) -- the FFI call, which LuaJIT compiles
    else
      assert.equal(core.phone_ok, check)
    end
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
