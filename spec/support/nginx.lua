-- spec/support/nginx.lua -- run a real nginx (Debian's nginx with the lua
-- module, or OpenResty) on 127.0.0.1 for a spec, with a generated config,
-- and talk raw HTTP to it with LuaSocket.
--
--   local nginx = require "support.nginx"
--   local n = nginx.start{
--     http = "lua_shared_dict tokens 1m;",              -- inside http { }
--     server = "location /ping { return 200 pong; }",   -- inside server { }
--   }
--   local status, body, headers = n:request("GET", "/ping")
--   local pending = n:open("GET", "/slow")   -- sent, not read yet
--   pending:ready()                          -- has any answer byte arrived?
--   pending:finish()                         -- status, body, headers
--   n:error_log()   n:stop()
--
-- nginx runs in the foreground of a small sh (daemon off, master_process on,
-- one worker) under `timeout`, so it never outlives a crashed run by long;
-- every path (pid, logs, temp) is in a fresh directory.  lua_package_path
-- has the repo's lua/ and spec/integration/nginx/ plus Debian's
-- lua-resty-core; lua_package_cpath the LuaJIT build of sinch.batch.core.
local socket = require "socket"
local mock = require "support.mock"

local _M = { _VERSION = "0.1.0" }

local Nginx = {}
Nginx.__index = Nginx

local concat, format = table.concat, string.format
local run, read_file = mock.run, mock.read_file

local read_response = mock.read_response

local shell_quote = mock.shell_quote

local capture = mock.capture

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = capture("pwd"):gsub("%s+$", "")
  if p == "." then return cwd end
  return cwd .. "/" .. p
end

_M.repo = abspath(".")
_M.build = abspath(os.getenv("SINCH_BATCH_BUILD") or "build")
-- nginx from $SINCH_BATCH_NGINX, the PATH, or /usr/sbin (not on a user's
-- PATH on Debian: the suite runs as any user)
local function find_nginx()
  local set = os.getenv("SINCH_BATCH_NGINX")
  if set and set ~= "" then return set end
  local found = capture("command -v nginx 2>/dev/null"):gsub("%s+$", "")
  if found ~= "" then return found end
  return "/usr/sbin/nginx"
end
_M.binary = find_nginx()

local MODULES = {
  "/usr/lib/nginx/modules/ndk_http_module.so",
  "/usr/lib/nginx/modules/ngx_http_lua_module.so",
}

--- Whether this nginx needs load_module lines (Debian) or has the lua
-- module built in (OpenResty).
local function module_lines()
  local out = {}
  for _, m in ipairs(MODULES) do
    if read_file(m) then out[#out + 1] = "load_module " .. m .. ";" end
  end
  return concat(out, "\n")
end

--- A free TCP port on 127.0.0.1 (bound to port 0, read, closed).
-- Ports are picked below the kernel's ephemeral range (32768 and up on
-- Linux), so that no outgoing connection can take one between this check
-- and the server's own bind; the seed differs per process (parallel suites).
math.randomseed(os.time() + math.floor(socket.gettime() * 1e6) % 1000003)
function _M.free_port()
  for _ = 1, 500 do
    local port = math.random(20000, 32000)
    local s = socket.bind("127.0.0.1", port)
    if s then
      s:close()
      return port
    end
  end
  error("no free port in 20000-32000 on 127.0.0.1")
end

function _M.is_root()
  return capture("id -u"):match("^0") ~= nil
end

--- The nginx.conf text for opts (see start).
function _M.config(opts)
  local prefix, port = opts.prefix, opts.port
  local is_root = _M.is_root()
  return (format([[
%s
%s
worker_processes 1;
daemon off;
master_process on;
pid %s/nginx.pid;
error_log %s/error.log %s;
%s

events { worker_connections 256; }

http {
  access_log off;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  lua_package_path
    "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/integration/nginx/?.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "%s/luajit/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
  %s

  server {
    listen 127.0.0.1:%d;
    %s
  }
}
]], module_lines(), is_root and "user root;" or "", prefix, prefix, opts.log_level or "info",
    opts.main or "", prefix, prefix, prefix, prefix, prefix, _M.repo, _M.repo, _M.repo, _M.build,
    opts.http or "", port, opts.server or ""))
end

