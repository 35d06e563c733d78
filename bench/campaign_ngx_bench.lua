-- Campaigns under OpenResty / nginx with the Lua module: a benchmark, not a test.
--
--   SINCH_BATCH_BUILD=build lua5.4 bench/campaign_ngx_bench.lua [rows] [runs]
--
-- Two nginx on free 127.0.0.1 ports: a fixed-answer sink (a token endpoint and
-- `return 200` with a batch id, as bench/campaign_bench.lua) and a runner
-- whose one worker runs client:campaign{} (transport "ngx": light threads on
-- cosockets, concurrency 4, no rate limit) over a CSV of `rows` (default
-- 1,000,000) from a content handler, its journal on disk (in
-- $SINCH_BATCH_BENCH_DIR, default /tmp) synced in the nginx thread pool
-- (`thread_pool default threads=2;`), group-committed.  Prints the median of
-- `runs` (default 3) by wall time: recipients/s (wall, and per CPU second of
-- the worker), the syncs made by the pool and by the worker, the worker's
-- peak RSS; once without a journal; and the peer (bench/campaign_bench.lua's
-- plain lua-cjson + LuaSocket script) over the same CSV in the same run.
-- Target (issue 19): >= 2 M recipients/s under nginx.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
package.path = "lua/?.lua;lua/?/init.lua;spec/support/?.lua;spec/?.lua;bench/?.lua;" .. package.path
local cjson = require "cjson"
local nginx = require "support.nginx"

local fmt = string.format
local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local N, RUNS = tonumber(arg[1]) or 1000000, tonumber(arg[2]) or 3

local sink = nginx.start{ log_level = "error", server = [[
    access_log off;
    client_max_body_size 20m;
    client_body_buffer_size 2m;
    location = /oauth2/token {
      default_type application/json;
      return 200 '{"access_token":"bench-token","token_type":"bearer","expires_in":3600}';
    }
    location /v1/ { default_type application/json; return 200 '{"batch_id":"01BENCHXXXXXXXXXXXXXXXXXXX"}'; }
]] }

local runner = nginx.start{ log_level = "warn", main = "thread_pool default threads=2;", server = [[
    access_log off;
    lua_socket_log_errors off;
    location = /campaign {
      content_by_lua_block {
        local batch = require "sinch.batch"
        local log = require "sinch.batch.log"
        local args = ngx.req.get_uri_args()
        local client = assert(batch.client{ project_id = "bench", app_id = "01APPBENCHXXXXXXXXXXXXXXXX",
          base_url = args.sink, auth_url = args.sink, key_id = "k", key_secret = "s",
          transport = "ngx", timeout = 30 })
        local t0, w0 = log.stats.thread_syncs, log.stats.worker_syncs
        ngx.update_time()
        local s, c = ngx.now(), os.clock()
        local journal = args.journal ~= "" and args.journal or nil
        if journal then os.remove(journal) end
        local rep, err = client:campaign{ message = batch.message.text("Hi ${name}, your code is ${code}"),
          source = args.csv, csv = { channel = "SMS" }, concurrency = 4, rate = 1e9, journal = journal }
        ngx.update_time()
        local wall, cpu = ngx.now() - s, os.clock() - c
        if journal then os.remove(journal) end
        local f = io.open("/proc/self/status")
        local st = f and f:read("*a") or ""
        if f then f:close() end
        ngx.say(require("cjson").encode{ recipients = rep and rep.recipients, complete = rep and rep.complete,
          err = err and tostring(err), wall = wall, cpu = cpu, driver = rep and rep.driver,
          thread_syncs = log.stats.thread_syncs - t0, worker_syncs = log.stats.worker_syncs - w0,
          rss_kb = tonumber(st:match("VmHWM:%s*(%d+)")) })
      }
    }
]] }

local tmp = os.tmpname()
local dir = os.getenv("SINCH_BATCH_BENCH_DIR") or "/tmp"
local csv, jpath = tmp .. "-big.csv", dir .. "/" .. tmp:match("[^/]*$") .. "-ngx.journal"
require("big_csv").write(csv, N)

local function campaign(journal)
  local status, body = runner:request("GET", fmt("/campaign?sink=%s&csv=%s&journal=%s", sink.url,
    csv, journal or ""))
  assert(status == 200, body)
  local r = cjson.decode(body)
  assert(r.complete and r.recipients == N, body)
  return r
end

local capture = require("support.mock").capture

print(fmt("campaign_ngx_bench: %s, %d-row CSV, sink %s, runner %s", nginx.binary, N, sink.url,
  runner.url))
campaign() -- warm up: modules loaded, token cached, connections kept alive
local nj = campaign()
print(fmt("  under nginx, no journal: %.2f M recipients/s wall, %.2f M/s per CPU second of the worker",
  N / nj.wall / 1e6, N / nj.cpu / 1e6))
local runs = {}
for i = 1, RUNS do runs[i] = campaign(jpath) end
table.sort(runs, function(a, b) return a.wall < b.wall end)
local r = runs[math.floor((#runs + 1) / 2)]
local fs = capture(fmt("stat -f -c %%T %s 2>/dev/null", dir)):gsub("%s+$", "")
print(fmt("  under nginx (%s driver), journal in %s (%s), median of %d: %d recipients in %.3f s = "
  .. "%.2f M recipients/s wall, %.2f M/s per CPU second of the worker; syncs %d in the thread pool, "
  .. "%d in the worker; worker peak RSS %.1f MB", r.driver, dir, fs, #runs, N, r.wall,
  N / r.wall / 1e6, N / r.cpu / 1e6, r.thread_syncs, r.worker_syncs, r.rss_kb / 1024))
local out = capture(fmt("SINCH_BATCH_BUILD=%s %s bench/campaign_bench.lua --child plain %s %s", build,
  LUA, sink.url, csv))
local last
for l in out:gmatch("[^\n]+") do last = l end
local p = cjson.decode(last)
print(fmt("  plain lua-cjson + LuaSocket (%s): %.2f s = %.2f M recipients/s wall (under nginx with "
  .. "its journal: %.1fx)", LUA, p.wall, p.recipients / p.wall / 1e6, (N / r.wall) / (p.recipients / p.wall)))
os.remove(csv)
os.remove(tmp)
runner:stop()
sink:stop()
