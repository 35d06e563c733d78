-- spec/support/mock.lua -- start sinch-batch-mock for a spec and talk raw
-- HTTP/1.1 to it with LuaSocket (never through the sinch.batch library).
--
--   local mock = require "support.mock"
--   local m = mock.start{ args = { "--token-ttl", "5" } }
--   local status, body, headers = m:post("/oauth2/token", "grant_type=…", { … })
--   m:stop()
--
-- The server is $SINCH_BATCH_BUILD/sinch-batch-mock, started with
-- --port 0 --lifetime 600 so that it picks a free port and never outlives
-- a crashed test run by long.
local socket = require "socket"
local mime = require "mime"
local cjson = require "cjson.safe"

local _M = { _VERSION = "0.1.0" }

local Mock = {}
Mock.__index = Mock

local concat, insert, format = table.concat, table.insert, string.format

local function build_dir()
  return os.getenv("SINCH_BATCH_BUILD") or "build"
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
_M.shell_quote = shell_quote

-- os.execute returns a number in Lua 5.1/LuaJIT and true/nil in 5.2+.
local function run(cmd)
  local a = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true
end
_M.run = run

-- What a shell command printed on stdout, whole.
local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
_M.capture = capture

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

_M.binary = function()
  return build_dir() .. "/sinch-batch-mock"
end

--- Start a mock.  opts.args: extra command-line arguments (a list).
-- Returns the handle; raises when the server does not come up.
function _M.start(opts)
  opts = opts or {}
  local bin = opts.binary or _M.binary()
  local base = os.tmpname()
  local out, err, pidfile, exitfile = base .. ".out", base .. ".err", base .. ".pid", base .. ".exit"
  local argv = { shell_quote(bin), "--port", "0", "--lifetime", tostring(opts.lifetime or 600) }
  for _, a in ipairs(opts.args or {}) do insert(argv, shell_quote(a)) end
  -- a small sh waits for the server, so its exit status is known and it
  -- never lingers as a zombie
  local inner = format("exec >%s 2>%s; %s & echo $! >%s; wait $!; echo $? >%s",
                       shell_quote(out), shell_quote(err), concat(argv, " "),
                       shell_quote(pidfile), shell_quote(exitfile))
  assert(run("sh -c " .. shell_quote(inner) .. " >/dev/null 2>&1 &"), "cannot run " .. bin)
  local pid
  for _ = 1, 500 do
    pid = tonumber((read_file(pidfile) or ""):match("%d+\n"))
    if pid then break end
    socket.sleep(0.01)
  end
  os.remove(pidfile)
  local port
  -- wait for the first line, a bounded number of times
  for _ = 1, 500 do
    local text = read_file(out) or ""
    port = tonumber(text:match("^port=(%d+)\n"))
    if port then break end
    if read_file(exitfile) then break end
    socket.sleep(0.01)
  end
  if not port then
    if pid then run("kill " .. pid .. " 2>/dev/null") end
    error("sinch-batch-mock did not start: " .. (read_file(err) or "") .. " (" .. bin .. ")", 2)
  end
  os.remove(base)
  local host = "127.0.0.1"
  for i, a in ipairs(opts.args or {}) do
    if a == "--host" then host = opts.args[i + 1] end
  end
  local tls = false
  for _, a in ipairs(opts.args or {}) do
    if a == "--tls-cert" then tls = true end
  end
  return setmetatable({
    pid = pid, port = port, host = host,
    url = format("%s://%s:%d", tls and "https" or "http", host, port),
    project_id = "demo-project", key_id = "demo-key", key_secret = "demo-secret",
    stdout_file = out, stderr_file = err, exit_file = exitfile,
  }, Mock)
end

