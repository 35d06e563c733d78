-- A card message: title, text, image and two choices.
-- Run from anywhere, once built: lua5.4 examples/messages/card.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.card{
  title = "Spring sale, ${name}",
  description = "Everything 20% off until Sunday.",
  media = "https://example.com/sale.png",
  height = "MEDIUM",
  choices = { message.choices.url("Shop now", "https://example.com/sale"), message.choices.text("Not now") },
}
print(cjson.encode(msg))
