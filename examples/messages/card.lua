-- A card message: title, text, image and two choices.
-- Run from anywhere, once built: lua5.4 examples/messages/card.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
do -- this checkout's lua/ and build/, found from the script's own place
  local root = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "../../"
  local build = os.getenv("SINCH_BATCH_BUILD") or (root .. "build")
  local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
  package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
  package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
end
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
