-- The C contract of sinch.batch.core's Client and Call: misuse raises,
-- failures return nil, err, close is idempotent, nothing leaks, and no
-- secret shows in tostring or errors.
local core = require "sinch.batch.core"
local batch = require "sinch.batch"

local SECRET = "s3cr3t-key-secret-value"

local function new_client(extra)
  local o = { project_id = "p1", region = "eu", key_id = "kid", key_secret = SECRET }
  for k, v in pairs(extra or {}) do o[k] = v end
  -- not a tail call: the argument errors name 'client' (luaL_argerror takes
  -- the name from the call; LuaJIT names the caller of a tail call)
  local c, err = core.client(o)
  return c, err
end

describe("sinch.batch.core", function()
  it("reports one version, the same as the Lua facade", function()
    assert.is_string(core._VERSION)
    assert.equal(batch._VERSION, core._VERSION)
    assert.is_nil(core.curl_version)
    local curl = require "sinch.batch.curl"
    assert.matches("^libcurl/%d", curl.version)
    assert.equal(core._VERSION, curl._VERSION)
  end)

  describe("client", function()
    it("raises naming the option on wrong types", function()
      assert.has_error(function() core.client{ project_id = 1 } end,
        "bad argument #1 to 'client' (opts.project_id: expected a string, got number)")
      assert.has_error(function() core.client{ project_id = "p", timeout_ms = "x" } end,
        "bad argument #1 to 'client' (opts.timeout_ms: expected a number, got string)")
      assert.has_error(function() core.client("p") end)
    end)

    it("lists its options in core.CLIENT_OPTIONS, the list batch.client takes them from", function()
      local n = 0
      for name, kind in pairs(core.CLIENT_OPTIONS) do
        n = n + 1
        local wrong = kind == "string" and {} or "x"
        assert.has_error(function() new_client{ [name] = wrong } end,
          "bad argument #1 to 'client' (opts." .. name .. ": expected a " .. kind .. ", got "
            .. type(wrong) .. ")")
        -- the Lua client knows it (in seconds without _ms) and checks its type too
        local lua_name = name:match("^(.*)_ms$") or name
        local ok, err = pcall(batch.client, { project_id = "p", region = "eu", [lua_name] = wrong })
        assert.is_false(ok)
        assert.matches("opts%." .. lua_name .. ": ", tostring(err))
        assert.is_nil(tostring(err):find("unknown", 1, true), tostring(err))
      end
      assert.equal(19, n)
    end)

    it("takes only a boolean for insecure: a truthy string does not turn verification off",
      function()
        for _, v in ipairs{ "false", "true", 0, 1, {} } do
          assert.has_error(function() new_client{ insecure = v } end,
            "bad argument #1 to 'client' (opts.insecure: expected a boolean, got " .. type(v) .. ")")
        end
        assert.is_truthy(new_client{ insecure = false })
        assert.is_truthy(new_client{ insecure = true })
      end)

    it("range-checks every duration: NaN, inf, 1e300 and negatives are misuse", function()
      local max = 604800000
      for _, key in ipairs{ "timeout_ms", "deadline_ms", "backoff_base_ms", "backoff_max_ms",
                            "refresh_ahead_ms", "connect_timeout_ms" } do
        for _, v in ipairs{ math.huge, -math.huge, 0 / 0, 1e300, -1, max + 1 } do
          assert.has_error(function() new_client{ [key] = v } end,
            "bad argument #1 to 'client' (opts." .. key .. ": must be a number from 0 to "
              .. max .. ")")
        end
        assert.is_truthy(new_client{ [key] = max })
      end
      assert.has_error(function() new_client{ max_attempts = 1e300 } end,
        "bad argument #1 to 'client' (opts.max_attempts: must be a number from 0 to 1000)")
      assert.has_error(function() new_client{ seed = -1 } end,
        "bad argument #1 to 'client' (opts.seed: must be a number from 0 to 9007199254740991)")
      assert.has_error(function() new_client{ http2 = 1 } end,
        "bad argument #1 to 'client' (opts.http2: expected a boolean, got number)")
      local c = new_client{ token = "t", key_id = nil, key_secret = nil }
      for _, now in ipairs{ 0 / 0, math.huge, 1e300, -1 } do
        assert.has_error(function() c:start("status", nil, "b1", nil, now) end)
      end
    end)

    it("returns nil, err for an invalid configuration", function()
      local c, err = core.client{ project_id = "p", region = "xx", token = "t" }
      assert.is_nil(c)
      assert.equal("invalid", err.kind)
      assert.matches("region", err.message)
      assert.is_false(err.retryable)
      c, err = core.client{ region = "eu", token = "t" }
      assert.is_nil(c)
      assert.matches("project_id", err.message)
    end)

    it("maps the region to its URL and shows no secret in tostring", function()
      local c = assert(new_client())
      local base, project, region = c:info()
      assert.equal("https://eu.conversationbatch.api.sinch.com", base)
      assert.equal("p1", project)
      assert.equal("eu", region)
      local s = tostring(c)
      assert.equal("sinch.batch.Client (eu, project p1)", s)
      assert.is_nil(s:find(SECRET, 1, true))
      assert.is_nil(s:find("kid", 1, true))
    end)

    it("refuses a token that would split a header, and says why", function()
      local c = assert(new_client())
      local msg = "bad argument #1 to 'set_token' (token: a non-empty string of printable ASCII "
        .. "(no control characters: it goes into a header))"
      assert.has_error(function() c:set_token("tok\r\nX-Evil: 1", 1e13) end, msg)
      assert.has_error(function() c:set_token("", 1e13) end, msg)
      assert.is_nil(c:token(0))
      c:set_token("good-token", 1e13)
      assert.equal("good-token", (c:token(0)))
      c:close()
    end)

    it("closes idempotently and refuses use after close", function()
      local c = assert(new_client())
      c:close()
      c:close()
      assert.equal("sinch.batch.Client (closed)", tostring(c))
      assert.has_error(function() c:info() end, "attempt to use a closed client")
    end)

    it("closes a facade client at the end of a <close> scope on Lua 5.4", function()
      if _VERSION ~= "Lua 5.4" or rawget(_G, "jit") then return end
      local f = assert(load([[
        local batch = ...
        local kept
        do
          local c <close> = assert(batch.client{ project_id = "p1", region = "eu", token = "t" })
          kept = c
        end
        return kept]]))
      local c = f(batch)
      assert.is_true(c.closed)
      assert.equal("sinch.batch.Client (closed)", tostring(c))
    end)

    it("checks the operation name", function()
      local c = assert(new_client())
      assert.has_error(function() c:start("explode") end)
      assert.has_error(function() c:start("status") end) -- batch id missing
    end)

    it("does not leak when 40,000 clients are created and collected", function()
      -- Lua's own count cannot see what the C core mallocs (a client whose
      -- __gc frees nothing loses ~1 KB of C memory), so the process's
      -- resident size is measured too: after a first round has grown the
      -- allocator's pools, more rounds reuse the freed memory.
      local function rss_kb()
        local f = assert(io.open("/proc/self/statm"))
        local resident = tonumber(f:read("*a"):match("^%d+ (%d+)"))
        f:close()
        return resident * 4
      end
      local function round()
        for i = 1, 10000 do
          local c = new_client()
          if i % 3 == 0 then assert(c:start("status", nil, "01BATCH", 0)) end -- a call, dropped
          if i % 2 == 0 then c:close() end
        end
        collectgarbage()
        collectgarbage()
      end
      round()
      local lua_before, rss_before = collectgarbage("count"), rss_kb()
      for _ = 1, 4 do round() end
      assert.is_true(collectgarbage("count") - lua_before < 256)
      local grown = rss_kb() - rss_before
      -- a client whose __gc frees nothing leaks ~24 MB over these 40,000;
      -- the bound leaves room for the allocator's noise beside other specs
      assert.is_true(grown < 8192, ("40,000 clients grew the process by %d KB"):format(grown))
    end)
  end)

  describe("call (sans-I/O)", function()
    it("asks for a token first, then the API request, and decodes the answer", function()
      local c = assert(new_client{ base_url = "http://127.0.0.1:9", auth_url = "http://127.0.0.1:9" })
      local call = assert(c:start("status", nil, "01BATCH", nil, 1000))
      local kind, req = call:next(1000)
      assert.equal("perform", kind)
      assert.is_true(req.token_request)
      assert.equal("POST", req.method)
      assert.equal("http://127.0.0.1:9/oauth2/token", req.url)
      assert.equal("grant_type=client_credentials", req.body)
      assert.truthy(call:feed(1010, 200, { ["Content-Type"] = "application/json" },
        '{"access_token":"tok-1","expires_in":3600,"token_type":"bearer"}'))
      kind, req = call:next(1020)
      assert.equal("perform", kind)
      assert.is_false(req.token_request)
      assert.equal("GET", req.method)
      assert.equal("http://127.0.0.1:9/v1/projects/p1/messages/01BATCH", req.url)
      local auth
      for k, v in pairs(req.headers) do if k:lower() == "authorization" then auth = v end end
      assert.equal("Bearer tok-1", auth)
      assert.truthy(call:feed(1030, 200, {}, '{"batch_id":"01BATCH","status":"PROCESSED"}'))
      local status, body, attempts
      kind, status, body, attempts = call:next(1040)
      assert.equal("done", kind)
      assert.equal(200, status)
      assert.equal('{"batch_id":"01BATCH","status":"PROCESSED"}', body)
      assert.equal(1, attempts)
      call:close()
      call:close()
      assert.has_error(function() call:next(1) end, "attempt to use a finished call")
    end)

    it("turns an API error into nil, err with kind, status and api_status", function()
      local c = assert(core.client{ project_id = "p1", region = "eu", token = "static" })
      local call = assert(c:start("status", nil, "nope", nil, 0))
      local kind = call:next(0)
      assert.equal("perform", kind)
      call:feed(1, 404, {}, '{"error":{"code":404,"message":"batch nope not found","status":"NOT_FOUND"}}')
      local k2, ok, err = call:next(2)
      assert.equal("done", k2)
      assert.is_nil(ok)
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      assert.equal("NOT_FOUND", err.api_status)
      assert.matches("batch nope not found", err.message)
      assert.equal("sinch.batch: refused by the API: HTTP 404 NOT_FOUND: batch nope not found", tostring(err))
    end)

    it("keeps the client alive while a call holds it, even after close", function()
      local c = assert(core.client{ project_id = "p1", region = "eu", token = "static" })
      local call = assert(c:start("find", nil, "campaign", "spring", 0))
      c:close()
      c = nil -- luacheck: ignore 311
      collectgarbage()
      local kind, req = call:next(0)
      assert.equal("perform", kind)
      assert.equal("https://eu.conversationbatch.api.sinch.com/v1/projects/p1/messages"
        .. "?metadataKey=campaign&metadataValue=spring", req.url)
    end)

    it("reports a transport failure on a send as possibly processed", function()
      local c = assert(core.client{ project_id = "p1", region = "eu", token = "static" })
      local call = assert(c:start("send", '{"app_id":"a"}', nil, nil, 0))
      assert.equal("perform", (call:next(0)))
      call:feed_error(5, "timeout", true, "operation timed out")
      local kind, ok, err = call:next(6)
      assert.equal("done", kind)
      assert.is_nil(ok)
      assert.is_true(err.may_have_been_processed)
      assert.is_false(err.retryable)
      assert.has_error(function() call:feed_error(7, "bogus", true) end)
    end)
  end)
