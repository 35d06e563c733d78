-- The OpenResty transport in a real nginx (Debian's nginx + lua module, one
-- worker) against the sandbox, both on 127.0.0.1.  This file is only a
-- driver: it talks HTTP to nginx, whose handlers (spec/integration/nginx/
-- sbtest.lua) use the library with cosockets.
local cjson = require "cjson.safe"
local socket = require "socket"
local mock = require "support.mock"
local nginx = require "support.nginx"
local faults = require "support.faults"

local CONFIG_HTTP = [[
  lua_shared_dict sinch_tokens 1m;
  lua_shared_dict results 1m;
  init_by_lua_block { require("sbtest").init("%s") }
  init_worker_by_lua_block { require("sbtest").init_worker("%s") }
]]

local CONFIG_SERVER = [[
    set $mock_url "%s";
    location = /call { content_by_lua_block { require("sbtest").call() } }
    location = /dict { content_by_lua_block { require("sbtest").dict() } }
    location = /result { content_by_lua_block { require("sbtest").result() } }
    location = /timer { content_by_lua_block { require("sbtest").timer() } }
    location = /ping { content_by_lua_block { ngx.say("pong") } }
    location /echo/ {
      content_by_lua_block {
        ngx.header["Content-Type"] = "text/plain"
        if ngx.var.uri:find("/oauth2/token$") then
          return ngx.print('{"access_token":"echoed-token-0123456789abcdef","expires_in":3600}')
        end
        ngx.status = 502 -- a gateway that shows the request it refused
        ngx.print("bad gateway; request had Authorization: ", ngx.var.http_authorization)
      }
    }
    location /drip/ {
      content_by_lua_block {
        ngx.header["Content-Type"] = "application/json"
        if ngx.var.uri:find("/oauth2/token$") then
          return ngx.print('{"access_token":"drip-token","expires_in":3600}')
        end
        -- "[", 62 spaces, "]": one byte every 100 ms, 6.4 s in all
        ngx.header["Content-Length"] = 64
        ngx.send_headers()
        for i = 1, 64 do
          ngx.print(i == 1 and "[" or i == 64 and "]" or " ")
          if not ngx.flush(true) then return end
          ngx.sleep(0.1)
        end
      }
    }
    location /chunked/ { content_by_lua_block { require("sbtest").chunked() } }
    location /standin/ { content_by_lua_block { require("sbtest").standin() } }
    location = /pool { content_by_lua_block { require("sbtest").pool() } }
    location /idle/ { content_by_lua_block { require("sbtest").idle_standin() } }
    location = /idle { content_by_lua_block { require("sbtest").idle() } }
    location = /single_flight { content_by_lua_block { require("sbtest").single_flight() } }
    location = /set {
      set_by_lua_block $phase_err {
        local e = require("sbtest").in_phase(ngx.var.mock_url)
        return e and e.kind .. ": " .. e.message or "no error"
      }
      content_by_lua_block { ngx.say(ngx.var.phase_err) }
    }
    location = /header_filter {
      content_by_lua_block { ngx.say("body") }
      header_filter_by_lua_block {
        local e = require("sbtest").in_phase(ngx.var.mock_url)
        ngx.header["X-Phase-Error"] = e and e.message or "no error"
      }
    }
    location = /body_filter {
      content_by_lua_block { ngx.say("body") }
      body_filter_by_lua_block {
        if ngx.arg[2] then -- the last buffer: add the error to the body
          local e = require("sbtest").in_phase(ngx.var.mock_url)
          ngx.arg[1] = (ngx.arg[1] or "") .. (e and e.message or "no error")
        end
      }
    }
    location = /log {
      content_by_lua_block { ngx.say("logged") }
      log_by_lua_block {
        local e = require("sbtest").in_phase(ngx.var.mock_url)
        ngx.log(ngx.ERR, "phase check: ", e and e.message or "no error")
      }
    }
]]

local function phase_message(phase)
  return ('sinch.batch: cosockets are not available in the "%s" phase; '
    .. "call from rewrite, access, content or an ngx.timer"):format(phase)
end

local function rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

