-- Benchmark (not a test): signed delivery receipts POSTed over HTTP and
-- ingested into the receipts store (signature check + parse + SQLite), by
-- the plain receiver (examples/webhook_receiver.lua --store) and under nginx
-- (the OpenResty example, examples/openresty/run.sh), next to
-- webhook.verify alone in the same run.  The clock runs from the first POST
-- until the store holds every receipt.
--   SINCH_BATCH_BUILD=build lua5.4 bench/receipts_http_bench.lua [receipts=20000] [clients=2]
-- The clients are LuaSocket processes (this script with --client), over
-- keep-alive where the server allows it (the plain receiver closes each
-- connection).  Everything listens on 127.0.0.1 only.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local socket = require "socket"
local webhook = require "sinch.batch.webhook"

local SECRET = "bench-webhook-secret"
local LUA = arg[-1] or "lua5.4"

local function body(i)
  local failed = i % 20 == 0
  return string.format('{"app_id":"A","project_id":"P","event_time":"2026-11-29T10:00:00Z",'
    .. '"message_delivery_report":{"message_id":"M%d","status":"%s"%s},'
    .. '"message_metadata":"{\\"batchId\\":\\"B%d\\",\\"messageIndex\\":%d}"}',
    i, failed and "FAILED" or "DELIVERED",
    failed and ',"reason":{"code":"RECIPIENT_NOT_REACHABLE","description":"x"}' or "",
    math.floor(i / 1000), i % 1000)
end

