-- End to end over 127.0.0.1: a CSV of a few hundred rows goes through the
-- sandbox in several batches with a ledger; the sandbox posts its signed
-- callbacks to examples/webhook_receiver.lua, which verifies and parses them
-- and maps every receipt, FAILED ones included, back to its CSV line.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "callback-secret-for-tests"
local ROWS = 250          -- CSV data rows (lines 2..251)
local PER_BATCH = 100     -- so three batches: 100, 100, 50
local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- Every 17th row has no code: its ${code} cannot be substituted, so the
-- sandbox reports it FAILED (as Sinch does, after accepting the batch).
local function make_csv(path)
  local lines = { "phone,name,code" }
  for i = 1, ROWS do
    local code = (i % 17 == 0) and "" or string.format("%04d", i)
    lines[#lines + 1] = string.format("+4670%07d,Name %d,%s", i, i, code)
  end
  write_file(path, table.concat(lines, "\n") .. "\n")
end

-- Reads the CSV back: { line = n, phone, name, code } per data row.
local function read_csv(path)
  local rows, n = {}, 0
  for line in io.lines(path) do
    n = n + 1
    if n > 1 then
      local phone, name, code = line:match("^([^,]*),([^,]*),([^,]*)$")
      rows[#rows + 1] = { line = n, phone = phone, name = name, code = code, text = line }
    end
  end
  return rows
end

describe("callbacks end to end", function()
  local m, receiver, receiver_pid, base, client

  teardown(function()
    if client then client:close() end
    if m then m:stop() end
    if receiver then
      -- a failed run: stop the receiver we started instead of waiting for its --lifetime
      if receiver_pid then mock.run("kill " .. receiver_pid .. " 2>/dev/null") end
      receiver:close()
    end
    if base then
      for _, ext in ipairs({ "", ".csv", ".ledger" }) do os.remove(base .. ext) end
    end
  end)

  it("maps every receipt, FAILED ones included, back to its exact CSV row", function()
    base = os.tmpname()
    local csv_path, ledger_path = base .. ".csv", base .. ".ledger"
    make_csv(csv_path)
    local rows = read_csv(csv_path)
    assert.equal(ROWS, #rows)
    local expected_callbacks = ROWS + math.ceil(ROWS / PER_BATCH) -- deliveries + batch statuses

    -- the receiver: prints port=N, then one JSON line per callback, and
    -- exits after the expected number (or after --lifetime, if they never come);
    -- `exec` keeps the shell's pid, printed first, for the teardown
    local cmd = string.format(
      "echo $$; exec env LUA_PATH=%s LUA_CPATH=%s LUA_PATH_5_4=%s LUA_CPATH_5_4=%s "
      .. "%s examples/webhook_receiver.lua "
      .. "--port 0 --secret old-secret --secret %s --ledger %s --csv %s --count %d --lifetime 120",
      shell_quote(package.path), shell_quote(package.cpath), shell_quote(package.path),
      shell_quote(package.cpath), LUA, shell_quote(SECRET), shell_quote(ledger_path),
      shell_quote(csv_path), expected_callbacks)
    receiver = assert(io.popen(cmd, "r"))
    receiver_pid = tonumber(receiver:read("*l"))
    local first = receiver:read("*l")
    local port = tonumber(first and first:match("^port=(%d+)$"))
    assert.is_number(port, "receiver did not start: " .. tostring(first))

    m = mock.start{ args = { "--webhook", "http://127.0.0.1:" .. port .. "/sinch/callbacks",
                             "--webhook-secret", SECRET, "--quiet" } }
    local ledger = assert(batch.ledger.open(ledger_path))
    client = assert(batch.client{
      project_id = m.project_id, app_id = APP, base_url = m.url, auth_url = m.url,
      key_id = m.key_id, key_secret = m.key_secret, ledger = ledger,
    })

    local R, msg = batch.recipient, batch.message.text("Hi ${name}, your code is ${code}")
    local sent = {} -- batch_id -> the rows of that batch, in order
    for first_row = 1, ROWS, PER_BATCH do
      local entries, lines = {}, {}
      for i = first_row, math.min(first_row + PER_BATCH - 1, ROWS) do
        local r = rows[i]
        local params = { name = r.name }
        if r.code ~= "" then params.code = r.code end
        entries[#entries + 1] = { recipient = R.sms(r.phone), parameters = params }
        lines[#lines + 1] = r.line
      end
      local res, err = client:send({ message = msg, recipients = entries, check = false,
                                     batch_metadata = { campaign = "e2e" } },
                                   { rows = lines, recipients = entries })
      assert.is_table(res, tostring(err))
      sent[res.batch_id] = lines
    end
    ledger:close()

    -- what the receiver logged, one line per callback
    local by_type, deliveries = {}, {}
    for line in receiver:lines() do
      local e = assert(cjson.decode(line))
      assert.is_true(e.verified, line)
      assert.equal("/sinch/callbacks", e.path)
      by_type[e.type] = (by_type[e.type] or 0) + 1
      if e.type == "message_delivery" then deliveries[#deliveries + 1] = e end
    end
    receiver:close()
    receiver = nil

    assert.same({ batch_status_update = math.ceil(ROWS / PER_BATCH), message_delivery = ROWS }, by_type)
    local seen, failed, failed_expected = {}, 0, 0
    for _, d in ipairs(deliveries) do
      local key = d.batch_id .. "#" .. d.message_index
      assert.is_nil(seen[key], "receipt delivered twice: " .. key)
      seen[key] = true
      -- the ledger's row is the CSV line the recipient came from ...
      local line = sent[d.batch_id][d.message_index + 1]
      assert.equal(line, d.row)
      local r = rows[line - 1]
      assert.equal(r.text, d.csv)
      -- ... which is the recipient the sandbox delivered to
      assert.equal(r.phone, d.recipient)
      assert.equal(r.phone, d.identity)
      assert.equal("campaign=e2e", d.tag)
      if r.code == "" then
        assert.equal("FAILED", d.status)
        assert.equal("BAD_REQUEST", d.reason_code)
        failed = failed + 1
      else
        assert.equal("DELIVERED", d.status)
      end
    end
    for _, r in ipairs(rows) do
      if r.code == "" then failed_expected = failed_expected + 1 end
    end
    assert.equal(math.floor(ROWS / 17), failed_expected)
    assert.equal(failed_expected, failed)
  end)
end)
