--- sinch.batch.transport.http1: one HTTP/1.1 exchange over an nginx cosocket.
--
-- The wire half of the OpenResty transport (sinch.batch.transport.ngx keeps
-- the call loop and the token cache):
--
--    local status, headers, body = http1.request(conn, req)
--    -- or nil, failure: { kind = "connect"|"tls"|"timeout"|"io", sent, message }
--
-- conn: pool_size, keepalive_timeout (ms), ssl_verify, connect_timeout,
-- send_timeout, read_timeout (ms or nil), and reused (a counter this
-- module bumps for every request that goes out on a pooled connection).
-- req: a perform action of the core (method, url, headers, body, timeout_ms).
--
-- Never resending: a request goes out once.  Once a byte of it may have
-- left (any failure after the connection is up, on a pooled connection or
-- a new one), the failure says sent = true and the core decides: it retries
-- what is safe to repeat (GETs, token requests) and reports a send as
-- may_have_been_processed.  There is no quiet second try on a new
-- connection: a server may read a whole request and close without an answer.
local core = require "sinch.batch.core"

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local setmetatable = setmetatable
local concat = table.concat
local fmt, find, match, lower, sub = string.format, string.find, string.match, string.lower, string.sub
local floor = math.floor

local _M = { _VERSION = "0.1.0" }

local MAX_BODY = core.MAX_RESPONSE -- one cap for every transport
local TOO_BIG = fmt("the response is larger than %d MiB", MAX_BODY / (1024 * 1024))
local READ_CHUNK = 16384
local SEND_CHUNK = 16384
local MAX_LINE = 65536

local function now_ms()
  ngx.update_time()
  return ngx.now() * 1000
end
_M.now_ms = now_ms

--- "https://host:port/path?q" -> scheme, host, port, path (nil on a bad URL)
local function parse_url(url)
  local scheme, rest = match(url, "^(https?)://(.*)$")
  if not scheme then return nil end
  local host, port, path = match(rest, "^%[([^%]]+)%]:?(%d*)(.*)$")
  if not host then host, port, path = match(rest, "^([^/:?#]+):?(%d*)(.*)$") end
  if not host then return nil end
  if path == "" then path = "/" end
  if sub(path, 1, 1) ~= "/" then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, path
end
_M.parse_url = parse_url

-- A transport failure, in the terms of call:feed_error.
local function failure(kind, sent, message)
  return { kind = kind, sent = sent, message = message }
end

local function io_kind(err)
  return err == "timeout" and "timeout" or "io"
end

