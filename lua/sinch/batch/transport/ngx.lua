--- sinch.batch.transport.ngx: the OpenResty driver of the core's call machine.
--
-- The C core decides what to request and what an answer means; this module
-- only moves bytes, with cosockets, so an nginx worker is never blocked:
--
--    local T = require("sinch.batch.transport.ngx").new{ shared_dict = "sinch_tokens" }
--    local status, body, attempts = T:run(core_client, "status", nil, batch_id)
--
-- The facade (sinch.batch) picks this transport by itself inside nginx.
-- Options of new(): shared_dict (a lua_shared_dict that shares tokens
-- across workers), pool_size (16), keepalive_timeout (ms, 60000), ssl_verify
-- (true; false must be explicit), connect_timeout / send_timeout /
-- read_timeout (ms; default: the request's own timeout).
--
-- Tokens: one fetch at a time per worker and key (base_url, project_id,
-- key_id); the others wait on an ngx.semaphore and take the token that
-- landed.  Fetched tokens are kept per worker and, with shared_dict, in the
-- dict until they expire.  The key secret is never stored.
local errors = require "sinch.batch.errors"

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local error, setmetatable, pcall, require = error, setmetatable, pcall, require
local concat = table.concat
local fmt, find, match, lower, sub = string.format, string.find, string.match, string.lower, string.sub
local floor = math.floor

local _M = { _VERSION = "0.1.0" }

local Transport = {}
Transport.__index = Transport
_M.Transport = Transport

-- Phases where cosockets work.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true }
_M.COSOCKET_PHASES = COSOCKET_PHASES

local OPTIONS = { shared_dict = "string", pool_size = "number", keepalive_timeout = "number",
                  ssl_verify = "boolean", connect_timeout = "number", send_timeout = "number",
                  read_timeout = "number" }

local MAX_RESTARTS = 1 -- a call restarted to use a token another call fetched

-- Per worker (each worker has its own Lua VM): tokens by key, and the
-- semaphore of a token fetch in flight by key.
local worker_tokens = {}
local fetching = {}

--- Forgets the tokens this worker keeps (the shared dict keeps its own).
function _M.flush_worker_tokens()
  worker_tokens = {}
end

local semaphore
local function new_semaphore()
  if semaphore == nil then semaphore = require "ngx.semaphore" end
  return semaphore.new(0)
end

local function wake_all(sema)
  local waiting = -sema:count()
  if waiting > 0 then sema:post(waiting) end
end

--- A new transport.
-- @tparam[opt] table opts see the module comment
function _M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'new' (expected a table of options, got " .. type(opts) .. ")", 2)
  end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if want == nil then
      error("bad argument #1 to 'new' (unknown option '" .. tostring(k) .. "')", 2)
    end
    if type(v) ~= want then
      error(fmt("bad argument #1 to 'new' (opts.%s: expected a %s, got %s)", k, want, type(v)), 2)
    end
    if want == "number" and v <= 0 then
      error(fmt("bad argument #1 to 'new' (opts.%s: expected a number > 0)", k), 2)
    end
  end
  return setmetatable({
    shared_dict = opts.shared_dict,
    pool_size = opts.pool_size or 16,
    keepalive_timeout = opts.keepalive_timeout or 60000,
    ssl_verify = opts.ssl_verify ~= false,
    connect_timeout = opts.connect_timeout,
    send_timeout = opts.send_timeout,
    read_timeout = opts.read_timeout,
    reused = 0, -- requests sent on a pooled (kept-alive) connection
    -- by core client (weak): token key learnt from its token requests, the
    -- semaphore its calls wait on, and whether one of its calls is fetching
    keys = setmetatable({}, { __mode = "k" }),
    semas = setmetatable({}, { __mode = "k" }),
    refreshing = setmetatable({}, { __mode = "k" }),
  }, Transport)
end

function Transport:__tostring()
  return fmt("sinch.batch.transport.ngx (pool %d, ssl_verify %s%s)", self.pool_size,
    tostring(self.ssl_verify), self.shared_dict and (", shared_dict " .. self.shared_dict) or "")
