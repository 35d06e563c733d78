-- The rockspec lists every C source and every Lua module of the tree, so
-- `luarocks make` builds what CMake builds (spec/package/luarocks.sh
-- installs it for real).
local function rockspec()
  local env = {}
  local chunk = assert(loadfile("sinch-batch-scm-1.rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore 113
  chunk()
  return env
end

local function files(pattern)
  local out = {}
  local p = assert(io.popen("find " .. pattern .. " | sort"))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("sinch-batch-scm-1.rockspec", function()
  local spec = rockspec()

  it("builds src/core, src/io, src/lua into sinch.batch.core, src/curl (+ bindings) into sinch.batch.curl",
    function()
      local core = spec.build.modules["sinch.batch.core"]
      local curl = spec.build.modules["sinch.batch.curl"]
      table.sort(core.sources)
      table.sort(curl.sources)
      local want_core = {}
      for _, f in ipairs(files("src/core/*.c src/lua/*.c src/io/*.c")) do
        if f ~= "src/lua/curl.c" and f ~= "src/lua/multi.c" then want_core[#want_core + 1] = f end
      end
      table.sort(want_core)
      assert.same(want_core, core.sources)
      local want_curl = { "src/lua/curl.c", "src/lua/multi.c" }
      for _, f in ipairs(files("src/curl/*.c")) do want_curl[#want_curl + 1] = f end
      table.sort(want_curl)
      assert.same(want_curl, curl.sources)
      -- OpenResty loads only the core: it must not link libcurl
      for _, lib in ipairs(core.libraries) do assert.not_equal("curl", lib) end
    end)

  it("builds each of the receipts store's C files (src/lua/store) as a module of its own", function()
    local stores = files("src/lua/store/*.c")
    assert.is_true(#stores >= 2) -- sqlite.c, pq.c
    for _, f in ipairs(stores) do
      local m = spec.build.modules["sinch.batch." .. f:match("([^/]+)%.c$")]
      assert.is_table(m, f)
      assert.same({ f }, m.sources)
      assert.is_true(#m.libraries == 1, f) -- its database's library, nothing else
    end
    -- libpq's header is checked for (Debian's directory: .luarocks/config-5.x.lua)
    assert.same({ header = "libpq-fe.h", library = "pq" }, spec.external_dependencies.PQ)
  end)

  it("installs every Lua module under lua/", function()
    local listed = {}
    for name, file in pairs(spec.build.modules) do
      if type(file) == "string" then
        local path = "lua/" .. name:gsub("%.", "/")
        assert.is_true(file == path .. ".lua" or file == path .. "/init.lua", file)
        listed[#listed + 1] = file
      end
    end
    table.sort(listed)
    assert.same(files("lua -name '*.lua'"), listed)
  end)

  it("carries the version of the C header", function()
    local h = assert(io.open("src/sinch_batch.h")):read("*a")
    local v = h:match('#define SINCH_BATCH_VERSION "([^"]+)"')
    assert.equal(require("sinch.batch")._VERSION, v)
    assert.equal("sinch-batch", spec.package)
  end)
end)