-- Reading an answer within one deadline.  nginx's read timeout is an idle
-- timeout, re-armed by every byte that arrives: a server that sends one
-- byte now and then would hold the request (and the call's deadline) for
-- ever.  So the answer is read with receiveany, each read waiting at most
-- until the deadline of the whole exchange.
local Reader = {}
Reader.__index = Reader

local function new_reader(sock, deadline, read_timeout)
  return setmetatable({ sock = sock, buf = "", deadline = deadline, read_timeout = read_timeout },
    Reader)
end

-- The next bytes from the socket: data | nil, err
function Reader:_read()
  local left = floor(self.deadline - now_ms())
  if left < 1 then return nil, "timeout" end
  local rt = self.read_timeout
  self.sock:settimeout((rt and rt < left) and rt or left)
  return self.sock:receiveany(READ_CHUNK)
end

-- One line without its CRLF | nil, err
function Reader:line()
  while true do
    local i = find(self.buf, "\n", 1, true)
    if i then
      local line = sub(self.buf, 1, i - 1)
      self.buf = sub(self.buf, i + 1)
      if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
      return line
    end
    if #self.buf > MAX_LINE then return nil, "a header line longer than 64 KiB" end
    local data, err = self:_read()
    if not data then return nil, err end
    self.buf = self.buf .. data
  end
end

-- Exactly n bytes | nil, err
function Reader:bytes(n)
  if n > MAX_BODY then return nil, TOO_BIG end
  local parts, have = { self.buf }, #self.buf
  while have < n do
    local data, err = self:_read()
    if not data then
      self.buf = concat(parts)
      return nil, err
    end
    parts[#parts + 1] = data
    have = have + #data
  end
  local all = concat(parts)
  self.buf = sub(all, n + 1)
  return sub(all, 1, n)
end

-- Everything up to the server's close | nil, err
function Reader:all()
  local parts, have = { self.buf }, #self.buf
  self.buf = ""
  while true do
    local data, err = self:_read()
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, err
    end
    have = have + #data
    if have > MAX_BODY then return nil, TOO_BIG end
    parts[#parts + 1] = data
  end
end

-- Reads the response head; returns status, headers, http_minor | nil, err
local function read_head(rd)
  local line, err = rd:line()
  if not line then return nil, err end
  local minor, status = match(line, "^HTTP/1%.(%d) (%d%d%d)")
  if not status then return nil, "bad status line" end
  local headers = {}
  while true do
    local h
    h, err = rd:line()
    if not h then return nil, err end
    if h == "" then break end
    local name, value = match(h, "^([^:%s]+)%s*:%s*(.-)%s*$")
    if name then
      name = lower(name)
      local old = headers[name]
      if old == nil then
        headers[name] = value
      elseif type(old) == "table" then
        old[#old + 1] = value
      else
        headers[name] = { old, value }
      end
    end
  end
  return tonumber(status), headers, tonumber(minor)
end

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

-- Reads the body; returns body, keepalive_ok | nil, err
local function read_body(rd, method, status, headers)
  if method == "HEAD" or status == 204 or status == 304 or status < 200 then return "", true end
  local te = first(headers["transfer-encoding"])
  if te and find(lower(te), "chunked", 1, true) then
    local parts, have = {}, 0
    while true do
      local line, err = rd:line()
      if not line then return nil, err end
      local size = tonumber(match(line, "^%s*(%x+)"), 16)
      if not size then return nil, "bad chunk size line" end
      if size == 0 then
        repeat -- trailers, up to the empty line
          line, err = rd:line()
          if not line then return nil, err end
        until line == ""
        return concat(parts), true
      end
      have = have + size
      if have > MAX_BODY then return nil, TOO_BIG end
      local data
      data, err = rd:bytes(size)
      if not data then return nil, err end
      parts[#parts + 1] = data
      line, err = rd:line()
      if not line then return nil, err end
    end
  end
  local len = first(headers["content-length"])
  if len then
    local n = tonumber(len)
    if not n or n < 0 or n ~= floor(n) then return nil, "bad content-length" end
    if n == 0 then return "", true end
    local data, err = rd:bytes(n)
    if not data then return nil, err end
    return data, true
  end
  local data, err = rd:all() -- until the server closes
  if not data then return nil, err end
  return data, false
end

-- Sends data in slices, each waiting at most until the deadline (the send
-- timeout too is an idle timeout).  true | nil, err
local function send_all(sock, data, deadline, send_timeout)
  local pos, n = 1, #data
  while pos <= n do
    local left = floor(deadline - now_ms())
    if left < 1 then return nil, "timeout" end
    sock:settimeout((send_timeout and send_timeout < left) and send_timeout or left)
    local ok, err = sock:send(sub(data, pos, pos + SEND_CHUNK - 1))
    if not ok then return nil, err end
    pos = pos + SEND_CHUNK
  end
  return true
end

local function can_keep(minor, headers)
  local conn = first(headers["connection"])
  conn = conn and lower(conn) or ""
  if find(conn, "close", 1, true) then return false end
  if minor == 0 then return find(conn, "keep-alive", 1, true) ~= nil end
  return true
end

-- The request's bytes: head and body.
local function request_bytes(req, path, hostport)
  local body = req.body or ""
  local lines = { req.method, " ", path, " HTTP/1.1\r\nHost: ", hostport, "\r\n" }
  for k, v in pairs(req.headers or {}) do
    local lk = lower(k)
    if lk ~= "host" and lk ~= "content-length" and lk ~= "connection" then
      lines[#lines + 1] = k .. ": " .. v .. "\r\n"
    end
  end
  if req.body or req.method == "POST" or req.method == "PUT" then
    lines[#lines + 1] = "Content-Length: " .. #body .. "\r\n"
  end
  lines[#lines + 1] = "\r\n"
  lines[#lines + 1] = body
  return concat(lines)
end

-- Opens (or takes from the pool) a connection: sock, reused | nil, failure.
-- Nothing of the request has left when this fails.
local function open(conn, scheme, host, port, deadline)
  local https = scheme == "https"
  local verify = conn.ssl_verify
  -- nginx fixes a pool's size when the pool is made: transports with
  -- another pool_size get pools of their own
  local pool = fmt("sinch.batch:%s:%s:%d%s:%d", scheme, host, port,
    https and (verify and ":v" or ":nv") or "", conn.pool_size)
  local sock, err = ngx.socket.tcp()
  if not sock then return nil, failure("connect", false, "ngx.socket.tcp: " .. tostring(err)) end
  local left = floor(deadline - now_ms())
  if left < 1 then
    return nil, failure("timeout", false, fmt("%s:%d: no time left for the request", host, port))
  end
  local ct, st = conn.connect_timeout, conn.send_timeout
  sock:settimeouts((ct and ct < left) and ct or left, (st and st < left) and st or left, left)
  local ok
  ok, err = sock:connect(host, port, { pool = pool, pool_size = conn.pool_size })
  if not ok then
    return nil, failure(err == "timeout" and "timeout" or "connect", false,
      fmt("connect to %s:%d: %s", host, port, tostring(err)))
  end
  local reused = (sock:getreusedtimes() or 0) > 0
  if https and not reused then
    ok, err = sock:sslhandshake(nil, host, verify)
    if not ok then
      sock:close()
      return nil, failure(err == "timeout" and "timeout" or "tls", false,
        fmt("TLS handshake with %s:%d: %s", host, port, tostring(err)))
    end
  end
  return sock, reused
end

--- One HTTP exchange, sent at most once.
-- @return status, headers, body | nil, failure
function _M.request(conn, req)
  local scheme, host, port, path = parse_url(req.url)
  if not scheme then
    return nil, failure("connect", false, "bad URL: " .. tostring(req.url))
  end
  local deadline = now_ms() + (req.timeout_ms or 30000) -- of the whole exchange
  local hostport = find(host, ":", 1, true) and ("[" .. host .. "]") or host
  if (scheme == "https" and port ~= 443) or (scheme == "http" and port ~= 80) then
    hostport = hostport .. ":" .. port
  end
  local sock, reused = open(conn, scheme, host, port, deadline)
  if not sock then return nil, reused end
  if reused then conn.reused = (conn.reused or 0) + 1 end

  -- from here on a byte of the request may have reached the server
  local function lost(what, err)
    sock:close()
    local note = ""
    if err == "closed" then
      note = reused and " (on a kept-alive connection; not resent: the server may have received it)"
        or " (not resent: the server may have received it)"
    end
    return nil, failure(io_kind(err), true,
      fmt("%s %s:%d: %s%s", what, host, port, tostring(err), note))
  end
  local ok, err = send_all(sock, request_bytes(req, path, hostport), deadline, conn.send_timeout)
  if not ok then return lost("send to", err) end
  local rd = new_reader(sock, deadline, conn.read_timeout)
  local status, headers, minor = read_head(rd)
  while status and status >= 100 and status < 200 do -- 100 Continue and friends
    status, headers, minor = read_head(rd)
  end
  if not status then return lost("reading the answer of", headers) end
  local data, keep = read_body(rd, req.method, status, headers)
  if not data then return lost("reading the body from", keep) end
  if keep and rd.buf == "" and can_keep(minor, headers) then
    sock:setkeepalive(conn.keepalive_timeout, conn.pool_size)
  else
    sock:close()
  end
  return status, headers, data
end

return _M
