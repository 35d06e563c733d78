-- A contact info message: a contact card the recipient can save.
-- Run from anywhere: lua5.4 examples/messages/contact_info.lua (or luajit).  Prints the
-- message as the JSON that goes into a batch's "message" field.
local root = (arg and arg[0] or ""):match("^(.-)examples/messages/[^/]+%.lua$")
if root then package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path end
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.contact_info{
  name = { full_name = "Example Support", first_name = "Example" },
  phone_numbers = { { phone_number = "+46700000000", type = "WORK" } },
  email_addresses = { { email_address = "support@example.com" } },
  organization = { company = "Example AB" },
  urls = { { url = "https://example.com" } },
}
print(cjson.encode(msg))
