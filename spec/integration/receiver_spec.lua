-- examples/webhook_receiver.lua under abuse, over real sockets on
-- 127.0.0.1: a slow client holds only its own connection, a body over the
-- limit is refused before it is read, header and time limits, keep-alive,
-- and a receipt is answered only once it is in the store.
local webhook = require "sinch.batch.webhook"
local sqlite = require "sinch.batch.sqlite"
local receiver = require "support.receiver"
local flood = require "support.flood"
local poison = require "support.poison"

local SECRET = "receiver-spec-secret"

local function signed(i, run)
  return flood.request("/callbacks", SECRET, i, run or "spec", tostring(os.time()))
end

-- status line and headers of one response (lower-cased names)
local function response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    headers[k:lower()] = v
  end
  local len = tonumber(headers["content-length"] or "0")
  if len > 0 then assert(c:receive(len)) end
  return tonumber(line:match("^HTTP/1%.1 (%d+)")), headers
end

-- true when nothing has arrived on c (it would block)
local function nothing_yet(c)
  c:settimeout(0)
  local data, err, partial = c:receive(1)
  c:settimeout(10)
  return data == nil and err == "timeout" and partial == ""
end

local function rows(db, sql)
  local d = assert(sqlite.open(db))
  local st = assert(d:prepare(sql))
  local r = assert(st:rows())
  st:close()
  d:close()
  return r
end

local function remove_db(db)
  for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end
end

