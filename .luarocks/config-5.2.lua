-- LuaRocks reads this file when it runs in this checkout (its "project mode":
-- .luarocks/ and lua_modules/ side by side), e.g. for `luarocks make`.
--
-- Distributions package lua-cjson for their own interpreters (Debian and
-- Ubuntu: `apt install lua-cjson`), outside any LuaRocks tree, so LuaRocks
-- cannot see it and would try to download the rock.  With the system's
-- interpreter (under /usr) the rock is therefore taken as provided by the
-- system, and `luarocks make` works offline.  Any other Lua (/usr/local,
-- a home directory, OpenResty's, hererocks, Homebrew) gets lua-cjson from
-- luarocks.org as usual; SINCH_BATCH_CJSON=rock asks for the rock with the
-- system's interpreter too.  `luarocks install sinch-batch` outside the
-- checkout never reads this file.
if variables.LUA_DIR == "/usr" and os_getenv("SINCH_BATCH_CJSON") ~= "rock" then
  rocks_provided = { ["lua-cjson"] = "2.1.0-1" }
end

-- Debian keeps libpq's header in /usr/include/postgresql (libpq-dev): look
-- for headers there too, after include/, so that the rock's PQ dependency
-- (sinch.batch.pq) is found by a plain `luarocks make`.  Outside the
-- checkout, pass PQ_INCDIR=/usr/include/postgresql instead.
external_deps_subdirs = { include = { "include", "include/postgresql" } }
