-- A media message: an image (or video, PDF, …) by URL.
-- Run from anywhere, once built: lua5.4 examples/messages/media.lua (or luajit).
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

local msg = message.media{
  url = "https://example.com/receipts/${order}.pdf",
  thumbnail_url = "https://example.com/receipt-thumb.png",
  filename_override = "receipt-${order}.pdf",
}
print(cjson.encode(msg))
