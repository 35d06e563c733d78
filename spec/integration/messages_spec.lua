-- Every message kind, built with sinch.batch.message, sent through the
-- sandbox and read back from its request log: the `message` the sandbox got
-- must equal (as JSON) the shape the API reference gives for that kind.
-- The expected documents are written out by hand from the reference, not
-- produced by the library, so a shared misreading cannot hide.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"

local M, R, C = batch.message, batch.recipient, batch.message.choices

local cases = {
  { "text", M.text("Hi ${name}"), [[{"text_message":{"text":"Hi ${name}"}}]] },
  { "media", M.media{ url = "https://example.com/a.png", thumbnail_url = "https://example.com/t.png" },
    [[{"media_message":{"url":"https://example.com/a.png","thumbnail_url":"https://example.com/t.png"}}]] },
  { "template", M.template{ omni_template = { template_id = "01T", version = "latest",
      language_code = "en_US", parameters = { name = "${name}" } } },
    [[{"template_message":{"omni_template":{"template_id":"01T","version":"latest",
       "language_code":"en_US","parameters":{"name":"${name}"}}}}]] },
  { "channel template", M.template{ channel_template = { WHATSAPP = { template_id = "order_ready",
      language_code = "en_US", parameters = { ["1"] = "${name}" } } } },
    [[{"template_message":{"channel_template":{"WHATSAPP":{"template_id":"order_ready",
       "language_code":"en_US","parameters":{"1":"${name}"}}}}}]] },
  { "choice", M.choice{ text = "Pick ${name}", whatsapp_footer = "STOP to opt out", choices = {
      C.text("Yes", "yes"), C.url("Site", "https://example.com"), C.call("Call", "+46700000000"),
      C.location{ title = "Shop", coordinates = { latitude = 59.5, longitude = 18.25 } },
      C.calendar{ title = "Book", event_start = "2025-10-01T08:00:00Z", event_end = "2025-10-01T09:00:00Z",
                  event_title = "Visit", fallback_url = "https://example.com/cal" },
      C.share_location("Where?", "https://example.com/where") } },
    [[{"choice_message":{"text_message":{"text":"Pick ${name}"},
       "message_properties":{"whatsapp_footer":"STOP to opt out"},
       "choices":[
        {"text_message":{"text":"Yes"},"postback_data":"yes"},
        {"url_message":{"title":"Site","url":"https://example.com"}},
        {"call_message":{"title":"Call","phone_number":"+46700000000"}},
        {"location_message":{"title":"Shop","coordinates":{"latitude":59.5,"longitude":18.25}}},
        {"calendar_message":{"title":"Book","event_start":"2025-10-01T08:00:00Z",
          "event_end":"2025-10-01T09:00:00Z","event_title":"Visit","fallback_url":"https://example.com/cal"}},
        {"share_location_message":{"title":"Where?","fallback_url":"https://example.com/where"}}]}}]] },
  { "card", M.card{ title = "Sale", description = "20% off", media = "https://example.com/s.png",
      height = "MEDIUM", choices = { C.text("Shop") } },
    [[{"card_message":{"title":"Sale","description":"20% off","height":"MEDIUM",
       "media_message":{"url":"https://example.com/s.png"},
       "choices":[{"text_message":{"text":"Shop"}}]}}]] },
  { "carousel", M.carousel{ cards = { M.card{ title = "A" }, M.card{ title = "B" } },
      choices = { C.url("All", "https://example.com") } },
    [[{"carousel_message":{"cards":[{"title":"A"},{"title":"B"}],
       "choices":[{"url_message":{"title":"All","url":"https://example.com"}}]}}]] },
  { "location", M.location{ title = "Store", label = "Main St 1",
      coordinates = { latitude = 59.25, longitude = 18.5 } },
    [[{"location_message":{"title":"Store","label":"Main St 1",
       "coordinates":{"latitude":59.25,"longitude":18.5}}}]] },
  { "contact_info", M.contact_info{ name = { full_name = "Support" },
      phone_numbers = { { phone_number = "+46700000000", type = "WORK" } },
      email_addresses = { { email_address = "s@example.com" } } },
    [[{"contact_info_message":{"name":{"full_name":"Support"},
       "phone_numbers":[{"phone_number":"+46700000000","type":"WORK"}],
       "email_addresses":[{"email_address":"s@example.com"}]}}]] },
  { "list (choices)", M.list{ title = "Menu", description = "Hi ${name}", sections = {
      { title = "Mains", items = { { choice = { title = "Soup", postback_data = "soup" } } } } } },
    [[{"list_message":{"title":"Menu","description":"Hi ${name}","sections":[
       {"title":"Mains","items":[{"choice":{"title":"Soup","postback_data":"soup"}}]}]}}]] },
  { "list (products)", M.list{ title = "Shop", catalog_id = "CAT1", sections = {
      { title = "Shoes", items = { { product = { id = "SKU1", marketplace = "FACEBOOK" } } } } } },
    [[{"list_message":{"title":"Shop","message_properties":{"catalog_id":"CAT1"},"sections":[
       {"title":"Shoes","items":[{"product":{"id":"SKU1","marketplace":"FACEBOOK"}}]}]}}]] },
  { "extras", M.with(M.text("Hi ${name}"), {
      agent = M.agent{ display_name = "Ann", type = "HUMAN" },
      explicit_channel_message = { SMS = "plain ${name}" } }),
    [[{"text_message":{"text":"Hi ${name}"},"agent":{"display_name":"Ann","type":"HUMAN"},
       "explicit_channel_message":{"SMS":"plain ${name}"}}]] },
}

describe("every message kind through the sandbox", function()
  local m, client

  setup(function()
    m = mock.start()
    client = assert(batch.client{ project_id = m.project_id, app_id = "01APP", base_url = m.url,
      auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret })
  end)

  teardown(function()
    client:close()
    m:stop()
  end)

  for _, case in ipairs(cases) do
    it(case[1], function()
      m:reset()
      local res, err = client:send{ message = case[2],
        recipients = { { recipient = R.sms("+46700000001"), parameters = { name = "Ann" } } } }
      assert.is_nil(err)
      assert.is_string(res.batch_id)
      local sent
      for _, r in ipairs(m:requests()) do
        if r.method == "POST" and r.path:find("/messages$") then sent = cjson.decode(r.body) end
      end
      assert.same(assert(cjson.decode(case[3])), sent.message)
    end)
  end
end)
