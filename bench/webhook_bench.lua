-- Benchmark (not a test): webhook signature verifications per second for a
-- 2 KB body, then a delivery receipt parsed in full and by the fast path.
-- Run from the repository root, once per interpreter:
--   SINCH_BATCH_BUILD=build lua5.4 bench/webhook_bench.lua
--   SINCH_BATCH_BUILD=build luajit bench/webhook_bench.lua
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local core = require "sinch.batch.core"
local webhook = require "sinch.batch.webhook"

local N = tonumber(arg and arg[1]) or 200000
local secret, nonce, ts = "foo_secret1234", "01FJA8B4A7BM43YGWSG9GBV067", "1634579353"

-- a 2048-byte delivery report, padded in its metadata string
local head = '{"app_id":"01APP","project_id":"P","message_delivery_report":{"message_id":"M",'
  .. '"status":"DELIVERED","metadata":"'
local tail = '"},"message_metadata":""}'
local body = head .. string.rep("x", 2048 - #head - #tail) .. tail
assert(#body == 2048)

local headers = webhook.sign(secret, body, nonce, ts)
local sig = headers["x-sinch-webhook-signature"]
local opts = { now = tonumber(ts) }

local function run(name, fn)
  for _ = 1, N / 100 do fn() end -- warm up (and let LuaJIT compile the loop)
  local t0 = os.clock()
  for _ = 1, N do fn() end
  local dt = os.clock() - t0
  print(string.format("%-8s %-44s %9.0f verifications/s  (%d in %.2f s CPU)",
                      flavour, name, N / dt, N, dt))
end

print(string.format("%s, body %d bytes, %s", core._VERSION and ("sinch-batch " .. core._VERSION) or "",
                    #body, _VERSION .. (rawget(_G, "jit") and (" / " .. rawget(_G, "jit").version) or "")))
run("core.webhook_check (HMAC + compare)", function()
  assert(core.webhook_check(secret, body, nonce, ts, sig))
end)
run("webhook.verify (headers, tolerance)", function()
  assert(webhook.verify(secret, headers, body, opts))
end)
run("webhook.verify + replay store", function()
  local store = webhook.memory_store(1)
  assert(webhook.verify(secret, headers, body, { now = opts.now, replay = store }))
end)

-- parsing a plain delivery receipt: the whole event against the fast path
-- (the fields a receipts store needs, read in C)
local receipt_body = '{"app_id":"A","project_id":"P","event_time":"2026-11-29T10:00:00Z",'
  .. '"message_delivery_report":{"message_id":"01EN6Y5S40D5P7SC4TGYTPS8XJ","status":"FAILED",'
  .. '"reason":{"code":"RECIPIENT_NOT_REACHABLE","description":"x"}},'
  .. '"message_metadata":"{\\"batchId\\":\\"01EN6Y5Q3ZK8MG9J6QGZ4V0A1B\\",\\"messageIndex\\":7}"}'
assert(webhook.receipt(receipt_body), "the fast path declined the bench's receipt")
local function run_parse(name, fn)
  for _ = 1, N / 100 do fn() end
  local t0 = os.clock()
  for _ = 1, N do fn() end
  local dt = os.clock() - t0
  print(string.format("%-8s %-44s %9.0f receipts/s  (%.2f us each)",
                      flavour, name, N / dt, dt / N * 1e6))
end
run_parse(("webhook.parse (%d-byte receipt)"):format(#receipt_body), function()
  assert(webhook.parse(receipt_body))
end)
run_parse("webhook.receipt (the same, fast path)", function()
  assert(webhook.receipt(receipt_body))
end)
