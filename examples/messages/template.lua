-- A template message: an omni template plus a WhatsApp channel template.
-- Run from anywhere, once built: lua5.4 examples/messages/template.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.template{
  omni_template = { template_id = "01TEMPLATEID", version = "latest", language_code = "en_US",
                    parameters = { name = "${name}" } },
  channel_template = {
    WHATSAPP = { template_id = "order_ready", language_code = "en_US", parameters = { ["1"] = "${name}" } },
  },
}
print(cjson.encode(msg))
