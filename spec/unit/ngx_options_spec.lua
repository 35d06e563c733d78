-- The nginx transport's numeric options are range-checked when the client is
-- made: NaN, an infinity or 1e300 used to pass and then fail every send
-- (pool_size) or reach setkeepalive unchecked (keepalive_timeout).
local batch = require "sinch.batch"

describe("the nginx transport's options", function()
  local function client(extra)
    local o = { project_id = "p", region = "us", token = "t", transport = "ngx" }
    for k, v in pairs(extra) do o[k] = v end
    return batch.client(o)
  end

  for _, bad in ipairs{ 0 / 0, math.huge, -math.huge, 1e300, 0, -1, 2.5 } do
    it("refuses pool_size " .. tostring(bad) .. " at creation", function()
      local ok, err = pcall(client, { pool_size = bad })
      assert.is_false(ok)
      assert.matches("opts.pool_size: expected a whole number from 1 to 100000", err, 1, true)
    end)
  end

  for _, bad in ipairs{ 0 / 0, math.huge, 1e300, 0, -5 } do
    it("refuses keepalive_timeout " .. tostring(bad) .. " at creation", function()
      local ok, err = pcall(client, { keepalive_timeout = bad })
      assert.is_false(ok)
      assert.matches("opts.keepalive_timeout: expected milliseconds > 0", err, 1, true)
    end)
  end

  it("takes numbers in range", function()
    local c = assert(client{ pool_size = 32, keepalive_timeout = 30 })
    assert.equal(32, c.transport.pool_size)
    assert.equal(30000, c.transport.keepalive_timeout)
    c:close()
  end)
end)
