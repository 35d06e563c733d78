-- spec/support/pg.lua -- a PostgreSQL cluster of a test's own: initdb and
-- pg_ctl into a fresh temporary directory, listening on a free port of
-- 127.0.0.1 only (and a unix socket in that directory), trust
-- authentication for the one user `sinch`, stopped (and removed) by :stop().
--
--   local pg = require "support.pg"
--   if not pg.available() then pending("PostgreSQL not installed") end
--   local cluster = pg.start()
--   cluster.url --> "postgresql://sinch@127.0.0.1:PORT/postgres"
--   cluster:stop()
--
-- PostgreSQL refuses to run as root: as root the cluster belongs to, and
-- runs as, `nobody` (setpriv), in a directory that user owns.
local socket = require "socket"
local mock = require "support.mock"

local _M = {}

local shell_quote, run = mock.shell_quote, mock.run

local function capture(cmd) -- without the trailing newline
  return (mock.capture(cmd):gsub("%s+$", ""))
end

-- Debian keeps the server binaries out of PATH: the newest version's.
function _M.bindir()
  local env = os.getenv("SINCH_BATCH_PG_BIN")
  if env and env ~= "" then return env end
  local dir = capture("ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1")
  if dir ~= "" then return dir end
  local initdb = capture("command -v initdb 2>/dev/null")
  if initdb ~= "" then return (initdb:gsub("/initdb$", "")) end
  return nil
end

function _M.available()
  local dir = _M.bindir()
  if not dir then return false end
  local ok = pcall(require, "sinch.batch.pq")
  return ok and capture("test -x " .. shell_quote(dir .. "/pg_ctl") .. " && echo yes") == "yes"
end

local Cluster = {}
Cluster.__index = Cluster

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

--- Starts a cluster; errors (with the server's log) when it cannot.
function _M.start()
  local bin = assert(_M.bindir(), "PostgreSQL's initdb/pg_ctl not found")
  local root = capture("id -u") == "0"
  local dir = capture(root and "mktemp -d /tmp/sinch-pg.XXXXXX"
    or "mktemp -d \"${TMPDIR:-/tmp}/sinch-pg.XXXXXX\"")
  assert(dir ~= "", "mktemp failed")
  local as = ""
  if root then
    assert(run("chown nobody " .. shell_quote(dir)))
    as = ("setpriv --reuid=%s --regid=%s --clear-groups "):format(capture("id -u nobody"),
      capture("id -g nobody"))
  end
  local self = setmetatable({ dir = dir, bin = bin, as = as }, Cluster)
  local data = dir .. "/data"
  local ok = run(("cd %s && %s env HOME=%s %s/initdb -D %s -U sinch -A trust -E UTF8 --no-locale "
    .. ">%s/initdb.log 2>&1"):format(shell_quote(dir), as, shell_quote(dir), shell_quote(bin),
    shell_quote(data), shell_quote(dir)))
  if not ok then
    local log = mock.read_file(dir .. "/initdb.log")
    run("rm -rf " .. shell_quote(dir))
    error("initdb failed: " .. tostring(log))
  end
  for _ = 1, 10 do
    local port = free_port()
    self.opts = ("-p %d -c listen_addresses=127.0.0.1 -k %s -c max_connections=40"):format(port, dir)
    ok = self:pg_ctl("-l " .. shell_quote(dir .. "/server.log") .. " -o " .. shell_quote(self.opts)
      .. " start")
    if ok then
      self.port = port
      self.url = ("postgresql://sinch@127.0.0.1:%d/postgres"):format(port)
      return self
    end
  end
  local log = mock.read_file(dir .. "/server.log")
  run("rm -rf " .. shell_quote(dir))
  error("PostgreSQL did not start: " .. tostring(log))
end

function Cluster:pg_ctl(args)
  return run(("cd %s && %s env HOME=%s %s/pg_ctl -D %s -w -t 60 %s >>%s/pg_ctl.log 2>&1"):format(
    shell_quote(self.dir), self.as, shell_quote(self.dir), shell_quote(self.bin),
    shell_quote(self.dir .. "/data"), args, shell_quote(self.dir)))
end

--- Stops the server (the cluster stays), as a database going away would.
function Cluster:pause()
  assert(self:pg_ctl("-m fast stop"), "pg_ctl stop failed")
end

--- Starts it again on the same port.
function Cluster:resume()
  assert(self:pg_ctl("-l " .. shell_quote(self.dir .. "/server.log") .. " -o " .. shell_quote(self.opts)
    .. " start"), "pg_ctl start failed")
end

--- A new empty database in the cluster; its URL.
function Cluster:database(name)
  local pq = require "sinch.batch.pq"
  local db = assert(pq.open(self.url))
  assert(db:exec("CREATE DATABASE " .. name))
  db:close()
  return ("postgresql://sinch@127.0.0.1:%d/%s"):format(self.port, name)
end

function Cluster:stop()
  if not self.dir then return end
  run(("cd %s && %s %s/pg_ctl -D %s -m immediate -w stop >/dev/null 2>&1"):format(
    shell_quote(self.dir), self.as, shell_quote(self.bin), shell_quote(self.dir .. "/data")))
  run("rm -rf " .. shell_quote(self.dir))
  self.dir = nil
end

return _M
