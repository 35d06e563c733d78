-- Handlers for spec/integration/nginx_spec.lua, run inside nginx.
--
-- POST /call with a JSON body
--   { op = "status", args = { … }, client = { extra client options } }
-- runs client[op](client, unpack(args)) with a client for the sandbox at
-- $mock_url and answers { result = …, err = {kind, message, …}, extra = … }.
-- For op "send", args[1] is { text = "Hi ${name}", recipients = { { "+4670…",
-- { name = "Ann" } }, … }, batch_metadata = … } and the handler builds the
-- message and recipients with the library's helpers.
local batch = require "sinch.batch"
local transport = require "sinch.batch.transport.ngx"
local cjson = require "cjson.safe"

local pairs, ipairs, tostring, type = pairs, ipairs, tostring, type
local unpack = table.unpack or unpack -- luacheck: ignore 113 143

local _M = {}

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
_M.APP = APP

-- Options of a client for the sandbox at url, with extra over them.
function _M.client_opts(url, extra)
  local o = { project_id = "demo-project", app_id = APP, base_url = url, auth_url = url,
              key_id = "demo-key", key_secret = "demo-secret", backoff_base = 0.01, seed = 7 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- An error as plain JSON-able fields, and its tostring.
function _M.err_fields(err)
  if err == nil then return nil end
  if type(err) ~= "table" then return { text = tostring(err) } end
  return { kind = err.kind, message = err.message, status = err.status,
           retryable = err.retryable, may_have_been_processed = err.may_have_been_processed,
           text = tostring(err) }
end

local function send_args(a)
  local R = batch.recipient
  local recipients = {}
  for i, r in ipairs(a.recipients or {}) do
    recipients[i] = { recipient = R.sms(r[1]), parameters = r[2] }
  end
  return { message = batch.message.text(a.text), recipients = recipients,
           batch_metadata = a.batch_metadata, send_after = a.send_after }
end

local function reply(t)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
end

-- Clients kept per worker for { keep = "name" } requests.
local kept = {}

--- content_by_lua: POST /call
function _M.call()
  ngx.req.read_body()
  local req = cjson.decode(ngx.req.get_body_data() or "{}") or {}
  if req.flush then -- "worker": this worker's token cache; "all": also the dict
    transport.flush_worker_tokens()
    if req.flush == "all" then ngx.shared.sinch_tokens:flush_all() end
  end
  local client = kept[req.keep or false]
  if not client then
    local err
    local opts = _M.client_opts(req.url or ngx.var.mock_url, req.client)
    if req.transport then opts.transport = transport.new(req.transport) end
    local made
    made, client, err = pcall(batch.client, opts)
    if not made then return reply{ raised = tostring(client) } end
    if not client then return reply{ err = _M.err_fields(err) } end
    if req.keep then kept[req.keep] = client end
  end
  local args = req.args or {}
  if req.op == "send" then args = { send_args(args[1] or {}) } end
  local res, status, attempts = client[req.op](client, unpack(args))
  if not req.keep then client:close() end
  if res == nil then
    return reply{ err = _M.err_fields(status), transport = tostring(client.transport) }
  end
  reply{ result = res, status = status, attempts = attempts, transport = tostring(client.transport),
         reused = client.transport and client.transport.reused }
end

--- content_by_lua: GET /dict -- what the token dict holds, without the token
function _M.dict()
  local dict = ngx.shared.sinch_tokens
  local out = {}
  for _, k in ipairs(dict:get_keys(0)) do
    local v = dict:get(k) or ""
    out[#out + 1] = { key = k, has_secret = v:find("demo-secret", 1, true) ~= nil,
                      looks_like = v:match("^%d+ ") and "expiry token" or "other" }
  end
  reply{ keys = out }
end

--- Calls client:status in a phase; returns the error fields (or nil).
function _M.in_phase(url)
  local client = assert(batch.client(_M.client_opts(url)))
  local res, err = client:status("01BATCHXXXXXXXXXXXXXXXXXXX")
  client:close()
  if res then return { result = res } end
  return _M.err_fields(err)
end

--- init_worker_by_lua: keep the answer of a call in the results dict.
function _M.init_worker(url)
  ngx.shared.results:set("init_worker", cjson.encode(_M.in_phase(url)))
end

--- init_by_lua (in the master, before the workers): the same.
function _M.init(url)
  ngx.shared.results:set("init", cjson.encode(_M.in_phase(url)))
end

--- content_by_lua: GET /result?name=...
function _M.result()
  reply{ value = cjson.decode(ngx.shared.results:get(ngx.var.arg_name) or "null") }
end

--- content_by_lua: GET /timer -- a call from an ngx.timer, awaited here
function _M.timer()
  local semaphore = require "ngx.semaphore"
  local sema = semaphore.new(0)
  local out
  local url = ngx.var.mock_url
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local client = assert(batch.client(_M.client_opts(url)))
    local res, e = client:find("campaign", "timer")
    client:close()
    out = { result = res, err = _M.err_fields(e), phase = ngx.get_phase() }
    sema:post(1)
  end)
  if not ok then return reply{ err = { text = err } } end
  local got = sema:wait(30)
  if not got then return reply{ err = { text = "the timer did not finish" } } end
  reply(out)
end

