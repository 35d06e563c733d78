-- Benchmark (not a test): signed delivery receipts POSTed over keep-alive
-- HTTP/1.1 and acknowledged only once durable in the receipts store
-- (signature check + parse + SQLite commit before the 200), by the plain
-- receiver (examples/webhook_receiver.lua --store) and under nginx (the
-- OpenResty example, examples/openresty/run.sh, writing in its thread
-- pool).  Peers in the same run: webhook.verify alone in this process, and
-- the plain receiver without a store (verify + parse + answer), so the
-- ratio is the price of "never lost once acknowledged".
--   SINCH_BATCH_BUILD=build lua5.4 bench/receipts_http_bench.lua [receipts=50000] [clients=2] [conns=4]
-- The clients are spec/support/flood.lua processes, `conns` keep-alive
-- connections each (2 × 4 = the issue's 8 concurrent clients).  The clock
-- runs from the first POST to the last answer; the store is then checked to
-- hold every receipt.  Everything listens on 127.0.0.1 only.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;bench/?.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local socket = require "socket"
local webhook = require "sinch.batch.webhook"
local flood = require "support.flood"
local sqlite = require "sinch.batch.sqlite"

local SECRET = "bench-webhook-secret"
local LUA = arg[-1] or "lua5.4"
local N = tonumber(arg[1]) or 50000
local CLIENTS = tonumber(arg[2]) or 2
local CONNS = tonumber(arg[3]) or 4

local mock = require "support.mock" -- shell_quote, read_file: the specs' own
local q, read = mock.shell_quote, mock.read_file

local function stored(db)
  if not read(db) then return 0 end
  local d = assert(sqlite.open(db))
  local st = assert(d:prepare("SELECT count(*) FROM receipts"))
  local n = assert(st:rows())[1][1]
  st:close()
  d:close()
  return n
end

-- The load generator: Debian's wrk (C; bench/wrk_flood.lua feeds it
-- pre-signed requests) when it is installed, else (or with
-- BENCH_CLIENT=flood) the Lua flood processes.  Both keep CLIENTS x CONNS
-- keep-alive connections busy.
local wrk_flood = require "wrk_flood"
local WRK = wrk_flood.available()

-- POST N receipts with CLIENTS flood processes: seconds, receipts acknowledged
local function drive(port, run)
  if WRK then
    return wrk_flood.drive{ ports = { port }, n = N, threads = CLIENTS, conns = CONNS, secret = SECRET,
      run = run }
  end
  local t0 = socket.gettime()
  local cmds, per, files = {}, math.ceil(N / CLIENTS), {}
  for k = 0, CLIENTS - 1 do
    files[k + 1] = os.tmpname()
    cmds[#cmds + 1] = ("%s spec/support/flood.lua %d /callbacks %d %d %d %s %s%d %s >/dev/null &")
      :format(LUA, port, k * per, math.min(N, (k + 1) * per), CONNS, SECRET, run, k, q(files[k + 1]))
  end
  cmds[#cmds + 1] = "wait"
  assert(os.execute(("SINCH_BATCH_BUILD=%s sh -c %s"):format(q(build), q(table.concat(cmds, " ")))))
  local s = socket.gettime() - t0
  local acked = 0
  for _, f in ipairs(files) do
    for _ in io.lines(f) do acked = acked + 1 end
    os.remove(f)
  end
  assert(acked == N, ("%d of %d receipts acknowledged"):format(acked, N))
  return s, acked
end

-- verify only, in this process, the same receipts
local reqs, ts = {}, tostring(os.time())
for i = 0, N - 1 do
  local raw = flood.body(i)
  reqs[#reqs + 1] = { raw = raw, headers = webhook.sign(SECRET, raw, "v" .. i, ts) }
end
local t0 = os.clock()
for i = 1, N do assert(webhook.verify(SECRET, reqs[i].headers, reqs[i].raw)) end
local verify_rate = N / (os.clock() - t0)

local tmp = os.tmpname()

-- the plain receiver, with a store (db) or without
local function plain(db, extra)
  local cmd = ("%s examples/webhook_receiver.lua --port 0 --secret %s %s --lifetime 600 >%s.plain.log "
    .. "2>&1 & echo $!"):format(LUA, SECRET, db and ("--store " .. q(db) .. " " .. (extra or "")) or "",
    q(tmp))
  local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s sh -c %s"):format(q(package.path),
    q(package.cpath), q(cmd))))
  local pid = p:read("*l")
  p:close()
  local port
  for _ = 1, 200 do
    port = tonumber((read(tmp .. ".plain.log") or ""):match("^port=(%d+)"))
    if port then break end
    socket.sleep(0.05)
  end
  assert(port, "the receiver did not start: " .. tostring(read(tmp .. ".plain.log")))
  local ok, s, acked = pcall(drive, port, db and "plain" or "bare")
  os.execute("kill " .. pid .. " 2>/dev/null")
  socket.sleep(0.2)
  os.remove(tmp .. ".plain.log")
  if not ok then error(s, 0) end
  if db then
    local n = stored(db)
    for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end
    assert(n >= acked and n <= N + CLIENTS * (CONNS + 1), ("the store has %d receipts, %d acknowledged")
      :format(n, acked))
  end
  return s
