-- A location message: coordinates are numbers.
-- Run from anywhere: lua5.4 examples/messages/location.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
local root = (arg and arg[0] or ""):match("^(.-)examples/messages/[^/]+%.lua$")
if root then package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path end
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.location{
  title = "Our store",
  label = "Drottninggatan 1, Stockholm",
  coordinates = { latitude = 59.3293, longitude = 18.0686 },
}
print(cjson.encode(msg))
