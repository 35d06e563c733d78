-- Puts this checkout's lua/ and build/ on the module paths, found from this
-- file's own place, so that each example here runs from any directory.  An
-- installed sinch-batch needs none of it: drop the example's dofile line.
local here = debug.getinfo(1, "S").source:match("^@(.*/)[^/]*$") or "./"
local root = here .. "../../"
local build = os.getenv("SINCH_BATCH_BUILD") or (root .. "build")
local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
