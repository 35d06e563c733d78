-- End to end over 127.0.0.1: a CSV of a few hundred rows goes through the
-- sandbox in several batches with a ledger; the sandbox posts its signed
-- callbacks to examples/webhook_receiver.lua, which verifies and parses them
-- and maps every receipt, FAILED ones included, back to its CSV line.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"
local socket = require "socket"

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "callback-secret-for-tests"
local ROWS = 250          -- CSV data rows (lines 2..251)
local PER_BATCH = 100     -- so three batches: 100, 100, 50
local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

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

-- The receiver example: prints port=N, then one JSON line per callback, and
-- exits after --count callbacks (or after --lifetime, if they never come).
-- Returns the pipe of its stdout, its pid (`exec` keeps the shell's, printed
-- first, for a teardown) and its port.
local function start_receiver(args)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local cmd = string.format(
    "echo $$; exec env LUA_PATH=%s LUA_CPATH=%s LUA_PATH_5_4=%s LUA_CPATH_5_4=%s "
    .. "%s examples/webhook_receiver.lua --port 0 --lifetime 120 %s",
    shell_quote(package.path), shell_quote(package.cpath), shell_quote(package.path),
    shell_quote(package.cpath), LUA, table.concat(quoted, " "))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = tonumber(pipe:read("*l"))
  local first = pipe:read("*l")
  local port = tonumber(first and first:match("^port=(%d+)$"))
  assert.is_number(port, "receiver did not start: " .. tostring(first))
  return pipe, pid, port
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

    local port
    receiver, receiver_pid, port = start_receiver{ "--secret", "old-secret", "--secret", SECRET,
      "--ledger", ledger_path, "--csv", csv_path, "--count", tostring(expected_callbacks),
      "--wait", "60" } -- a loaded machine may write a ledger line late: every row must come

    m = mock.start{ args = { "--webhook", "http://127.0.0.1:" .. port .. "/sinch/callbacks",
                             "--webhook-secret", SECRET, "--quiet" } }
    local ledger = assert(batch.ledger.open(ledger_path))
    client = assert(batch.client{
      project_id = m.project_id, app_id = APP, base_url = m.url, auth_url = m.url,
      key_id = m.key_id, key_secret = m.key_secret, ledger = ledger,
    })

    -- the file goes through the library's CSV reader, PER_BATCH rows a chunk;
    -- c.rows are CSV line numbers, which the ledger records
    local msg = batch.message.text("Hi ${name}, your code is ${code}")
    local src = assert(batch.chunk.csv(csv_path, { channel = "SMS", size = PER_BATCH }))
    local sent, chunks = {}, 0 -- batch_id -> the CSV lines of that batch, in order
    for c in src do
      chunks = chunks + 1
      for _, e in ipairs(c.recipients) do
        -- an empty code is left out, so ${code} cannot be substituted
        if e.parameters.code == "" then e.parameters.code = nil end
      end
      local res, err = client:send({ message = msg, recipients = c.recipients, check = false,
                                     batch_metadata = { campaign = "e2e" } },
                                   { rows = c.rows, recipients = c.recipients })
      assert.is_table(res, tostring(err))
      sent[res.batch_id] = c.rows
    end
    assert.same({}, src.bad)
    assert.equal(math.ceil(ROWS / PER_BATCH), chunks)
    ledger:close()

    -- what the receiver logged, one line per callback
    local by_type, deliveries = {}, {}
    for line in receiver:lines() do
      local e = assert(cjson.decode(line))
      if e.waiting_for_batch then
        -- a receipt that overtook its ledger line: its own line follows
        assert.is_not_nil(sent[e.waiting_for_batch], line)
      else
        assert.is_true(e.verified, line)
        assert.equal("/sinch/callbacks", e.path)
        by_type[e.type] = (by_type[e.type] or 0) + 1
        if e.type == "message_delivery" then deliveries[#deliveries + 1] = e end
      end
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

describe("the receiver example", function()
  local receiver, receiver_pid, base

  teardown(function()
    if receiver then
      if receiver_pid then mock.run("kill " .. receiver_pid .. " 2>/dev/null") end
      receiver:close()
    end
    if base then os.remove(base) os.remove(base .. ".ledger") end
  end)

  it("answers and stores a receipt that overtook its batch's ledger line, and logs its row later",
     function()
    base = os.tmpname()
    local ledger_path, store_path = base .. ".ledger", base .. ".receipts"
    local port
    receiver, receiver_pid, port = start_receiver{ "--secret", SECRET, "--ledger", ledger_path,
                                                   "--store", store_path, "--count", "2",
                                                   "--wait", "60" }
    local function post(index, nonce)
      local body = cjson.encode{
        app_id = APP, message_delivery_report = { message_id = "M" .. index, status = "DELIVERED",
                                                  metadata = "" },
        message_metadata = '{"batchId":"01EARLYBATCHXXXXXXXXXXXXXX","messageIndex":' .. index .. '}' }
      local headers = batch.webhook.sign(SECRET, body, nonce, os.time())
      local req = { "POST /sinch/callbacks HTTP/1.1", "Host: 127.0.0.1",
                    "Content-Length: " .. #body }
      for k, v in pairs(headers) do req[#req + 1] = k .. ": " .. v end
      local c = assert(socket.connect("127.0.0.1", port))
      c:settimeout(30) -- a hung receiver fails the spec instead of hanging it
      assert(c:send(table.concat(req, "\r\n") .. "\r\n\r\n" .. body))
      local status = c:receive("*l")
      c:close()
      return status
    end
    -- the batch is not in the ledger yet: the receiver answers at once and
    -- says the line waits, and a second receipt is not held up either
    assert.equal("HTTP/1.1 200 OK", post(1, "01NONCEEARLY1"))
    assert.same({ waiting_for_batch = "01EARLYBATCHXXXXXXXXXXXXXX" }, cjson.decode(receiver:read("*l")))
    assert.equal("HTTP/1.1 200 OK", post(0, "01NONCEEARLY0"))
    assert.same({ waiting_for_batch = "01EARLYBATCHXXXXXXXXXXXXXX" }, cjson.decode(receiver:read("*l")))
    -- ... and the sender's line, once written, gives the receipts their rows
    local ledger = assert(batch.ledger.open(ledger_path))
    ledger:record{ batch_id = "01EARLYBATCHXXXXXXXXXXXXXX", rows = { 7, 8 }, recipients = { "+1", "+2" } }
    ledger:close()
    local got = {}
    for _ = 1, 2 do
      local e = assert(cjson.decode(receiver:read("*l")))
      got[e.message_index] = e
    end
    assert.equal(8, got[1].row)
    assert.equal("+2", got[1].recipient)
    assert.equal(7, got[0].row)
    assert.is_nil(receiver:read("*l")) -- it exits after --count 2
    receiver:close()
    receiver = nil
    -- the store has both, joined to the ledger's rows
    local store = assert(batch.outcomes.open(store_path))
    local tag = assert(batch.ledger.open(ledger_path)):entry("01EARLYBATCHXXXXXXXXXXXXXX").tag
    local r = assert(store:report(tag))
    assert.equal(2, r.delivered)
    assert.equal(2, r.recipients)
    store:close()
    for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(store_path .. sfx) end
  end)
end)

describe("client:send with a ledger", function()
  local m, client, path, dir_ledgers

  local function open_ledger()
    local l = assert(batch.ledger.open(path))
    dir_ledgers[#dir_ledgers + 1] = l
    return l
  end

  setup(function()
    m = mock.start()
  end)

  teardown(function()
    if m then m:stop() end
  end)

  before_each(function()
    path = os.tmpname()
    dir_ledgers = {}
  end)

  after_each(function()
    if client then client:close() end
    client = nil
    for _, l in ipairs(dir_ledgers) do l:close() end
    os.remove(path)
  end)

  local function new_client(ledger)
    client = assert(batch.client{
      project_id = m.project_id, app_id = APP, base_url = m.url, auth_url = m.url,
      key_id = m.key_id, key_secret = m.key_secret, ledger = ledger,
    })
    return client
  end

  local R, msg = batch.recipient, batch.message.text("hi")

  it("has the batch in the file when send returns (another reader sees it)", function()
    local c = new_client(open_ledger())
    local res = assert(c:send({ message = msg, batch_metadata = { campaign = "spring" },
                                recipients = { { recipient = R.sms("+46700000001") },
                                               { recipient = R.sms("+46700000002") } } },
                              { rows = { 12, 13 }, recipients = { "+46700000001", "+46700000002" } }))
    -- a second ledger on the same file, opened after send returned and
    -- while the client's ledger is still open
    local other = open_ledger()
    assert.same({ row = 13, recipient = "+46700000002", tag = "campaign=spring",
                  batch_id = res.batch_id, index = 1 }, other:lookup(res.batch_id, 1))
  end)

  it("records a batch from client:batch() with the rows given, or 1, 2, … without", function()
    local c = new_client(open_ledger())
    local b = assert(c:batch{ message = msg })
    assert(b:add(R.sms("+46700000001")))
    assert(b:add(R.sms("+46700000002")))
    local with_rows = assert(c:send(b, { rows = { 41, 42 } }))
    local without = assert(c:send(b))
    local other = open_ledger()
    assert.equal(42, other:lookup(with_rows.batch_id, 1).row)
    assert.equal(2, other:lookup(without.batch_id, 1).row)
    assert.is_nil(other:lookup(without.batch_id, 2))
  end)

  it("records the recipients of a table send by themselves", function()
    local c = new_client(open_ledger())
    local res = assert(c:send{ message = msg, recipients = {
      { recipient = R.sms("+46700000001") }, { recipient = R.contact("01CONTACTXXXXXXXXXXXXXXXXX") } } })
    local hit = open_ledger():lookup(res.batch_id, 1)
    assert.equal(2, hit.row)
    assert.equal("01CONTACTXXXXXXXXXXXXXXXXX", hit.recipient)
  end)

  it("takes rows and a tag per send, recipients from a table send, and a stable default tag", function()
    local c = new_client(open_ledger())
    local res = assert(c:send({ message = msg, batch_metadata = { z = "last", a = "first" },
      recipients = { { recipient = R.sms("+46700000001") }, { recipient = R.sms("+46700000002") } } },
      { rows = { 7, 8 } }))
    local hit = open_ledger():lookup(res.batch_id, 1)
    assert.equal(8, hit.row)
    assert.equal("+46700000002", hit.recipient)
    assert.equal("a=first", hit.tag)
    res = assert(c:send({ message = msg, recipients = { { recipient = R.sms("+46700000003") } } },
      { tag = "mine" }))
    assert.equal("mine", open_ledger():lookup(res.batch_id, 0).tag)
  end)

  it("refuses, before sending, a ledger entry that cannot be written", function()
    local l = open_ledger()
    local c = new_client(l)
    local entries = { { recipient = R.sms("+46700000001") }, { recipient = R.sms("+46700000002") } }
    local before = m:stats().batches_accepted
    local res, err = c:send({ message = msg, recipients = entries }, { rows = { 1 } })
    assert.is_nil(res)
    assert.equal("invalid", err.kind)
    assert.equal("rows: 1 given for 2 recipients; the ledger needs one per recipient", err.message)
    l:close()
    res, err = c:send{ message = msg, recipients = entries }
    assert.is_nil(res)
    assert.equal("ledger: the ledger is closed", err.message)
    assert.equal(before, m:stats().batches_accepted)
    assert.has_error(function() c:send({ message = msg, recipients = entries }, { ledgr = l }) end,
      "bad argument #2 to 'send' (unknown option 'ledgr')")
  end)

  it("reports a failed ledger write with the id of the batch that was accepted", function()
    local failing = { record = function() return nil, { message = "disk full" } end }
    local c = new_client(failing)
    local res, err = c:send{ message = msg, recipients = { { recipient = R.sms("+46700000001") } } }
    assert.is_nil(res)
    assert.equal("internal", err.kind)
    assert.is_true(err.may_have_been_processed)
    assert.is_string(err.batch_id)
    assert.matches("was accepted but the ledger write failed: disk full", err.message, 1, true)
    -- the sandbox did take it
    local status, _, _, st = m:api("GET", "/messages/" .. err.batch_id)
    assert.equal(200, status)
    assert.equal(err.batch_id, st.batch_id)
  end)
end)

describe("examples/webhook_receiver.lua and nonces", function()
  local receiver, pid

  teardown(function()
    if receiver then
      if pid then mock.run("kill " .. pid .. " 2>/dev/null") end
      receiver:close()
    end
  end)

  it("records a nonce only once its callback was handled", function()
    local port
    receiver, pid, port = start_receiver{ "--secret", SECRET, "--count", "4" }
    local http = mock.http(port)
    local function post(body, nonce)
      local h = batch.webhook.sign(SECRET, body, nonce)
      local st, err = http:post("/cb", body, h)
      assert(st, err)
      return st
    end
    -- a callback the receiver cannot handle (not JSON): a retry is handled again, not refused
    assert.equal(400, post("not json", "nonce-1"))
    assert.equal(400, post("not json", "nonce-1"))
    -- a handled one: its retry is acknowledged without being processed twice
    local ok_body = cjson.encode{ app_id = APP, batch_status_update_notification = {
      batch_id = "01BATCH", status = "BATCH_STATUS_COMPLETED" } }
    assert.equal(200, post(ok_body, "nonce-2"))
    assert.equal(200, post(ok_body, "nonce-2"))
    local lines = {}
    for line in receiver:lines() do lines[#lines + 1] = assert(cjson.decode(line)) end
    receiver:close()
    receiver = nil
    assert.equal(4, #lines)
    assert.is_nil(lines[2].reason) -- not "replayed"
    assert.is_nil(lines[3].duplicate)
    assert.is_true(lines[4].duplicate)
  end)
end)
