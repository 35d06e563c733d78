--- sinch.batch.transport.ngx: the OpenResty driver of the core's call machine.
--
-- The C core decides what to request and what an answer means; this module
-- runs the call loop and keeps tokens; sinch.batch.transport.http1 moves
-- the bytes, with cosockets, so an nginx worker is never blocked:
--
--    local T = require("sinch.batch.transport.ngx").new{ shared_dict = "sinch_tokens" }
--    local status, body, attempts = T:run(core_client, "status", nil, batch_id)
--
-- The facade (sinch.batch) picks this transport by itself inside nginx.
-- Options of new(): shared_dict (a lua_shared_dict that shares tokens
-- across workers), pool_size (16), keepalive_timeout (ms, 60000), ssl_verify
-- (true; false must be explicit), connect_timeout / send_timeout /
-- read_timeout (ms; default: the request's own timeout).  ca_file is
-- refused: cosockets verify against nginx's lua_ssl_trusted_certificate.
--
-- Tokens: one fetch at a time per worker and key (client:token_key(), the
-- core's digest of base_url, auth_url, project_id, key_id and key_secret);
-- the others wait on an ngx.semaphore and take the token that landed.
-- Fetched tokens are kept per worker and, with shared_dict, in the dict
-- until they expire.  The key secret is never stored.
--
-- Never resending: a request goes out once (see http1); the core decides
-- what a failure means and what may be retried.
local errors = require "sinch.batch.errors"
local http1 = require "sinch.batch.transport.http1"
local options = require "sinch.batch.options"

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local error, setmetatable, pcall, require = error, setmetatable, pcall, require
local fmt, match, lower = string.format, string.match, string.lower
local now_ms = http1.now_ms

local _M = { _VERSION = "0.1.0" }

local Transport = {}
Transport.__index = Transport
_M.Transport = Transport

-- Phases where cosockets work.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true }
_M.COSOCKET_PHASES = COSOCKET_PHASES
--- A URL's parts (sinch.batch.transport.http1).
-- @function parse_url
-- @param url "http(s)://host[:port]/path?q"
-- @return scheme, host, port, path (nil on a bad URL)
_M.parse_url = http1.parse_url

local OPTIONS = { shared_dict = "string", pool_size = "number", keepalive_timeout = "number",
                  ssl_verify = "boolean", connect_timeout = "number", send_timeout = "number",
                  read_timeout = "number", ca_file = "string" }

local MAX_POOL_SIZE = 100000
local MAX_TIMEOUT_MS = 2147483647 -- nginx keeps timers in a signed 32-bit count of ms
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

local function header_value(headers, name)
  for k, v in pairs(headers) do
    if lower(k) == name then return v end
  end
end

local function wake_all(sema)
  local waiting = -sema:count()
  if waiting > 0 then sema:post(waiting) end
end

--- A new transport.
-- @tparam[opt] table opts see the module comment
function _M.new(opts)
  if opts == nil then opts = {} end
  options.assert(opts, OPTIONS, "new", 1, 1)
  -- every number in range here, at creation: NaN, an infinity or 1e300
  -- would pass "> 0" and then fail every send (pool_size) or reach
  -- setkeepalive and the socket timeouts unchecked
  for k, v in pairs(opts) do
    if OPTIONS[k] == "number" then
      if k == "pool_size" then
        if not (v >= 1 and v <= MAX_POOL_SIZE) or v % 1 ~= 0 then
          error(fmt("bad argument #1 to 'new' (opts.pool_size: expected a whole number from 1 "
            .. "to %d, got %s)", MAX_POOL_SIZE, tostring(v)), 2)
        end
      elseif not (v > 0 and v <= MAX_TIMEOUT_MS) then
        error(fmt("bad argument #1 to 'new' (opts.%s: expected milliseconds > 0 and at most %d, "
          .. "got %s)", k, MAX_TIMEOUT_MS, tostring(v)), 2)
      end
    end
  end
  if opts.ca_file then -- cosockets verify against nginx's CA file only
    error("sinch.batch: opts.ca_file is not used under nginx: cosockets trust the CA file of "
      .. "the lua_ssl_trusted_certificate directive in nginx.conf; set it there and drop ca_file", 2)
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
    -- by core client (weak): the semaphore its calls wait on, and whether
    -- one of its calls is fetching
    semas = setmetatable({}, { __mode = "k" }),
    refreshing = setmetatable({}, { __mode = "k" }),
  }, Transport)
end

function Transport:__tostring()
  return fmt("sinch.batch.transport.ngx (pool %d, ssl_verify %s%s)", self.pool_size,
    tostring(self.ssl_verify), self.shared_dict and (", shared_dict " .. self.shared_dict) or "")
end

-- One HTTP exchange, sent at most once (sinch.batch.transport.http1).
-- Returns status, headers, body | nil, failure.

--- Milliseconds a call of this transport still waits out a Retry-After or a
-- backoff (0 when none does): a campaign starts nothing new until then.
function Transport:waiting_ms()
  local u = self.waiting_until
  if not u then return 0 end
  local left = u - now_ms()
  if left <= 0 then
    self.waiting_until = nil
    return 0
  end
  return left
end

function Transport:_perform(req)
  return http1.request(self, req)
end

-- tokens ----------------------------------------------------------------

-- The token store key of a client: the core's digest of base_url, auth_url,
-- project_id, key_id and key_secret (a wrong secret never finds the token
-- of the right one; the secret itself is never stored).  nil: static token.
local function token_key(core_client)
  local k = core_client:token_key()
  return k and ("sinch.batch.token|" .. k)
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

-- the loop --------------------------------------------------------------

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
--- The error text for a call made in an nginx phase without cosockets, or
-- nil in a phase that has them.
-- @function phase_error
-- @param phase the phase name (ngx.get_phase())
-- @return the text, or nil
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
  local key = token_key(core_client)
  if key then -- a token another worker or request fetched since
    local tok, exp = self:_lookup(key, now)
    local mine, mine_exp = core_client:token(now)
    if tok and tok ~= mine and exp > (mine_exp or 0) then core_client:set_token(tok, exp) end
  end
  local call, err = core_client:start(op, body, a, b, now)
  if not call then return nil, err end
  local restarts, flight = 0, nil

  local function fetch_token(req)
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
            -- a Retry-After or a backoff: said to whoever paces the sends (a
            -- campaign pauses as a whole while any of its calls waits)
            if now + x > (self.waiting_until or 0) then self.waiting_until = now + x end
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
