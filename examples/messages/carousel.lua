-- A carousel message: up to 10 cards and up to 3 choices under them.
-- Run from anywhere, once built: lua5.4 examples/messages/carousel.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local cards = {}
for i, name in ipairs({ "Shoes", "Jackets", "Hats" }) do
  cards[i] = message.card{ title = name, media = "https://example.com/" .. name:lower() .. ".png",
                           choices = { message.choices.text("Show " .. name, "show-" .. i) } }
end
local msg = message.carousel{
  cards = cards,
  choices = { message.choices.url("All offers", "https://example.com") },
}
print(cjson.encode(msg))
