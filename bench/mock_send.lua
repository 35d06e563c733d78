-- bench/mock_send.lua -- requests/s of sinch-batch-mock for 1000-recipient
-- send bodies, with the full server-side validation on.
--
--   SINCH_BATCH_BUILD=build lua5.4 bench/mock_send.lua [requests] [connections]
--
-- Starts its own mock (--quiet --max-batches 1000), takes one token, then
-- sends the same valid body `requests` times, over `connections` keep-alive
-- connections used in turn (pipelining none: each waits for its answer).
-- Every answer must be 200; the mock's stats must count every batch once.
package.path = "spec/support/?.lua;spec/?.lua;" .. package.path

local mock = require "mock"
local socket = require "socket"
local cjson = require "cjson"

local requests = tonumber(arg and arg[1]) or 2000
local connections = tonumber(arg and arg[2]) or 1

local function body()
  local list = {}
  for i = 1, 1000 do
    list[i] = {
      recipient = { identified_by = { channel_identities = {
        { channel = "SMS", identity = string.format("+4670%07d", i) } } } },
      parameters = { name = "Recipient " .. i, code = tostring(100000 + i) },
      message_metadata = { row = tostring(i) },
    }
  end
  return cjson.encode({
    app_id = "01BENCHAPPXXXXXXXXXXXXXXXX",
    message = { text_message = { text = "Hi ${name}, your code is ${code}" } },
    recipient_and_params = list,
    batch_metadata = { campaign = "bench" },
    message_metadata = { campaign = "bench" },
    processing_strategy = "DISPATCH_ONLY",
    ttl = "86400s",
    channel_priority_order = { "SMS" },
  })
end

local m = mock.start{ args = { "--quiet", "--max-batches", "1000" } }
local ok, err = pcall(function()
  local token = m:token()
  local payload = body()
  local head = table.concat({
    "POST " .. m:path("/messages") .. " HTTP/1.1",
    "Host: 127.0.0.1:" .. m.port,
    "Authorization: Bearer " .. token,
    "Content-Type: application/json",
    "Content-Length: " .. #payload, "", "" }, "\r\n")
  local socks = {}
  for i = 1, connections do
    socks[i] = socket.tcp()
    socks[i]:settimeout(30)
    assert(socks[i]:connect("127.0.0.1", m.port))
    socks[i]:setoption("tcp-nodelay", true)
  end
  m:reset()
  local t0 = socket.gettime()
  for i = 1, requests do
    local s = socks[(i - 1) % connections + 1]
    assert(s:send(head .. payload))
    local status, rbody = mock.read_response(s)
    if status ~= 200 then error("answer " .. tostring(status) .. ": " .. tostring(rbody)) end
  end
  local secs = socket.gettime() - t0
  for _, s in ipairs(socks) do s:close() end
  local st = m:stats()
  assert(st.batches_accepted == requests, "the mock counted " .. st.batches_accepted)
  assert(st.recipients_accepted == requests * 1000)
  print(string.format("%d sends of %d bytes (1000 recipients) in %.2f s over %d connection(s): "
                      .. "%.0f requests/s, %.0f recipients/s, %.1f MB/s",
                      requests, #payload, secs, connections, requests / secs,
                      requests * 1000 / secs, requests * #payload / secs / 1e6))
end)
m:stop()
if not ok then error(err, 0) end
