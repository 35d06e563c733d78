-- CSV to ready batch bodies: a benchmark, not a test.
--
--   SINCH_BATCH_BUILD=build lua5.4 bench/csv_bench.lua [rows] [--tables]
--   SINCH_BATCH_BUILD=build luajit bench/csv_bench.lua [rows] [--tables]
--
-- Writes a CSV of `rows` recipients (default 1,000,000; columns channel,
-- identity, name, code) under /tmp, then turns it into request bodies of
-- 1000 recipients each: chunk.csv with a builder (rows go from libcsv
-- straight into the C builder), b:body() per chunk.  Reports rows per second
-- (CPU time) and the process's peak memory (VmHWM), which must stay flat:
-- one chunk at a time.  Targets: >= 2,000,000 rows/s, < 64 MB.
-- --tables also times the table path (a RecipientAndParam table per row,
-- then cjson.encode of each batch) for comparison.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local core = require "sinch.batch.core"
local chunk = require "sinch.batch.chunk"
local cjson = require "cjson"

local N = 1000000
local tables = false
for _, a in ipairs(arg) do
  if a == "--tables" then tables = true else N = assert(tonumber(a), "rows: a number") end
end

local function peak_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

-- the file, written 1000 lines at a time (os.tmpname() creates the empty
-- file it names: both are removed at the end)
local tmp = os.tmpname()
local path = tmp .. ".csv"
do
  local f = assert(io.open(path, "wb"))
  f:write("channel,identity,name,code\n")
  local buf = {}
  for i = 1, N do
    buf[#buf + 1] = string.format("SMS,+4670%07d,Name %d,%04d\n", i % 10000000, i, i % 10000)
    if #buf == 1000 then
      f:write(table.concat(buf))
      buf = {}
    end
  end
  f:write(table.concat(buf))
  f:close()
end
local size_mb
do
  local f = io.open(path, "rb")
  size_mb = f:seek("end") / 1e6
  f:close()
end

local message = { text_message = { text = "Hi ${name}, your code is ${code}" } }
local msg_json = cjson.encode(message)

collectgarbage()
local b = assert(core.builder("01BENCHAPPXXXXXXXXXXXXXXXX", msg_json))
local t0 = os.clock()
local src = assert(chunk.csv(path, { builder = b }))
local rows, batches, bytes = 0, 0, 0
for c in src do
  local body = assert(b:body())
  rows = rows + c.count
  batches = batches + 1
  bytes = bytes + #body
end
local dt = os.clock() - t0
local peak = peak_kb()

print(string.format("%s, %s, csv %.1f MB, %d rows", flavour == "luajit" and "LuaJIT" or _VERSION,
  core._VERSION, size_mb, N))
print(string.format("csv -> builder -> body: %d rows in %d batches, %.1f MB of JSON, %.3f s CPU, "
  .. "%.2f M rows/s, peak memory %.1f MB, %d bad rows", rows, batches, bytes / 1e6, dt,
  rows / dt / 1e6, (peak or 0) / 1024, #src.bad))

if tables then
  collectgarbage()
  t0 = os.clock()
  src = assert(chunk.csv(path))
  local trows = 0
  for c in src do
    local body = cjson.encode{ app_id = "01BENCHAPPXXXXXXXXXXXXXXXX", message = message,
                               recipient_and_params = c.recipients }
    trows = trows + #c.recipients
    assert(#body > 0)
  end
  local tdt = os.clock() - t0
  print(string.format("csv -> tables -> cjson.encode: %d rows, %.3f s CPU, %.2f M rows/s, "
    .. "peak memory %.1f MB", trows, tdt, trows / tdt / 1e6, (peak_kb() or 0) / 1024))
end

os.remove(path)
os.remove(tmp)