--- Starts nginx.  opts: http, server, main (config snippets), log_level;
-- or conf = function(prefix, port) returning a whole nginx.conf; env = a
-- table of environment variables for nginx; port (default: a free one).
-- Raises with the error log when nginx does not come up.
function _M.start(opts)
  opts = opts or {}
  local prefix = capture("mktemp -d /tmp/sinch-batch-nginx.XXXXXX"):gsub("%s+$", "")
  assert(prefix ~= "", "mktemp -d failed")
  assert(run("mkdir -p " .. shell_quote(prefix .. "/tmp") .. " " .. shell_quote(prefix .. "/logs")))
  local self = setmetatable({ prefix = prefix, port = opts.port or _M.free_port() }, Nginx)
  self.url = format("http://127.0.0.1:%d", self.port)
  local conf = prefix .. "/nginx.conf"
  local f = assert(io.open(conf, "w"))
  if opts.conf then -- a whole config: a function of (prefix, port)
    f:write(opts.conf(prefix, self.port))
  else
    f:write(_M.config{ prefix = prefix, port = self.port, http = opts.http, server = opts.server,
                       main = opts.main, log_level = opts.log_level })
  end
  f:close()
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. shell_quote(v) end
  env = #env > 0 and ("env " .. concat(env, " ") .. " ") or ""
  self.conf = conf
  local exitfile = prefix .. "/exit"
  self.exit_file = exitfile
  local inner = format("exec >%s 2>&1; %stimeout -k 5 %d %s -p %s -c %s -e %s & "
    .. "echo $! >%s; wait $!; echo $? >%s",
    shell_quote(prefix .. "/stdout"), env, opts.lifetime or 600, shell_quote(_M.binary),
    shell_quote(prefix), shell_quote(conf), shell_quote(prefix .. "/error.log"),
    shell_quote(prefix .. "/timeout.pid"), shell_quote(exitfile))
  assert(run("sh -c " .. shell_quote(inner) .. " >/dev/null 2>&1 &"), "cannot run " .. _M.binary)
  -- up when it accepts connections; bounded tries
  local up = false
  for _ = 1, 500 do
    local c = socket.tcp()
    c:settimeout(1)
    if c:connect("127.0.0.1", self.port) then
      c:close()
      up = true
      break
    end
    c:close()
    if read_file(exitfile) then break end
    socket.sleep(0.01)
  end
  if not up then
    local why = (read_file(prefix .. "/stdout") or "") .. "\n" .. self:error_log()
    self:stop()
    error("nginx did not start:\n" .. why, 2)
  end
  return self
end

--- Runs a script that starts nginx and prints "url <url>" and "prefix
-- <dir>" once nginx listens, then waits (examples/openresty/run.sh), in the
-- background with env (a table).  The handle talks to that nginx like one
-- from start; stop sends SIGTERM to the script (which stops nginx).
function _M.run_script(script, env)
  local out = os.tmpname()
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. shell_quote(v) end
  local cmd = format("env %s timeout -k 5 600 sh %s >%s 2>&1 & echo $! >%s.pid",
    concat(vars, " "), shell_quote(script), shell_quote(out), shell_quote(out))
  assert(run("sh -c " .. shell_quote(cmd)))
  -- wait for "url …\nprefix …" (after any lines of ports it found taken and
  -- tried again), or for the script to give up
  local text, pid = "", nil
  for _ = 1, 1000 do
    text = read_file(out) or ""
    if text:find("url [^\n]+\nprefix [^\n]+\n") then break end
    pid = pid or tonumber((read_file(out .. ".pid") or ""):match("%d+"))
    if pid and not run("kill -0 " .. pid .. " 2>/dev/null") then break end
    socket.sleep(0.01)
  end
  local url, prefix = text:match("url (%S+)\nprefix (%S+)\n")
  local self = setmetatable({ script_out = out, url = url, prefix = prefix,
                              port = url and tonumber(url:match(":(%d+)$")),
                              log_path = prefix and (prefix .. "/logs/error.log") }, Nginx)
  if not url then
    self:stop()
    error(script .. " did not start nginx:\n" .. text, 2)
  end
  return self
end

--- The error log so far.
function Nginx:error_log()
  return read_file(self.log_path or (self.prefix .. "/error.log")) or ""
