-- sinch.batch.options: the one option-table check, and sinch.batch.fields'
-- ttl rule (the docs' 3..315,576,000,000 seconds, as the sandbox has it).
local options = require "sinch.batch.options"
local fields = require "sinch.batch.fields"

describe("sinch.batch.options", function()
  local KNOWN = { size = "number", name = "string", any = "any", t = "seconds", flag = true }

  it("accepts known options of the right type", function()
    assert.is_true(options.check({ size = 1, name = "x", any = {}, t = 0.5, flag = 3 }, KNOWN, "f", 1))
    assert.is_true(options.check({}, KNOWN, "f"))
  end)

  it("names the function, the argument and the option (argerror style)", function()
    assert.same({ nil, "bad argument #2 to 'f' (unknown option 'sise')" },
      { options.check({ sise = 1 }, KNOWN, "f", 2) })
    assert.same({ nil, "bad argument #1 to 'f' (opts.t: expected a number, got string)" },
      { options.check({ t = "1" }, KNOWN, "f", 1) })
    assert.same({ nil, "bad argument #1 to 'f' (expected a table of options, got string)" },
      { options.check("x", KNOWN, "f", 1) })
  end)

  it("lists what is known in prefix style", function()
    assert.same({ nil, "m.f: unknown option 'x' (known: any, flag, name, size, t)" },
      { options.check({ x = 1 }, KNOWN, "m.f") })
  end)

  it("assert raises at the caller of the checked function", function()
    local function f(o) options.assert(o, KNOWN, "f", 1) end
    local ok, err = pcall(function() f({ nope = 1 }) end)
    assert.is_false(ok)
    assert.matches("options_spec%.lua:%d+: bad argument #1 to 'f' %(unknown option 'nope'%)", err)
  end)
end)

describe("sinch.batch.fields ttl", function()
  it("takes whole seconds from 3 to 315576000000, as a number or \"Ns\"", function()
    assert.equal("3s", fields.ttl(3))
    assert.equal("86400s", fields.ttl("86400s"))
    assert.equal("315576000000s", fields.ttl(315576000000))
    assert.equal("03s", fields.ttl("03s")) -- the reference's "<int>s": sent as given
    for _, bad in ipairs{ 2, "2s", 0, -5, 315576000001, "00s" } do
      local ok, err = fields.ttl(bad)
      assert.is_nil(ok, tostring(bad))
      assert.equal("invalid", err.kind)
      assert.matches("^ttl: .* outside 3 to 315576000000 seconds %(our bound", err.message)
    end
    for _, bad in ipairs{ 2.5, "1e3s", "60", "1.5s", true, 0 / 0, math.huge } do
      local ok, err = fields.ttl(bad)
      assert.is_nil(ok, tostring(bad))
      assert.matches('^ttl: .* is not a duration like "86400s"', err.message)
    end
  end)

  it("parses RFC 3339 date-times", function()
    assert.equal(0, fields.parse_rfc3339("1970-01-01T00:00:00Z"))
    assert.equal(-7200, fields.parse_rfc3339("1970-01-01T00:00:00+02:00"))
    assert.is_nil(fields.parse_rfc3339("1970-13-01T00:00:00Z"))
  end)
end)
