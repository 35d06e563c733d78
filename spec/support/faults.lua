-- spec/support/faults.lua -- the fault matrix: one table of scenarios for
-- every transport, and the scripted raw HTTP/1.1 server that plays them.
--
--   local faults = require "support.faults"
--   for _, sc in ipairs(faults.SCENARIOS) do
--     local srv = faults.start(sc.name)      -- a separate LuaSocket process
--     ... sc.sends sends to srv.url through the transport under test ...
--     local posts, reused = srv:posts()      -- POST …/messages it saw
--     srv:stop()
--   end
--
-- The server binds a free port on 127.0.0.1, answers the OAuth2 token
-- request on a kept-alive connection (so the first send goes out on a
-- reused connection, where a transport is tempted to try again on a new
-- one), gives the first POST …/messages the scenario's treatment and
-- answers later ones normally.  It logs every request head, and exits by
-- itself after its lifetime whatever happens.
--
-- The pass condition, for every transport: a send whose body may have left
-- is never resent (POSTs seen <= sends) and, when it failed, says
-- may_have_been_processed.
--
-- Run as a script, this file is the server:
--   lua5.4 spec/support/faults.lua serve SCENARIO PORTFILE LOGFILE LIFETIME
local socket = require "socket"

local _M = { _VERSION = "0.1.0" }

--- The scenarios: what the server does with the first POST …/messages, and
-- what the caller must see.  ok: every send succeeds; otherwise the first
-- fails with may_have_been_processed = true.  sends: how many sends to make
-- (later ones are answered normally).  timeout: the client's request
-- timeout (seconds) to use; kind: the error kind expected.
_M.SCENARIOS = {
  { name = "reset_before_body", what = "reads the request head, resets the connection",
    ok = false, sends = 1 },
  { name = "reset_after_body", what = "reads the whole request, resets the connection",
    ok = false, sends = 1 },
  { name = "close_no_answer_reused", what = "reads the whole request on a reused connection, "
    .. "closes without a byte", ok = false, sends = 1 },
  { name = "partial_answer", what = "sends half an answer, closes",
    ok = false, sends = 1 },
  { name = "timeout", what = "reads the whole request, never answers",
    ok = false, sends = 1, timeout = 0.5, kind = "timeout" },
  { name = "answer_then_close", what = "answers 200 with Connection: close, closes; the next "
    .. "send needs a new connection",
    ok = true, sends = 2 },
}

local TOKEN = '{"access_token":"fault-token-0123456789","expires_in":3600,"token_type":"bearer"}'

------------------------------------------------------------------ the server

