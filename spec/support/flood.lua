-- spec/support/flood.lua -- a flood of signed delivery receipts over
-- keep-alive HTTP/1.1, as a process of its own (a spec or a bench kills the
-- receiver under it).  Run from the repository's root:
--
--   lua5.4 spec/support/flood.lua PORT PATH FROM TO CONNS SECRET RUN ACKED [AT PIDS]
--
-- POSTs receipts FROM..TO-1 to 127.0.0.1:PORT/PATH over CONNS connections at
-- once (one socket.select loop), and writes to the file ACKED the number of
-- every receipt answered 2xx, one per line, when done.  A connection that
-- fails (the receiver was killed) drops its request — it was not
-- acknowledged — and connects again; when it cannot, it stops.  Prints
-- "sent N acked M refused R" on stdout.  With AT and PIDS (comma-separated),
-- sends SIGKILL to PIDS as soon as the AT-th 2xx arrives: a point of the
-- flood that does not depend on when the receiver writes.  Receipt i is batch B<i // 1000>,
-- index i % 1000, message M<i>; every 20th is FAILED.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath

local socket = require "socket"
local webhook = require "sinch.batch.webhook"

local _M = {}

--- The body of receipt i.
function _M.body(i)
  local failed = i % 20 == 0
  return string.format('{"app_id":"A","project_id":"P","event_time":"2026-11-29T10:00:00Z",'
    .. '"message_delivery_report":{"message_id":"M%d","status":"%s"%s},'
    .. '"message_metadata":"{\\"batchId\\":\\"B%d\\",\\"messageIndex\\":%d}"}',
    i, failed and "FAILED" or "DELIVERED",
    failed and ',"reason":{"code":"RECIPIENT_NOT_REACHABLE","description":"x"}' or "",
    math.floor(i / 1000), i % 1000)
end

--- The receipts store's key of receipt i (sinch.batch.outcomes.receipt_key).
function _M.key(i)
  return ("M%d|%s"):format(i, i % 20 == 0 and "FAILED" or "DELIVERED")
end

--- A signed POST of receipt i.
function _M.request(path, secret, i, run, ts)
  local raw = _M.body(i)
  local h = webhook.sign(secret, raw, run .. "-" .. i, ts)
  local req = { "POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
                "Content-Length: ", #raw, "\r\n" }
  for k, v in pairs(h) do req[#req + 1] = k .. ": " .. v .. "\r\n" end
  req[#req + 1] = "\r\n"
  req[#req + 1] = raw
  return table.concat(req)
end

local function main(port, path, from, to, nconns, secret, run, acked_path, kill_at, kill_pids)
  local ts = tostring(os.time())
  local next_id, acked, sent, refused = from, {}, 0, 0
  local conns = {} -- socket -> { co, want }

  -- reads with yields: a coroutine per connection
  local function reader(s)
    local buf = ""
    local function fill()
      local data, err, partial = s:receive(16384)
      data = data or partial
      if data and data ~= "" then buf = buf .. data return true end
      if err == "timeout" then coroutine.yield("r") return true end
      return nil, err
    end
    local r = {}
    function r.line()
      while true do
        local i = buf:find("\n", 1, true)
        if i then
          local l = buf:sub(1, i - 1):gsub("\r$", "")
          buf = buf:sub(i + 1)
          return l
        end
        if not fill() then return nil end
      end
    end
    function r.bytes(n)
      while #buf < n do if not fill() then return nil end end
      local b = buf:sub(1, n)
      buf = buf:sub(n + 1)
      return b
    end
    return r
  end

  local function connect()
    local s = socket.tcp()
    s:settimeout(5)
    if not s:connect("127.0.0.1", port) then s:close() return nil end
    s:settimeout(0)
    s:setoption("tcp-nodelay", true)
    return s
  end

  -- one response: status, whether the server closes; nil when the connection failed
  local function response(r)
    local line = r.line()
    if not line then return nil end
    local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
    local len, close, chunked = 0, false, false
    while true do
      local l = r.line()
      if not l then return nil end
      if l == "" then break end
      local lower = l:lower()
      len = tonumber(lower:match("^content%-length:%s*(%d+)")) or len
      if lower:match("^connection:%s*close") then close = true end
      if lower:match("^transfer%-encoding:%s*chunked") then chunked = true end
    end
    if chunked then
      repeat
        local sl = r.line()
        local size = sl and tonumber(sl:match("^%x+"), 16)
        if not size then return nil end
        if size > 0 and not r.bytes(size) then return nil end
        if not r.line() then return nil end
      until size == 0
    elseif len > 0 and not r.bytes(len) then
      return nil
    end
    return status, close
  end

  local function worker(s)
    local r = reader(s)
    while next_id < to do
      local i = next_id
      next_id = next_id + 1
      local data, pos = _M.request(path, secret, i, run, ts), 1
      local ok = true
      while pos <= #data do
        local n, err, last = s:send(data, pos)
        if n then break end
        if err ~= "timeout" then ok = false break end
        pos = last + 1
        coroutine.yield("w")
      end
      sent = sent + 1
      local status, close
      if ok then status, close = response(r) end
      if status and status >= 200 and status < 300 then
        acked[#acked + 1] = i
        if #acked == kill_at then os.execute("kill -9 " .. kill_pids:gsub(",", " ")) end
      elseif status then
        refused = refused + 1
      end
      if not status or close then -- dropped (or closed by the server): connect again
        conns[s] = nil
        s:close()
        s = connect()
        if not s then return end
        r = reader(s)
        conns[s] = coroutine.running()
      end
    end
    conns[s] = nil
    s:close()
  end

  local wants = {}
  for _ = 1, nconns do
    local s = connect()
    if s then
      local co = coroutine.create(worker)
      conns[s] = co
      local ok, want = coroutine.resume(co, s)
      assert(ok, want)
      wants[co] = want
    end
  end
  while next(conns) do
    local rs, ws = {}, {}
    for s, co in pairs(conns) do
      if wants[co] == "w" then ws[#ws + 1] = s else rs[#rs + 1] = s end
    end
    local rr, ww = socket.select(rs, ws, 1)
    local ready = {}
    for _, s in ipairs(rr) do ready[#ready + 1] = s end
    for _, s in ipairs(ww) do ready[#ready + 1] = s end
    for _, s in ipairs(ready) do
      local co = conns[s]
      if co and coroutine.status(co) == "suspended" then
        local ok, want = coroutine.resume(co)
        assert(ok, want)
        wants[co] = want
      end
    end
  end
  local f = assert(io.open(acked_path, "wb"))
  for _, i in ipairs(acked) do f:write(i, "\n") end
  f:close()
  print(("sent %d acked %d refused %d"):format(sent, #acked, refused))
end

if arg and arg[0] and arg[0]:match("flood%.lua$") and arg[1] then
  main(tonumber(arg[1]), arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]), arg[6],
    arg[7], arg[8], tonumber(arg[9]), arg[10])
end

return _M
