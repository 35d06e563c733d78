local R = require "sinch.batch.recipient"
local RULE = "is not a phone number (an optional +, then digits)"
local cjson = require "cjson"

-- The message of an error raised by `fn`, checking that it points at this file
-- (errors are raised at level 2, at the caller).
local function err_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  local rest = tostring(err):match("^[^:]*recipient_spec%.lua:%d+: (.*)$")
  assert.is_string(rest, "error does not point at the caller: " .. tostring(err))
  return rest
end

local function one(channel, identity, app_id)
  return { identified_by = { channel_identities = { { channel = channel, identity = identity,
    app_id = app_id } } } }
end

describe("sinch.batch.recipient", function()
  describe("phone-number channels", function()
    it("build an identified_by recipient per helper", function()
      assert.same(one("SMS", "+46700000001"), R.plain(R.sms("+46700000001")))
      assert.same(one("MMS", "+46700000001"), R.plain(R.mms("+46700000001")))
      assert.same(one("WHATSAPP", "+46700000001"), R.plain(R.whatsapp("+46700000001")))
      assert.same(one("RCS", "+46700000001"), R.plain(R.rcs("+46700000001")))
      assert.same(one("VIBERBM", "+46700000001"), R.plain(R.viber("+46700000001")))
    end)

    it("are Recipients: one table that reads as the API's shape", function()
      local r = R.sms("+46700000001")
      assert.equal(R.Recipient, getmetatable(r))
      assert.equal(require("sinch.batch.core").Recipient, R.Recipient) -- the builder's
      assert.same({ "SMS", "+46700000001" }, r) -- all it holds: channel, identity [, app_id]
      assert.equal("SMS", r.channel)
      assert.equal("+46700000001", r.identity)
      assert.is_nil(r.app_id)
      assert.equal("+46700000001", r.identified_by.channel_identities[1].identity)
      assert.equal("SMS", r.identified_by.channel_identities[1].channel)
      assert.is_nil(r.contact_id)
      assert.is_true(R.validate(r))
      assert.equal("01APP", R.sms("+46700000001", "01APP").identified_by.channel_identities[1].app_id)
      assert.equal("01APP", R.messenger("psid", "01APP").app_id)
      assert.is_nil(R.validate(setmetatable({ "SMS", "070-1234" }, R.Recipient)))
    end)

    it("encode in the API's JSON shape through R.plain", function()
      assert.same(
        cjson.decode('{"identified_by":{"channel_identities":'
          .. '[{"channel":"SMS","identity":"+46700000001"}]}}'),
        cjson.decode(cjson.encode(R.plain(R.sms("+46700000001")))))
      local nested = { contact_id = "01C" }
      assert.equal(nested, R.plain(nested)) -- anything else is returned as it is
    end)

    it("accept an optional app_id", function()
      assert.same(one("SMS", "+46700000001", "01APP"), R.plain(R.sms("+46700000001", "01APP")))
    end)

    it("accept 7 to 15 digits", function()
      assert.same(one("SMS", "+1234567"), R.plain(R.sms("+1234567")))
      assert.same(one("SMS", "+123456789012345"), R.plain(R.sms("+123456789012345")))
    end)

    it("follow the channel table as it is now (the fast path reads it on each call)", function()
      local saved = R.channels.SMS
      R.channels.SMS = {} -- no longer a phone channel: any identity
      local ok, got = pcall(R.sms, "not-a-number")
      R.channels.SMS = nil -- unknown: refused
      local ok2, err2 = pcall(R.sms, "+46700000001")
      R.channels.SMS = saved
      assert.is_true(ok, got)
      assert.same(one("SMS", "not-a-number"), R.plain(got))
      assert.is_false(ok2)
      assert.matches('unknown channel "SMS"', err2)
      assert.same(one("SMS", "+46700000001"), R.plain(R.sms("+46700000001")))
    end)

    it("accept numbers with or without + (the C core's rule)", function()
      assert.same(one("SMS", "46700000001"), R.plain(R.sms("46700000001")))
      assert.same(one("WHATSAPP", "48123456789"), R.plain(R.whatsapp("48123456789")))
      assert.is_true(R.validate(one("SMS", "46700000001")))
    end)

    it("reject what cannot be a phone number: letters, spaces, signs", function()
      assert.equal('recipient: "070-1234" ' .. RULE,
        err_of(function() R.sms("070-1234") end))
      assert.equal('recipient: "+46abc" ' .. RULE,
        err_of(function() R.sms("+46abc") end))
      assert.equal('recipient: "++46700000001" ' .. RULE,
        err_of(function() R.whatsapp("++46700000001") end))
      assert.equal('recipient: "+" ' .. RULE,
        err_of(function() R.viber("+") end))
      assert.equal('recipient: "+46 70 000 00 01" ' .. RULE,
        err_of(function() R.rcs("+46 70 000 00 01") end))
    end)

    it("take the reference's own \"+0987654321\" form, and any length (none is documented)",
       function()
      for _, n in ipairs{ "+0987654321", "0701234", "+123456", "+1234567890123456" } do
        assert.equal(n, R.sms(n).identity)
        assert.equal(n, R.viber(n).identity)
      end
    end)

    it("reject a missing or non-string identity", function()
      assert.equal("recipient: identity must be a non-empty string (got nil)",
        err_of(function() R.sms() end))
      assert.equal("recipient: identity must be a non-empty string (got number)",
        err_of(function() R.sms(46700000001) end))
      assert.equal("recipient: identity must be a non-empty string (got an empty string)",
        err_of(function() R.telegram("") end))
    end)
  end)

  describe("app-scoped channels", function()
    it("take the identity and the app id", function()
      assert.same(one("MESSENGER", "2345678", "01APP"), R.plain(R.messenger("2345678", "01APP")))
      assert.same(one("INSTAGRAM", "ig-1", "01APP"), R.plain(R.instagram("ig-1", "01APP")))
      assert.same(one("LINE", "U123", "01APP"), R.plain(R.line("U123", "01APP")))
      assert.same(one("WECHAT", "wx-1", "01APP"), R.plain(R.wechat("wx-1", "01APP")))
    end)

    it("take the app_id as optional (the docs do not require it; the batch's applies)", function()
      assert.same(one("MESSENGER", "2345678"), R.plain(R.messenger("2345678")))
      assert.same(one("WECHAT", "wx-1"), R.plain(R.channel("WECHAT", "wx-1")))
      assert.is_true(R.validate(one("INSTAGRAM", "ig")))
    end)

    it("check an app_id when one is given", function()
      assert.equal("recipient: app_id must be a non-empty string (got an empty string)",
        err_of(function() R.line("U123", "") end))
      assert.equal("recipient: app_id must be a non-empty string (got number)",
        err_of(function() R.line("U123", 7) end))
    end)
  end)

  describe("other channels", function()
    it("take any identity string", function()
      assert.same(one("TELEGRAM", "tg-1"), R.plain(R.telegram("tg-1")))
      assert.same(one("KAKAOTALK", "kk-1"), R.plain(R.kakaotalk("kk-1")))
      assert.same(one("KAKAOTALKCHAT", "kc-1"), R.plain(R.kakaotalkchat("kc-1")))
      assert.same(one("APPLEBC", "urn:mbid:x"), R.plain(R.applebc("urn:mbid:x")))
    end)
  end)

  describe("channel()", function()
    it("builds any known channel", function()
      assert.same(one("SMS", "+46700000001"), R.plain(R.channel("SMS", "+46700000001")))
      assert.same(one("MESSENGER", "p", "01APP"), R.plain(R.channel("MESSENGER", "p", "01APP")))
    end)

    it("rejects an unknown channel, naming how to add one", function()
      local msg = err_of(function() R.channel("PIGEON", "coop-1") end)
      assert.matches('^recipient: unknown channel "PIGEON" %(known: APPLEBC, .*SMS.*; '
        .. 'add one with recipient%.register_channel%)$', msg)
      assert.equal("recipient: channel must be a string (got nil)", err_of(function() R.channel() end))
    end)
  end)

  describe("register_channel()", function()
    after_each(function() R.channels.PIGEON = nil end)

    it("adds a channel that the helpers then accept, with its rules", function()
      R.register_channel("PIGEON", { app_scoped = true })
      assert.same(one("PIGEON", "coop-1", "01APP"), R.plain(R.channel("PIGEON", "coop-1", "01APP")))
      assert.same(one("PIGEON", "coop-1"), R.plain(R.channel("PIGEON", "coop-1")))
      assert.is_true(R.validate(one("PIGEON", "coop-1", "01APP")))
    end)

    it("can make a phone channel", function()
      R.register_channel("PIGEON", { phone = true })
      assert.equal('recipient: "coop" ' .. RULE,
        err_of(function() R.channel("PIGEON", "coop") end))
    end)

    it("rejects bad names and properties", function()
      assert.equal('recipient.register_channel: name must be an upper-case channel name like "SMS"',
        err_of(function() R.register_channel("pigeon") end))
      assert.equal('recipient.register_channel: unknown property "phones" (known: app_scoped, phone)',
        err_of(function() R.register_channel("PIGEON", { phones = true }) end))
      assert.equal("recipient.register_channel: phone must be a boolean",
        err_of(function() R.register_channel("PIGEON", { phone = "yes" }) end))
      assert.is_nil(R.channels.PIGEON)
    end)
  end)

  describe("contact()", function()
    it("builds a contact_id recipient", function()
      assert.same({ contact_id = "01CONTACT" }, R.contact("01CONTACT"))
    end)

    it("rejects a missing id", function()
      assert.equal("recipient: contact id must be a non-empty string (got nil)",
        err_of(function() R.contact() end))
      assert.equal("recipient: contact id must be a non-empty string (got an empty string)",
        err_of(function() R.contact("") end))
    end)
  end)

  describe("any()", function()
    it("holds several identities in order, from tables, positional tables and helpers", function()
      local r = R.any{
        R.whatsapp("+46700000001"),
        { channel = "MESSENGER", identity = "psid", app_id = "01APP" },
        { "SMS", "+46700000001" },
      }
      assert.same({ identified_by = { channel_identities = {
        { channel = "WHATSAPP", identity = "+46700000001" },
        { channel = "MESSENGER", identity = "psid", app_id = "01APP" },
        { channel = "SMS", identity = "+46700000001" },
      } } }, r)
    end)

    it("names the position of a bad identity", function()
      assert.equal('recipient.any[2]: "07o" ' .. RULE,
        err_of(function() R.any{ R.sms("+46700000001"), { "SMS", "07o" } } end))
      assert.equal("recipient.any[1]: app_id must be a non-empty string (got number)",
        err_of(function() R.any{ { channel = "MESSENGER", identity = "psid", app_id = 1 } } end))
      assert.equal("recipient.any[1].chanel: unknown field (known: app_id, channel, identity)",
        err_of(function() R.any{ { chanel = "SMS", identity = "+46700000001" } } end))
    end)

    it("rejects an empty list", function()
      assert.equal("recipient.any: expected a non-empty array of channel identities",
        err_of(function() R.any{} end))
    end)
  end)

  describe("validate()", function()
    it("accepts what the helpers build and hand-made tables", function()
      assert.is_true(R.validate(R.sms("+46700000001")))
      assert.is_true(R.validate(R.contact("01C")))
      assert.is_true(R.validate(cjson.decode(
        '{"identified_by":{"channel_identities":[{"channel":"LINE","identity":"U1","app_id":"A"}]}}')))
    end)

    local cases = {
      { "x", "recipient: expected a table (got string)" },
      { {}, "recipient: needs contact_id or identified_by" },
      { { contact_id = "a", identified_by = {} }, "recipient: give contact_id or identified_by, not both" },
      { { contact_id = 5 }, "recipient.contact_id: expected a non-empty string" },
      { { contact = "a" }, "recipient.contact: unknown field (known: contact_id, identified_by)" },
      { { identified_by = { channel_identities = {} } },
        "recipient.identified_by.channel_identities: at least 1 channel identity" },
      { { identified_by = { identities = {} } },
        "recipient.identified_by.identities: unknown field (known: channel_identities)" },
      { { identified_by = { channel_identities = { x = 1 } } },
        "recipient.identified_by.channel_identities: at least 1 channel identity" },
      { { identified_by = { channel_identities = { { channel = "SMS", identity = "+46700000001" },
        x = 1 } } },
        "recipient.identified_by.channel_identities: expected an array (found key x)" },
      { { identified_by = { channel_identities = {
          { channel = "SMS", identity = "+46700000001" }, { channel = "SMS", identity = "46 70" } } } },
        'recipient.identified_by.channel_identities[2]: "46 70" is not a phone number (an optional +, ' ..
          'then digits)' },
      { one("INSTAGRAM", "ig", ""),
        "recipient.identified_by.channel_identities[1]: app_id must be a non-empty string "
          .. "(got an empty string)" },
    }
    for i, case in ipairs(cases) do
      it("rejects bad table #" .. i .. " with: " .. case[2], function()
        local ok, err = R.validate(case[1])
        assert.is_nil(ok)
        assert.equal(case[2], err)
      end)
    end

    it("takes a path prefix for errors", function()
      local ok, err = R.validate({}, "recipients[7].recipient")
      assert.is_nil(ok)
      assert.equal("recipients[7].recipient: needs contact_id or identified_by", err)
    end)
  end)

  it("is_phone() tells what can be a phone number; is_e164() adds our E.164 shape", function()
    assert.is_true(R.is_phone("+46700000001"))
    assert.is_true(R.is_phone("46700000001"))
    assert.is_true(R.is_phone("+0987654321"))
    assert.is_false(R.is_phone("070 1234567"))
    assert.is_false(R.is_phone(46700000001))
    assert.is_true(R.is_e164("46700000001"))
    assert.is_false(R.is_e164("+0987654321"))
    assert.is_false(R.is_e164("+123456"))
    assert.is_false(R.is_e164(46700000001))
  end)

  it("starts from the C core's channel table", function()
    local core = require "sinch.batch.core"
    for name, props in pairs(core.CHANNELS) do
      assert.same(props, R.channels[name])
    end
  end)
end)
