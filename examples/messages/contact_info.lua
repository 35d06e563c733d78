-- A contact info message: a contact card the recipient can save.
-- Run from anywhere, once built: lua5.4 examples/messages/contact_info.lua (or
-- luajit).  Prints the message as the JSON that goes into a batch's "message" field.
do -- this checkout's lua/ and build/, found from the script's own place
  local root = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "../../"
  local build = os.getenv("SINCH_BATCH_BUILD") or (root .. "build")
  local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
  package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
  package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
end
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