local function answer(c, status, body, extra)
  return c:send(("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s")
    :format(status, #body, extra or "", body))
end

-- Closes with a TCP reset (SO_LINGER 0) rather than a FIN.
local function reset(c)
  c:setoption("linger", { on = true, timeout = 0 })
  c:close()
end

-- What the first POST …/messages gets, once its head is read; returns
-- true to keep serving the connection.
local TREAT = {
  reset_before_body = function(c) reset(c) end,
  reset_after_body = function(c, read_body) read_body() reset(c) end,
  close_no_answer_reused = function(c, read_body) read_body() c:close() end,
  partial_answer = function(c, read_body)
    read_body()
    c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
      .. '{"batch_id":"01FAU')
    c:close()
  end,
  timeout = function(c, read_body, until_t)
    read_body()
    c:settimeout(math.max(0.1, until_t - socket.gettime()))
    c:receive("*a") -- until the client gives up and closes
    c:close()
  end,
  answer_then_close = function(c, read_body, _, n)
    read_body()
    answer(c, 200, ('{"batch_id":"01FAULT%020d"}'):format(n), "Connection: close\r\n")
    c:close()
  end,
}

local function serve(scenario, portfile, logfile, lifetime)
  local stop_at = socket.gettime() + (tonumber(lifetime) or 60)
  local treat = assert(TREAT[scenario], "unknown scenario " .. tostring(scenario))
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
  local conns, posts = 0, 0
  while socket.gettime() < stop_at do
    local c = srv:accept()
    if c then
      conns = conns + 1
      c:settimeout(0.2)
      local buf = ""
      local open = true
      while open and socket.gettime() < stop_at do
        local head_end = buf:find("\r\n\r\n", 1, true)
        if not head_end then
          local data, err, partial = c:receive(4096)
          data = data or partial
          if data and #data > 0 then buf = buf .. data end
          if err == "closed" then open = false end
          if err == "timeout" and (not data or #data == 0) then
            -- the client may have moved on to a new connection
            local other = srv:accept()
            if other then
              c:close()
              c, buf, conns = other, "", conns + 1
              c:settimeout(0.2)
            end
          end
        else
          local head = buf:sub(1, head_end + 3)
          buf = buf:sub(head_end + 4)
          local method, path = head:match("^(%u+) (%S+)")
          local length = tonumber(head:lower():match("\r\ncontent%-length:%s*(%d+)")) or 0
          log:write(conns, " ", method or "?", " ", path or "?", "\n")
          log:flush()
          local function read_body()
            while #buf < length do
              local data, err, partial = c:receive(length - #buf)
              data = data or partial
              if data then buf = buf .. data end
              if err == "closed" or socket.gettime() >= stop_at then break end
            end
            buf = buf:sub(length + 1)
          end
          if path and path:find("/oauth2/token$") then
            read_body()
            answer(c, 200, TOKEN)
          elseif method == "POST" and path and path:find("/messages$") then
            posts = posts + 1
            if posts == 1 then
              treat(c, read_body, stop_at, posts)
              open = false -- every treatment ends the connection
            else
              read_body()
              answer(c, 200, ('{"batch_id":"01FAULT%020d"}'):format(posts))
            end
          else
            read_body()
            answer(c, 200, "{}")
          end
        end
      end
      pcall(c.close, c)
    end
  end
  log:close()
end

if select(1, ...) == "serve" then
  serve(select(2, ...))
  os.exit(0)
end

----------------------------------------------------------- the test side

local function run(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local interpreter_cache
local function interpreter()
  if interpreter_cache then return interpreter_cache end
  local own = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  for _, lua in ipairs{ own, "lua5.4", "lua5.3", "lua5.1", "luajit", "lua" } do
    if run("command -v " .. lua .. " >/dev/null 2>&1 && " .. lua
      .. " -e 'require \"socket\"' >/dev/null 2>&1") then
      interpreter_cache = lua
      return lua
    end
  end
  error("no Lua interpreter with LuaSocket for the fault server")
end

local Server = {}
Server.__index = Server

--- Starts the raw server for scenario name (a separate process that exits
-- after lifetime seconds, 60 by default).
function _M.start(name, lifetime)
  assert(TREAT[name], "unknown scenario " .. tostring(name))
  local base = os.tmpname()
  local self = setmetatable({ base = base, portfile = base .. ".port", logfile = base .. ".log",
                              pidfile = base .. ".pid" }, Server)
  local here = debug.getinfo(1, "S").source:match("^@(.*)$") or "spec/support/faults.lua"
  local cmd = ("%s %s serve %s %s %s %d >/dev/null 2>&1 & echo $! >%s")
    :format(interpreter(), shell_quote(here), shell_quote(name), shell_quote(self.portfile),
            shell_quote(self.logfile), lifetime or 60, shell_quote(self.pidfile))
  assert(run("sh -c " .. shell_quote(cmd)))
  for _ = 1, 1000 do
    local port = tonumber((read_file(self.portfile) or ""):match("%d+"))
    if port then
      self.port = port
      self.url = "http://127.0.0.1:" .. port
      return self
    end
    socket.sleep(0.01)
  end
  self:stop()
  error("the fault server did not start (" .. name .. ")")
end

--- The requests seen, in order: { { conn = n, method = …, path = … }, … }
function Server:requests()
  local out = {}
  for line in (read_file(self.logfile) or ""):gmatch("[^\n]+") do
    local n, method, path = line:match("^(%d+) (%S+) (%S+)$")
    out[#out + 1] = { conn = tonumber(n), method = method, path = path }
  end
  return out
end

--- How many POST …/messages the server saw, and whether the first went out
-- on a connection a token request had used before (a reused one).
function Server:posts()
  local n, reused, token_conns = 0, nil, {}
  for _, r in ipairs(self:requests()) do
    if r.path:find("/oauth2/token$") then
      token_conns[r.conn] = true
    elseif r.method == "POST" and r.path:find("/messages$") then
      n = n + 1
      if reused == nil then reused = token_conns[r.conn] == true end
    end
  end
  return n, reused
end

--- Stops the server (by its pid) and removes its files.
function Server:stop()
  local pid = tonumber((read_file(self.pidfile) or ""):match("%d+"))
  if pid then run("kill " .. pid .. " 2>/dev/null") end
  for _, f in ipairs{ self.portfile, self.logfile, self.pidfile, self.base } do os.remove(f) end
end

--- The outcome of a send as a short text: "ok <batch_id>" or
-- "<kind> may_have_been_processed=<bool>".
function _M.outcome(result, err)
  if result then return "ok " .. tostring(result.batch_id) end
  if type(err) ~= "table" then return "error " .. tostring(err) end
  return ("%s may_have_been_processed=%s"):format(tostring(err.kind),
    tostring(err.may_have_been_processed))
end

--- One row of the printed matrix: scenario × requests seen × outcome.
function _M.row(transport, sc, posts, reused, outcome)
  return ("%-6s %-24s POSTs seen %d%s  %s"):format(transport, sc.name, posts,
    reused and " (reused conn)" or "", outcome)
end

--- Prints the matrix rows under a title.
function _M.print(title, rows)
  io.stdout:write("\n", title, "\n")
  for _, r in ipairs(rows) do io.stdout:write("  ", r, "\n") end
  io.stdout:flush()
end

return _M
