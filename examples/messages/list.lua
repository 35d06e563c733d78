-- A list message (choice items); a product list is shown in the comment below.
-- Run from anywhere, once built: lua5.4 examples/messages/list.lua (or luajit).  Prints the
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

local msg = message.list{
  title = "Menu",
  description = "What would you like, ${name}?",
  menu = "See the menu",
  sections = {
    { title = "Mains", items = {
      { choice = { title = "Soup", description = "Tomato", postback_data = "soup" } },
      { choice = { title = "Fish", postback_data = "fish" } },
    } },
    { title = "Drinks", items = { { choice = { title = "Water", postback_data = "water" } } } },
  },
}
-- A product list needs the catalog:
--   message.list{ title = "Shop", catalog_id = "CATALOG", sections = { { items = {
--     { product = { id = "sku-1", marketplace = "FACEBOOK" } } } } } }
print(cjson.encode(msg))
