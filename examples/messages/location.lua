-- A location message: coordinates are numbers.
-- Run from anywhere, once built: lua5.4 examples/messages/location.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
do -- this checkout's lua/ and build/, found from the script's own place
  local root = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "../../"
  local build = os.getenv("SINCH_BATCH_BUILD") or (root .. "build")
  local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
  package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
  package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
end
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.location{
  title = "Our store",
  label = "Drottninggatan 1, Stockholm",
  coordinates = { latitude = 59.3293, longitude = 18.0686 },
}
print(cjson.encode(msg))
