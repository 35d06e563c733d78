-- Extras beside the kind: an agent, per-channel overrides and a channel-specific message.
-- Run from anywhere, once built: lua5.4 examples/messages/extras.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.with(message.text("Hi ${name}, your table is ready."), {
  agent = message.agent{ display_name = "Ann at Example", type = "HUMAN" },
  -- the channel's own payload, as a JSON string (a table is encoded for you)
  explicit_channel_message = { SMS = "Example: table ready, ${name}" },
  -- a structured override for WhatsApp: a template instead of free text
  explicit_channel_omni_message = {
    WHATSAPP = { template_reference = { template_id = "table_ready", version = "1", language_code = "en_US",
                                        parameters = { name = "${name}" } } },
  },
})
print(cjson.encode(msg))
