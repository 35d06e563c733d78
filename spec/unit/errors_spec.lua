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
    assert.equal("sinch.batch: refused by the API: HTTP 400 INVALID_ARGUMENT: app_id: required",
      tostring(errors.new("http", "HTTP 400 INVALID_ARGUMENT: app_id: required",
        { status = 400, api_status = "INVALID_ARGUMENT" })))
    assert.equal("sinch.batch: not authorized (HTTP 401 UNAUTHENTICATED): the token endpoint refused the key",
      tostring(errors.new("auth", "the token endpoint refused the key",
        { status = 401, api_status = "UNAUTHENTICATED" })))
    assert.equal("sinch.batch: invalid request: recipients: a batch needs at least 1 recipient",
      tostring(errors.new("invalid", "recipients: a batch needs at least 1 recipient")))
  end)

  it("returns nil, err from fail", function()
    local v, e = errors.fail("timeout", "deadline passed")
    assert.is_nil(v)
    assert.equal("timeout", e.kind)
  end)

  it("says every kind in words, and an unknown kind as '<kind> error'", function()
    for kind, words in pairs(errors.words) do
      assert.equal("sinch.batch: " .. words .. ": m", tostring(errors.new(kind, "m")))
      assert.is_nil(words:find(" error: ", 1, true))
    end
    assert.equal("sinch.batch: newkind error: m", tostring(errors.new("newkind", "m")))
  end)

  -- the interpreter running this suite, as a command (busted --lua=...)
  local interp = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d%.%d"))

  local function run(code)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write('package.path = "lua/?.lua;lua/?/init.lua;" .. package.path\n', code)
    f:close()
    local p = assert(io.popen(interp .. " " .. script .. " 2>&1; echo \"rc=$?\""))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    return out
  end

  it("shows the error through a plain assert(...) and error(...), uncaught (" .. interp .. ")", function()
    for _, raise in ipairs{ "assert(errors.fail('invalid', 'recipients: none'))",
                            "error(errors.new('invalid', 'recipients: none'))" } do
      local out = run("local errors = require 'sinch.batch.errors'\n" .. raise .. "\n")
      assert.matches("sinch.batch: invalid request: recipients: none", out, 1, true)
      assert.matches("rc=1", out, 1, true)
      assert.is_nil(out:find("bad argument", 1, true))
      assert.is_nil(out:find("not a string", 1, true))
    end
  end)

  it("keeps the error's fields through pcall(assert, ...) except under PUC 5.1 (its text)", function()
    local out = run([[
local errors = require "sinch.batch.errors"
local ok, e = pcall(assert, errors.fail("timeout", "deadline passed"))
print(ok, type(e), errors.is(e, "timeout"), tostring(e))
-- other messages as the interpreter says them
print(select(2, pcall(assert, false)))
print(select(2, pcall(assert, nil, "plain")))
print(select(2, pcall(assert, nil, 42)))
print(select("#", assert(1, 2, 3)), assert(1, 2, 3))
]])
    local puc51 = interp == "lua5.1"
    assert.matches(puc51 and "false\tstring\tfalse\tsinch.batch: timed out: deadline passed"
      or "false\ttable\ttrue\tsinch.batch: timed out: deadline passed", out, 1, true)
    assert.matches("\nassertion failed!\nplain\n42\n3\t1\t2\t3\nrc=0", out, 1, true)
    assert.equal(interp == "lua5.1" or interp == "lua5.2", errors.wraps_assert)
  end)

  it("lets the library's own code catch its errors as tables, under every interpreter", function()
    -- the CLI and the campaign raise and catch errors of this library and read
    -- their kind; under PUC 5.1 only a user's call gets the text
    local out = run([[
local errors = require "sinch.batch.errors"
local lib = assert((loadstring or load)([=[
  local errors = require "sinch.batch.errors"
  return function() error(errors.new("invalid", "journal refused")) end,
         function() assert(errors.fail("invalid", "journal refused")) end
]=], "@lua/sinch/batch/campaign/fake.lua"))
local raise, check = lib()
for _, f in ipairs{ raise, check } do
  local ok, e = pcall(f)
  print(ok, errors.is(e, "invalid"), tostring(e))
end
]])
    assert.matches(("false\ttrue\tsinch.batch: invalid request: journal refused\n"):rep(2) .. "rc=0", out,
      1, true)
  end)
end)