end

------------------------------------------------------------------ HTTP/1.1

local function now_ms()
  ngx.update_time()
  return ngx.now() * 1000
end

-- "https://host:port/path?q" -> scheme, host, port, path (nil on a bad URL)
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

local function header_value(headers, name)
  for k, v in pairs(headers) do
    if lower(k) == name then return v end
  end
end

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
local READ_CHUNK = 16384
local MAX_LINE = 65536
local MAX_BODY = 64 * 1024 * 1024 -- as the curl driver: no API answer comes near it

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

-- One line without its CRLF | nil, err, what was read of it
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
    if not data then return nil, err, self.buf end
    self.buf = self.buf .. data
  end
end

-- Exactly n bytes | nil, err
function Reader:bytes(n)
  if n > MAX_BODY then return nil, "the response is larger than 64 MiB" end
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
    if have > MAX_BODY then return nil, "the response is larger than 64 MiB" end
    parts[#parts + 1] = data
  end
end

-- Reads the response head; returns status, headers, http_minor | nil, err, partial
local function read_head(rd)
  local line, err, partial = rd:line()
  if not line then return nil, err, partial end
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
      if have > MAX_BODY then return nil, "the response is larger than 64 MiB" end
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
-- timeout too is an idle timeout).  true | nil, err, some_was_sent
local SEND_CHUNK = 16384
local function send_all(sock, data, deadline, send_timeout)
  local pos, n = 1, #data
  while pos <= n do
    local left = floor(deadline - now_ms())
    if left < 1 then return nil, "timeout", pos > 1 end
    sock:settimeout((send_timeout and send_timeout < left) and send_timeout or left)
    local ok, err = sock:send(sub(data, pos, pos + SEND_CHUNK - 1))
    if not ok then return nil, err, pos > 1 end
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

-- One HTTP exchange.  Returns status, headers, body | nil, failure.
function Transport:_perform(req)
  local scheme, host, port, path = parse_url(req.url)
  if not scheme then
    return nil, failure("connect", false, "bad URL: " .. tostring(req.url))
  end
  local timeout = req.timeout_ms or 30000
  local deadline = now_ms() + timeout -- of the whole exchange, both tries
  local https = scheme == "https"
  local verify = self.ssl_verify
  -- nginx fixes a pool's size when the pool is made: transports with
  -- another pool_size get pools of their own
  local pool = fmt("sinch.batch:%s:%s:%d%s:%d", scheme, host, port,
    https and (verify and ":v" or ":nv") or "", self.pool_size)
  local hostport = find(host, ":", 1, true) and ("[" .. host .. "]") or host
  if (https and port ~= 443) or (not https and port ~= 80) then
    hostport = hostport .. ":" .. port
  end
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
  local request = concat(lines)

  -- A pooled connection the server closed meanwhile fails before any byte
  -- of the answer: try once more on a new connection.
  for try = 1, 2 do
    local sock, err = ngx.socket.tcp()
    if not sock then return nil, failure("connect", false, "ngx.socket.tcp: " .. tostring(err)) end
    local left = floor(deadline - now_ms())
    if left < 1 then
      return nil, failure("timeout", false, fmt("%s:%d: no time left for the request", host, port))
    end
    local ct, st = self.connect_timeout, self.send_timeout
    sock:settimeouts((ct and ct < left) and ct or left, (st and st < left) and st or left, left)
    local ok
    ok, err = sock:connect(host, port, { pool = pool, pool_size = self.pool_size })
    if not ok then
      return nil, failure(err == "timeout" and "timeout" or "connect", false,
        fmt("connect to %s:%d: %s", host, port, tostring(err)))
    end
    local reused = (sock:getreusedtimes() or 0) > 0
    if reused then self.reused = self.reused + 1 end
    if https and not reused then
      ok, err = sock:sslhandshake(nil, host, verify)
      if not ok then
        sock:close()
        return nil, failure(err == "timeout" and "timeout" or "tls", false,
          fmt("TLS handshake with %s:%d: %s", host, port, tostring(err)))
      end
    end
    local some
    ok, err, some = send_all(sock, request, deadline, self.send_timeout)
    if not ok then
      sock:close()
      -- "closed" on a pooled connection: nothing reached the server
      if some or not (reused and try == 1 and err == "closed") then
        return nil, failure(io_kind(err), true, fmt("send to %s:%d: %s", host, port, tostring(err)))
      end
    else
      local rd = new_reader(sock, deadline, self.read_timeout)
      local status, headers, minor = read_head(rd)
      while status and status >= 100 and status < 200 do -- 100 Continue and friends
        status, headers, minor = read_head(rd)
      end
      if not status then
        local rerr, partial = headers, minor
        sock:close()
        if not (reused and try == 1 and rerr == "closed" and (partial or "") == "") then
          return nil, failure(io_kind(rerr), true,
            fmt("reading the answer of %s:%d: %s", host, port, tostring(rerr)))
        end
      else
        local data, keep = read_body(rd, req.method, status, headers)
        if not data then
          sock:close()
          return nil, failure(io_kind(keep), true,
            fmt("reading the body from %s:%d: %s", host, port, tostring(keep)))
        end
        if keep and rd.buf == "" and can_keep(minor, headers) then
          sock:setkeepalive(self.keepalive_timeout, self.pool_size)
        else
          sock:close()
        end
        return status, headers, data
      end
    end
  end
