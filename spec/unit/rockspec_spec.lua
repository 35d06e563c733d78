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

  it("compiles every C file of src/core, src/curl and src/lua into sinch.batch.core", function()
    local sources = spec.build.modules["sinch.batch.core"].sources
    table.sort(sources)
    assert.same(files("src/core/*.c src/curl/*.c src/lua/*.c"), sources)
  end)

  it("installs every Lua module under lua/", function()
    local listed = {}
    for name, file in pairs(spec.build.modules) do
      if type(file) == "string" then
        local path = "lua/" .. name:gsub("%.", "/")
        assert.equal(path .. (name == "sinch.batch" and "/init.lua" or ".lua"), file)
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
