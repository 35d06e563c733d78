-- Benchmark (not a test): the campaign report as an HTML page
-- (sinch-batch report --html) of a campaign of 1,000,000 recipients, 5 %
-- FAILED with two reasons, next to its peer measured in the same run: the
-- report's numbers alone (store:report, what `report --json` prints).  Says
-- how long the page takes, in how many bytes, for a campaign whose receipts
-- came in over SPAN seconds (the timeline's step follows: per second up to
-- 15 minutes, per minute up to 2 days).  The issue's bound: < 1 MB, <= 2 s.
--   SINCH_BATCH_BUILD=build lua5.4 bench/report_html_bench.lua [recipients=1000000] [span=3600]
--   SINCH_BATCH_BUILD=build luajit bench/report_html_bench.lua 1000000 172800
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local outcomes = require "sinch.batch.outcomes"
local report_html = require "sinch.batch.report_html"
local core = require "sinch.batch.core"

local N = tonumber(arg and arg[1]) or 1000000
local SPAN = tonumber(arg and arg[2]) or 3600
local PER = 1000 -- recipients a batch

local path = os.tmpname()
os.remove(path)
local store = assert(outcomes.open(path))

-- the campaign: its batches (as a journal would give them) and one receipt
-- per recipient, spread over SPAN seconds, faster at the start
local t0 = 1764400000
io.stderr:write(("building a store of %d receipts over %d s ...\n"):format(N, SPAN))
local batches = math.ceil(N / PER)
for b = 0, batches - 1 do
  local rows = {}
  for i = 1, math.min(PER, N - b * PER) do rows[i] = b * PER + i + 1 end
  assert(store:add_batch{ batch_id = ("01BATCH%08d"):format(b), campaign = "bench", chunk = b + 1,
                          rows = rows })
end
assert(store:add_campaign{ campaign = "bench", source = "contacts.csv", rows = N })
local evs = {}
for i = 0, N - 1 do
  local t = t0 + math.floor(SPAN * (i / N) ^ 1.5)
  local failed = i % 20 == 7
  evs[#evs + 1] = { type = "message_delivery", batch_id = ("01BATCH%08d"):format(math.floor(i / PER)),
    message_index = i % PER, message_id = "M" .. i, status = failed and "FAILED" or "DELIVERED",
    reason = failed and { code = i % 100 == 7 and "CHANNEL_FAILURE" or "RECIPIENT_NOT_REACHABLE" } or nil,
    event_time = os.date("!%Y-%m-%dT%H:%M:%S", t) .. ".250Z" }
  if #evs == 10000 then
    assert(store:add_many(evs))
    evs = {}
  end
end
if #evs > 0 then assert(store:add_many(evs)) end

local function best(fn, runs)
  local b, out
  for _ = 1, runs do
    local t = core.now_ms()
    out = fn()
    t = core.now_ms() - t
    if not b or t < b then b = t end
  end
  return b, out
end

local report_ms, r = best(function() return assert(store:report("bench")) end, 3)
local html_path = path .. ".html"
local page_ms, html = best(function()
  local h = assert(report_html.render(store, { "bench" }))
  assert(report_html.write(html_path, h))
  return h
end, 3)
local tl = assert(store:timeline("bench"))
print(("%d recipients (%d delivered, %d failed), receipts over %d s, %d batches"):format(N,
  r.delivered, r.failed, SPAN, batches))
print(("  report (store:report, the --json numbers)   %8.1f ms"):format(report_ms))
print(("  page (render + write, --html)               %8.1f ms  = %.1f x the report"):format(page_ms,
  page_ms / report_ms))
print(("  page size                                   %8d bytes (%.2f MB), %d timeline points per %s")
  :format(#html, #html / 1048576, #tl.points, tl.unit))
print(("  bounds: < 1 MB %s, <= 2 s %s"):format(#html < 1048576 and "met" or "MISSED",
  page_ms <= 2000 and "met" or "MISSED"))
store:close()
for _, p in ipairs{ path, path .. "-wal", path .. "-shm", html_path } do os.remove(p) end
