-- A text message; ${name} and ${code} are filled in per recipient.
-- Run from anywhere: lua5.4 examples/messages/text.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
local root = (arg and arg[0] or ""):match("^(.-)examples/messages/[^/]+%.lua$")
if root then package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path end
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.text("Hi ${name}, your code is ${code}")
print(cjson.encode(msg))