--- content_by_lua: a stand-in API on this nginx that answers in chunks
-- (no Content-Length), for location /chunked/.
function _M.chunked()
  ngx.header["Content-Type"] = "application/json"
  local uri = ngx.var.uri
  local parts
  if uri:find("/oauth2/token$") then
    parts = { '{"access_token":"chunked-', 'token","expires_in":3600,', '"token_type":"bearer"}' }
  else
    parts = { '[{"batch_id":"01CHUNKEDXXXXXXXXXXXXXXXXX",', '"status":"PROCESSED",',
              '"meta_data":{"campaign":"chunked"}}]' }
  end
  for _, p in ipairs(parts) do
    ngx.print(p)
    ngx.flush(true)
  end
end

------------------------------------------------------------ stand-in APIs

-- Answers with a Content-Length body.
local function answer(body)
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

local TOKEN = '{"access_token":"standin-token","expires_in":3600,"token_type":"bearer"}'

-- A barrier for the stand-in at /standin/: each API request waits until
-- `want` of them are in flight at once, so that every call holds its own
-- connection.  Connection serial numbers (ngx.var.connection) are kept.
local barrier = { want = 1, n = 0 }

--- content_by_lua: location /standin/
function _M.standin()
  if ngx.var.uri:find("/oauth2/token$") then return answer(TOKEN) end
  barrier.n = barrier.n + 1
  barrier.conns[#barrier.conns + 1] = tonumber(ngx.var.connection)
  if barrier.n % barrier.want == 0 then
    if barrier.want > 1 then barrier.sema:post(barrier.want - 1) end
  elseif not barrier.sema:wait(10) then
    ngx.status = 504
    return answer('{"error":{"message":"barrier: the other requests never came"}}')
  end
  answer("[]")
end

-- n calls of client:find at once, on light threads; true | nil, err
local function concurrently(client, n)
  local threads = {}
  for i = 1, n do
    threads[i] = ngx.thread.spawn(function() return client:find("campaign", "pool") end)
  end
  local failed
  for i = 1, n do
    local ok, res, err = ngx.thread.wait(threads[i])
    if not ok then failed = failed or tostring(res) elseif not res then failed = failed or tostring(err) end
  end
  if failed then return nil, failed end
  return true
end

--- content_by_lua: GET /pool?size=N&calls=M -- two rounds of M calls held
-- in flight at once by the stand-in, through a client with pool_size N; how
-- many requests of the second round went out on a pooled connection.
function _M.pool()
  local size, calls = tonumber(ngx.var.arg_size), tonumber(ngx.var.arg_calls)
  local url = ngx.var.scheme .. "://127.0.0.1:" .. ngx.var.server_port .. "/standin"
  local client = assert(batch.client(_M.client_opts(url, { pool_size = size })))
  barrier.want, barrier.n, barrier.conns = 1, 0, {}
  barrier.sema = require("ngx.semaphore").new(0)
  assert(client:find("campaign", "warm")) -- the token: then no call waits for it
  barrier.want, barrier.n, barrier.conns = calls, 0, {}
  local ok, err = concurrently(client, calls)
  if not ok then return reply{ err = { text = err } } end
  local reused = client.transport.reused
  ok, err = concurrently(client, calls)
  if not ok then return reply{ err = { text = err } } end
  reply{ first = reused, second = client.transport.reused - reused, conns = barrier.conns,
         transport = tostring(client.transport) }
  client:close()
end

-- What the raw stand-in at /idle saw after its answer: "closed" when the
-- client dropped the idle connection, else what it read.
local idle = {}

--- content_by_lua: location /idle/ -- answers on the raw connection, then
-- waits to see whether the client sends more or closes it.
function _M.idle_standin()
  ngx.req.read_body()
  local sock = assert(ngx.req.socket(true))
  if ngx.var.uri:find("/oauth2/token$") then
    sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
      .. #TOKEN .. "\r\nConnection: close\r\n\r\n" .. TOKEN)
    return
  end
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")
  sock:settimeout(20000)
  local data, err = sock:receive(1)
  idle.seen = data and ("more data: " .. data) or err
  idle.sema:post(1)
end

--- content_by_lua: GET /idle?timeout=S -- one call through a client with
-- keepalive_timeout S, then waits (bounded) for the stand-in to see the
-- idle pooled connection closed.
function _M.idle()
  local url = ngx.var.scheme .. "://127.0.0.1:" .. ngx.var.server_port .. "/idle"
  local client = assert(batch.client(_M.client_opts(url,
    { keepalive_timeout = tonumber(ngx.var.arg_timeout) })))
  idle.seen, idle.sema = nil, require("ngx.semaphore").new(0)
  local res, err = client:find("campaign", "idle")
  client:close()
  if not res then return reply{ err = _M.err_fields(err) } end
  local got = idle.sema:wait(15)
  reply{ seen = got and idle.seen or "nothing yet" }
end

--- content_by_lua: GET /single_flight?calls=N -- N clients made at once
-- (as per request), each calling find on its own light thread, with no
-- token cached anywhere.
function _M.single_flight()
  transport.flush_worker_tokens()
  local url, n = ngx.var.mock_url, tonumber(ngx.var.arg_calls)
  local threads = {}
  for i = 1, n do
    threads[i] = ngx.thread.spawn(function()
      local client = assert(batch.client(_M.client_opts(url)))
      local res, err = client:find("campaign", "single")
      client:close()
      return res, err
    end)
  end
  local out = {}
  for i = 1, n do
    local ok, res, err = ngx.thread.wait(threads[i])
    out[i] = ok and (res and "ok" or tostring(err)) or tostring(res)
  end
  reply{ results = out }
end

return _M