describe("examples/webhook_receiver.lua under abuse", function()
  local r, db

  setup(function()
    db = os.tmpname()
    r = receiver.start{ "--secret", SECRET, "--store", db, "--max-body", "4096",
                        "--request-timeout", "2" }
  end)

  teardown(function()
    if r then r:kill(9) end
    remove_db(db)
  end)

  it("serves another request while a client sends its headers slowly", function()
    local slow = r:connect()
    assert(slow:send("POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
    assert(slow:send("Content-Type: application/json\r\n"))
    -- a complete request on another connection is answered, and stored, while
    -- the slow one is still open and unanswered
    local fast = r:connect()
    assert(fast:send(signed(1)))
    assert.equal(200, (response(fast)))
    assert.is_true(nothing_yet(slow))
    assert.equal(1, rows(db, "SELECT count(*) FROM receipts WHERE key = 'M1|DELIVERED'")[1][1])
    -- the slow client finishes its request and gets its own answer
    local req = signed(2)
    assert(slow:send(req:sub(req:find("\r\n", 1, true) + 2)))
    assert.equal(200, (response(slow)))
    slow:close()
    fast:close()
  end)

  it("refuses a body over --max-body from its Content-Length, before reading it", function()
    local c = r:connect()
    -- no byte of the body is ever sent: the answer can only come from the headers
    assert(c:send("POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      .. "Content-Length: 20000000\r\n\r\n"))
    local status, headers = response(c)
    assert.equal(413, status)
    assert.equal("close", headers.connection)
    assert.is_nil((c:receive(1))) -- and the connection is closed
    c:close()
  end)

  it("refuses too many header lines and an overlong one (431)", function()
    local c = r:connect()
    local many = { "POST /callbacks HTTP/1.1\r\n" }
    for i = 1, 80 do many[#many + 1] = ("X-Filler-%d: x\r\n"):format(i) end
    assert(c:send(table.concat(many)))
    assert.equal(431, (response(c)))
    c:close()
    c = r:connect()
    assert(c:send("POST /callbacks HTTP/1.1\r\nX-Long: " .. ("a"):rep(10000) .. "\r\n"))
    assert.equal(431, (response(c)))
    c:close()
  end)

  it("reads header lines exactly: a malformed line or a bare CR is refused (400), spaces trimmed", function()
    for _, bad in ipairs{ "Bad Name: x\r\n", "X-A: 1\rX-B: 2\r\n", "no colon here\r\n" } do
      local c = r:connect()
      assert(c:send("POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\n" .. bad
        .. "Content-Length: 2\r\n\r\n{}"))
      assert.equal(400, (response(c)), bad)
      c:close()
    end
    -- the signature headers with spaces and tabs around their values still verify
    local req = signed(20):gsub("\r\n(x%-sinch%-webhook%-signature%-nonce): ([^\r]*)", "\r\n%1: \t %2 \t ", 1)
    req = req:gsub("\r\n(x%-sinch%-webhook%-signature): ([^\r]*)", "\r\n%1:%2  ", 1)
    assert.matches("nonce: \t ", req)
    local c = r:connect()
    assert(c:send(req))
    assert.equal(200, (response(c)))
    c:close()
  end)

  it("answers 408 to a request not complete within --request-timeout", function()
    local c = r:connect()
    assert(c:send("POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
    assert.equal(408, (response(c))) -- c's 10 s bound only stops a broken run
    c:close()
  end)

  it("keeps a connection alive across requests, and answers a bad signature 401", function()
    local c = r:connect()
    for i = 10, 12 do
      assert(c:send(signed(i)))
      local status, headers = response(c)
      assert.equal(200, status)
      assert.equal("keep-alive", headers.connection)
    end
    local bad = signed(13):gsub("M13", "M14") -- the body no longer matches its signature
    assert(c:send(bad))
    assert.equal(401, (response(c)))
    assert(c:send(signed(15)))
    assert.equal(200, (response(c)))
    c:close()
    local keys = rows(db, "SELECT key FROM receipts WHERE key IN ('M10|DELIVERED', 'M11|DELIVERED', "
      .. "'M12|DELIVERED', 'M14|DELIVERED', 'M15|DELIVERED') ORDER BY key")
    assert.same({ { "M10|DELIVERED" }, { "M11|DELIVERED" }, { "M12|DELIVERED" }, { "M15|DELIVERED" } },
      keys)
  end)

  it("stores a receipt whose messageIndex is out of range (1e300) without an outcome", function()
    local raw = '{"app_id":"A","project_id":"P","event_time":"2026-11-29T10:00:00Z",'
      .. '"message_delivery_report":{"message_id":"HUGE","status":"DELIVERED"},'
      .. '"message_metadata":"{\\"batchId\\":\\"BHUGE\\",\\"messageIndex\\":1e300}"}'
    local h = webhook.sign(SECRET, raw, "huge-1", tostring(os.time()))
    local req = { "POST /callbacks HTTP/1.1\r\nContent-Length: ", #raw, "\r\n" }
    for k, v in pairs(h) do req[#req + 1] = k .. ": " .. v .. "\r\n" end
    req[#req + 1] = "\r\n" .. raw
    local c = r:connect()
    assert(c:send(table.concat(req)))
    assert.equal(200, (response(c)))
    c:close()
    assert.same({ { "BHUGE" } }, rows(db, "SELECT batch_id FROM receipts WHERE key = 'HUGE|DELIVERED' "
      .. "AND msg_index IS NULL"))
    assert.same({ { 0 } }, rows(db, "SELECT count(*) FROM outcomes WHERE batch_id = 'BHUGE'"))
  end)

  it("stores receipts holding a NUL byte or bad UTF-8 with the good ones of their group, once", function()
    local F = poison.FFFD
    assert.same(poison.all(200), poison.post(r, SECRET, "poison"))
    assert.same(poison.all(200), poison.post(r, SECRET, "poison-retry")) -- new nonces: the store dedupes
    local got = rows(db, "SELECT key, message_id, status, reason, description FROM receipts "
      .. "WHERE batch_id LIKE 'PB1%' AND length(key) < 100 AND length(batch_id) < 100 ORDER BY key")
    -- the text as PostgreSQL's store keeps it too (U+FFFD), each receipt once
    assert.same({
      { "PB1#6|FAILED", nil, "FAILED", F .. F, "overlong" },
      { "PM0|DELIVERED", "PM0", "DELIVERED" },
      { "PM1" .. F .. "00x|DELIVERED", "PM1" .. F .. "x", "DELIVERED" },
      { "PM2|FAILED", "PM2", "FAILED", "BAD" .. F .. "CODE", "d" .. F .. F },
      { "PM3" .. F .. "E282|DELIVERED", "PM3" .. F, "DELIVERED" },
      { "PM4|DELIVERED", "PM4", "DELIVERED" },
      { "PM5|DELIVERED" .. F .. "00", "PM5", "DELIVERED" .. F },
      { "PM7|FAILED", "PM7", "FAILED", "RECIPIENT_NOT_REACHABLE", "x" },
    }, got)
    -- too long for an index entry (1000 bytes and more): cut, with a digest of the whole
    assert.same({ { 8, 1, 1 } }, rows(db, "SELECT msg_index, length(key) < 1000, message_id = '"
      .. poison.LONG .. "' FROM receipts WHERE key LIKE '" .. poison.LONG:sub(1, 900) .. "%'"))
    assert.same({ { "PM9|DELIVERED", 1 } }, rows(db, "SELECT key, length(batch_id) < 1000 FROM receipts "
      .. "WHERE batch_id LIKE 'PB1" .. poison.LONG:sub(1, 897) .. "%'"))
    assert.same({ { poison.COUNT } }, rows(db, "SELECT count(*) FROM receipts WHERE batch_id LIKE 'PB1%'"))
  end)

  it("serves many connections at once, every answered receipt stored", function()
    local acked = os.tmpname()
    local ok = os.execute(("SINCH_BATCH_BUILD=%s %s spec/support/flood.lua %d /callbacks 1000 3000 16 "
      .. "%s many %s >/dev/null"):format(os.getenv("SINCH_BATCH_BUILD") or "build", receiver.LUA,
      r.port, SECRET, acked))
    assert.is_truthy(ok == true or ok == 0)
    local n = 0
    for _ in io.lines(acked) do n = n + 1 end
    os.remove(acked)
    assert.equal(2000, n)
    assert.equal(2000, rows(db, "SELECT count(*) FROM receipts WHERE key GLOB 'M[0-9]*' "
      .. "AND CAST(substr(key, 2, instr(key, '|') - 2) AS INTEGER) BETWEEN 1000 AND 2999")[1][1])
  end)
end)

describe("the SQLite binding", function()
  it("binds a number outside int64's range (1e300, -1e300, 2^63, NaN) as a double", function()
    local db = os.tmpname()
    local d = assert(sqlite.open(db))
    assert(d:exec("CREATE TABLE t (x INTEGER)"))
    local st = assert(d:prepare("INSERT INTO t VALUES (?)"))
    for _, x in ipairs{ 1e300, -1e300, 2 ^ 63, -(2 ^ 63), 0 / 0, 42 } do assert(st:run(x)) end
    st:close()
    local q = assert(d:prepare("SELECT typeof(x), x FROM t ORDER BY rowid"))
    local got = assert(q:rows())
    q:close()
    d:close()
    remove_db(db)
    assert.same({ "real", 1e300 }, got[1])
    assert.same({ "real", -1e300 }, got[2])
    assert.same({ "real", 2 ^ 63 }, got[3])
    assert.same("integer", got[4][1]) -- -2^63 is int64's own minimum
    assert.same("null", got[5][1])    -- SQLite stores NaN as NULL
    assert.same({ "integer", 42 }, got[6])
  end)
end)

describe("examples/webhook_receiver.lua with --sync FULL", function()
  it("takes the option and stores before answering; refuses another mode", function()
    local db = os.tmpname()
    local r = receiver.start{ "--secret", SECRET, "--store", db, "--sync", "FULL" }
    local c = r:connect()
    assert(c:send(signed(7)))
    assert.equal(200, (response(c)))
    c:close()
    r:kill(9)
    assert.equal(1, rows(db, "SELECT count(*) FROM receipts WHERE key = 'M7|DELIVERED'")[1][1])
    remove_db(db)
    local ok = os.execute(("%s examples/webhook_receiver.lua --secret s --sync OFF 2>/dev/null")
      :format(receiver.LUA))
    assert.is_falsy(ok == true or ok == 0)
  end)
end)

