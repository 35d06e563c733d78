-- A template message: an omni template plus a WhatsApp channel template.
-- Run from anywhere, once built: lua5.4 examples/messages/template.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
do -- this checkout's lua/ and build/, found from the script's own place
  local root = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "../../"
  local build = os.getenv("SINCH_BATCH_BUILD") or (root .. "build")
  local flavour = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))
  package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
  package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
end
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