end)

describe("core.webhook_sign / webhook_check", function()
  it("refuse an empty secret, which anyone can sign with", function()
    assert.has_error(function() core.webhook_sign("", "b", "n", "1") end,
      "bad argument #1 to 'webhook_sign' (secret: must not be empty (anyone can sign with it))")
    -- base64(HMAC-SHA256("", "b.n.1")): a forgery with the empty key
    assert.is_false(core.webhook_check("", "b", "n", "1",
      "jnv1LJac84+RzK1bK/RjAmVnW0JJCc4OBOIJOMhPPNg="))
    local sig = core.webhook_sign("k", "b", "n", "1")
    assert.is_true(core.webhook_check("k", "b", "n", "1", sig))
  end)
end)

describe("sinch.batch.core under nginx", function()
  it("makes a client and runs a call without loading sinch.batch.curl or libcurl", function()
    local nginx = require "support.nginx"
    local n = nginx.start{ server = [[
      location = /maps { content_by_lua_block {
        local batch = require "sinch.batch"
        local c = assert(batch.client{ project_id = "p", region = "eu", token = "t" })
        local call = assert(c.core:start("status", nil, "b1", nil, 1000))
        local what = call:next(1000)
        local mapped = false
        for l in io.lines("/proc/self/maps") do
          if l:find("libcurl", 1, true) then mapped = true end
        end
        ngx.say(what, " ", package.loaded["sinch.batch.curl"] and "curl-module" or "no-curl-module",
          " ", mapped and "libcurl" or "no-libcurl")
      } }
    ]] }
    local ok, status, body = pcall(n.get, n, "/maps")
    n:stop()
    assert(ok, status)
    assert.equal(200, status)
    assert.equal("perform no-curl-module no-libcurl\n", body)
  end)
end)
