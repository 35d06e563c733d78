-- A contact info message: a contact card the recipient can save.
-- Run from anywhere, once built: lua5.4 examples/messages/contact_info.lua (or
-- luajit).  Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
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