describe("sinch.batch.transport.ngx in nginx", function()
  local m, n

  setup(function()
    m = mock.start()
    n = nginx.start{ http = CONFIG_HTTP:format(m.url, m.url), server = CONFIG_SERVER:format(m.url) }
  end)

  teardown(function()
    if n then n:stop() end
    if m then m:stop() end
  end)

  before_each(function()
    m:reset()
  end)

  -- POST /call: the handler's decoded answer
  local function call(t)
    local status, body = n:post("/call", cjson.encode(t))
    assert.equal(200, status, body)
    return assert(cjson.decode(body), body)
  end

  local function ok(t)
    local r = call(t)
    assert.is_nil(r.err, r.err and r.err.text)
    return r
  end

  -- the sandbox's log without the token requests, and the token requests
  local function api_requests()
    local api, tok = {}, {}
    for _, r in ipairs(m:requests()) do
      if r.path == "/oauth2/token" then tok[#tok + 1] = r else api[#api + 1] = r end
    end
    return api, tok
  end

  describe("every operation from content_by_lua", function()
    it("sends a batch through cosockets", function()
      local r = ok{ op = "send", flush = "all", args = { {
        text = "Hi ${name}",
        recipients = { { "+46700000001", { name = "Ann" } }, { "+46700000002", { name = "Bo" } } },
        batch_metadata = { campaign = "ngx-send" } } } }
      assert.matches("^sinch%.batch%.transport%.ngx", r.transport)
      assert.equal(26, #r.result.batch_id)
      local api, tok = api_requests()
      assert.equal(1, #tok)
      assert.equal(1, #api)
      assert.equal("POST", api[1].method)
      assert.equal("/v1/projects/demo-project/messages", api[1].path)
      assert.equal("Bearer <redacted>", api[1].headers.authorization)
      assert.equal("application/json", api[1].headers["content-type"])
      local body = assert(cjson.decode(api[1].body))
      assert.equal(2, #body.recipient_and_params)
      assert.same({ name = "Bo" }, body.recipient_and_params[2].parameters)
      assert.same({ batches = 1, recipients = 2 }, m:stats().by_metadata["campaign=ngx-send"])
    end)

    it("looks up status, finds by metadata and cancels a scheduled batch", function()
      local sent = ok{ op = "send", args = { {
        text = "Later", recipients = { { "+46700000003" } },
        batch_metadata = { campaign = "ngx-cancel" }, send_after = rfc3339(os.time() + 3600) } } }
      local id = sent.result.batch_id
      local st = ok{ op = "status", args = { id } }
      assert.equal(id, st.result.batch_id)
      assert.equal("SCHEDULED", st.result.status)
      assert.same({ campaign = "ngx-cancel" }, st.result.meta_data)

      local found = ok{ op = "find", args = { "campaign", "ngx-cancel" } }
      assert.equal(1, #found.result)
      assert.equal(id, found.result[1].batch_id)

      -- the API cancels later (the sandbox after 1 s): confirm polls, sleeping with ngx.sleep
      local res = ok{ op = "cancel", args = { { batch_id = id, confirm = { interval = 0.2 } } } }
      assert.same({ id }, res.result.cancelled)
      assert.equal("CANCELLED", ok{ op = "status", args = { id } }.result.status)

      local api = api_requests()
      local seen = {}
      for _, r in ipairs(api) do seen[#seen + 1] = r.method .. " " .. r.path end
      assert.is_true(#seen >= 5, #seen .. " requests")
      local lookup = "GET /v1/projects/demo-project/messages/" .. id
      assert.same({
        "POST /v1/projects/demo-project/messages",
        "GET /v1/projects/demo-project/messages/" .. id,
        "GET /v1/projects/demo-project/messages",
        "DELETE /v1/projects/demo-project/messages",
      }, { seen[1], seen[2], seen[3], seen[4] })
      for i = 5, #seen do assert.equal(lookup, seen[i]) end
      assert.matches("metadataKey=campaign", api[3].query)
      assert.same({ batch_id = id }, cjson.decode(api[4].body))
    end)

    it("creates and deletes contacts and inserts consents", function()
      ok{ op = "create_contacts", args = { { {
        channel_identities = { { channel = "SMS", identity = "+46700000004" } }, language = "EN_US",
        display_name = "Cy" } } } }
      ok{ op = "delete_contacts", args = { { "01CONTACTXXXXXXXXXXXXXXXXX" } } }
      local consents = ok{ op = "insert_consents", args = { { records = {
        { identification = "+46700000005", consent_type = "OPT_OUT_MARKETING" } } } } }
      assert.is_string(consents.result.batch_id)

      local api = api_requests()
      assert.equal(3, #api)
      assert.equal("POST /v1/projects/demo-project/contacts", api[1].method .. " " .. api[1].path)
      assert.equal("Cy", cjson.decode(api[1].body).contacts[1].display_name)
      assert.equal("DELETE /v1/projects/demo-project/contacts", api[2].method .. " " .. api[2].path)
      assert.same({ contact_ids = { "01CONTACTXXXXXXXXXXXXXXXXX" } }, cjson.decode(api[2].body))
      assert.equal("POST /v1/projects/demo-project/consents", api[3].method .. " " .. api[3].path)
      assert.same({ app_id = "01APPIDXXXXXXXXXXXXXXXXXXX", consent_records = {
        { identification = "+46700000005", consent_type = "OPT_OUT_MARKETING" } } },
        cjson.decode(api[3].body))
    end)

    it("reads chunked answers (from a stand-in API on the same worker)", function()
      local url = n.url .. "/chunked"
      local r = ok{ op = "find", url = url, client = { auth_url = url }, args = { "campaign", "chunked" } }
      assert.same({ { batch_id = "01CHUNKEDXXXXXXXXXXXXXXXXX", status = "PROCESSED",
                      meta_data = { campaign = "chunked" } } }, r.result)
    end)

    it("answers an API error as nil, err", function()
      local r = call{ op = "status", args = { "01NOSUCHBATCHXXXXXXXXXXXXX" } }
      assert.is_nil(r.result)
      assert.equal("http", r.err.kind)
      assert.equal(404, r.err.status)
    end)

    it("never shows a token a server echoes in its error body", function()
      local url = n.url .. "/echo"
      local r = call{ op = "status", url = url, args = { "01BATCH" },
                      client = { auth_url = url, max_attempts = 1 } }
      assert.equal("http", r.err.kind)
      assert.equal(502, r.err.status)
      assert.matches("Authorization: Bearer %[redacted%]", r.err.message)
      assert.is_nil(r.err.message:find("echoed-token", 1, true))
      assert.is_nil(r.err.text:find("echoed-token", 1, true))
    end)

    it("bounds a whole answer by the request's timeout, even one a server drips", function()
      -- nginx's read timeout alone is re-armed by every byte
      local url = n.url .. "/drip"
      local r = call{ op = "find", url = url, args = { "campaign", "drip" },
                      client = { auth_url = url, timeout = 0.5, max_attempts = 1 } }
      assert.is_nil(r.result)
      assert.equal("timeout", r.err.kind)
      assert.matches("reading the body from 127%.0%.0%.1:%d+: timeout", r.err.message)
    end)

    it("refuses ca_file at client creation, naming lua_ssl_trusted_certificate", function()
      local r = call{ op = "find", client = { ca_file = "/etc/ssl/certs/ca-certificates.crt" },
                      args = { "campaign", "x" } }
      assert.is_nil(r.result)
      assert.matches("opts%.ca_file is not used under nginx", r.raised)
      assert.matches("lua_ssl_trusted_certificate", r.raised)
      assert.same({}, m:requests())
    end)

    it("reports a refused connection as a network error", function()
      local closed = nginx.free_port()
      local url = "http://127.0.0.1:" .. closed
      local r = call{ op = "find", args = { "campaign", "x" },
                      client = { base_url = url, auth_url = url, max_attempts = 2 } }
      assert.equal("network", r.err.kind)
      assert.matches("connect to 127%.0%.0%.1:" .. closed, r.err.message)
    end)
  end)

  describe("the fault matrix (spec/support/faults.lua)", function()
    local rows = {}
    teardown(function()
      faults.print("fault matrix, nginx transport: scenario x POSTs seen x outcome", rows)
    end)

    for _, sc in ipairs(faults.SCENARIOS) do
      it(("%s: the server %s; the batch is sent once"):format(sc.name, sc.what), function()
        local srv = faults.start(sc.name)
        local ok_run, r = pcall(call, { op = "send", flush = "all", url = srv.url,
          client = { timeout = sc.timeout or 5, max_attempts = 3 },
          args = { { text = "fault", recipients = { { "+46700000001" } } } } })
        local posts, bodies, reused = srv:posts()
        srv:stop()
        assert(ok_run, r)
        rows[#rows + 1] = faults.row("nginx", sc, posts, bodies, reused,
          faults.outcome(r.result, r.err))
        -- the nginx transport sends every request once, whatever failed
        assert.equal(1, posts)
        faults.check(sc, { posts = posts, bodies = bodies, reused = reused, result = r.result,
                           err = r.err })
      end)
    end
  end)

  describe("tokens", function()
    it("fetches one token per worker for clients made per request", function()
      ok{ op = "find", flush = "all", args = { "campaign", "a" } }
      ok{ op = "find", args = { "campaign", "a" } }
      ok{ op = "find", args = { "campaign", "a" } }
      assert.equal(1, m:stats().tokens_issued)
    end)

    it("shares the token through a lua_shared_dict, never the secret", function()
      local dict_client = { shared_dict = "sinch_tokens" }
      ok{ op = "find", flush = "all", client = dict_client, args = { "campaign", "a" } }
      local status, body = n:get("/dict")
      assert.equal(200, status)
      local keys = cjson.decode(body).keys
      assert.equal(1, #keys)
      -- the core's digest of the credentials: no key id, no secret
      assert.matches("^sinch%.batch%.token|" .. ("%x"):rep(64) .. "$", keys[1].key)
      assert.is_false(keys[1].has_secret)
      assert.equal("expiry token", keys[1].looks_like)
      -- this worker forgets its copy: the next client finds the token in the dict
      ok{ op = "find", flush = "worker", client = dict_client, args = { "campaign", "a" } }
      assert.equal(1, m:stats().tokens_issued)
      -- without the dict, the same request has to fetch one
      ok{ op = "find", flush = "worker", args = { "campaign", "a" } }
      assert.equal(2, m:stats().tokens_issued)
    end)

    it("never serves a token to a client with the same key id and a wrong secret", function()
      local dict_client = { shared_dict = "sinch_tokens" }
      ok{ op = "find", flush = "all", client = dict_client, args = { "campaign", "a" } }
      assert.equal(1, m:stats().tokens_issued)
      -- same worker, same base_url, project and key id: only the secret differs
      local r = call{ op = "find", client = { shared_dict = "sinch_tokens", key_secret = "wrong-secret",
                                               max_attempts = 1 }, args = { "campaign", "a" } }
      assert.is_nil(r.result)
      assert.equal("auth", r.err.kind)
      assert.is_nil(r.err.text:find("wrong-secret", 1, true))
      local api, tok = api_requests()
      assert.equal(1, #api) -- only the right client's find reached the API
      assert.equal(2, #tok) -- the wrong secret went to the token endpoint, and was refused
      assert.equal(1, m:stats().tokens_issued)
      -- the right client still gets its token from the cache
      ok{ op = "find", client = dict_client, args = { "campaign", "a" } }
      assert.equal(1, m:stats().tokens_issued)
    end)

    it("refreshes an expired token and retries once", function()
      local c = { refresh_ahead = 0, shared_dict = "sinch_tokens" }
      ok{ op = "find", flush = "all", client = c, args = { "campaign", "a" } }
      m:advance(3700) -- the sandbox's tokens live an hour
      ok{ op = "find", client = c, args = { "campaign", "a" } }
      assert.equal(2, m:stats().tokens_issued)
      local q = m:requests()
      local order = {}
      for i, r in ipairs(q) do order[i] = r.path:match("[^/]+$") end
      -- the stale token is sent once (401), then a new one is fetched and used
      assert.same({ "token", "messages", "messages", "token", "messages" }, order)
      assert.equal(q[2].token_index, q[3].token_index)
      assert.equal(q[3].token_index + 1, q[5].token_index)
      -- and the dict no longer holds the refused token: a fresh worker copy uses #2
      ok{ op = "find", flush = "worker", client = c, args = { "campaign", "a" } }
      assert.equal(2, m:stats().tokens_issued)
    end)
  end)

  it("keeps connections alive in the cosocket pool", function()
    local first = ok{ op = "find", keep = "pooled", args = { "campaign", "k" } }
    local before = first.reused
    ok{ op = "find", keep = "pooled", args = { "campaign", "k" } }
    local last = ok{ op = "find", keep = "pooled", args = { "campaign", "k" } }
    assert.equal(before + 2, last.reused)
  end)

  describe("the keep-alive pool", function()
    -- two rounds of 3 calls, each round held in flight at once by a
    -- stand-in API on this nginx: the second round finds as many pooled
    -- connections as the pool kept
    local function pool(size)
      local status, body = n:get(("/pool?size=%d&calls=3"):format(size))
      assert.equal(200, status, body)
      local r = assert(cjson.decode(body), body)
      assert.is_nil(r.err, r.err and r.err.text)
      assert.matches("pool " .. size, r.transport)
      return r
    end

    it("keeps at most pool_size idle connections", function()
      local r = pool(1)
      assert.equal(1, r.second)
    end)

    it("keeps pool_size idle connections when more are open", function()
      local r = pool(3)
      assert.equal(3, r.second)
      -- the second round ran on the same three connections as the first
      local first, second = {}, {}
      for i = 1, 3 do first[#first + 1] = r.conns[i] end
      for i = 4, 6 do second[#second + 1] = r.conns[i] end
      table.sort(first)
      table.sort(second)
      assert.same(first, second)
    end)

    it("closes a pooled connection after keepalive_timeout idle", function()
      local status, body = n:get("/idle?timeout=0.05")
      assert.equal(200, status, body)
      assert.equal("closed", cjson.decode(body).seen)
    end)
  end)

  it("fetches one token per worker when many calls start at once", function()
    local status, body = n:get("/single_flight?calls=5")
    assert.equal(200, status, body)
    assert.same({ "ok", "ok", "ok", "ok", "ok" }, cjson.decode(body).results)
    assert.equal(1, m:stats().tokens_issued)
    local _, tok = api_requests()
    assert.equal(1, #tok)
  end)

  it("retries a 429 after a backoff", function()
    ok{ op = "find", args = { "campaign", "warm" } } -- a token first
    m:reset()
    m:fault{ kind = "status", status = 429, method = "GET", path = "/v1/projects/demo-project/messages" }
    local r = ok{ op = "find", args = { "campaign", "b" } }
    assert.same({}, r.result)
    local api = api_requests()
    assert.equal(2, #api)
    assert.equal(api[1].query, api[2].query)
  end)

  it("never blocks the worker: a request sent after a slow send finishes first", function()
    ok{ op = "find", args = { "campaign", "warm" } }
    m:reset()
    m:fault{ kind = "delay", delay_ms = 1000, method = "POST", path = "/v1/projects/demo-project/messages" }
    local a = n:open("POST", "/call", cjson.encode{ op = "send", args = { {
      text = "slow", recipients = { { "+46700000006" } }, batch_metadata = { campaign = "slow" } } } })
    -- wait until the sandbox holds A's send (bounded polling)
    local arrived = false
    for _ = 1, 1000 do
      for _, r in ipairs(m:requests()) do
        if r.method == "POST" and r.path:match("/messages$") then arrived = true end
      end
      if arrived then break end
      socket.sleep(0.005)
    end
    assert.is_true(arrived, "the send never reached the sandbox")
    -- B on the same (only) worker, through the sandbox too
    local status, body = n:get("/ping")
    assert.equal(200, status)
    assert.equal("pong\n", body)
    local b = ok{ op = "find", args = { "campaign", "other" } }
    assert.same({}, b.result)
    assert.is_false(a:ready(), "the send answered before the request sent after it")
    local s, abody = a:finish()
    assert.equal(200, s)
    local ar = cjson.decode(abody)
    assert.is_nil(ar.err)
    assert.equal(26, #ar.result.batch_id)
  end)

  it("works from an ngx.timer", function()
    local status, body = n:get("/timer")
    assert.equal(200, status)
    local r = cjson.decode(body)
    assert.is_nil(r.err)
    assert.equal("timer", r.phase)
    assert.same({}, r.result)
  end)

  describe("phases without cosockets return a clear error", function()
    it("init", function()
      local _, body = n:get("/result?name=init")
      local v = cjson.decode(body).value
      assert.equal("internal", v.kind)
      assert.equal(phase_message("init"), v.message)
    end)

    it("body_filter_by_lua", function()
      local status, body = n:get("/body_filter")
      assert.equal(200, status)
      assert.equal("body\n" .. phase_message("body_filter"), body)
    end)

    it("init_worker", function()
      local _, body = n:get("/result?name=init_worker")
      local v = cjson.decode(body).value
      assert.equal("internal", v.kind)
      assert.equal(phase_message("init_worker"), v.message)
    end)

    it("set_by_lua", function()
      local _, body = n:get("/set")
      assert.equal("internal: " .. phase_message("set") .. "\n", body)
    end)

    it("header_filter_by_lua", function()
      local status, _, headers = n:get("/header_filter")
      assert.equal(200, status)
      assert.equal(phase_message("header_filter"), headers["x-phase-error"])
    end)

    it("log_by_lua", function()
      local mark = #n:error_log()
      assert.equal(200, (n:get("/log")))
      assert.matches("phase check: " .. phase_message("log"):gsub("%p", "%%%0"), n:error_log_since(mark))
    end)

    it("sent nothing to the sandbox from those phases", function()
      n:get("/set")
      n:get("/header_filter")
      n:get("/body_filter")
      n:get("/log")
      assert.same({}, m:requests())
    end)
  end)
end)

describe("sinch.batch.transport.ngx over HTTPS", function()
  local dir, trusted, untrusted, elsewhere, n, sni_port

  local function sh(cmd)
    assert(mock.run(cmd .. " >/dev/null 2>&1"), cmd)
  end

  -- nginx checks a certificate's DNS names and, without those, its CN (not
  -- IP names): the sandbox's certificate names 127.0.0.1 both ways
  local function make_cert(name, cn, san)
    sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s"
      .. " -addext subjectAltName=%s -keyout %s/%s.key -out %s/%s.crt"):format(cn, san, dir, name, dir, name))
    return dir .. "/" .. name .. ".crt", dir .. "/" .. name .. ".key"
  end

  setup(function()
    local p = io.popen("mktemp -d /tmp/sinch-batch-tls.XXXXXX")
    dir = p:read("*l")
    p:close()
    local crt, key = make_cert("trusted", "127.0.0.1", "IP:127.0.0.1")
    local crt2, key2 = make_cert("untrusted", "127.0.0.1", "IP:127.0.0.1")
    local crt3, key3 = make_cert("elsewhere", "elsewhere.invalid", "DNS:elsewhere.invalid")
    trusted = mock.start{ args = { "--tls-cert", crt, "--tls-key", key } }
    untrusted = mock.start{ args = { "--tls-cert", crt2, "--tls-key", key2 } }
    elsewhere = mock.start{ args = { "--tls-cert", crt3, "--tls-key", key3 } }
    local ca = assert(io.open(dir .. "/ca.pem", "w"))
    ca:write(mock.read_file(crt), mock.read_file(crt3))
    ca:close()
    -- a stand-in API on nginx itself that answers with the SNI name it got
    sni_port = nginx.free_port()
    n = nginx.start{
      http = ("lua_ssl_trusted_certificate %s/ca.pem; lua_ssl_verify_depth 2;"):format(dir) .. ([[
        server {
          listen 127.0.0.1:%d ssl;
          ssl_certificate %s; ssl_certificate_key %s;
          default_type application/json;
          location = /oauth2/token {
            return 200 '{"access_token":"t","expires_in":3600,"token_type":"bearer"}';
          }
          location / { return 200 '[{"batch_id":"sni=$ssl_server_name","status":"PROCESSED"}]'; }
        }
      ]]):format(sni_port, crt, key),
      server = ([[
        set $mock_url "%s";
        location = /call { content_by_lua_block { require("sbtest").call() } }
      ]]):format(trusted.url),
    }
  end)

  teardown(function()
    if n then n:stop() end
    if trusted then trusted:stop() end
    if untrusted then untrusted:stop() end
    if elsewhere then elsewhere:stop() end
    if dir then mock.run("rm -rf " .. dir) end
  end)

  local function call(t)
    local status, body = n:post("/call", cjson.encode(t))
    assert.equal(200, status, body)
    return assert(cjson.decode(body), body)
  end

  -- the sandbox's inspection endpoints over TLS (the curl command-line tool)
  local function inspect(m, what, crt, name)
    local url = m.url
    local connect_to = ""
    if name then -- connect to 127.0.0.1, verify the certificate against name
      url = ("https://%s:%d"):format(name, m.port)
      connect_to = ("--connect-to %s:%d:127.0.0.1:%d"):format(name, m.port, m.port)
    end
    local p = io.popen(("curl -sS --max-time 30 --cacert %s %s %s/_mock/%s")
      :format(crt, connect_to, url, what))
    local out = p:read("*a")
    p:close()
    return assert(cjson.decode(out), out)
  end

  it("verifies the sandbox's certificate and sends", function()
    assert.matches("^https://", trusted.url)
    local r = call{ op = "send", args = { { text = "tls", recipients = { { "+46700000007" } } } } }
    assert.is_nil(r.err, r.err and r.err.text)
    assert.equal(26, #r.result.batch_id)
    assert.equal(1, inspect(trusted, "stats", dir .. "/trusted.crt").batches_accepted)
  end)

  it("refuses a certificate nginx does not trust, before sending anything", function()
    local r = call{ op = "find", url = untrusted.url, args = { "campaign", "x" } }
    assert.equal("tls", r.err.kind)
    assert.matches("TLS handshake with 127%.0%.0%.1:" .. untrusted.port, r.err.message)
    assert.same({}, inspect(untrusted, "requests", dir .. "/untrusted.crt").requests)
  end)

  it("checks that the certificate names the host it connects to", function()
    local r = call{ op = "find", url = elsewhere.url, args = { "campaign", "x" } }
    assert.equal("tls", r.err.kind)
    assert.matches("certificate host mismatch", r.err.message)
    assert.same({}, inspect(elsewhere, "requests", dir .. "/elsewhere.crt", "elsewhere.invalid").requests)
  end)

  it("sends the URL's host as SNI", function()
    local r = call{ op = "find", url = "https://127.0.0.1:" .. sni_port, args = { "campaign", "x" } }
    assert.is_nil(r.err, r.err and r.err.text)
    assert.equal("sni=127.0.0.1", r.result[1].batch_id)
  end)

  it("skips verification only when ssl_verify = false is given", function()
    local r = call{ op = "find", url = untrusted.url, transport = { ssl_verify = false },
                    args = { "campaign", "x" } }
    assert.is_nil(r.err, r.err and r.err.text)
    assert.same({}, r.result)
  end)
end)

describe("examples/openresty", function()
  local m, n

  -- examples/openresty/run.sh against the sandbox m, with env over the
  -- sandbox's credentials (in SINCH_* as for the CLI)
  local function run_example(env)
    local vars = { SINCH_BATCH_BASE_URL = m.url, SINCH_PROJECT_ID = m.project_id,
                   SINCH_KEY_ID = m.key_id, SINCH_KEY_SECRET = m.key_secret,
                   SINCH_WEBHOOK_SECRET = "demo-webhook", SINCH_BATCH_BUILD = nginx.build,
                   SINCH_BATCH_NGINX = nginx.binary }
    for k, v in pairs(env or {}) do vars[k] = v end
    return nginx.run_script("examples/openresty/run.sh", vars)
  end

  local dir, csv_file

  setup(function()
    local p = io.popen("mktemp -d /tmp/sinch-batch-example.XXXXXX")
    dir = p:read("*l")
    p:close()
    assert(mock.run("chmod 755 " .. dir)) -- nginx's workers (nobody, under root) read the CSV
    -- a quoted field with a comma: the logged row is the line as written
    csv_file = dir .. "/contacts.csv"
    local f = assert(io.open(csv_file, "wb"))
    f:write('phone,name\r\n+46700000101,"Ann, Jr"\r\n+46700000102,Bo\r\n+46700000103,Cy\r\n')
    f:close()
    -- the sandbox must know where the callbacks go: a port chosen here
    local port = nginx.free_port()
    m = mock.start{ args = { "--webhook", "http://127.0.0.1:" .. port .. "/callbacks",
                             "--webhook-secret", "demo-webhook" } }
    n = run_example{ SINCH_BATCH_PORT = tostring(port), SINCH_BATCH_CSV = csv_file }
  end)

  teardown(function()
    if n then n:stop() end
    if m then m:stop() end
    if dir then mock.run("rm -rf " .. dir) end
  end)

  it("runs from run.sh on a free port with a prefix of its own and sends a batch", function()
    local other = run_example()
    local ok_run, status, body = pcall(other.post, other, "/send",
      cjson.encode{ to = { "+46700000010" }, text = "Hi ${name}", name = "Di" })
    local prefix = other.prefix
    local conf = mock.read_file(prefix .. "/nginx.conf")
    other:stop()
    assert(ok_run, status)
    assert.equal(200, status, body)
    assert.equal(26, #cjson.decode(body).batch_id)
    assert.matches("^http://127%.0%.0%.1:%d+$", other.url)
    assert.matches("listen 127%.0%.0%.1:" .. other.port .. ";", conf)
    assert.is_nil(conf:match("@%u+@"), "a placeholder was left in nginx.conf")
    assert.matches("\nworker_processes 2;", conf)
    assert.not_equal(n.port, other.port)
    assert.is_nil(mock.read_file(prefix .. "/nginx.conf"), "run.sh left its prefix behind")
  end)

  it("runs as many workers as SINCH_BATCH_WORKERS says", function()
    local one = run_example{ SINCH_BATCH_WORKERS = "1" }
    local conf = mock.read_file(one.prefix .. "/nginx.conf")
    local ok_run, status, body = pcall(one.post, one, "/send",
      cjson.encode{ to = { "+46700000011" }, text = "Hi ${name}", name = "Ed" })
    one:stop()
    assert(ok_run, status)
    assert.equal(200, status, body)
    assert.matches("\nworker_processes 1;", conf)
    assert.is_nil(conf:match("\nworker_processes 2;"))
  end)

  it("sizes the nonce dict from SINCH_BATCH_NONCES and warns once it is full", function()
    local webhook = require "sinch.batch.webhook"
    local small = run_example{ SINCH_BATCH_WORKERS = "1", SINCH_BATCH_NONCES = "64k" }
    local conf = mock.read_file(small.prefix .. "/nginx.conf")
    local body = '{"app_id":"a","project_id":"p","unsupported_callback":{}}'
    local run, statuses = "full-" .. os.time(), {}
    -- 64k holds a few hundred nonces (128 bytes each): 1200 fill it
    local ok_run, err = pcall(function()
      for i = 1, 1200 do
        local st = small:post("/callbacks", body, webhook.sign("demo-webhook", body, run .. i, os.time()))
        statuses[st] = (statuses[st] or 0) + 1
      end
      -- the newest nonces are still there: a replay of the last is refused
      statuses.replay = small:post("/callbacks", body,
        webhook.sign("demo-webhook", body, run .. 1200, os.time()))
    end)
    local log = mock.read_file(small.prefix .. "/logs/error.log") or ""
    small:stop()
    assert(ok_run, err)
    assert.matches("\n *lua_shared_dict sinch_nonces 64k;", conf)
    assert.same({ [200] = 1200, replay = 401 }, statuses)
    local _, warnings = log:gsub("sinch_nonces is full: nonces still inside the replay window", "")
    assert.equal(1, warnings, log:sub(-2000)) -- once a minute at most
    local started, refusal = pcall(run_example, { SINCH_BATCH_NONCES = "lots" })
    assert.is_false(started, "run.sh took SINCH_BATCH_NONCES=lots")
    assert.matches("SINCH_BATCH_NONCES: expected a size such as 64k or 10m, got 'lots'", refusal, 1, true)
  end)

  -- waits (bounded) until the sandbox has posted `count` more callbacks than
  -- `before` (stats of an earlier moment); true when every one was accepted
  local function await_callbacks(before, count)
    local stats
    for _ = 1, 1000 do
      stats = m:stats()
      if stats.webhooks_delivered + stats.webhooks_failed
        >= before.webhooks_delivered + before.webhooks_failed + count then break end
      socket.sleep(0.01)
    end
    assert.equal(before.webhooks_failed, stats.webhooks_failed, "a callback was refused")
    assert.is_true(stats.webhooks_delivered >= before.webhooks_delivered + count,
      "the callbacks did not arrive")
  end

  -- the callbacks the example logged (one JSON object per line of
  -- logs/callbacks.log) for batch id
  local function logged(id)
    local out = {}
    for json in (mock.read_file(n.prefix .. "/logs/callbacks.log") or ""):gmatch("[^\n]+") do
      local e = assert(cjson.decode(json), json)
      if e.batch_id == id then out[#out + 1] = e end
    end
    return out
  end

  local function deliveries(id)
    local out = {}
    for _, e in ipairs(logged(id)) do
      if e.type == "message_delivery" then out[#out + 1] = e end
    end
    table.sort(out, function(a, b) return a.message_index < b.message_index end)
    return out
  end

  -- the workers log each receipt from their flush timer (every 0.2 s):
  -- waits (bounded) for `count` logged deliveries of batch id
  local function await_deliveries(id, count)
    local d
    for _ = 1, 300 do
      d = deliveries(id)
      if #d >= count then break end
      socket.sleep(0.02)
    end
    return d
  end

  it("sends a batch, looks up its status and takes the signed callbacks", function()
    local status, body = n:post("/send", cjson.encode{ to = { "+46700000008", "+46700000009" },
                                                      text = "Hi ${name}", name = "Ann" })
    assert.equal(200, status, body)
    local id = cjson.decode(body).batch_id
    assert.equal(26, #id)
    status, body = n:get("/status/" .. id)
    assert.equal(200, status, body)
    assert.equal(id, cjson.decode(body).batch_id)
    -- the sandbox delivers its callbacks in the background: a batch status
    -- and two deliveries, each verified, parsed and logged with its recipient
    await_callbacks({ webhooks_delivered = 0, webhooks_failed = 0 }, 3)
    local d = await_deliveries(id, 2)
    assert.equal(2, #d)
    for i, e in ipairs(d) do
      assert.equal(i - 1, e.message_index)
      assert.equal(i, e.row) -- the position in "to"
      assert.equal(i == 1 and "+46700000008" or "+46700000009", e.recipient)
      assert.equal("source=openresty-example", e.tag)
      assert.is_nil(e.csv)
    end
  end)

  it("sends a CSV and logs each callback with its original CSV row, from the ledger", function()
    local before = m:stats()
    local status, body = n:post("/send_csv?text=Hi%20%24%7Bname%7D")
    assert.equal(200, status, body)
    local r = cjson.decode(body)
    assert.equal(1, #r.batch_ids)
    assert.equal(3, r.recipients)
    local id = r.batch_ids[1]
    -- the sandbox got the CSV's parameters
    local sent
    for _, q in ipairs(m:requests()) do
      if q.method == "POST" and q.path:match("/messages$") then sent = cjson.decode(q.body) end
    end
    assert.same({ name = "Ann, Jr" }, sent.recipient_and_params[1].parameters)
    -- the ledger the sender wrote holds the CSV lines
    local ledger = assert(require("sinch.batch.ledger").open(n.prefix .. "/ledger/example.ledger"))
    local hit = ledger:lookup(id, 2)
    ledger:close()
    assert.same({ row = 4, recipient = "+46700000103", tag = "source=openresty-csv",
                  batch_id = id, index = 2 }, hit)

    await_callbacks(before, 4) -- a batch status and three deliveries
    local d = await_deliveries(id, 3)
    assert.equal(3, #d)
    local lines = { '+46700000101,"Ann, Jr"', "+46700000102,Bo", "+46700000103,Cy" }
    for i, e in ipairs(d) do
      assert.equal(i - 1, e.message_index)
      assert.equal(i + 1, e.row) -- line 1 is the header
      assert.equal(lines[i], e.csv)
      assert.equal(lines[i]:match("^[^,]+"), e.recipient)
      assert.equal("source=openresty-csv", e.tag)
      assert.is_string(e.status)
    end
  end)

  it("stores the receipts off the request path and reports them per ledger tag", function()
    local before = m:stats()
    local status, body = n:post("/send_csv?text=Hi%20%24%7Bname%7D")
    assert.equal(200, status, body)
    local id = cjson.decode(body).batch_ids[1]
    await_callbacks(before, 4) -- a batch status and three deliveries
    -- the workers' timers write the store every 0.2 s: wait (bounded) for it
    local r
    for _ = 1, 300 do
      status, body = n:get("/report?campaign=" .. "source%3Dopenresty-csv")
      assert.equal(200, status, body)
      r = cjson.decode(body)
      if r.delivered + r.failed >= 6 then break end -- two CSV sends so far
      socket.sleep(0.02)
    end
    assert.equal("source=openresty-csv", r.campaign)
    assert.equal(2, r.batches)
    assert.equal(6, r.recipients)
    assert.equal(6, r.delivered)
    assert.equal(0, r.pending)
    -- a browser (Accept: text/html) gets the same report as the page
    local page, headers
    status, page, headers = n:get("/report?campaign=source%3Dopenresty-csv",
      { Accept = "text/html,application/xhtml+xml,*/*;q=0.8" })
    assert.equal(200, status, page)
    assert.matches("^text/html", headers["content-type"])
    assert.matches('data-campaign="source=openresty-csv"', page, 1, true)
    assert.matches('data-field="delivered">6<', page, 1, true)
    assert.matches('id="c1-receipts"', page, 1, true)
    -- the store holds this batch's three receipts, each once
    local store = assert(require("sinch.batch.outcomes").open(n.prefix .. "/ledger/receipts.db"))
    local rows = assert(store.db:prepare("SELECT count(*) FROM receipts WHERE batch_id = ?"))
    assert.equal(3, assert(rows:rows(id))[1][1])
    rows:close()
    store:close()
  end)

  it("stores receipts the fast path declines as the full parse reads them", function()
    -- the batch named in the report's metadata, an escaped status, a numeric
    -- index in a string: webhook.receipt says nil, webhook.parse decides
    local webhook = require "sinch.batch.webhook"
    local run = "slow-" .. os.time()
    local bodies = {
      ('{"message_delivery_report":{"message_id":"%s-1","status":"DELIVERED",'
        .. '"metadata":"{\\"_batch_id\\":\\"%s\\",\\"messageIndex\\":4}"}}'):format(run, run),
      ('{"message_delivery_report":{"message_id":"%s-2","status":"FAIL\\u0045D",'
        .. '"reason":{"code":"RECIPIENT_NOT_REACHABLE"}},'
        .. '"message_metadata":"{\\"batchId\\":\\"%s\\",\\"messageIndex\\":\\"5\\"}"}'):format(run, run),
    }
    for i, body in ipairs(bodies) do
      assert.is_nil(webhook.receipt(body))
      assert.equal("message_delivery", webhook.parse(body).type)
      local headers = webhook.sign("demo-webhook", body, run .. "-" .. i, os.time())
      assert.equal(200, (n:post("/callbacks", body, headers)))
    end
    -- answered 200 only once stored
    local store = assert(require("sinch.batch.outcomes").open(n.prefix .. "/ledger/receipts.db"))
    local q = assert(store.db:prepare("SELECT message_id, msg_index, status, reason FROM receipts "
      .. "WHERE batch_id = ? ORDER BY message_id"))
    local rows = assert(q:rows(run))
    q:close()
    store:close()
    assert.same({ { run .. "-1", 4, "DELIVERED" }, { run .. "-2", 5, "FAILED", "RECIPIENT_NOT_REACHABLE" } },
      rows)
  end)

  it("takes a signed callback once and refuses its replay, across workers", function()
    local webhook = require "sinch.batch.webhook"
    local body = '{"app_id":"a","project_id":"p","unsupported_callback":{}}'
    local headers = webhook.sign("demo-webhook", body, "replay-nonce-" .. os.time(), os.time())
    assert.equal(200, (n:post("/callbacks", body, headers)))
    assert.equal(401, (n:post("/callbacks", body, headers)))
  end)

  it("refuses a callback with a bad signature", function()
    local status = n:post("/callbacks", "{}", { ["x-sinch-webhook-signature"] = "bad",
      ["x-sinch-webhook-signature-nonce"] = "n", ["x-sinch-webhook-signature-timestamp"] = "1" })
    assert.equal(401, status)
  end)
end)
