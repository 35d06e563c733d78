-- Benchmark (not a test): the receipts store on PostgreSQL next to SQLite,
-- in the same run, on a cluster of its own (initdb + pg_ctl in a temporary
-- directory, a free port of 127.0.0.1; as `nobody` when run as root).
--   SINCH_BATCH_BUILD=build lua5.4 bench/receipts_pg_bench.lua [receipts=50000] [report=1000000] [conns=4]
-- 1. Two plain receivers (two processes standing for two hosts) writing one
--    PostgreSQL store, each fed by a wrk process (bench/wrk_flood.lua; with
--    BENCH_CLIENT=flood, a Lua flood process) of `conns` keep-alive
--    connections; next to the same two receivers writing one SQLite file.
--    Every receipt is acknowledged only once committed.
-- 2. `sinch-batch report --json` over report_receipts receipts in each store
--    (loaded with add_many in groups of 5000 first).
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;spec/support/?.lua;bench/?.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local socket = require "socket"
local store = require "sinch.batch.store"
local webhook = require "sinch.batch.webhook"
local flood = require "support.flood"
local wrk_flood = require "wrk_flood"
local pg = require "support.pg"

local SECRET = "bench-webhook-secret"
local LUA = arg[-1] or "lua5.4"
local N = tonumber(arg[1]) or 50000
local M = tonumber(arg[2]) or 1000000
local CONNS = tonumber(arg[3]) or 4

local mock = require "support.mock" -- shell_quote, read_file: the specs' own
local q, read = mock.shell_quote, mock.read_file

local function start_receiver(url)
  local log = os.tmpname()
  local cmd = ("%s examples/webhook_receiver.lua --port 0 --secret %s --store %s --lifetime 900 >%s 2>&1 "
    .. "& echo $!"):format(LUA, SECRET, q(url), q(log))
  local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s sh -c %s"):format(q(package.path),
    q(package.cpath), q(cmd))))
  local pid = p:read("*l")
  p:close()
  for _ = 1, 200 do
    local port = tonumber((read(log) or ""):match("^port=(%d+)"))
    if port then return { pid = pid, port = port, log = log } end
    socket.sleep(0.05)
  end
  error("the receiver did not start: " .. tostring(read(log)))
end

-- two receivers, N receipts split between them: seconds
local function two_receivers(url)
  local r = { start_receiver(url), start_receiver(url) }
  local s, extra
  if wrk_flood.available() then -- wrk (C), one process of CONNS connections per receiver
    local secs, _, ex = wrk_flood.drive{ ports = { r[1].port, r[2].port }, n = N, threads = 1,
      conns = CONNS, secret = SECRET, run = "two" }
    s, extra = secs, ex
    for k = 1, 2 do
      os.execute("kill " .. r[k].pid)
      os.remove(r[k].log)
    end
  else -- BENCH_CLIENT=flood: the Lua flood processes
    local files, cmds = {}, {}
    local t0 = socket.gettime()
    for k = 1, 2 do
      files[k] = os.tmpname()
      cmds[k] = ("%s spec/support/flood.lua %d /callbacks %d %d %d %s two%d %s >/dev/null &"):format(LUA,
        r[k].port, (k - 1) * N / 2, k * N / 2, CONNS, SECRET, k, q(files[k]))
    end
    assert(os.execute(("SINCH_BATCH_BUILD=%s sh -c %s"):format(q(build), q(cmds[1] .. " " .. cmds[2]
      .. " wait"))))
    s = socket.gettime() - t0
    local acked = 0
    for k = 1, 2 do
      for _ in io.lines(files[k]) do acked = acked + 1 end
      os.remove(files[k])
      os.execute("kill " .. r[k].pid)
      os.remove(r[k].log)
    end
    assert(acked == N, ("%d of %d acknowledged"):format(acked, N))
    extra = 0
  end
  local st = assert(store.open(url))
  local rep = assert(st:report())
  st:close()
  local held = rep.receipts + rep.unmatched_receipts
  assert(held >= N and held <= N + extra, ("the store has %d receipts, %d acknowledged"):format(held, N))
  return s
end

-- M receipts of campaign "big" (batches of 1000), loaded in process
local function load(url)
  local st = assert(store.open(url))
  for b = 0, M / 1000 - 1 do
    local rows = {}
    for i = 1, 1000 do rows[i] = b * 1000 + i + 1 end
    assert(st:add_batch{ batch_id = "B" .. b, campaign = "big", chunk = b + 1, rows = rows })
  end
  assert(st:add_campaign{ campaign = "big", source = "big.csv", rows = M })
  local group = {}
  for i = 0, M - 1 do
    group[#group + 1] = webhook.parse(flood.body(i))
    if #group == 5000 then
      assert(st:add_many(group))
      group = {}
    end
  end
  if #group > 0 then assert(st:add_many(group)) end
  st:close()
end

local function report_seconds(url)
  local best
  for _ = 1, 3 do
    local t0 = socket.gettime()
    local p = assert(io.popen(("%s bin/sinch-batch report --store %s --json"):format(LUA, q(url))))
    local out = p:read("*a")
    p:close()
    local s = socket.gettime() - t0
    assert(out:find('"receipts":' .. M, 1, true), "report: " .. out)
    best = best and math.min(best, s) or s
  end
  return best
end

local cluster = pg.start()
local ok, err = pcall(function()
  local tmp = os.tmpname()
  local pg_two = two_receivers(cluster:database("bench_two"))
  local sq_two = two_receivers(tmp .. ".two.db")
  local pg_url, sq_url = cluster:database("bench_report"), tmp .. ".report.db"
  local t0 = socket.gettime()
  load(pg_url)
  local pg_load = socket.gettime() - t0
  t0 = socket.gettime()
  load(sq_url)
  local sq_load = socket.gettime() - t0
  local pg_rep, sq_rep = report_seconds(pg_url), report_seconds(sq_url)
  for _, f in ipairs{ tmp, tmp .. ".two.db", tmp .. ".report.db" } do
    for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(f .. sfx) end
  end
  local interp = _VERSION .. (rawget(_G, "jit") and " / LuaJIT" or "")
  print(("%s  two receivers, %d signed receipts (2 %s processes x %d keep-alive connections)"):format(
    interp, N, wrk_flood.available() and "wrk" or "flood", CONNS))
  print(("  PostgreSQL, one store                       %9.0f receipts/s  (%.2f s)"):format(N / pg_two,
    pg_two))
  print(("  SQLite, one file (same host)                %9.0f receipts/s  (%.2f s; PostgreSQL %.2f of it)")
    :format(N / sq_two, sq_two, sq_two / pg_two))
  print(("  load %d receipts in groups of 5000      PostgreSQL %.1f s, SQLite %.1f s"):format(M, pg_load,
    sq_load))
  print(("  report --json over %d receipts (best of 3)  PostgreSQL %.2f s, SQLite %.2f s"):format(M,
    pg_rep, sq_rep))
end)
cluster:stop()
if not ok then error(err, 0) end