end

------------------------------------------------------------------ tokens

local function b64_key_id(auth)
  local b64 = auth and match(auth, "^[Bb]asic%s+(%S+)")
  local plain = b64 and ngx.decode_base64(b64)
  return plain and match(plain, "^([^:]*):")
end

-- The token store key of a token request: base_url, project_id, key_id.
local function token_key(core_client, req)
  local key_id = b64_key_id(header_value(req.headers or {}, "authorization"))
  if not key_id then return nil end
  local base_url, project_id = core_client:info()
  return concat({ "sinch.batch.token", base_url or "", project_id or "", key_id }, "|")
end

function Transport:_dict()
  local name = self.shared_dict
  if not name then return nil end
  local dict = ngx.shared[name]
  if not dict then
    return nil, fmt("shared_dict: no lua_shared_dict named %q in nginx.conf", name)
  end
  return dict
end

-- A stored token for key, still valid at now: token, expires_at_ms | nil
function Transport:_lookup(key, now)
  local t = worker_tokens[key]
  if t and t.exp > now then return t.token, t.exp end
  local dict = self:_dict()
  local v = dict and dict:get(key)
  if type(v) == "string" then
    local exp, tok = match(v, "^(%d+) (.+)$")
    exp = tonumber(exp)
    if exp and exp > now then
      worker_tokens[key] = { token = tok, exp = exp }
      return tok, exp
    end
  end
end

function Transport:_store(key, core_client, now)
  local tok, exp = core_client:token(now)
  if not tok then return end
  worker_tokens[key] = { token = tok, exp = exp }
  local dict = self:_dict()
  local ttl = (exp - now) / 1000
  if dict and ttl >= 0.001 then
    dict:set(key, fmt("%d %s", exp, tok), ttl)
  end
end

-- The API refused the token it was sent (401): forget it if it is stored.
function Transport:_forget(key, auth)
  local tok = auth and match(auth, "^[Bb]earer%s+(.+)$")
  if not key or not tok then return end
  local t = worker_tokens[key]
  if t and t.token == tok then worker_tokens[key] = nil end
  local dict = self:_dict()
  local v = dict and dict:get(key)
  if type(v) == "string" and match(v, "^%d+ (.+)$") == tok then dict:delete(key) end
end

------------------------------------------------------------------ the loop

