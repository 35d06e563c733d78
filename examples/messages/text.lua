-- A text message; ${name} and ${code} are filled in per recipient.
-- Run from anywhere, once built: lua5.4 examples/messages/text.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.text("Hi ${name}, your code is ${code}")
print(cjson.encode(msg))
