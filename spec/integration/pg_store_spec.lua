-- The receipts store on PostgreSQL: a cluster of the spec's own (initdb and
-- pg_ctl into a temporary directory, a free port of 127.0.0.1), the same
-- events into a SQLite store and a PostgreSQL one give the same reports;
-- two receivers (two processes, standing for two hosts) write one
-- PostgreSQL store, and `sinch-batch report --store postgresql://…` equals
-- the truth this spec counts.
local cjson = require "cjson.safe"
local mock = require "support.mock"
local pg = require "support.pg"
local receiver = require "support.receiver"
local flood = require "support.flood"
local poison = require "support.poison"
local store = require "sinch.batch.store"
local core = require "sinch.batch.core"

local SECRET = "pg-spec-secret"
local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+ or 5.1
local shell_quote = mock.shell_quote

local function remove_db(db)
  for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end
end

local function event(batch, index, status, code, message_id, at)
  return { type = "message_delivery", batch_id = batch, message_index = index,
           message_id = message_id, status = status, event_time = at or "2026-11-29T10:00:00Z",
           reason = code and { code = code, description = "why " .. code } or nil }
end

-- Floods two receivers at once (spec/support/flood.lua, 8 keep-alive
-- connections each).  Each target is { port, from, to }, and optionally
-- { …, kill_at, pids }: the flood SIGKILLs pids at its kill_at-th 2xx.
-- Returns, per target, the receipts that got a 2xx.
local function flood_two(tag, targets)
  local build = os.getenv("SINCH_BATCH_BUILD") or "build"
  local files, cmds = {}, {}
  for k, t in ipairs(targets) do
    files[k] = os.tmpname()
    local kill = t[4] and (" %d %s"):format(t[4], table.concat(t[5], ",")) or ""
    cmds[k] = ("SINCH_BATCH_BUILD=%s %s spec/support/flood.lua %d /callbacks %d %d 8 %s %s%d %s%s "
      .. ">/dev/null"):format(shell_quote(build), receiver.LUA, t[1], t[2], t[3], SECRET, tag, k,
      shell_quote(files[k]), kill)
  end
  local ok = os.execute(table.concat(cmds, " & ") .. "; wait")
  assert.is_truthy(ok == true or ok == 0)
  local acked = {}
  for k, f in ipairs(files) do
    acked[k] = {}
    for line in io.lines(f) do acked[k][#acked[k] + 1] = tonumber(line) end
    os.remove(f)
  end
  return acked
end

describe("the PostgreSQL receipts store", function()
  local cluster

  setup(function()
    if pg.available() then cluster = pg.start() end
  end)

  teardown(function()
    if cluster then cluster:stop() end
  end)

  local function need()
    -- .ci/setup installs postgresql and libpq-dev; without them this says so
    assert(cluster, "PostgreSQL (initdb, pg_ctl) and sinch.batch.pq are needed: run .ci/setup")
  end

  it("takes the same events as SQLite, with the same idempotent upserts, into the same report", function()
    need()
    local url = cluster:database("same_report")
    local db = os.tmpname()
    remove_db(db)
    local a, b = assert(store.open(db)), assert(store.open(url))
    -- duplicates, a late QUEUED after DELIVERED, DELIVERED after FAILED, an
    -- index out of range, a receipt without a message id, quotes and backslashes
    local evs = {}
    for i = 0, 199 do
      local failed = i % 7 == 0
      evs[#evs + 1] = event("B1", i, failed and "FAILED" or "DELIVERED",
        failed and (i % 2 == 0 and 'CODE_"Q"' or "CODE\\B") or nil, "m" .. i)
    end
    evs[#evs + 1] = event("B1", 3, "QUEUED_ON_CHANNEL", nil, "m3")
    evs[#evs + 1] = event("B1", 7, "DELIVERED", nil, "m7") -- 7 FAILED first
    evs[#evs + 1] = event("B1", 1e300, "DELIVERED", nil, "huge")
    evs[#evs + 1] = event("B2", 5, "FAILED", "NO_ID", nil)
    for _, s in ipairs{ a, b } do
      assert(s:add_batch{ batch_id = "B1", campaign = "c1", chunk = 1, rows = (function()
        local rows = {}
        for i = 1, 200 do rows[i] = i + 1 end
        return rows
      end)() })
      assert(s:add_batch{ batch_id = "B2", campaign = "c1", chunk = 2,
                          rows = { 300, 301, 302, 303, 304, 305 } })
      assert(s:add_campaign{ campaign = "c1", source = "c1.csv", rows = 206 })
      assert.equal(#evs, s:add_many(evs))         -- every one new (the late QUEUED has its own key)
      assert.equal(0, s:add_many(evs))            -- a retried group counts once
      assert.is_false(s:add(evs[10]))             -- so does a retried callback
    end
    local ra, rb = assert(a:report("c1")), assert(b:report("c1"))
    ra.last_receipt, rb.last_receipt = nil, nil
    assert.same(ra, rb)
    local all_a, all_b = assert(a:report()), assert(b:report()) -- every receipt, no campaign
    all_a.last_receipt, all_b.last_receipt = nil, nil
    assert.same(all_a, all_b)
    assert.equal(200 - 29 + 1, rb.delivered)       -- 29 multiples of 7 below 200; 7 delivered later
    assert.equal(28 + 1, rb.failed)
    assert.same(assert(a:failed("c1")), assert(b:failed("c1")))
    assert.same(assert(a:campaigns()), assert(b:campaigns()))
    a:close()
    b:close()
    remove_db(db)
  end)

  it("stores receipts holding a NUL byte or bad UTF-8 with the good ones of their group, once, as SQLite",
    function()
    need()
    local F = poison.FFFD
    local db, db2 = os.tmpname(), os.tmpname()
    remove_db(db)
    remove_db(db2)
    -- through the receiver, on each database: the whole group answered 200
    -- (before, PostgreSQL refused the group's statement: 503 for every
    -- receipt in it, again at each of Sinch's retries), and a retry too
    local targets = { cluster:database("poison_http"), db }
    for _, target in ipairs(targets) do
      local r = receiver.start{ "--secret", SECRET, "--store", target }
      assert.same(poison.all(200), poison.post(r, SECRET, "first"))
      assert.same(poison.all(200), poison.post(r, SECRET, "retry")) -- new nonces: the store dedupes
      r:stop()
    end
    -- straight into add_many: one group, counted once when it comes again
    targets[3], targets[4] = cluster:database("poison_direct"), db2
    for k = 3, 4 do
      local s = assert(store.open(targets[k]))
      local evs = poison.events()
      assert.equal(poison.COUNT, s:add_many(evs))
      assert.equal(0, s:add_many(evs))
      assert.is_false(s:add(evs[2]))
      s:close()
    end
    -- the same rows in all four stores, cleaned, and the same report
    local rows, reports = {}, {}
    for k, target in ipairs(targets) do
      local s = assert(store.open(target))
      poison.add_batch(s)
      rows[k], reports[k] = poison.rows(s), assert(s:report(poison.CAMPAIGN))
      s:close()
    end
    for k = 2, 4 do
      assert.same(rows[1], rows[k])
      assert.same(reports[1], reports[k])
    end
    local by_key = {}
    for _, row in ipairs(rows[1]) do by_key[row[1]] = row end
    assert.equal(poison.COUNT, #rows[1])
    assert.same({ "PM1" .. F .. "00x|DELIVERED", "PB1", 1, "PM1" .. F .. "x", "DELIVERED" },
      { unpack(by_key["PM1" .. F .. "00x|DELIVERED"], 1, 5) })
    assert.same({ "FAILED", "BAD" .. F .. "CODE", "d" .. F .. F },
      { unpack(by_key["PM2|FAILED"], 5, 7) })
    assert.equal("2026-11-29T10:00:0" .. F .. "3Z", by_key["PM3" .. F .. "E282|DELIVERED"][8])
    assert.equal("PB1" .. F .. "x", by_key["PM4|DELIVERED"][2])
    assert.equal("DELIVERED" .. F, by_key["PM5|DELIVERED" .. F .. "00"][5])
    assert.equal(F .. F, by_key["PB1#6|FAILED"][6])
    -- too long for an index entry (PostgreSQL refused the group): cut, with the digest of the whole
    local long_key, long_batch = poison.LONG:sub(1, 900) .. "…", "PB1" .. poison.LONG:sub(1, 897) .. "…"
    local long = by_key[long_key .. core.digest(poison.LONG .. "|DELIVERED")]
    assert.same({ "PB1", 8, poison.LONG }, { long[2], long[3], long[4] })
    assert.equal(long_batch .. core.digest("PB1" .. poison.LONG), by_key["PM9|DELIVERED"][2])
    local r = reports[1]
    assert.same({ 4, 3, 3, 8, 2 }, { r.delivered, r.failed, r.pending, r.receipts, r.unmatched_receipts })
    assert.same({ ["BAD" .. F .. "CODE"] = 1, [F .. F] = 1, RECIPIENT_NOT_REACHABLE = 1 }, r.failed_by_reason)
    -- report --json, from the CLI: the same report from either database
    local outs = {}
    for k, target in ipairs(targets) do
      local p = assert(io.popen(("%s bin/sinch-batch report --store %s --json 2>&1; echo rc=$?"):format(
        receiver.LUA, shell_quote(target))))
      outs[k] = p:read("*a")
      p:close()
      assert.matches("rc=0\n$", outs[k])
      outs[k] = assert(cjson.decode(outs[k]:match("^[^\n]+")), outs[k]).report
    end
    for k = 2, 4 do assert.same(outs[1], outs[k]) end
    assert.same({ ["BAD" .. F .. "CODE"] = 1, [F .. F] = 1, RECIPIENT_NOT_REACHABLE = 1 },
      outs[1].failed_by_reason)
    remove_db(db)
    remove_db(db2)
  end)

  it("joins a campaign's journal and reports it (JSON, failed rows, the page) as SQLite does", function()
    need()
    local url = cluster:database("journal")
    local dir = os.tmpname()
    local f = assert(io.open(dir .. ".csv", "w"))
    f:write('phone,name\n+46700000001,Ann\n+46700000002,Bob\n+46700000003,Cy\n+46700000004,Di\n')
    f:close()
    f = assert(io.open(dir .. ".journal", "w"))
    for _, e in ipairs{ { event = "header", format = "sinch-batch-log", version = 1, kind = "journal",
                          campaign = "j1", path = dir .. ".csv" },
                        { event = "intent", chunk = 1, rows = { 2, 3 } },
                        { event = "accepted", chunk = 1, batch_id = "J1" },
                        { event = "intent", chunk = 2, rows = { 4, 5 } },
                        { event = "accepted", chunk = 2, batch_id = "J2" },
                        { event = "end", summary = {} } } do
      f:write(cjson.encode(e), "\n")
    end
    f:close()
    local evs = { event("J1", 0, "FAILED", "CHANNEL_FAILURE", "j10"), event("J1", 1, "DELIVERED", nil, "j11"),
                  event("J2", 0, "FAILED", "RECIPIENT_NOT_REACHABLE", "j20") }
    local outs = {}
    for k, target in ipairs{ dir .. ".db", url } do
      local s = assert(store.open(target))
      assert(s:add_many(evs))
      s:close()
      local function cli(args)
        local p = assert(io.popen(("%s bin/sinch-batch report --journal %s --store %s %s 2>&1; echo rc=$?")
          :format(receiver.LUA, shell_quote(dir .. ".journal"), shell_quote(target), args)))
        local out = p:read("*a")
        p:close()
        return out
      end
      local json = cli("--json --failed-csv " .. shell_quote(dir .. ".failed" .. k))
      assert.matches("rc=0\n$", json)
      outs[k] = { report = cjson.decode(json:match("^[^\n]+")).report,
                  failed = mock.read_file(dir .. ".failed" .. k) }
      assert.matches("rc=0\n$", cli("--html " .. shell_quote(dir .. ".html" .. k)))
      assert.matches("<html", mock.read_file(dir .. ".html" .. k) or "", 1, true)
    end
    assert.same(outs[1], outs[2])
    assert.equal(1, outs[2].report.delivered)
    assert.equal(2, outs[2].report.failed)
    assert.equal(1, outs[2].report.pending)
    assert.equal("phone,name,failure_reason\n+46700000001,Ann,CHANNEL_FAILURE\n+46700000003,Cy,"
      .. "RECIPIENT_NOT_REACHABLE\n", outs[2].failed)
    for _, ext in ipairs{ "", ".csv", ".journal", ".db", ".db-wal", ".db-shm", ".failed1", ".failed2",
                          ".html1", ".html2" } do os.remove(dir .. ext) end
  end)

  it("sinch.batch.pq: failed queries return nil and a message, misuse raises, close is idempotent",
    function()
    need()
    local pq = require "sinch.batch.pq"
    local db = assert(pq.open(cluster.url))
    assert.matches("open", tostring(db))
    local rows, err = db:query("SELEC 1")
    assert.is_nil(rows)
    assert.matches("^postgresql: query: ERROR: +syntax error", err)
    rows = assert(db:query("SELECT $1::int8 + 1, $2::text, $3::float8, $4::bool, NULL", 41, "x", 0.5, true))
    assert.same({ { 42, "x", 0.5, true } }, rows)
    assert.has_error(function() db:query("SELECT $1", {}) end)
    -- libpq takes C strings: a NUL byte is refused, never cut short
    rows, err = db:query("SELECT $1::text, $2::text", "ok", "a\0b")
    assert.is_nil(rows)
    assert.equal("postgresql: query: parameter $2 holds a NUL byte", err)
    assert.same({ { "ok" } }, assert(db:query("SELECT $1::text", "ok"))) -- the connection goes on
    assert.is_nil((db:result())) -- nothing was sent
    db:close()
    db:close()
    assert.matches("closed", tostring(db))
    assert.has_error(function() db:query("SELECT 1") end)
  end)

  it("keeps the password out of errors and tostring, and refuses an unknown scheme", function()
    need()
    local s = assert(store.open((cluster.url:gsub("//sinch@", "//sinch:hunter2@"))))
    assert.is_nil(tostring(s):find("hunter2", 1, true))
    s:close()
    local _, err = store.open(("postgresql://sinch:hunter2@127.0.0.1:%d/nosuchdb"):format(cluster.port))
    assert.is_nil(tostring(err):find("hunter2", 1, true))
    assert.matches("nosuchdb", tostring(err), 1, true)
    local _, serr = store.open("mysql://u:p@h/db")
    assert.matches("unknown scheme", serr.message, 1, true)
  end)

  it("answers 503 while PostgreSQL is away (nothing acknowledged is lost), and stores once it is back",
    function()
    need()
    local url = cluster:database("outage")
    local r = receiver.start{ "--secret", SECRET, "--store", url }
    local function post(i)
      local c = r:connect()
      assert(c:send(flood.request("/callbacks", SECRET, i, "outage", tostring(os.time()))))
      local line = assert(c:receive("*l"))
      c:close()
      return tonumber(line:match("^HTTP/1%.1 (%d+)"))
    end
    assert.equal(200, post(1))
    cluster:pause()
    local away = post(2)
    cluster:resume()
    assert.equal(503, away)
    assert.equal(200, post(2)) -- Sinch's retry of the same callback
    r:stop()
    local s = assert(store.open(url))
    local rows = assert(s.db.conn:query("SELECT key FROM receipts ORDER BY key"))
    s:close()
    assert.same({ { flood.key(1) }, { flood.key(2) } }, rows)
  end)

  it("takes the receipts of two receivers at once; report --store postgresql://… equals the truth", function()
    need()
    local url = cluster:database("two_receivers")
    -- the campaign's batches: B0..B9, 1000 recipients each (rows 2..10001)
    local s = assert(store.open(url))
    for b = 0, 9 do
      local rows = {}
      for i = 1, 1000 do rows[i] = b * 1000 + i + 1 end
      assert(s:add_batch{ batch_id = "B" .. b, campaign = "c2", chunk = b + 1, rows = rows })
    end
    assert(s:add_campaign{ campaign = "c2", source = "c2.csv", rows = 10000 })
    s:close()
    local r1 = receiver.start{ "--secret", SECRET, "--store", url }
    local r2 = receiver.start{ "--secret", SECRET, "--store", url }
    -- receipts 0..5999 to the first, 4000..9999 to the second: 2000 of them
    -- reach both (as Sinch's retries could), and count once
    local acked = flood_two("two", { { r1.port, 0, 6000 }, { r2.port, 4000, 10000 } })
    r1:stop()
    r2:stop()
    -- the truth: which receipts were acknowledged
    local seen, delivered, failed = {}, 0, 0
    for _, list in ipairs(acked) do
      for _, i in ipairs(list) do
        if not seen[i] then
          seen[i] = true
          if i % 20 == 0 then failed = failed + 1 else delivered = delivered + 1 end
        end
      end
    end
    assert.equal(10000, delivered + failed)
    local p = assert(io.popen(("%s bin/sinch-batch report --store %s --json 2>&1"):format(receiver.LUA,
      shell_quote(url))))
    local out = p:read("*a")
    p:close()
    local r = assert(cjson.decode(out), out).report
    assert.equal("c2", r.campaign)
    assert.equal(10000, r.recipients)
    assert.equal(delivered, r.delivered)
    assert.equal(failed, r.failed)
    assert.same({ RECIPIENT_NOT_REACHABLE = failed }, r.failed_by_reason)
    assert.equal(0, r.pending)
    assert.equal(10000, r.receipts)
    assert.equal(flood.key(0), "M0|FAILED") -- the flood's receipts, as the store keys them
  end)

  -- The OpenResty example on two hosts: two nginx (run.sh), one PostgreSQL
  -- store (SINCH_BATCH_RECEIPTS).  nginx's Lua is LuaJIT: driven from the
  -- LuaJIT run of this suite only.
  it("takes the receipts of two OpenResty examples, one killed mid-flood: every 2xx is stored once",
    function()
    if not rawget(_G, "jit") then
      pending("nginx is driven from the LuaJIT run only")
      return
    end
    need()
    local nginx = require "support.nginx"
    local url = cluster:database("two_nginx")
    local function example()
      return nginx.run_script("examples/openresty/run.sh", {
        SINCH_BATCH_RECEIPTS = url, SINCH_WEBHOOK_SECRET = SECRET, SINCH_PROJECT_ID = "spec",
        SINCH_APP_ID = "spec", SINCH_KEY_ID = "spec", SINCH_KEY_SECRET = "spec",
        SINCH_BATCH_BASE_URL = "http://127.0.0.1:9", SINCH_BATCH_BUILD = nginx.build })
    end
    local a, b = example(), example()
    finally(function()
      a:stop()
      b:stop()
    end)
    local function worker_pids(n)
      local master = tonumber(mock.read_file(n.prefix .. "/logs/nginx.pid"))
      local p = io.popen("pgrep -P " .. master)
      local pids = { master }
      for line in p:lines() do pids[#pids + 1] = tonumber(line) end
      p:close()
      return pids
    end
    -- receipts 0..5999 to the first, 4000..9999 to the second, which is
    -- killed (master and workers, SIGKILL) at its 2000th 2xx
    local got = flood_two("ngx", { { a.port, 0, 6000 }, { b.port, 4000, 10000, 2000, worker_pids(b) } })
    a:stop()
    assert.equal(6000, #got[1])
    assert.is_true(#got[2] >= 2000 and #got[2] < 6000, #got[2] .. " acked")
    local acked = {}
    for _, list in ipairs(got) do
      for _, i in ipairs(list) do acked[i] = true end
    end
    local s = assert(store.open(url))
    local rows = assert(s.db.conn:query("SELECT key, count(*) FROM receipts GROUP BY key"))
    s:close()
    local stored = {}
    for _, row in ipairs(rows) do
      assert.equal(1, tonumber(row[2]), row[1])
      stored[row[1]] = true
    end
    local lost = {}
    for i in pairs(acked) do
      if not stored[flood.key(i)] then lost[#lost + 1] = i end
    end
    assert.same({}, lost)
  end)
end)

