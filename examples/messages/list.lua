-- A list message (choice items); a product list is shown in the comment below.
-- Run from anywhere, once built: lua5.4 examples/messages/list.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
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