-- the client: POST receipts [from, to) to 127.0.0.1:port/path
local function client(port, path, from, to, ts, run)
  local c
  local function connect()
    c = assert(socket.tcp())
    c:settimeout(30)
    assert(c:connect("127.0.0.1", port))
  end
  connect()
  local bad = 0
  for i = from, to - 1 do
    local raw = body(i)
    local h = webhook.sign(SECRET, raw, run .. "-" .. i, ts)
    local req = { "POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
                  "Content-Length: ", #raw, "\r\n" }
    for k, v in pairs(h) do req[#req + 1] = k .. ": " .. v .. "\r\n" end
    req[#req + 1] = "\r\n"
    req[#req + 1] = raw
    local ok = c:send(table.concat(req))
    if not ok then connect(); assert(c:send(table.concat(req))) end
    local status = assert(c:receive("*l"))
    local len, close, chunked = 0, false, false
    while true do
      local l = assert(c:receive("*l"))
      if l == "" then break end
      local lower = l:lower()
      len = tonumber(lower:match("^content%-length:%s*(%d+)")) or len
      if lower:match("^connection:%s*close") then close = true end
      if lower:match("^transfer%-encoding:%s*chunked") then chunked = true end
    end
    if chunked then -- nginx's answers from content_by_lua
      repeat
        local size = tonumber(assert(c:receive("*l")):match("^%x+"), 16)
        if size > 0 then assert(c:receive(size)) end
        assert(c:receive("*l"))
      until size == 0
    elseif len > 0 then
      assert(c:receive(len))
    end
    if not status:match(" 200 ") then
      bad = bad + 1
      if bad == 1 then io.stderr:write(("first refusal (request %d): %s\n"):format(i, status)) end
    end
    if close then c:close(); connect() end
  end
  c:close()
  if bad > 0 then io.stderr:write(bad, " receipts not answered 200\n"); os.exit(1) end
  os.exit(0)
end

if arg[1] == "--client" then
  return client(tonumber(arg[2]), arg[3], tonumber(arg[4]), tonumber(arg[5]), arg[6], arg[7])
end

local N = tonumber(arg[1]) or 20000
local CLIENTS = tonumber(arg[2]) or 2
local outcomes = require "sinch.batch.outcomes"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function stored(db)
  -- never create it: under nginx the workers (maybe another user) make it
  local f = io.open(db, "rb")
  if not f then return 0 end
  f:close()
  local s = outcomes.open(db)
  if not s then return 0 end
  local r = s:report()
  s:close()
  return r and (r.receipts + r.unmatched_receipts) or 0
end

-- POST N receipts with CLIENTS processes; seconds until the store has them all
local function drive(port, path, db, run)
  local ts = tostring(os.time())
  local t0 = socket.gettime()
  local cmds, per = {}, math.ceil(N / CLIENTS)
  for k = 0, CLIENTS - 1 do
    local from, to = k * per, math.min(N, (k + 1) * per)
    cmds[#cmds + 1] = ("%s bench/receipts_http_bench.lua --client %d %s %d %d %s %s &")
      :format(LUA, port, path, from, to, ts, run)
  end
  cmds[#cmds + 1] = "wait"
  assert(os.execute(("SINCH_BATCH_BUILD=%s sh -c %s"):format(q(build), q(table.concat(cmds, " ")))))
  local posted = socket.gettime() - t0
  for _ = 1, 1200 do
    if stored(db) >= N then break end
    socket.sleep(0.05)
  end
  local n = stored(db)
  assert(n == N, ("the store has %d receipts of %d"):format(n, N))
  return socket.gettime() - t0, posted
end

local tmp = os.tmpname()
local function cleanup(db) for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end end

-- verify only, in this process, the same receipts
local reqs, ts = {}, tostring(os.time())
for i = 0, N - 1 do
  local raw = body(i)
  reqs[#reqs + 1] = { raw = raw, headers = webhook.sign(SECRET, raw, "v" .. i, ts) }
end
local t0 = os.clock()
for i = 1, N do assert(webhook.verify(SECRET, reqs[i].headers, reqs[i].raw)) end
local verify_rate = N / (os.clock() - t0)

-- the plain receiver
local db = tmp .. ".plain.db"
local cmd = ("%s examples/webhook_receiver.lua --port 0 --secret %s --store %s --count %d "
  .. "--lifetime 600 >%s.plain.log 2>&1 & echo $!"):format(LUA, SECRET, q(db), N, q(tmp))
local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s sh -c %s"):format(q(package.path), q(package.cpath),
  q(cmd))))
local rpid = p:read("*l")
p:close()
local port
for _ = 1, 200 do
  port = tonumber((read(tmp .. ".plain.log") or ""):match("^port=(%d+)"))
  if port then break end
  socket.sleep(0.05)
end
assert(port, "the receiver did not start: " .. tostring(read(tmp .. ".plain.log")))
local plain_ok, plain_s = pcall(drive, port, "/callbacks", db, "plain")
os.execute("kill " .. rpid .. " 2>/dev/null")
cleanup(db)
os.remove(tmp .. ".plain.log")
if not plain_ok then error(plain_s, 0) end

-- nginx: the OpenResty example (its store: <prefix>/ledger/receipts.db)
local nginx_s, nginx_note
local env = "SINCH_WEBHOOK_SECRET=" .. SECRET .. " SINCH_PROJECT_ID=bench SINCH_APP_ID=bench "
  .. "SINCH_KEY_ID=bench SINCH_KEY_SECRET=bench SINCH_BATCH_BASE_URL=http://127.0.0.1:9 "
  .. "SINCH_BATCH_BUILD=" .. q(build)
p = assert(io.popen(("sh -c %s"):format(q(env .. " examples/openresty/run.sh >" .. tmp
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
  local ok, res = pcall(drive, tonumber(url:match(":(%d+)$")), "/callbacks",
    prefix .. "/ledger/receipts.db", "nginx")
  if ok then nginx_s = res else nginx_note = tostring(res) end
else
  nginx_note = "nginx did not start: " .. tostring(read(tmp .. ".nginx.out"))
end
os.execute("kill " .. npid .. " 2>/dev/null")
for _ = 1, 100 do -- run.sh stops nginx and removes its prefix
  if not (prefix and read(prefix .. "/logs/nginx.pid")) then break end
  socket.sleep(0.05)
end
os.remove(tmp .. ".nginx.out")
os.remove(tmp)

local interp = _VERSION .. (rawget(_G, "jit") and " / LuaJIT" or "")
print(("%s  %d signed receipts over HTTP, %d client processes"):format(interp, N, CLIENTS))
print(("  webhook.verify only (this process)         %9.0f receipts/s"):format(verify_rate))
print(("  plain receiver (verify+parse+store)        %9.0f receipts/s  (%.2f s)"):format(N / plain_s,
  plain_s))
if nginx_s then
  print(("  nginx, OpenResty example (verify+store)    %9.0f receipts/s  (%.2f s)"):format(N / nginx_s,
    nginx_s))
else
  print("  nginx: " .. nginx_note)
end