local function phase_error()
  if type(ngx) ~= "table" or not ngx.get_phase then
    return "sinch.batch: the ngx transport needs OpenResty (ngx_http_lua); "
      .. "outside nginx use the curl transport"
  end
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    return fmt("sinch.batch: cosockets are not available in the %q phase; "
      .. "call from rewrite, access, content or an ngx.timer", tostring(phase))
  end
end
_M.phase_error = phase_error

-- Feeds the result of one _perform to call: true | nil, err
local function feed(call, now, status, headers, resp)
  if status then return call:feed(now, status, headers, resp) end
  local f = headers -- the failure table
  return call:feed_error(now, f.kind, f.sent, f.message)
end

--- Runs one API operation of core_client to its end.
-- @return status, body, attempts | nil, err
function Transport:run(core_client, op, body, a, b)
  local perr = phase_error()
  if perr then return errors.fail("internal", perr) end
  local _, derr = self:_dict()
  if derr then return errors.fail("internal", derr) end

  local sema = self.semas[core_client]
  if not sema then
    sema = new_semaphore()
    self.semas[core_client] = sema
  end
  local now = now_ms()
  local key = self.keys[core_client]
  if key then -- a token another worker or request fetched since
    local tok, exp = self:_lookup(key, now)
    local mine, mine_exp = core_client:token(now)
    if tok and tok ~= mine and exp > (mine_exp or 0) then core_client:set_token(tok, exp) end
  end
  local call, err = core_client:start(op, body, a, b, now)
  if not call then return nil, err end
  local restarts, flight = 0, nil

  local function fetch_token(req)
    key = token_key(core_client, req)
    if key then self.keys[core_client] = key end
    local tok, exp
    if key then
      tok, exp = self:_lookup(key, now)
      if not tok and fetching[key] then -- one fetch per key and worker: wait for it
        fetching[key]:wait(req.timeout_ms / 1000)
        now = now_ms()
        tok, exp = self:_lookup(key, now)
      end
    end
    if tok and restarts < MAX_RESTARTS then -- nothing was sent: start over with it
      restarts = restarts + 1
      core_client:set_token(tok, exp)
      call:close()
      call, err = core_client:start(op, body, a, b, now)
      if not call then return nil, err end
      return true
    end
    if key and not fetching[key] then
      flight = new_semaphore()
      fetching[key] = flight
    end
    self.refreshing[core_client] = true
    local status, headers, resp = self:_perform(req)
    now = now_ms()
    local fed, ferr = feed(call, now, status, headers, resp)
    self.refreshing[core_client] = nil
    if key and status and status < 300 then self:_store(key, core_client, now) end
    if flight then
      fetching[key] = nil
      wake_all(flight)
      flight = nil
    end
    wake_all(sema)
    return fed, ferr
  end

  local function loop()
    while true do
      now = now_ms()
      local kind, x, y, z = call:next(now)
      if kind == nil then return nil, x end
      if kind == "done" then return x, y, z end
      if kind == "wait" then
        if x > 0 then
          if self.refreshing[core_client] then
            sema:wait(x / 1000) -- woken as soon as the token lands
          else
            ngx.sleep(x / 1000)
          end
        end
      elseif kind == "perform" and x.token_request then
        local fed, ferr = fetch_token(x)
        if not fed then return nil, ferr end
      elseif kind == "perform" then
        local status, headers, resp = self:_perform(x)
        now = now_ms()
        if status == 401 then self:_forget(key, header_value(x.headers or {}, "authorization")) end
        local fed, ferr = feed(call, now, status, headers, resp)
        if not fed then return nil, ferr end
      else
        return nil, errors.new("internal", "unknown action from the core: " .. tostring(kind))
      end
    end
  end

  local ok, s, r, n = pcall(loop)
  if call then call:close() end
  if not ok then
    -- a Lua error inside the loop: no waiter may hang on this worker
    self.refreshing[core_client] = nil
    if flight then
      if fetching[key] == flight then fetching[key] = nil end
      wake_all(flight)
    end
    wake_all(sema)
    error(s, 0)
  end
  return s, r, n
end

return _M
