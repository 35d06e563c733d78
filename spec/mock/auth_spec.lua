-- sinch-batch-mock: OAuth2 client credentials and bearer checks, over raw HTTP.
local mock = require "support.mock"
local cjson = require "cjson.safe"

local FORM = { ["Content-Type"] = "application/x-www-form-urlencoded" }

local function form_headers(auth)
  return { ["Content-Type"] = FORM["Content-Type"], ["Authorization"] = auth }
end

describe("sinch-batch-mock auth", function()
  local m

  setup(function()
    m = mock.start{ args = { "--token-ttl", "120", "--key-id", "kid", "--key-secret", "s3cret!" } }
    m.key_id, m.key_secret = "kid", "s3cret!"
  end)

  teardown(function()
    if m then m:stop() end
  end)

  before_each(function() m:reset() end)

  it("issues a bearer token for the configured Basic credentials", function()
    local status, body, headers = m:post("/oauth2/token", "grant_type=client_credentials",
                                         form_headers(m:basic()))
    assert.equal(200, status)
    assert.matches("application/json", headers["content-type"])
    local t = cjson.decode(body)
    assert.is_string(t.access_token)
    assert.is_true(#t.access_token > 16)
    assert.equal(120, t.expires_in)
    assert.equal("bearer", t.token_type)
    assert.equal("", t.scope)
    assert.equal(1, m:stats().tokens_issued)
  end)

  it("refuses a wrong secret with invalid_client and never echoes it", function()
    local status, body = m:post("/oauth2/token", "grant_type=client_credentials",
                                form_headers(m:basic("kid", "wrong-secret")))
    assert.equal(401, status)
    local e = cjson.decode(body)
    assert.equal("invalid_client", e.error)
    assert.matches("client authentication failed", e.error_description)
    assert.is_nil(body:find("wrong%-secret"))
    assert.is_nil(body:find("s3cret"))
  end)

  it("refuses a missing Authorization header", function()
    local status, body = m:post("/oauth2/token", "grant_type=client_credentials", FORM)
    assert.equal(401, status)
    assert.equal("invalid_client", cjson.decode(body).error)
  end)

  it("refuses another grant type", function()
    local status, body = m:post("/oauth2/token", "grant_type=password", form_headers(m:basic()))
    assert.equal(400, status)
    local e = cjson.decode(body)
    assert.equal("unsupported_grant_type", e.error)
    assert.equal("grant_type: must be client_credentials", e.error_description)
  end)

  it("answers 401 UNAUTHENTICATED for a missing or unknown bearer token", function()
    local status, body, headers = m:get(m:path("/messages/01ABC"))
    assert.equal(401, status)
    local e = cjson.decode(body).error
    assert.same({ 401, "UNAUTHENTICATED" }, { e.code, e.status })
    assert.matches("missing a Bearer token", e.message)
    assert.same({}, e.details)
    assert.is_nil(headers["www-authenticate"])

    status, body, headers = m:get(m:path("/messages/01ABC"), { Authorization = "Bearer nope" })
    assert.equal(401, status)
    e = cjson.decode(body).error
    assert.equal("UNAUTHENTICATED", e.status)
    assert.equal("The bearer token is not valid", e.message)
    assert.is_nil(headers["www-authenticate"])
  end)

  it("accepts a fresh token and reports expiry once the clock passes its ttl", function()
    local token = m:token()
    local auth = { Authorization = "Bearer " .. token }
    local status = m:get(m:path("/messages/01UNKNOWN"), auth)
    assert.equal(404, status) -- authorised: the batch is just unknown

    m:advance(119)
    assert.equal(404, (m:get(m:path("/messages/01UNKNOWN"), auth)))

    m:advance(2)
    local body, headers
    status, body, headers = m:get(m:path("/messages/01UNKNOWN"), auth)
    assert.equal(401, status)
    local e = cjson.decode(body).error
    assert.equal("UNAUTHENTICATED", e.status)
    assert.equal("The bearer token has expired", e.message)
    assert.equal('Bearer error="invalid_token", error_description="expired"',
                 headers["www-authenticate"])
    assert.is_nil(body:find(token, 1, true))

    -- a new token works again
    assert.equal(404, (m:get(m:path("/messages/01UNKNOWN"), { Authorization = "Bearer " .. m:token() })))
  end)

  it("records which token each request used, with Authorization redacted", function()
    local t1, t2 = m:token(), m:token()
    m:get(m:path("/messages/X"), { Authorization = "Bearer " .. t2 })
    m:get(m:path("/messages/Y"), { Authorization = "Bearer " .. t1 })
    local reqs = m:requests()
    assert.equal(4, #reqs)
    assert.equal("/oauth2/token", reqs[1].path)
    assert.equal("Basic <redacted>", reqs[1].headers.authorization)
    assert.equal(0, reqs[1].token_index)
    assert.equal("Bearer <redacted>", reqs[3].headers.authorization)
    assert.equal(reqs[4].token_index + 1, reqs[3].token_index)
    assert.equal("/v1/projects/demo-project/messages/X", reqs[3].path)
    local all = cjson.encode(reqs)
    assert.is_nil(all:find(t1, 1, true))
    assert.is_nil(all:find(t2, 1, true))
    assert.is_nil(all:find("s3cret", 1, true))
  end)

  it("answers 404 for an unknown project after the token check", function()
    local status = m:request("GET", "/v1/projects/other-project/messages/X")
    assert.equal(401, status)
    local body
    status, body = m:request("GET", "/v1/projects/other-project/messages/X", nil,
                             { Authorization = "Bearer " .. m:token() })
    assert.equal(404, status)
    local e = cjson.decode(body).error
    assert.equal("NOT_FOUND", e.status)
    assert.equal("project_id: project 'other-project' is not known here (GET "
                 .. "/v1/projects/other-project/messages/X; is the region or base_url right?)",
                 e.message)
  end)
end)
