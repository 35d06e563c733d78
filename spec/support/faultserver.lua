-- spec/support/faultserver.lua -- a scripted raw HTTP/1.1 server on
-- 127.0.0.1 for the fault matrix (spec/support/faults.lua starts it; run
-- as a separate process with LuaSocket):
--
--   lua5.4 spec/support/faultserver.lua SCENARIO PORTFILE LOGFILE LIFETIME [LOOKUP]
--
-- Binds a free port, writes it to PORTFILE, and serves one connection at a
-- time, keeping each alive.  Token requests (…/oauth2/token) and GETs get
-- ordinary keep-alive answers; every POST …/messages gets SCENARIO's
-- treatment (see faults.lua).  Each request is logged to LOGFILE as
-- "<connection> <method> <path> <body bytes received>" (the body bytes:
-- what was read, or for reset_before_body what had already arrived).
-- LOOKUP says how GETs (the metadata search a campaign resolves an
-- ambiguous send with) are answered: "none" (`[]`, the default: a
-- well-formed answer that lists no batch), "empty" (200, no body), "object"
-- (200, `{}`), "error500" (500), "truncated" (200, half a JSON list, then
-- the connection closes).  Exits after LIFETIME seconds whatever happens.
local socket = require "socket"

local scenario, portfile, logfile = arg[1], arg[2], arg[3]
local lifetime = tonumber(arg[4]) or 120
local lookup = arg[5] or "none"
local stop_at = socket.gettime() + lifetime

local TOKEN = '{"access_token":"fault-token","expires_in":3600,"token_type":"bearer"}'
local ACCEPTED = '{"batch_id":"01FAULTXXXXXXXXXXXXXXXXXXXX"}'

local log = assert(io.open(logfile, "a"))
local srv = assert(socket.bind("127.0.0.1", 0))
srv:settimeout(0.2)
do
  local _, port = srv:getsockname()
  local f = assert(io.open(portfile .. ".tmp", "w"))
  f:write(port, "\n")
  f:close()
  assert(os.rename(portfile .. ".tmp", portfile))
end

local function answer(c, status, body, extra)
  return c:send(("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s")
    :format(status, #body, extra or "", body))
end

-- Closes with a TCP reset (SO_LINGER 0) rather than a FIN.
local function reset(c)
  c:setoption("linger", { on = true, timeout = 0 })
  c:close()
end

-- What a POST …/messages gets; true to keep serving the connection.
local treat = {
  reset_before_body = function(c, _, peek) peek() reset(c) end,
  reset_after_body = function(c, read_body) read_body() reset(c) end,
  close_without_answer = function(c, read_body) read_body() c:close() end,
  partial_answer = function(c, read_body)
    read_body()
    c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
      .. '{"batch_id":"01FAU')
    c:close()
  end,
  no_answer = function(c, read_body)
    read_body()
    c:settimeout(math.max(1, stop_at - socket.gettime()))
    c:receive("*a") -- until the client gives up and closes
    c:close()
  end,
  answer_then_close = function(c, read_body)
    read_body()
    answer(c, 200, ACCEPTED, "Connection: close\r\n")
    c:close()
  end,
  answer = function(c, read_body)
    read_body()
    answer(c, 200, ACCEPTED)
    return true
  end,
}
assert(treat[scenario], "unknown scenario " .. tostring(scenario))

-- Serves the requests of one connection, one at a time.  The next request
-- on a kept-alive connection is awaited 1 s at most: a client that opened
-- another connection meanwhile is served next.
local function serve(c, n)
  while true do
    c:settimeout(1)
    local line = c:receive("*l")
    c:settimeout(10)
    if not line or line == "" then break end
    local method, path = line:match("^(%u+) (%S+) HTTP/1%.%d$")
    local len = 0
    while true do
      local h = c:receive("*l")
      if not h then c:close() return end
      if h == "" then break end
      local v = h:lower():match("^content%-length:%s*(%d+)")
      if v then len = tonumber(v) end
    end
    local got = 0
    local function read_body()
      if len > 0 then
        local data, _, partial = c:receive(len)
        got = #(data or partial or "")
      end
    end
    local function peek() -- the body bytes already there, without waiting
      c:settimeout(0)
      read_body()
    end
    local function logged()
      log:write(("%d %s %s %d\n"):format(n, tostring(method), tostring(path), got))
      log:flush()
    end
    if path and path:find("/oauth2/token$") then
      read_body()
      logged()
      answer(c, 200, TOKEN)
    elseif method == "POST" and path and path:find("/messages$") then
      -- logged once the body was read (or peeked), before the treatment ends
      local keep = treat[scenario](c, function() read_body() logged() end,
                                   function() peek() logged() end)
      if not keep then return end
    else
      read_body()
      logged()
      if lookup == "empty" then
        answer(c, 200, "")
      elseif lookup == "object" then
        answer(c, 200, "{}")
      elseif lookup == "error500" then
        answer(c, 500, '{"error":{"code":500,"message":"internal","status":"INTERNAL"}}')
      elseif lookup == "truncated" then
        c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"
          .. '[{"batch_id":"01FAU')
        c:close()
        return
      else
        assert(lookup == "none", "unknown lookup answer " .. tostring(lookup))
        answer(c, 200, "[]")
      end
    end
  end
  c:close()
end

local n = 0
while socket.gettime() < stop_at do
  local c = srv:accept()
  if c then
    n = n + 1
    serve(c, n)
  end
end
srv:close()
log:close()
