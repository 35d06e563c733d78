-- A location message: coordinates are numbers.
-- Run from anywhere, once built: lua5.4 examples/messages/location.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.location{
  title = "Our store",
  label = "Drottninggatan 1, Stockholm",
  coordinates = { latitude = 59.3293, longitude = 18.0686 },
}
print(cjson.encode(msg))
