-- bench/e2e_bench.lua -- end to end: 200,000 recipients in batches of 1000
-- sent to a fixed-answer nginx sink on 127.0.0.1 (bench/sink.lua), by
--   plain Lua: nested tables + lua-cjson + LuaSocket socket.http, one plain
--     request per batch (the honest naive script, token fetched once),
--   client:send{ message, recipients = { {recipient = R.sms(n), ...} } },
--   client:batch{} + b:add(R.sms(n), {...}) + client:send(b) (a new batch
--     per 1000 recipients),
--   the batch's add_row (one batch, reset per 1000),
-- in the same run, on one core (each variant runs alone).  Not a test.
--
--   SINCH_BATCH_BUILD=build lua5.4 bench/e2e_bench.lua [recipients]
--   SINCH_BATCH_BUILD=build luajit bench/e2e_bench.lua
--
-- Each variant runs `rounds` times, interleaved (default 3); the best round
-- counts (the machine is shared: the best is the least disturbed).  Prints
-- recipients/s by the wall clock and by this process's CPU time (os.clock:
-- steadier on a loaded machine; the sink's work is the same for every
-- variant), the ratios to the plain script, and the largest growth of the
-- process's resident memory during a round (/proc/self/statm).
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;bench/?.lua;spec/?.lua;spec/support/?.lua;"
  .. package.path

local sink = require "sink"
local batch = require "sinch.batch"
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local fmt = string.format
local R, M = batch.recipient, batch.message

local total = tonumber(arg and arg[1]) or 200000
local rounds = tonumber(arg and arg[2]) or 3
local PER = 1000
local APP, PROJECT = "01APPIDXXXXXXXXXXXXXXXXXXX", "PROJECT"

local numbers, names, codes = {}, {}, {}
for i = 1, PER do
  numbers[i] = fmt("+4670%07d", i)
  names[i] = "Name" .. i
  codes[i] = fmt("%06d", (i * 7919) % 1000000)
end

local s = sink.start()
local function rss_mb()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, resident = f:read("*l"):match("^(%d+)%s+(%d+)")
  f:close()
  return tonumber(resident) * 4096 / 2 ^ 20
end

-- plain Lua: what a script without this library would do
local function plain()
  local chunks = {}
  local ok, code = http.request{ url = s.url .. "/oauth2/token", method = "POST",
    headers = { ["content-type"] = "application/x-www-form-urlencoded", ["content-length"] = 29 },
    source = ltn12.source.string("grant_type=client_credentials"), sink = ltn12.sink.table(chunks) }
  assert(ok and code == 200, "token: " .. tostring(code))
  local token = cjson.decode(table.concat(chunks)).access_token
  local message = { text_message = { text = "Hi ${name}, your code is ${code}" } }
  local url = s.url .. "/v1/projects/" .. PROJECT .. "/batches:send"
  for _ = 1, total / PER do
    local list = {}
    for i = 1, PER do
      list[i] = {
        recipient = { identified_by = { channel_identities = {
          { channel = "SMS", identity = numbers[i] } } } },
        parameters = { name = names[i], code = codes[i] },
      }
    end
    local body = cjson.encode{ app_id = APP, message = message, recipient_and_params = list }
    local out = {}
    ok, code = http.request{ url = url, method = "POST",
      headers = { ["content-type"] = "application/json", ["content-length"] = #body,
                  authorization = "Bearer " .. token },
      source = ltn12.source.string(body), sink = ltn12.sink.table(out) }
    assert(ok and code == 200, "send: " .. tostring(code))
    assert(cjson.decode(table.concat(out)).batch_id)
  end
end

local client = assert(batch.client{ project_id = PROJECT, app_id = APP, base_url = s.url,
  auth_url = s.url, key_id = "k", key_secret = "s", region = "eu" })
local msg = M.text("Hi ${name}, your code is ${code}")

local function taught_send()
  for _ = 1, total / PER do
    local list = {}
    for i = 1, PER do
      list[i] = { recipient = R.sms(numbers[i]), parameters = { name = names[i], code = codes[i] } }
    end
    assert(assert(client:send{ message = msg, recipients = list }).batch_id)
  end
end

local function taught_batch_add()
  for _ = 1, total / PER do
    local b = assert(client:batch{ message = msg })
    for i = 1, PER do
      assert(b:add(R.sms(numbers[i]), { name = names[i], code = codes[i] }))
    end
    assert(assert(client:send(b)).batch_id)
  end
end

local function taught_add_row()
  local b = assert(client:batch{ message = msg })
  b:columns{ "name", "code" }
  for _ = 1, total / PER do
    b:reset()
    for i = 1, PER do assert(b:add_row("SMS", numbers[i], names[i], codes[i])) end
    assert(assert(client:send(b)).batch_id)
  end
end

local function run(r, fn)
  collectgarbage("collect")
  local m0 = rss_mb()
  local t0, c0 = socket.gettime(), os.clock()
  fn()
  local dt, ct = socket.gettime() - t0, os.clock() - c0
  if not r.dt or dt < r.dt then r.dt, r.rate = dt, total / dt end
  if not r.ct or ct < r.ct then r.ct, r.cpu_rate = ct, total / ct end
  r.mem = math.max(r.mem or 0, rss_mb() - m0)
end

print(fmt("%s, %d recipients in batches of %d, nginx sink at %s, best of %d rounds",
  rawget(_G, "jit") and rawget(_G, "jit").version or _VERSION, total, PER, s.url, rounds))
local ok, err = pcall(function()
  local rows = {
    { name = "plain Lua (tables + lua-cjson + socket.http)", fn = plain },
    { name = "client:send{ recipients = ... }", fn = taught_send },
    { name = "client:batch{} + b:add(R.sms(n), {..})", fn = taught_batch_add },
    { name = "batch add_row", fn = taught_add_row },
  }
  for _ = 1, rounds do
    for _, r in ipairs(rows) do run(r, r.fn) end
  end
  print(fmt("%-44s %10s %7s %10s %7s %8s", "path", "recips/s", "ratio", "cpu rec/s", "ratio",
    "RSS +MB"))
  for _, r in ipairs(rows) do
    print(fmt("%-44s %10.0f %6.2fx %10.0f %6.2fx %8.1f", r.name, r.rate, r.rate / rows[1].rate,
      r.cpu_rate, r.cpu_rate / rows[1].cpu_rate, r.mem))
  end
  local sent = s:count()
  assert(sent >= 4 * rounds * total / PER, "the sink saw " .. sent .. " sends")
end)
client:close()
s:stop()
if not ok then error(err, 0) end