end

local bare_s = plain(nil)
local plain_s = plain(tmp .. ".plain.db")
local full_s = plain(tmp .. ".full.db", "--sync FULL")

-- nginx: the OpenResty example (its store: <prefix>/ledger/receipts.db), with
-- `workers` worker processes: seconds, or nil and why not
local function nginx(workers)
  local nginx_s, nginx_note
  local env = "SINCH_WEBHOOK_SECRET=" .. SECRET .. " SINCH_PROJECT_ID=bench SINCH_APP_ID=bench "
    .. "SINCH_KEY_ID=bench SINCH_KEY_SECRET=bench SINCH_BATCH_BASE_URL=http://127.0.0.1:9 "
    .. "SINCH_BATCH_WORKERS=" .. workers .. " SINCH_BATCH_BUILD=" .. q(build)
  local p = assert(io.popen(("sh -c %s"):format(q(env .. " examples/openresty/run.sh >" .. tmp
    .. ".nginx.out 2>&1 & echo $!"))))
  local npid = p:read("*l")
  p:close()
  local url, prefix
  for _ = 1, 200 do
    local out = read(tmp .. ".nginx.out") or ""
    url, prefix = out:match("url (%S+)\nprefix (%S+)")
    if prefix then break end
    socket.sleep(0.05)
  end
  if prefix then
    local ok, res, acked = pcall(drive, tonumber(url:match(":(%d+)$")), "nginx" .. workers)
    if ok then
      nginx_s = res
      local n = stored(prefix .. "/ledger/receipts.db")
      if n < acked or n > N + CLIENTS * (CONNS + 1) then
        nginx_s, nginx_note = nil, ("the store has %d receipts, %d acknowledged"):format(n, acked)
      end
    else
      nginx_note = tostring(res)
    end
  else
    nginx_note = "nginx did not start: " .. tostring(read(tmp .. ".nginx.out"))
  end
  os.execute("kill " .. npid .. " 2>/dev/null")
  for _ = 1, 100 do -- run.sh stops nginx and removes its prefix
    if not (prefix and read(prefix .. "/logs/nginx.pid")) then break end
    socket.sleep(0.05)
  end
  os.remove(tmp .. ".nginx.out")
  return nginx_s, nginx_note
end
local nginx2_s, nginx2_note = nginx(2)
local nginx1_s, nginx1_note = nginx(1)
os.remove(tmp)

local interp = _VERSION .. (rawget(_G, "jit") and " / LuaJIT" or "")
print(("%s  %d signed receipts over keep-alive HTTP, %s: %d x %d connections"):format(
  interp, N, WRK and "wrk threads" or "flood processes", CLIENTS, CONNS))
print(("  webhook.verify only (this process)              %9.0f receipts/s"):format(verify_rate))
print(("  plain receiver, no store (verify+parse+answer)  %9.0f receipts/s  (%.2f s)"):format(N / bare_s,
  bare_s))
print(("  plain receiver, durable (SQLite, NORMAL)        %9.0f receipts/s  (%.2f s, %.2f of no store)")
  :format(N / plain_s, plain_s, bare_s / plain_s))
print(("  plain receiver, durable (SQLite, FULL)          %9.0f receipts/s  (%.2f s, %.2f of no store)")
  :format(N / full_s, full_s, bare_s / full_s))
for _, r in ipairs{ { 2, nginx2_s, nginx2_note }, { 1, nginx1_s, nginx1_note } } do
  if r[2] then
    print(("  nginx, OpenResty example, %d worker%s (SQLite)    %9.0f receipts/s  (%.2f s, %.2f of the plain "
      .. "receiver without a store)"):format(r[1], r[1] > 1 and "s" or " ", N / r[2], r[2], bare_s / r[2]))
  else
    print(("  nginx, %d worker(s): %s"):format(r[1], r[3]))
  end
end
