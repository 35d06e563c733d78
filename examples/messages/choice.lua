-- A choice message with one choice of each kind.
-- Run from anywhere, once built: lua5.4 examples/messages/choice.lua (or luajit).
-- Prints the message as the JSON that goes into a batch's "message" field.
-- this checkout's lua/ and build/ (examples/messages/paths.lua)
dofile(((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "paths.lua")
local cjson = require "cjson"
local message = require "sinch.batch.message"

local C = message.choices
local msg = message.choice{
  text = "Your order ${order} is ready. What next?",
  whatsapp_footer = "Reply STOP to opt out",
  choices = {
    C.text("Deliver it", "deliver-${order}"),
    C.url("Track", "https://example.com/t/${order}"),
    C.call("Call us", "+46700000000"),
    C.location{ title = "Pick-up point", coordinates = { latitude = 59.3293, longitude = 18.0686 } },
    C.calendar{ title = "Book pick-up", event_title = "Pick up ${order}",
                event_start = "2025-10-01T08:00:00Z", event_end = "2025-10-01T09:00:00Z",
                fallback_url = "https://example.com/book" },
    C.share_location("Share your location", "https://example.com/where"),
  },
}
print(cjson.encode(msg))
