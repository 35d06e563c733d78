-- A media message: an image (or video, PDF, …) by URL.
-- Run from anywhere, once built: lua5.4 examples/messages/media.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local msg = message.media{
  url = "https://example.com/receipts/${order}.pdf",
  thumbnail_url = "https://example.com/receipt-thumb.png",
  filename_override = "receipt-${order}.pdf",
}
print(cjson.encode(msg))