end

--- The error log lines written after mark (a previous #n:error_log()).
function Nginx:error_log_since(mark)
  return self:error_log():sub((mark or 0) + 1)
end

--- Stops nginx (SIGQUIT to the master: graceful) and waits for its exit.
function Nginx:stop()
  if self.stopped then return self.exit_status end
  self.stopped = true
  if self.script_out then -- started by a script: TERM to `timeout`, passed on to the script
    local pid = tonumber((read_file(self.script_out .. ".pid") or ""):match("%d+"))
    if pid then run("kill -TERM " .. pid .. " 2>/dev/null") end
    for _ = 1, 1000 do -- the script stops nginx and removes its prefix, then exits
      if not pid or not run("kill -0 " .. pid .. " 2>/dev/null") then break end
      socket.sleep(0.01)
    end
    os.remove(self.script_out)
    os.remove(self.script_out .. ".pid")
    return 0
  end
  local pid = tonumber((read_file(self.prefix .. "/nginx.pid") or ""):match("%d+"))
  local tpid = tonumber((read_file(self.prefix .. "/timeout.pid") or ""):match("%d+"))
  if pid then
    run("kill -QUIT " .. pid .. " 2>/dev/null")
  elseif tpid then -- no pid file (yet): `timeout` passes TERM on to nginx
    run("kill -TERM " .. tpid .. " 2>/dev/null")
  end
  local code
  for i = 1, 1000 do
    code = tonumber((read_file(self.exit_file) or ""):match("%d+"))
    if code then break end
    if i == 500 then -- graceful stop did not finish: stop it hard
      if pid then run("kill -TERM " .. pid .. " 2>/dev/null") end
      if tpid then run("kill -TERM " .. tpid .. " 2>/dev/null") end
    end
    socket.sleep(0.01)
  end
  self.exit_status = code
  if os.getenv("SINCH_BATCH_KEEP_NGINX") == nil then
    run("rm -rf " .. shell_quote(self.prefix))
  end
  return code
end

local function request_text(self, method, path, body, headers)
  local lines = { format("%s %s HTTP/1.1", method, path), "Host: 127.0.0.1:" .. self.port,
                  "Connection: close" }
  for k, v in pairs(headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local Pending = {}
Pending.__index = Pending

--- Sends a request and returns without reading the answer.
function Nginx:open(method, path, body, headers)
  local sock = socket.tcp()
  sock:settimeout(30)
  assert(sock:connect("127.0.0.1", self.port))
  assert(sock:send(request_text(self, method, path, body, headers)))
  return setmetatable({ sock = sock, head = "" }, Pending)
end

--- True when a byte of the answer has arrived (a receive with no wait).
function Pending:ready()
  if self.head ~= "" then return true end
  self.sock:settimeout(0)
  local data, err, partial = self.sock:receive(1)
  self.sock:settimeout(30)
  data = data or partial or ""
  if data ~= "" then
    self.head = data
    return true
  end
  return err ~= "timeout" -- closed counts as an answer
end

--- Reads the whole answer: status, body, headers.
function Pending:finish()
  local sock = self.sock
  local head = self.head
  if head ~= "" then -- put the byte ready() took back in front
    local rest = sock:receive("*l")
    head = head .. (rest or "")
    local status = tonumber(head:match("^HTTP/%d%.%d (%d%d%d)"))
    if not status then
      sock:close()
      return nil, "bad status line: " .. head
    end
    -- read_response wants the status line: hand it the rest via a shim
    local shim = { first = true }
    function shim.receive(_, pattern)
      if shim.first then
        shim.first = false
        return head
      end
      return sock:receive(pattern)
    end
    local s, b, h = read_response(shim)
    sock:receive("*a")
    sock:close()
    return s, b, h
  end
  local s, b, h = read_response(sock)
  sock:receive("*a") -- nginx closes after its log phase
  sock:close()
  return s, b, h
end

--- One request on a fresh connection: status, body, headers | nil, err.
function Nginx:request(method, path, body, headers)
  return self:open(method, path, body, headers):finish()
end

function Nginx:get(path, headers) return self:request("GET", path, nil, headers) end
function Nginx:post(path, body, headers) return self:request("POST", path, body or "", headers) end

return _M
