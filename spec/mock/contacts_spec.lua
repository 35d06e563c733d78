-- sinch-batch-mock: contacts and consents, over raw HTTP.
local mock = require "support.mock"
local cjson = require "cjson.safe"

local function contact(n, extra)
  local c = { channel_identities = { { channel = "SMS", identity = "+4670" .. n } },
              language = "EN_US" }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

describe("sinch-batch-mock contacts and consents", function()
  local m

  setup(function() m = mock.start{} end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function refused(method, rest, b, message)
    local status, raw, _, res = m:api(method, rest, b)
    assert.equal(400, status, raw)
    assert.equal("INVALID_ARGUMENT", res.error.status)
    assert.equal(message, res.error.message)
  end

  it("creates contacts (answering {}) and stores them", function()
    local status, raw = m:api("POST", "/contacts", { contacts = { contact(1), contact(2, {
      display_name = "Two", channel_priority = { "SMS" } }) } })
    assert.equal(200, status)
    assert.equal("{}", raw)
    assert.equal(2, m:stats().contacts)
    local _, list = m:get("/_mock/contacts")
    local stored = cjson.decode(list).contacts
    assert.equal("Unknown", stored[1].display_name)
    assert.equal("Two", stored[2].display_name)
    assert.equal(26, #stored[1].id)
  end)

  it("deletes contacts by id (answering {})", function()
    m:api("POST", "/contacts", { contacts = { contact(1), contact(2) } })
    local _, list = m:get("/_mock/contacts")
    local id = cjson.decode(list).contacts[1].id
    local status, raw = m:api("DELETE", "/contacts", { contact_ids = { id } })
    assert.equal(200, status)
    assert.equal("{}", raw)
    assert.equal(1, m:stats().contacts)
  end)

  it("holds 1 to 1000 contacts per request", function()
    local many = {}
    for i = 1, 1001 do many[i] = contact(i) end
    refused("POST", "/contacts", { contacts = many },
            "contacts[1000]: a request holds at most 1000 contacts")
    refused("POST", "/contacts", { }, "contacts: is required")
    local status, raw = m:api("POST", "/contacts", '{"contacts":[]}')
    assert.equal(400, status)
    assert.equal("contacts: a request holds at least 1 contact", cjson.decode(raw).error.message)
    local ids = {}
    for i = 1, 1001 do ids[i] = "id" .. i end
    refused("DELETE", "/contacts", { contact_ids = ids },
            "contact_ids[1000]: a request holds at most 1000 contact ids")
  end)

  it("requires a language from the enum and channel identities", function()
    refused("POST", "/contacts", { contacts = { contact(1, { language = "KLINGON" }) } },
            "contacts[0].language: 'KLINGON' is not a contact language (one of AF, SQ, AR, AZ, "
            .. "BN, BG, CA, ZH, ZH_CN, ZH_HK, ZH_TW, HR, CS, DA, NL, EN, EN_GB, EN_US, ET, FIL, "
            .. "FI, FR, DE, EL, GU, HA, HE, HI, HU, ID, GA, IT, JA, KN, KK, KO, LO, LV, LT, MK, "
            .. "MS, ML, MR, NB, FA, PL, PT, PT_BR, PT_PT, PA, RO, RU, SR, SK, SL, ES, ES_AR, "
            .. "ES_ES, ES_MX, SW, SV, TA, TE, TH, TR, UK, UR, UZ, VI, ZU)")
    local c = contact(1)
    c.language = nil
    refused("POST", "/contacts", { contacts = { c } }, "contacts[0].language: is required")
    c = contact(1)
    c.channel_identities = nil
    refused("POST", "/contacts", { contacts = { c } },
            "contacts[0].channel_identities: is required")
  end)

  it("requires app_id on an app-scoped channel identity (the reference: Messenger, Instagram, "
     .. "LINE, WeChat)", function()
    for _, ch in ipairs({ "MESSENGER", "INSTAGRAM", "LINE", "WECHAT" }) do
      refused("POST", "/contacts", { contacts = { contact(1, {
        channel_identities = { { channel = ch, identity = "psid-1" } } }) } },
              "contacts[0].channel_identities[0].app_id: is required for the app-scoped channel " .. ch)
      refused("POST", "/contacts", { contacts = { contact(1, {
        channel_identities = { { channel = ch, identity = "psid-1", app_id = "" } } }) } },
              "contacts[0].channel_identities[0].app_id: is required for the app-scoped channel " .. ch)
    end
    assert.equal(200, (m:api("POST", "/contacts", { contacts = { contact(1, {
      channel_identities = { { channel = "TELEGRAM", identity = "someone" } } }) } })))
    refused("POST", "/contacts", { contacts = { contact(1, { channel_identities = {
      { channel = "MESSENGER", identity = "psid-1", app_id = 5 } } }) } },
            "contacts[0].channel_identities[0].app_id: must be a string")
    assert.equal(200, (m:api("POST", "/contacts", { contacts = { contact(1, { channel_identities = {
      { channel = "MESSENGER", identity = "psid-1", app_id = "01APP" } } }) } })))
  end)

  it("inserts consent records and answers a batch id", function()
    local status, raw, _, res = m:api("POST", "/consents", { app_id = "01APP", consent_records = {
      { identification = "+46700000001", consent_type = "OPT_OUT_MARKETING" },
      { identification = "+46700000002" } } })
    assert.equal(200, status, raw)
    assert.equal(26, #res.batch_id)
    assert.equal(2, m:stats().consent_records)
  end)

  it("takes more than 1000 consent records (no documented limit) up to its own cap", function()
    local function records(n)
      local list = {}
      for i = 1, n do list[i] = { identification = "+4670" .. (1000000 + i) } end
      return { app_id = "01APP", consent_records = list }
    end
    local status, raw = m:api("POST", "/consents", records(1001))
    assert.equal(200, status, raw)
    refused("POST", "/consents", records(100001),
            "consent_records[100000]: this sandbox takes at most 100000 consent records in a "
            .. "request (its own limit: the API documents none)")
  end)

  it("validates consent records", function()
    refused("POST", "/consents", { consent_records = { { identification = "x" } } },
            "app_id: is required")
    refused("POST", "/consents", { app_id = "A", consent_records = { { consent_type = "OPT_OUT_ALL" } } },
            "consent_records[0].identification: is required")
    refused("POST", "/consents", { app_id = "A", consent_records = {
      { identification = "x", consent_type = "OPT_IN" } } },
            "consent_records[0].consent_type: 'OPT_IN' is not a consent type (one of "
            .. "OPT_OUT_ALL, OPT_OUT_NOTIFICATION, OPT_OUT_MARKETING)")
  end)
end)
