-- spec/support/receiver.lua -- examples/webhook_receiver.lua as a process
-- of a spec, under the spec's own interpreter, on a free port of 127.0.0.1.
--
--   local receiver = require "support.receiver"
--   local r = receiver.start{ "--secret", S, "--store", db }  -- r.port, r.pid
--   r:kill(9)   -- or r:stop() (SIGTERM); both wait for the process
--   local r, m = receiver.with_sandbox(SECRET, db)  -- and a sandbox whose
--                                                    -- callbacks it stores
local socket = require "socket"
local mock = require "support.mock"

local _M = {}

_M.LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local shell_quote, run = mock.shell_quote, mock.run

local Receiver = {}
Receiver.__index = Receiver

--- Starts the receiver with `args` (--port 0 and --lifetime 300 are added);
-- its stdout goes to a file (r.log).
function _M.start(args)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local log = os.tmpname()
  local cmd = ("env LUA_PATH=%s LUA_CPATH=%s LUA_PATH_5_4=%s LUA_CPATH_5_4=%s "
    .. "%s examples/webhook_receiver.lua --port 0 --lifetime 300 %s >%s 2>%s.err & echo $!"):format(
    shell_quote(package.path), shell_quote(package.cpath), shell_quote(package.path),
    shell_quote(package.cpath), _M.LUA, table.concat(quoted, " "), shell_quote(log), shell_quote(log))
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  local self = setmetatable({ pid = pid, log = log }, Receiver)
  for _ = 1, 400 do
    local first = (mock.read_file(log) or ""):match("^port=(%d+)\n")
    if first then
      self.port = tonumber(first)
      return self
    end
    if not self:alive() then break end
    socket.sleep(0.025)
  end
  local err = mock.read_file(log .. ".err")
  self:kill(9)
  error("the receiver did not start: " .. tostring(err))
end

function Receiver:alive()
  return run("kill -0 " .. self.pid .. " 2>/dev/null")
end

--- Sends `sig` and waits (at most 10 s) for the process to end.
function Receiver:kill(sig)
  if not self.pid then return end
  run(("kill -%s %d 2>/dev/null"):format(tostring(sig or "TERM"), self.pid))
  for _ = 1, 400 do
    if not self:alive() then break end
    socket.sleep(0.025)
  end
  self.pid = nil
  os.remove(self.log)
  os.remove(self.log .. ".err")
end

function Receiver:stop() return self:kill("TERM") end

--- A connection to the receiver (LuaSocket, a 10 s bound for a broken run).
function Receiver:connect()
  local c = assert(socket.tcp())
  c:settimeout(10)
  assert(c:connect("127.0.0.1", self.port))
  return c
end

--- A receiver storing into `store` and a sandbox (`sinch-batch-mock`) that
-- sends it its signed callbacks: the two halves of a campaign's receipts.
function _M.with_sandbox(secret, store)
  local r = _M.start{ "--secret", secret, "--store", store }
  local ok, m = pcall(mock.start, { args = { "--webhook", "http://127.0.0.1:" .. r.port .. "/sinch/callbacks",
                                             "--webhook-secret", secret, "--quiet" } })
  if not ok then
    r:stop()
    error(m, 0)
  end
  return r, m
end

return _M
