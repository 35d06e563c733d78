-- Benchmark (not a test): delivery receipts ingested per second by the
-- receipts store (signature check + parse + SQLite insert, flushed in
-- groups the way a receiver does), next to webhook.verify alone in the same
-- run, and the time of a campaign report over all of them.
--   SINCH_BATCH_BUILD=build lua5.4 bench/outcomes_bench.lua [receipts=1000000] [group=500]
--   SINCH_BATCH_BUILD=build luajit bench/outcomes_bench.lua
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local webhook = require "sinch.batch.webhook"
local outcomes = require "sinch.batch.outcomes"

local N = tonumber(arg and arg[1]) or 1000000
local GROUP = tonumber(arg and arg[2]) or 500
local secret, ts = "bench_secret", "1764400000"
local opts = { now = tonumber(ts) }

-- One receipt body per recipient: 1000 recipients a batch, 5 % FAILED.
local function body(i)
  local b, idx = "B" .. math.floor(i / 1000), i % 1000
  local failed = i % 20 == 0
  return string.format('{"app_id":"A","project_id":"P","event_time":"2026-11-29T10:00:00Z",'
    .. '"message_delivery_report":{"message_id":"M%d","status":"%s"%s},'
    .. '"message_metadata":"{\\"batchId\\":\\"%s\\",\\"messageIndex\\":%d}"}',
    i, failed and "FAILED" or "DELIVERED",
    failed and ',"reason":{"code":"RECIPIENT_NOT_REACHABLE","description":"x"}' or "", b, idx)
end

-- The signed requests, made before timing (a receiver gets them from Sinch).
local reqs = {}
for i = 0, N - 1 do
  local raw = body(i)
  reqs[#reqs + 1] = { raw = raw, headers = webhook.sign(secret, raw, "n" .. i, ts) }
end

local function clock(fn)
  local t0 = os.clock()
  fn()
  return os.clock() - t0
end

local verify_s = clock(function()
  for i = 1, N do assert(webhook.verify(secret, reqs[i].headers, reqs[i].raw, opts)) end
end)

local path = os.tmpname()
os.remove(path)
local store = assert(outcomes.open(path))
local pending = {}
local t0 = os.time()
local ingest_s = clock(function()
  for i = 1, N do
    local r = reqs[i]
    assert(webhook.verify(secret, r.headers, r.raw, opts))
    pending[#pending + 1] = assert(webhook.parse(r.raw))
    if #pending == GROUP then
      assert(store:add_many(pending))
      pending = {}
    end
  end
  if #pending > 0 then assert(store:add_many(pending)) end
end)
local wall = os.time() - t0

for b = 0, math.floor((N - 1) / 1000) do
  local rows = {}
  for k = 1, 1000 do rows[k] = b * 1000 + k + 1 end
  assert(store:add_batch{ batch_id = "B" .. b, campaign = "bench", chunk = b + 1, rows = rows })
end
local report
local report_s = clock(function() report = assert(store:report("bench")) end)
assert(report.delivered + report.failed == N, "report does not add up")
local failed_s = clock(function() assert(#assert(store:failed("bench")) == report.failed) end)
store:close()
for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. sfx) end

local interp = _VERSION .. (rawget(_G, "jit") and " / LuaJIT" or "")
print(string.format("%s  %d receipts, groups of %d", interp, N, GROUP))
print(string.format("  webhook.verify only            %9.0f receipts/s", N / verify_s))
print(string.format("  verify + parse + store (SQLite) %9.0f receipts/s  (%.2f of verify-only; ~%d s wall)",
  N / ingest_s, verify_s / ingest_s, wall))
print(string.format("  report over %d receipts        %9.3f s CPU (delivered %d, failed %d)", N,
  report_s, report.delivered, report.failed))
print(string.format("  failed rows list (%d rows)      %9.3f s CPU", report.failed, failed_s))
