-- client:token_key(): the key token caches shared between clients file a
-- client's tokens under (sinch_batch_client_token_key in the core).
local core = require "sinch.batch.core"

local function key(extra)
  local o = { project_id = "p", base_url = "http://127.0.0.1:1", auth_url = "http://127.0.0.1:2",
              key_id = "demo-key", key_secret = "demo-secret" }
  for k, v in pairs(extra or {}) do o[k] = v end
  local c = assert(core.client(o))
  local k = c:token_key()
  c:close()
  return k
end

describe("client:token_key", function()
  it("is 64 hex digits, the same for the same credentials", function()
    local k = key()
    assert.matches("^" .. ("%x"):rep(64) .. "$", k)
    assert.equal(k, key())
  end)

  it("differs when any of base_url, auth_url, project_id, key_id or key_secret does", function()
    local seen = { [key()] = "base" }
    for _, extra in ipairs{ { base_url = "http://127.0.0.1:3" }, { auth_url = "http://127.0.0.1:3" },
                            { project_id = "q" }, { key_id = "other-key" },
                            { key_secret = "wrong-secret" } } do
      local k = key(extra)
      local field = next(extra)
      assert.is_nil(seen[k], field .. " does not change the key")
      seen[k] = field
    end
  end)

  it("shows no credential", function()
    local k = key{ key_id = "visible-id", key_secret = "visible-secret" }
    assert.is_nil(k:find("visible", 1, true))
  end)

  it("is nil for a static token: there is nothing to share", function()
    local c = assert(core.client{ project_id = "p", region = "us", token = "static-token" })
    assert.is_nil(c:token_key())
    c:close()
  end)
end)

describe("core.MAX_RESPONSE", function()
  it("is the 64 MiB cap of every transport", function()
    assert.equal(64 * 1024 * 1024, core.MAX_RESPONSE)
  end)
end)
