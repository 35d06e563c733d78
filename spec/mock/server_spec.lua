-- sinch-batch-mock: the process itself -- start, stop, flags, routes, TLS.
local mock = require "support.mock"
local cjson = require "cjson.safe"

local function run_capture(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  return out
end

describe("sinch-batch-mock process", function()
  it("prints port=N on the first line and stops with exit 0 on SIGTERM", function()
    local m = mock.start{}
    assert.matches("^port=" .. m.port .. "\n", m:stdout())
    assert.equal(200, (m:get("/_mock/stats")))
    assert.equal(0, m:stop())
  end)

  it("binds 127.0.0.1 by default", function()
    local m = mock.start{}
    assert.matches("listening on http://127%.0%.0%.1:" .. m.port, m:stdout())
    m:stop()
  end)

  it("exits by itself after --lifetime", function()
    local m = mock.start{ lifetime = 1 }
    local code
    for _ = 1, 300 do
      code = m:exited()
      if code then break end
      require("socket").sleep(0.01)
    end
    assert.equal(0, code)
    m:stop()
  end)

  it("refuses unknown options and bad numbers with the rule", function()
    local bin = mock.binary()
    local out = run_capture(bin .. " --port 70000")
    assert.matches("%-%-port: '70000' is not a whole number in 0%.%.65535", out)
    assert.matches("rc=2", out)
    out = run_capture(bin .. " --colour red")
    assert.matches("%-%-colour: unknown option", out)
    assert.matches("rc=2", out)
  end)

  it("knows every --project-id it is given, and no other", function()
    local m = mock.start{ args = { "--project-id", "p1", "--project-id", "p2" } }
    local auth = { Authorization = "Bearer " .. m:token() }
    assert.equal(404, (m:get("/v1/projects/p1/messages/X", auth)))
    local _, raw = m:get("/v1/projects/p2/messages/X", auth)
    assert.equal("NOT_FOUND", cjson.decode(raw).error.status)
    assert.matches("^batch_id:", cjson.decode(raw).error.message)
    _, raw = m:get("/v1/projects/demo-project/messages/X", auth)
    assert.matches("^project_id:", cjson.decode(raw).error.message)
    m:stop()
  end)

  it("answers 404 in the API's error shape for an unknown route", function()
    local m = mock.start{}
    local status, raw = m:get("/v2/nothing")
    assert.equal(404, status)
    assert.same({ code = 404, message = "no route for GET /v2/nothing (is the region or "
                  .. "base_url right?)", status = "NOT_FOUND", details = {} },
                cjson.decode(raw).error)
    m:stop()
  end)

  it("names the path and the project in every 404, so a wrong region or base_url shows", function()
    local m = mock.start{}
    local auth = { Authorization = "Bearer " .. m:token() }
    local cases = {
      { "/v2/nothing", "^no route for GET /v2/nothing %(is the region or base_url right%?%)$" },
      { "/v1/projects/demo-project/messages/a/b", "^no route for GET "
        .. "/v1/projects/demo%-project/messages/a/b in project 'demo%-project' %(is the region" },
      { "/v1/projects/demo-project/nothing", "^no route for GET /v1/projects/demo%-project/"
        .. "nothing in project 'demo%-project'" },
      { "/v1/projects/eu-project/messages", "^project_id: project 'eu%-project' is not known "
        .. "here %(GET /v1/projects/eu%-project/messages; is the region or base_url right%?%)$" },
      { "/v1/projects/demo-project/messages/01NOSUCH", "^batch_id: no batch '01NOSUCH' in "
        .. "project 'demo%-project' %(GET /v1/projects/demo%-project/messages/01NOSUCH; is the" },
      { "/_mock/nothing", "^no route for GET /_mock/nothing" },
    }
    for _, c in ipairs(cases) do
      local status, raw = m:get(c[1], auth)
      assert.equal(404, status, c[1])
      assert.matches(c[2], cjson.decode(raw).error.message)
    end
    m:stop()
  end)

  it("answers a 404 in JSON for a path that is not UTF-8 once decoded", function()
    local m = mock.start{}
    local status, raw = m:get("/v2/%FFnothing")
    m:stop()
    assert.equal(404, status)
    local e = assert(cjson.decode(raw)).error
    assert.matches("^no route for GET /v2/%?nothing", e.message)
  end)

  it("records method, path, query, lower-case headers and the raw body", function()
    local m = mock.start{}
    local token = m:token()
    m:request("GET", m:path("/messages?metadataKey=a%20b&metadataValue=v"), nil,
              { Authorization = "Bearer " .. token, ["X-Trace"] = "t1" })
    m:post(m:path("/messages"), '{"raw": true }', { Authorization = "Bearer " .. token })
    local reqs = m:requests()
    assert.equal(3, #reqs)
    assert.equal("GET", reqs[2].method)
    assert.equal("/v1/projects/demo-project/messages", reqs[2].path)
    assert.equal("metadataKey=a%20b&metadataValue=v", reqs[2].query)
    assert.equal("t1", reqs[2].headers["x-trace"])
    assert.equal(1, reqs[2].token_index)
    assert.equal('{"raw": true }', reqs[3].body)
    -- /_mock requests are not recorded
    assert.equal(3, #m:requests())
    m:stop()
  end)

  it("records a UTF-8 body as it is, and marks bytes that are not UTF-8", function()
    local m = mock.start{}
    local auth = { Authorization = "Bearer " .. m:token() }
    m:post(m:path("/messages"), '{"text":"h\195\169j"}', auth)
    m:post(m:path("/messages"), 'a\255b', auth)
    local reqs = m:requests()
    assert.equal('{"text":"h\195\169j"}', reqs[2].body)
    assert.equal("a?b", reqs[3].body)
    m:stop()
  end)

  it("serves HTTPS with --tls-cert and --tls-key", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(mock.run("mkdir -p " .. dir))
    assert(mock.run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                    .. "-keyout " .. dir .. "/key.pem -out " .. dir .. "/cert.pem >/dev/null 2>&1"))
    local m = mock.start{ args = { "--tls-cert", dir .. "/cert.pem", "--tls-key", dir .. "/key.pem" } }
    assert.matches("^https://", m.url)
    local out = run_capture("curl -s --cacert " .. dir .. "/cert.pem " .. m.url .. "/_mock/stats")
    assert.matches('"batches_accepted":0', out)
    -- plain HTTP on the TLS port gets no answer
    assert.is_nil((m:get("/_mock/stats")))
    m:stop()
    mock.run("rm -rf " .. dir)
  end)
end)
