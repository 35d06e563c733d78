-- HTTP/2 and TLS through the libcurl driver: a real nginx, terminating TLS
-- with a certificate made here and speaking HTTP/2, proxies to the sandbox.
-- nginx's access log records the protocol of each request it served
-- ($server_protocol) and the connection it came on ($connection), so the
-- spec shows what a user would check with tcpdump: the client negotiated
-- HTTP/2 and kept one connection for the token fetch and every API call.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"
local nginx = require "support.nginx"

local M, R = batch.message, batch.recipient
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "h2-Zq9!distinctive-key-secret"

local function sh(cmd)
  assert(mock.run(cmd .. " >/dev/null 2>&1"), cmd)
end

describe("the libcurl driver over TLS", function()
  local dir, cert, other_cert, m

  setup(function()
    local p = io.popen("mktemp -d /tmp/sinch-batch-h2.XXXXXX")
    dir = p:read("*l")
    p:close()
    assert(dir and dir ~= "")
    for _, name in ipairs{ "proxy", "other" } do
      sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
        .. " -addext subjectAltName=IP:127.0.0.1 -keyout %s/%s.key -out %s/%s.crt")
        :format(dir, name, dir, name))
    end
    cert, other_cert = dir .. "/proxy.crt", dir .. "/other.crt"
    m = mock.start()
  end)

  teardown(function()
    if m then m:stop() end
    if dir then mock.run("rm -rf '" .. dir .. "'") end
  end)

  -- Runs fn(https_url) with nginx (TLS, http2) in front of the sandbox, stops
  -- nginx (a graceful stop: every log line is written by then) and returns
  -- the access log as an array of { protocol, connection, method, uri, status }.
  local function through_proxy(fn)
    local log = dir .. "/access.log"
    os.remove(log)
    local n = nginx.start{ conf = function(prefix, port)
      return ([[
%s
worker_processes 1;
daemon off;
master_process on;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 64; }
http {
  log_format proto '$server_protocol $connection $request_method $uri $status';
  access_log %s proto;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  server {
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s;
    ssl_certificate_key %s/proxy.key;
    location / {
      proxy_pass http://127.0.0.1:%d;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
]]):format(nginx.is_root() and "user root;" or "", prefix, prefix, log, prefix, prefix, prefix,
        prefix, prefix, port, cert, dir, m.port)
    end }
    local ok, err = pcall(fn, ("https://127.0.0.1:%d"):format(n.port))
    local code = n:stop()
    if not ok then error(err, 0) end
    assert.equal(0, code)
    local lines = {}
    for line in (mock.read_file(log) or ""):gmatch("[^\n]+") do
      local proto, conn, method, uri, status = line:match("^(%S+) (%d+) (%S+) (%S+) (%d+)$")
      assert(proto, "unexpected access log line: " .. line)
      lines[#lines + 1] = { proto, conn, method, uri, tonumber(status) }
    end
    return lines
  end

  local function new_client(url, extra)
    local o = { project_id = m.project_id, app_id = APP, base_url = url, auth_url = url,
                key_id = m.key_id, key_secret = m.key_secret, ca_file = cert }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(batch.client(o))
  end

  before_each(function() m:reset() end)

  it("speaks HTTP/2 when the server offers it, on one kept-alive connection", function()
    local sent, st
    local log = through_proxy(function(url)
      local c = new_client(url)
      sent = assert(c:send{ message = M.text("Hi ${name}"), batch_metadata = { campaign = "h2" },
        recipients = { { recipient = R.sms("+46700000001"), parameters = { name = "Ann" } } } })
      st = assert(c:status(sent.batch_id))
      assert(c:find("campaign", "h2"))
      c:close()
    end)
    assert.is_string(sent.batch_id)
    assert.equal(sent.batch_id, st.batch_id)
    local path = "/v1/projects/" .. m.project_id .. "/messages"
    assert.same({
      { "HTTP/2.0", log[1][2], "POST", "/oauth2/token", 200 },
      { "HTTP/2.0", log[1][2], "POST", path, 200 },
      { "HTTP/2.0", log[1][2], "GET", path .. "/" .. sent.batch_id, 200 },
      { "HTTP/2.0", log[1][2], "GET", path, 200 },
    }, log)
    -- and the sandbox behind the proxy got the body the client wrote
    local reqs = m:requests()
    assert.equal(4, #reqs)
    assert.same({ { recipient = { identified_by = { channel_identities = {
      { channel = "SMS", identity = "+46700000001" } } } }, parameters = { name = "Ann" } } },
      cjson.decode(reqs[2].body).recipient_and_params)
  end)

  it("speaks HTTP/1.1 when told to (http2 = false)", function()
    local log = through_proxy(function(url)
      local c = new_client(url, { http2 = false })
      assert(c:find("campaign", "h1"))
      c:close()
    end)
    assert.equal(2, #log)
    for _, l in ipairs(log) do assert.equal("HTTP/1.1", l[1]) end
  end)

  it("verifies the certificate: an unknown issuer is kind tls, no secret shown", function()
    local res, err
    local log = through_proxy(function(url)
      local c = new_client(url, { ca_file = other_cert, key_secret = SECRET })
      res, err = c:find("campaign", "x")
      c:close()
    end)
    assert.is_nil(res)
    assert.equal("tls", err.kind)
    assert.is_nil(tostring(err):find(SECRET, 1, true))
    assert.same({}, log) -- nothing got through
    assert.equal(0, #m:requests())
  end)

  it("skips verification only when told to (insecure = true)", function()
    local log = through_proxy(function(url)
      local c = new_client(url, { ca_file = other_cert, insecure = true })
      assert(c:find("campaign", "x"))
      c:close()
    end)
    assert.equal(2, #log)
  end)
end)
