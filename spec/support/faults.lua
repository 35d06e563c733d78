-- spec/support/faults.lua -- the fault matrix: one table of scenarios for
-- every transport, and the scripted raw server that plays them
-- (spec/support/faultserver.lua, a separate LuaSocket process on
-- 127.0.0.1, on a free port, that exits by itself).
--
--   local faults = require "support.faults"
--   for _, sc in ipairs(faults.SCENARIOS) do
--     local srv = faults.start(sc.name)
--     ... send one batch to srv.url through the transport under test ...
--     local posts, bodies, reused = srv:posts()   -- POST …/messages seen
--     srv:stop()
--   end
--
-- The pass condition, for every transport: a send whose body may have left
-- is never resent (the server sees its body once: bodies == 1, or at most
-- once when it resets before reading it) and, when it failed, says
-- may_have_been_processed.  A request whose body cannot have left may be
-- sent again (libcurl does, on a fresh connection, when the reset beats
-- its body): posts counts request heads, bodies those that brought a body.
-- Before each POST the server answers the token request on the same
-- kept-alive connection, so every send goes out on a reused connection (the
-- case where a transport is tempted to try again on a new one).
local mock = require "support.mock"
local socket = require "socket"
local luassert = require "luassert"

local _M = { _VERSION = "0.1.0" }

local run, read_file, shell_quote = mock.run, mock.read_file, mock.shell_quote

--- The scenarios: what the server does with a POST …/messages, and what the
-- caller must see.  ok: the send succeeds; otherwise it fails with
-- may_have_been_processed = true.  timeout: the client's request timeout
-- (seconds) to use.
_M.SCENARIOS = {
  { name = "reset_before_body", what = "reads the head, resets the connection",
    ok = false, peek = true },
  { name = "reset_after_body", what = "reads the whole request, resets the connection",
    ok = false },
  { name = "close_without_answer", what = "reads the whole request, closes without a byte",
    ok = false },
  { name = "partial_answer", what = "sends half an answer, closes",
    ok = false },
  { name = "no_answer", what = "reads the whole request, never answers",
    ok = false, timeout = 1, kind = "timeout" },
  { name = "answer_then_close", what = "answers 200 with Connection: close, closes",
    ok = true },
}

local Server = {}
Server.__index = Server

local function interpreter()
  for _, lua in ipairs{ "lua5.4", "lua5.3", "lua5.1", "luajit", "lua" } do
    if run("command -v " .. lua .. " >/dev/null 2>&1 && " .. lua
      .. " -e 'require \"socket\"' >/dev/null 2>&1") then
      return lua
    end
  end
  error("no Lua interpreter with LuaSocket for spec/support/faultserver.lua")
end

--- Starts the raw server for scenario name; lookup: how it answers GETs
-- (see faultserver.lua; default "none", `[]`).
function _M.start(name, lifetime, lookup)
  local base = os.tmpname()
  local self = setmetatable({ base = base, portfile = base .. ".port", logfile = base .. ".log",
                              pidfile = base .. ".pid" }, Server)
  local cmd = ("%s spec/support/faultserver.lua %s %s %s %d %s >/dev/null 2>&1 & echo $! >%s")
    :format(interpreter(), shell_quote(name), shell_quote(self.portfile),
            shell_quote(self.logfile), lifetime or 60, shell_quote(lookup or "none"),
            shell_quote(self.pidfile))
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

--- The requests seen, in order: { { conn = n, method = …, path = …,
-- body = bytes of the body received }, … }
function Server:requests()
  local out = {}
  for line in (read_file(self.logfile) or ""):gmatch("[^\n]+") do
    local n, method, path, body = line:match("^(%d+) (%S+) (%S+) (%d+)$")
    out[#out + 1] = { conn = tonumber(n), method = method, path = path, body = tonumber(body) }
  end
  return out
end

--- How many POST …/messages the server saw (heads), how many of them
-- brought body bytes, and whether the first went out on the connection a
-- token request had used before (a reused one).
function Server:posts()
  local n, bodies, reused, token_conns = 0, 0, nil, {}
  for _, r in ipairs(self:requests()) do
    if r.path:find("/oauth2/token$") then
      token_conns[r.conn] = true
    elseif r.method == "POST" and r.path:find("/messages$") then
      n = n + 1
      if r.body > 0 then bodies = bodies + 1 end
      if reused == nil then reused = token_conns[r.conn] == true end
    end
  end
  return n, bodies, reused
end

--- Stops the server (by its pid) and removes its files.
function Server:stop()
  local pid = tonumber((read_file(self.pidfile) or ""):match("%d+"))
  if pid then run("kill " .. pid .. " 2>/dev/null") end
  for _, f in ipairs{ self.portfile, self.logfile, self.pidfile, self.base } do os.remove(f) end
end

--- Asserts the pass condition for scenario sc.  got: posts, bodies,
-- reused (from Server:posts), result, err (of the send); heads_may_repeat:
-- the transport may resend a request whose body had not left (libcurl).
function _M.check(sc, got, heads_may_repeat)
  luassert.is_true(got.reused, "the send did not go out on the token request's kept-alive connection")
  if sc.peek then -- the body may or may not have arrived before the reset
    luassert.is_true(got.bodies <= 1, "the batch's body reached the server more than once")
    luassert.is_true(got.posts >= 1 and got.posts <= (heads_may_repeat and 2 or 1),
      ("%d POST heads seen"):format(got.posts))
  else
    luassert.equal(1, got.posts)
    luassert.equal(1, got.bodies)
  end
  if sc.ok then
    luassert.is_nil(got.err, got.err and tostring(got.err.text or got.err))
    luassert.equal("01FAULTXXXXXXXXXXXXXXXXXXXX", got.result.batch_id)
  else
    luassert.is_nil(got.result)
    luassert.equal(sc.kind or "network", got.err.kind)
    luassert.is_true(got.err.may_have_been_processed)
  end
end

--- One row of the printed matrix.
function _M.row(transport, sc, posts, bodies, reused, outcome)
  return ("%-6s %-22s POSTs seen %d (with body %d)%s  %s"):format(transport, sc.name, posts,
    bodies, reused and ", reused conn" or "", outcome)
end

--- The outcome of a send as a short text: "ok <batch_id>" or
-- "<kind> may_have_been_processed=<bool>".
function _M.outcome(result, err)
  if result then return "ok " .. tostring(result.batch_id) end
  if type(err) ~= "table" then return "error " .. tostring(err) end
  return ("%s may_have_been_processed=%s"):format(tostring(err.kind),
    tostring(err.may_have_been_processed))
end

--- Prints the matrix rows under a title.
function _M.print(title, rows)
  io.stdout:write("\n", title, "\n")
  for _, r in ipairs(rows) do io.stdout:write("  ", r, "\n") end
  io.stdout:flush()
end

return _M