--- Stop the server with SIGTERM and wait for it to exit.  Returns its exit
-- status (nil if it had to be killed).
function Mock:stop()
  if not self.pid then return self.exit_status end
  run("kill -TERM " .. self.pid .. " 2>/dev/null")
  local code
  for _ = 1, 1000 do
    code = tonumber((read_file(self.exit_file) or ""):match("%d+"))
    if code then break end
    socket.sleep(0.01)
  end
  if not code then run("kill -KILL " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  self.exit_status = code
  os.remove(self.stdout_file)
  os.remove(self.stderr_file)
  os.remove(self.exit_file)
  return code
end

--- The exit status once the server has exited by itself, else nil.
function Mock:exited()
  return tonumber((read_file(self.exit_file) or ""):match("%d+"))
end

function Mock:stdout() return read_file(self.stdout_file) or "" end
function Mock:stderr() return read_file(self.stderr_file) or "" end

-- Reads an HTTP response: status, body, headers (lower-case names).
-- Content-Length, chunked, or up to EOF.
local function read_response(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  if not status then return nil, "bad status line: " .. line end
  local headers = {}
  while true do
    local h
    h, err = sock:receive("*l")
    if not h then return nil, err end
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k:lower()] = v end
  end
  local body
  local len = tonumber(headers["content-length"] or "")
  if len == 0 then
    body = "" -- receive(0) on a closed connection answers "closed"
  elseif len then
    body, err = sock:receive(len)
  elseif (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local parts = {}
    while true do
      local size_line
      size_line, err = sock:receive("*l")
      local size = size_line and tonumber(size_line:match("^(%x+)"), 16)
      if not size then return nil, "bad chunk: " .. tostring(err or size_line) end
      if size == 0 then
        sock:receive("*l")
        break
      end
      local data
      data, err = sock:receive(size)
      if not data then return nil, err end
      parts[#parts + 1] = data
      sock:receive("*l")
    end
    body = concat(parts)
  else
    body, err = sock:receive("*a")
  end
  if not body then return nil, err end
  return status, body, headers
end

_M.read_response = read_response
_M.read_file = read_file

--- One raw HTTP/1.1 request on a fresh connection.
-- Returns status, body, headers; or nil, error (e.g. "closed" when the
-- server dropped the connection).
function Mock:request(method, path, body, headers, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or 30)
  local ok, err = sock:connect(self.host, self.port)
  if not ok then return nil, err end
  local lines = { format("%s %s HTTP/1.1", method, path), "Host: " .. self.host .. ":" .. self.port,
                  "Connection: close" }
  local has_ct = false
  for k, v in pairs(headers or {}) do
    if k:lower() == "content-type" then has_ct = true end
    insert(lines, k .. ": " .. v)
  end
  if body then
    if not has_ct then insert(lines, "Content-Type: application/json") end
    insert(lines, "Content-Length: " .. #body)
  end
  local _, serr = sock:send(concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
  if serr then
    sock:close()
    return nil, serr
  end
  local status, rbody, rheaders = read_response(sock)
  sock:close()
  return status, rbody, rheaders
end

--- A client for any HTTP server on 127.0.0.1 (request/get/post/delete as above).
function _M.http(port, host)
  return setmetatable({ host = host or "127.0.0.1", port = port }, Mock)
end

function Mock:get(path, headers) return self:request("GET", path, nil, headers) end
function Mock:post(path, body, headers) return self:request("POST", path, body or "", headers) end
function Mock:delete(path, body, headers) return self:request("DELETE", path, body, headers) end

local function decoded(status, body)
  assert(status == 200, "mock answered " .. tostring(status) .. ": " .. tostring(body))
  return assert(cjson.decode(body))
end

function Mock:requests() return decoded(self:get("/_mock/requests")).requests end
function Mock:stats() return decoded(self:get("/_mock/stats")) end
function Mock:reset() return decoded(self:post("/_mock/reset", "{}")) end

--- A LuaSocket server on a free 127.0.0.1 port for the sandbox's callbacks
-- (`--webhook <url>`): returns it and its URL (`path`, default "/hook").
-- `timeout` (s, default 10) bounds each accept: a broken run fails, it
-- does not hang.
function _M.callback_server(path, timeout)
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(timeout or 10)
  local _, port = srv:getsockname()
  return srv, "http://127.0.0.1:" .. port .. (path or "/hook")
end

--- Accepts one callback the sandbox POSTs to srv (a LuaSocket server),
-- answers `status` (a number, or a function of the request; default 200)
-- and returns { line, headers (lower-cased), body, json }.
function _M.take_callback(srv, status)
  local c = assert(srv:accept())
  c:settimeout(10)
  local line = assert(c:receive("*l"))
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    headers[k:lower()] = v
  end
  local body = assert(c:receive(tonumber(headers["content-length"])))
  local req = { line = line, headers = headers, body = body, json = cjson.decode(body) }
  if type(status) == "function" then status = status(req) end
  c:send(format("HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                status or 200))
  c:close()
  return req
end

--- A client of sinch.batch talking to this sandbox with its credentials;
-- opts adds to (or overrides) those options.
function Mock:client(opts)
  local o = { project_id = self.project_id, base_url = self.url, auth_url = self.url,
              key_id = self.key_id, key_secret = self.key_secret }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(require("sinch.batch").client(o))
end

--- A campaign's batches as the sandbox counted them (`st`: stats already
-- read, else read now): its chunks accepted, their recipients, and how many
-- acceptances were a chunk's second or later (0 when each went once).
function Mock:campaign_batches(id, st)
  local chunks, recipients, twice = 0, 0, 0
  for key, e in pairs((st or self:stats()).by_metadata) do
    if key:find("^sinch_campaign=" .. id .. ":") then
      chunks, recipients = chunks + 1, recipients + e.recipients
      twice = twice + e.batches - 1
    end
  end
  return chunks, recipients, twice
end

--- The stats once pred(stats) holds, waiting (bounded, 5 s) for the
-- sandbox's background work (callbacks); the last stats otherwise.
function Mock:stats_when(pred)
  local st
  for _ = 1, 500 do
    st = self:stats()
    if pred(st) then return st end
    socket.sleep(0.01)
  end
  return st
end
function Mock:advance(seconds)
  self.cached_token = nil -- it may have expired now
  return decoded(self:post("/_mock/advance", cjson.encode({ seconds = seconds })))
end
--- Queue one fault (a table as POST /_mock/faults takes it).
function Mock:fault(f) return decoded(self:post("/_mock/faults", cjson.encode(f))) end

--- The Basic Authorization value for key_id:key_secret.
function Mock:basic(key_id, key_secret)
  return "Basic " .. mime.b64((key_id or self.key_id) .. ":" .. (key_secret or self.key_secret))
end

--- A fresh access token (raises when the mock refuses).
function Mock:token()
  local status, body = self:post("/oauth2/token", "grant_type=client_credentials", {
    ["Authorization"] = self:basic(),
    ["Content-Type"] = "application/x-www-form-urlencoded" })
  return decoded(status, body).access_token
end

--- A project path: m:path("/messages") -> "/v1/projects/demo-project/messages"
function Mock:path(rest, project_id)
  return "/v1/projects/" .. (project_id or self.project_id) .. (rest or "")
end

--- An authorised API request; body may be a table (JSON-encoded here).
function Mock:api(method, rest, body, token)
  if type(body) == "table" then body = cjson.encode(body) end
  token = token or self.cached_token
  if not token then
    token = self:token()
    self.cached_token = token
  end
  local status, rbody, headers = self:request(method, self:path(rest), body,
                                              { ["Authorization"] = "Bearer " .. token })
  return status, rbody, headers, cjson.decode(rbody or "")
end

return _M
