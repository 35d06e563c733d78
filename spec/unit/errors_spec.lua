local errors = require "sinch.batch.errors"

describe("sinch.batch.errors", function()
  it("builds error tables with a kind, defaults and extra fields", function()
    local e = errors.new("json", "HTTP 200: the response is not JSON (3 bytes)", { status = 200 })
    assert.equal("json", e.kind)
    assert.is_false(e.retryable)
    assert.is_false(e.may_have_been_processed)
    assert.equal(200, e.status)
    assert.is_true(errors.is(e))
    assert.is_true(errors.is(e, "json"))
    assert.is_false(errors.is(e, "http"))
    assert.is_false(errors.is({ kind = "json" }))
  end)

  it("says the HTTP status once in tostring", function()
    assert.equal("sinch.batch: http error: HTTP 400 INVALID_ARGUMENT: app_id: required",
      tostring(errors.new("http", "HTTP 400 INVALID_ARGUMENT: app_id: required",
        { status = 400, api_status = "INVALID_ARGUMENT" })))
    assert.equal("sinch.batch: auth error (HTTP 401 UNAUTHENTICATED): the token endpoint refused the key",
      tostring(errors.new("auth", "the token endpoint refused the key",
        { status = 401, api_status = "UNAUTHENTICATED" })))
    assert.equal("sinch.batch: invalid error: recipients: a batch needs at least 1 recipient",
      tostring(errors.new("invalid", "recipients: a batch needs at least 1 recipient")))
  end)

  it("returns nil, err from fail", function()
    local v, e = errors.fail("timeout", "deadline passed")
    assert.is_nil(v)
    assert.equal("timeout", e.kind)
  end)
end)
