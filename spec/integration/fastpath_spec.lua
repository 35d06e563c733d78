-- The taught paths (client:send{recipients}, client:batch + b:add, the
-- batch's add_row / add_columns) run every per-recipient rule in the C
-- builder; what the sandbox on 127.0.0.1 receives shows it.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"

local M, R = batch.message, batch.recipient
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"

local function last_send(m)
  local reqs = m:requests()
  for i = #reqs, 1, -1 do
    if reqs[i].path ~= "/oauth2/token" then return cjson.decode(reqs[i].body) end
  end
end

describe("taught paths", function()
  local m, client

  setup(function() m = mock.start() end)
  teardown(function()
    if client then client:close() end
    if m then m:stop() end
  end)
  before_each(function()
    m:reset()
    if client then client:close() end
    client = m:client{ app_id = APP, region = "eu" }
  end)

  it("never sends an empty value: a used name is missing, another is left out", function()
    local msg = M.text("Hi ${name}, code ${code}")
    local res, err = client:send{ message = msg, recipients = {
      { recipient = R.sms("+46700000001"), parameters = { name = "Ann", code = "1" } },
      { recipient = R.sms("+46700000002"), parameters = { name = "Bo", code = "" } } } }
    assert.is_nil(res)
    assert.equal("invalid", err.kind)
    assert.equal("recipients[2].parameters.code: empty; the message uses ${code}", err.message)
    assert.is_nil(last_send(m)) -- nothing was sent

    res = assert(client:send{ message = msg, defaults = { code = "0000" }, recipients = {
      { recipient = R.sms("+46700000001"), parameters = { name = "Ann", code = "", note = "" } },
      { recipient = { identified_by = { channel_identities = {
          { channel = "SMS", identity = "46700000002" } } } }, -- no +: a phone number too
        parameters = { name = "Bo", code = "7" } } } })
    assert.is_string(res.batch_id)
    local body = last_send(m)
    assert.same({ name = "Ann", code = "0000" }, body.recipient_and_params[1].parameters)
    assert.same({ name = "Bo", code = "7" }, body.recipient_and_params[2].parameters)
  end)

  it("checks recipients in C on the table path, naming the entry", function()
    local res, err = client:send{ message = M.text("Hi"), recipients = {
      { recipient = R.sms("+46700000001") },
      { recipient = { identified_by = { channel_identities = {
        { channel = "SMS", identity = "07 01" } } } } } } }
    assert.is_nil(res)
    assert.matches('^recipients%[2%]%.recipient%.identified_by%.channel_identities%[1%]%.identity: '
      .. '"07 01" is not a phone number', err.message)
    res, err = client:send{ message = M.text("Hi"), recipients = {
      { recipient = { identified_by = "x" } } } }
    assert.is_nil(res)
    assert.equal("recipients[1]: recipient.identified_by: expected a table, got string",
      err.message)
  end)

  it("offers columns/add_row/add_columns on the batch, with the same rules", function()
    local b = assert(client:batch{ message = M.text("Hi ${name}"), defaults = { name = "you" } })
    assert.equal(2, b:columns{ "name", "extra" })
    assert.equal(1, b:add_row("SMS", "+46700000001", "Ann", "x"))
    assert.equal(2, b:add_row("SMS", "+46700000002", "", ""))
    assert.equal(3, b:add_columns("SMS", { "+46700000003" }, { name = { "Cy" } }))
    local n, err = b:add_row("SMS", "12x", "Di", "")
    assert.is_nil(n)
    assert.matches('"12x" is not a phone number', err.message)
    assert.same({ extra = 1 }, b:unused())
    local res = assert(client:send(b))
    assert.same({ extra = 1 }, res.unused)
    local body = last_send(m)
    assert.same({ name = "Ann", extra = "x" }, body.recipient_and_params[1].parameters)
    assert.same({ name = "you" }, body.recipient_and_params[2].parameters)
    assert.same({ name = "Cy" }, body.recipient_and_params[3].parameters)
  end)
end)
