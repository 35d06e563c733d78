local M = require "sinch.batch.message"
local cjson = require "cjson"

-- The message of an error raised by `fn`, checking that it points at this file
-- (errors are raised at level 2, at the caller).
local function err_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  local rest = tostring(err):match("^[^:]*message_spec%.lua:%d+: (.*)$")
  assert.is_string(rest, "error does not point at the caller: " .. tostring(err))
  return rest
end

-- `msg` encodes to the same JSON value as `json` (key order aside).
local function same_json(json, msg)
  assert.same(cjson.decode(json), cjson.decode(cjson.encode(msg)))
  -- and what comes back from the wire is a valid message too
  assert.is_true(M.validate(cjson.decode(cjson.encode(msg))))
end

local function invalid(msg, expected)
  local ok, err = M.validate(msg)
  assert.is_nil(ok)
  assert.equal(expected, err)
end

local function n_of(n, fn)
  local t = {}
  for i = 1, n do t[i] = fn(i) end
  return t
end

describe("sinch.batch.message", function()
  describe("text()", function()
    it("builds a text_message", function()
      assert.same({ text_message = { text = "Hi ${name}" } }, M.text("Hi ${name}"))
      same_json('{"text_message":{"text":"Hi ${name}"}}', M.text("Hi ${name}"))
    end)

    it("rejects bad text", function()
      assert.equal("text_message.text: expected a string", err_of(function() M.text(5) end))
      assert.equal("text_message.text: required", err_of(function() M.text() end))
      assert.equal("text_message.text: must not be empty", err_of(function() M.text("") end))
      assert.equal("message.text: takes one argument; add extras with message.with(msg, extras)",
        err_of(function() M.text("Hi", { agent = {} }) end))
    end)
  end)

  describe("media()", function()
    it("takes a URL or options", function()
      same_json('{"media_message":{"url":"https://ex.com/a.png"}}', M.media("https://ex.com/a.png"))
      same_json('{"media_message":{"url":"https://ex.com/a.pdf","thumbnail_url":"https://ex.com/t.png",'
        .. '"filename_override":"invoice ${no}.pdf"}}',
        M.media{ url = "https://ex.com/a.pdf", thumbnail_url = "https://ex.com/t.png",
                 filename_override = "invoice ${no}.pdf" })
    end)

    it("lets a URL come from a parameter", function()
      same_json('{"media_message":{"url":"${image}"}}', M.media("${image}"))
    end)

    it("rejects bad input", function()
      assert.equal("media_message.url: must be an http:// or https:// URL",
        err_of(function() M.media("ftp://ex.com/a.png") end))
      assert.equal("media_message.url: must be an http:// or https:// URL",
        err_of(function() M.media("https://") end))
      assert.equal("media_message.url: required",
        err_of(function() M.media{ thumbnail_url = "https://x.io" } end))
      assert.equal("media_message.filename: unknown field (known: filename_override, thumbnail_url, url)",
        err_of(function() M.media{ url = "https://x.io", filename = "a" } end))
      assert.equal("message.media: expected a URL string or a table of options",
        err_of(function() M.media(1) end))
    end)
  end)

  describe("template()", function()
    it("builds omni and channel templates", function()
      same_json('{"template_message":{"omni_template":{"template_id":"01T","version":"latest",'
        .. '"language_code":"en_US","parameters":{"name":"${name}"}}}}',
        M.template{ omni_template = { template_id = "01T", version = "latest", language_code = "en_US",
                                      parameters = { name = "${name}" } } })
      same_json('{"template_message":{"channel_template":{"WHATSAPP":{"template_id":"order_ready",'
        .. '"language_code":"en_US"}},"omni_template":{"template_id":"01T","version":"1"}}}',
        M.template{ channel_template = { WHATSAPP = { template_id = "order_ready",
          language_code = "en_US" } },
                    omni_template = { template_id = "01T", version = "1" } })
    end)

    it("checks the references", function()
      assert.equal("template_message: needs omni_template or channel_template",
        err_of(function() M.template{} end))
      assert.equal("template_message.omni_template.version: required",
        err_of(function() M.template{ omni_template = { template_id = "01T" } } end))
      assert.equal("template_message.channel_template.WHATSAPP.template_id: required",
        err_of(function() M.template{ channel_template = { WHATSAPP = { version = "1" } } } end))
      assert.equal("template_message.channel_template.whatsapp: channel names are upper case, like WHATSAPP",
        err_of(function() M.template{ channel_template = { whatsapp = { template_id = "x" } } } end))
      assert.equal("template_message.channel_template: at least 1 channel",
        err_of(function() M.template{ channel_template = {} } end))
      assert.equal("template_message.omni_template.parameters.n: expected a string",
        err_of(function()
          M.template{ omni_template = { template_id = "01T", version = "1", parameters = { n = 1 } } }
        end))
      assert.equal("message.template: unknown option 'omni' (known: channel_template, omni_template)",
        err_of(function() M.template{ omni = {} } end))
      assert.equal("message.template: expected a table of options, got string",
        err_of(function() M.template("01T") end))
    end)
  end)

  describe("choices", function()
    it("build each kind of choice, with postback data", function()
      assert.same({ text_message = { text = "Yes" }, postback_data = "yes" }, M.choices.text("Yes", "yes"))
      assert.same({ url_message = { title = "Open", url = "https://ex.com" } },
        M.choices.url("Open", "https://ex.com"))
      assert.same({ call_message = { title = "Call us", phone_number = "+46700000001" },
        postback_data = "c" },
        M.choices.call("Call us", "+46700000001", "c"))
      assert.same({ location_message = { title = "Office", label = "HQ",
                                         coordinates = { latitude = 59.33, longitude = 18.06 } } },
        M.choices.location{ title = "Office", label = "HQ", coordinates = { latitude = 59.33,
          longitude = 18.06 } })
      assert.same({ calendar_message = { title = "Add", event_start = "2025-10-01T08:00:00Z",
                                         event_end = "2025-10-01T09:00:00+02:00", event_title = "Visit",
                                         event_description = "Bring ID",
                                           fallback_url = "https://ex.com/cal" },
                    postback_data = "cal" },
        M.choices.calendar{ title = "Add", event_start = "2025-10-01T08:00:00Z",
                            event_end = "2025-10-01T09:00:00+02:00", event_title = "Visit",
                            event_description = "Bring ID", fallback_url = "https://ex.com/cal",
                            postback_data = "cal" })
      assert.same({ share_location_message = { title = "Share", fallback_url = "https://ex.com/loc" } },
        M.choices.share_location("Share", "https://ex.com/loc"))
    end)

    it("check each kind's fields", function()
      assert.equal("choice.call_message.phone_number: must be a phone number (an optional +, then digits)",
        err_of(function() M.choices.call("Call", "070 1234567") end))
      assert.same({ call_message = { title = "Call", phone_number = "46700000001" } },
        M.choices.call("Call", "46700000001"))
      assert.equal("choice.url_message.title: required", err_of(function() M.choices.url(nil,
        "https://x.io") end))
      assert.equal("choice.postback_data: expected a string", err_of(function() M.choices.text("Yes", 1) end))
      assert.equal("choice.location_message.coordinates.longitude: must be between -180 and 180 (got 181)",
        err_of(function()
          M.choices.location{ title = "x", coordinates = { latitude = 0, longitude = 181 } }
        end))
      assert.equal("choice.calendar_message.event_end: must be an RFC 3339 date-time like " ..
        "2025-10-01T08:00:00Z",
        err_of(function()
          M.choices.calendar{ title = "Add", event_start = "2025-10-01T08:00:00Z", event_end = "tomorrow",
                              event_title = "Visit", fallback_url = "https://ex.com/cal" }
        end))
      assert.equal("choice.calendar_message.fallback_url: required",
        err_of(function()
          M.choices.calendar{ title = "Add", event_start = "2025-10-01T08:00:00Z",
                              event_end = "2025-10-01T09:00:00Z", event_title = "Visit" }
        end))
      assert.equal("choice.share_location_message.fallback_url: must be an http:// or https:// URL",
        err_of(function() M.choices.share_location("Share", "ex.com") end))
      assert.equal("message.choices.calendar: unknown option 'start' (known: event_description, event_end, "
        .. 'event_start, event_title, fallback_url, postback_data, title)',
        err_of(function() M.choices.calendar{ start = "x" } end))
    end)

    it("skip format rules for a field that holds a parameter", function()
      assert.same({ call_message = { title = "Call", phone_number = "${agent_phone}" } },
        M.choices.call("Call", "${agent_phone}"))
    end)
  end)

  describe("choice()", function()
    it("builds a choice_message with text and a WhatsApp footer", function()
      same_json('{"choice_message":{"text_message":{"text":"Pick"},"choices":[{"text_message":{"text":"A"}},'
        .. '{"url_message":{"title":"B","url":"https://b.io"},"postback_data":"b"}],'
        .. '"message_properties":{"whatsapp_footer":"Reply STOP to opt out"}}}',
        M.choice{ text = "Pick", whatsapp_footer = "Reply STOP to opt out",
                  choices = { M.choices.text("A"), M.choices.url("B", "https://b.io", "b") } })
    end)

    it("takes up to 10 choices", function()
      local msg = M.choice{ choices = n_of(10, function(i) return M.choices.text("c" .. i) end) }
      assert.equal(10, #msg.choice_message.choices)
      assert.equal("choice_message.choices: at most 10 choices (got 11)",
        err_of(function() M.choice{ choices = n_of(11,
          function(i) return M.choices.text("c" .. i) end) } end))
    end)

    it("needs at least one choice, each of exactly one kind", function()
      assert.equal("choice_message.choices: required", err_of(function() M.choice{ text = "Pick" } end))
      assert.equal("choice_message.choices: at least 1 choice",
        err_of(function() M.choice{ choices = {} } end))
      assert.equal("choice_message.choices: expected an array (found key a)",
        err_of(function() M.choice{ choices = { a = M.choices.text("A") } } end))
      assert.equal("choice_message.choices[2]: needs exactly one of text_message, url_message, call_message, "
        .. "location_message, calendar_message, share_location_message (got text_message, url_message)",
        err_of(function()
          M.choice{ choices = { M.choices.text("A"),
                                { text_message = { text = "B" }, url_message = { title = "B",
                                  url = "https://b.io" } } } }
        end))
      assert.equal("choice_message.choices[1]: needs exactly one of text_message, url_message, call_message, "
        .. "location_message, calendar_message, share_location_message (got none)",
        err_of(function() M.choice{ choices = { { postback_data = "x" } } } end))
      assert.equal("message.choice: unknown option 'footer' (known: choices, text, whatsapp_footer)",
        err_of(function() M.choice{ footer = "x" } end))
    end)

    it("copies its input instead of keeping the caller's tables", function()
      local choices = { M.choices.text("A") }
      local msg = M.choice{ choices = choices }
      choices[1].text_message.text = "changed"
      assert.equal("A", msg.choice_message.choices[1].text_message.text)
    end)
  end)

  describe("card()", function()
    it("builds a card_message", function()
      same_json('{"card_message":{"title":"Sale","description":"50% off, ${name}",'
        .. '"media_message":{"url":"https://ex.com/sale.png"},"height":"MEDIUM",'
        .. '"choices":[{"text_message":{"text":"Buy"}}],"message_properties":{"whatsapp_header":"Hi"}}}',
        M.card{ title = "Sale", description = "50% off, ${name}", media = "https://ex.com/sale.png",
                height = "MEDIUM", choices = { M.choices.text("Buy") }, whatsapp_header = "Hi" })
    end)

    it("has no required fields and leaves out an empty choice list", function()
      same_json('{"card_message":{"title":"Only a title"}}', M.card{ title = "Only a title", choices = {} })
    end)

    it("checks height and choices", function()
      assert.equal('card_message.height: must be one of UNSPECIFIED_HEIGHT, SHORT, MEDIUM, TALL (got "BIG")',
        err_of(function() M.card{ height = "BIG" } end))
      assert.equal("card_message.choices: at most 10 choices (got 11)",
        err_of(function() M.card{ choices = n_of(11, function(i) return M.choices.text("c" .. i) end) } end))
      assert.equal("card_message.media_message.url: must be an http:// or https:// URL",
        err_of(function() M.card{ media = { url = "sale.png" } } end))
    end)
  end)

  describe("carousel()", function()
    local function card(i) return M.card{ title = "Card " .. i } end

    it("builds a carousel_message from cards and outer choices", function()
      same_json('{"carousel_message":{"cards":[{"title":"Card 1"},{"title":"Card 2"}],'
        .. '"choices":[{"text_message":{"text":"More"}}]}}',
        M.carousel{ cards = { card(1), card(2).card_message }, choices = { M.choices.text("More") } })
    end)

    it("takes 1 to 10 cards and at most 3 choices", function()
      assert.equal(10, #M.carousel{ cards = n_of(10, card) }.carousel_message.cards)
      assert.equal("carousel_message.cards: at most 10 cards (got 11)",
        err_of(function() M.carousel{ cards = n_of(11, card) } end))
      assert.equal("carousel_message.cards: at least 1 card", err_of(function() M.carousel{ cards = {} } end))
      assert.equal("carousel_message.cards: required", err_of(function() M.carousel{} end))
      assert.equal(3, #M.carousel{ cards = { card(1) },
        choices = n_of(3, function(i) return M.choices.text("c" .. i) end) }.carousel_message.choices)
      assert.equal("carousel_message.choices: at most 3 choices (got 4)",
        err_of(function()
          M.carousel{ cards = { card(1) }, choices = n_of(4,
            function(i) return M.choices.text("c" .. i) end) }
        end))
    end)

    it("checks each card", function()
      assert.equal("carousel_message.cards[2].height: must be one of UNSPECIFIED_HEIGHT, SHORT, MEDIUM, TALL "
        .. '(got "short")',
        err_of(function() M.carousel{ cards = { card(1), { title = "x", height = "short" } } } end))
    end)
  end)

  describe("location()", function()
    it("builds a location_message", function()
      same_json('{"location_message":{"title":"Office","label":"HQ",'
        .. '"coordinates":{"latitude":59.3293,"longitude":18.0686}}}',
        M.location{ title = "Office", label = "HQ", coordinates = { latitude = 59.3293,
          longitude = 18.0686 } })
    end)

    it("needs numeric coordinates in range and a title", function()
      assert.equal("location_message.coordinates.latitude: expected a number",
        err_of(function() M.location{ title = "x", coordinates = { latitude = "59.3", longitude = 18 } } end))
      assert.equal("location_message.coordinates.latitude: must be between -90 and 90 (got -91)",
        err_of(function() M.location{ title = "x", coordinates = { latitude = -91, longitude = 18 } } end))
      assert.equal("location_message.coordinates.longitude: expected a number",
        err_of(function() M.location{ title = "x", coordinates = { latitude = 1, longitude = 0 / 0 } } end))
      assert.equal("location_message.coordinates: required", err_of(function() M.location{ title = "x" } end))
      assert.equal("location_message.title: required",
        err_of(function() M.location{ coordinates = { latitude = 1, longitude = 2 } } end))
    end)
  end)

  describe("contact_info()", function()
    it("builds a contact_info_message", function()
      same_json('{"contact_info_message":{"name":{"full_name":"Ann Andersson","first_name":"Ann"},'
        .. '"phone_numbers":[{"phone_number":"+46700000001","type":"WORK"}],'
        .. '"email_addresses":[{"email_address":"ann@ex.com"}],'
        .. '"addresses":[{"city":"Stockholm","zip":"111 22"}],'
        .. '"organization":{"company":"Ex AB"},"urls":[{"url":"https://ex.com"}],"birthday":"1990-04-01"}}',
        M.contact_info{ name = { full_name = "Ann Andersson", first_name = "Ann" },
                        phone_numbers = { { phone_number = "+46700000001", type = "WORK" } },
                        email_addresses = { { email_address = "ann@ex.com" } },
                        addresses = { { city = "Stockholm", zip = "111 22" } },
                        organization = { company = "Ex AB" }, urls = { { url = "https://ex.com" } },
                        birthday = "1990-04-01" })
    end)

    it("leaves out empty optional lists", function()
      same_json('{"contact_info_message":{"name":{"full_name":"A"},"phone_numbers":[{"phone_number":"1"}]}}',
        M.contact_info{ name = { full_name = "A" }, phone_numbers = { { phone_number = "1" } },
                        urls = {}, addresses = {} })
    end)

    it("checks the required fields and the birthday", function()
      local phones = { { phone_number = "+46700000001" } }
      assert.equal("contact_info_message.name.full_name: required",
        err_of(function() M.contact_info{ name = { first_name = "A" }, phone_numbers = phones } end))
      assert.equal("contact_info_message.phone_numbers: at least 1 phone number",
        err_of(function() M.contact_info{ name = { full_name = "A" }, phone_numbers = {} } end))
      assert.equal("contact_info_message.phone_numbers[1].phone_number: required",
        err_of(function() M.contact_info{ name = { full_name = "A" },
          phone_numbers = { { type = "WORK" } } } end))
      assert.equal("contact_info_message.birthday: must be a date like 2025-12-31 (YYYY-MM-DD)",
        err_of(function() M.contact_info{ name = { full_name = "A" }, phone_numbers = phones,
          birthday = "1/4/90" } end))
      assert.equal("contact_info_message.birthday: must be a date like 2025-12-31 (YYYY-MM-DD)",
        err_of(function()
          M.contact_info{ name = { full_name = "A" }, phone_numbers = phones, birthday = "1990-13-01" }
        end))
      assert.equal("contact_info_message.email_addresses[1].email_address: required",
        err_of(function()
          M.contact_info{ name = { full_name = "A" }, phone_numbers = phones, email_addresses = { {} } }
        end))
    end)
  end)

  describe("list()", function()
    it("builds a list of choice sections", function()
      same_json('{"list_message":{"title":"Menu","description":"Pick a dish",'
        .. '"sections":[{"title":"Mains","items":[{"choice":{"title":"Soup","postback_data":"soup"}},'
        .. '{"choice":{"title":"Fish","description":"Fresh","media":{"url":"https://ex.com/f.png"}}}]}],'
        .. '"message_properties":{"menu":"Open menu"}}}',
        M.list{ title = "Menu", description = "Pick a dish", menu = "Open menu",
                sections = { { title = "Mains", items = {
                  { choice = { title = "Soup", postback_data = "soup" } },
                  { choice = { title = "Fish", description = "Fresh",
                    media = { url = "https://ex.com/f.png" } } },
                } } } })
    end)

    it("builds a product list with its catalog", function()
      same_json('{"list_message":{"title":"Shop","sections":[{"items":[{"product":{"id":"sku-1",'
        .. '"marketplace":"FACEBOOK","quantity":2,"item_price":9.5,"currency":"EUR"}}]}],'
        .. '"message_properties":{"catalog_id":"cat-1","whatsapp_header":"Deals"}}}',
        M.list{ title = "Shop", catalog_id = "cat-1", whatsapp_header = "Deals",
                sections = { { items = { { product = { id = "sku-1", marketplace = "FACEBOOK", quantity = 2,
                                                       item_price = 9.5, currency = "EUR" } } } } } })
    end)

    it("checks sections and items", function()
      local product = { product = { id = "sku-1", marketplace = "FACEBOOK" } }
      local choice = { choice = { title = "Soup" } }
      assert.equal("list_message.message_properties.catalog_id: required for product lists",
        err_of(function() M.list{ title = "Shop", sections = { { items = { product } } } } end))
      assert.equal("list_message.sections[2].items[1]: a list holds either choice items or product items, " ..
        "not both",
        err_of(function()
          M.list{ title = "x", catalog_id = "c", sections = { { items = { choice } },
            { items = { product } } } }
        end))
      assert.equal("list_message.sections: at least 1 section", err_of(function() M.list{ title = "x",
        sections = {} } end))
      assert.equal("list_message.sections[1].items: at least 1 item",
        err_of(function() M.list{ title = "x", sections = { { title = "Empty", items = {} } } } end))
      assert.equal("list_message.sections[1].items[1]: needs exactly one of choice, product (got choice, " ..
        "product)",
        err_of(function()
          M.list{ title = "x", sections = { { items = { { choice = choice.choice,
            product = product.product } } } } }
        end))
      assert.equal("list_message.sections[1].items[1].product.quantity: expected a whole number",
        err_of(function()
          M.list{ title = "x", catalog_id = "c", sections = { { items = {
            { product = { id = "a", marketplace = "FACEBOOK", quantity = 1.5 } } } } } }
        end))
      assert.equal("list_message.title: required",
        err_of(function() M.list{ sections = { { items = { choice } } } } end))
    end)
  end)

  describe("extras", function()
    it("agent() builds an agent", function()
      assert.same({ display_name = "Ann", type = "HUMAN", picture_url = "https://ex.com/ann.png" },
        M.agent{ display_name = "Ann", type = "HUMAN", picture_url = "https://ex.com/ann.png" })
      assert.equal("agent.display_name: required", err_of(function() M.agent{ type = "BOT" } end))
      assert.equal('agent.type: must be one of UNKNOWN_AGENT_TYPE, HUMAN, BOT (got "ROBOT")',
        err_of(function() M.agent{ display_name = "R2", type = "ROBOT" } end))
    end)

    it("with() puts extras beside the kind, without changing the original", function()
      local base = M.text("Hi ${name}")
      local msg = M.with(base, {
        agent = M.agent{ display_name = "Ann", type = "HUMAN" },
        explicit_channel_message = { SMS = "plain ${name}", WHATSAPP = { text = { body = "x" } } },
        explicit_channel_omni_message = {
          WHATSAPP = { template_reference = { template_id = "hello", version = "1",
            language_code = "en_US" } },
          KAKAOTALK = M.text("Hej"),
        },
        channel_specific_message = { WHATSAPP = { message_type = "FLOWS", message = { flow_id = "1" } } },
      })
      assert.is_nil(base.agent)
      same_json('{"text_message":{"text":"Hi ${name}"},"agent":{"display_name":"Ann","type":"HUMAN"},'
        .. '"explicit_channel_message":{"SMS":"plain ${name}",'
        .. '"WHATSAPP":"{\\"text\\":{\\"body\\":\\"x\\"}}"},'
        .. '"explicit_channel_omni_message":{"WHATSAPP":{"template_reference":{"template_id":"hello",'
        .. '"version":"1","language_code":"en_US"}},"KAKAOTALK":{"text_message":{"text":"Hej"}}},'
        .. '"channel_specific_message":{"WHATSAPP":{"message_type":"FLOWS","message":{"flow_id":"1"}}}}', msg)
    end)

    it("with() checks the extras", function()
      local base = M.text("Hi")
      assert.equal("extras.agents: unknown field (known: agent, channel_specific_message, " ..
        "explicit_channel_message, "
        .. "explicit_channel_omni_message)", err_of(function() M.with(base, { agents = {} }) end))
      assert.equal("extras.explicit_channel_omni_message.SMS: not one of WHATSAPP, KAKAOTALK, WECHAT",
        err_of(function() M.with(base, { explicit_channel_omni_message = { SMS = M.text("x") } }) end))
      assert.equal("extras.explicit_channel_omni_message.WHATSAPP: needs exactly one of text_message, "
        .. "media_message, template_reference, choice_message, card_message, carousel_message, " ..
          "location_message, "
        .. "contact_info_message, list_message (got none)",
        err_of(function() M.with(base, { explicit_channel_omni_message = { WHATSAPP = {} } }) end))
      assert.equal("extras.explicit_channel_omni_message.WHATSAPP.template_message: unknown field (known: "
        .. "card_message, carousel_message, choice_message, contact_info_message, list_message, " ..
          "location_message, "
        .. "media_message, template_reference, text_message)",
        err_of(function()
          M.with(base, { explicit_channel_omni_message = { WHATSAPP = M.template{
            omni_template = { template_id = "t", version = "1" } } } })
        end))
      assert.equal("extras.explicit_channel_message.SMS: expected a string (the channel's own JSON " ..
        "payload) or a table",
        err_of(function() M.with(base, { explicit_channel_message = { SMS = 1 } }) end))
      assert.equal("extras.channel_specific_message.WHATSAPP: expected a table",
        err_of(function() M.with(base, { channel_specific_message = { WHATSAPP = "x" } }) end))
      assert.equal("message.with: expected a message table", err_of(function() M.with("Hi", {}) end))
    end)
  end)

  describe("raw()", function()
    it("accepts any table as-is", function()
      local t = { future_message = { anything = true } }
      assert.equal(t, M.raw(t))
      assert.is_true(M.is_raw(t))
      assert.is_true(M.validate(t))
      assert.is_false(M.is_raw({ future_message = {} }))
      invalid({ future_message = { anything = true } }, "future_message: not a message field (kinds: "
        .. "text_message, media_message, template_message, choice_message, card_message, carousel_message, "
        .. "location_message, contact_info_message, list_message; extras: explicit_channel_message, "
        .. "explicit_channel_omni_message, channel_specific_message, agent)")
    end)

    it("stays raw through with()", function()
      local msg = M.with(M.raw{ future_message = {} }, { agent = { display_name = "Ann" } })
      assert.is_true(M.is_raw(msg))
      assert.same({ future_message = {}, agent = { display_name = "Ann" } }, msg)
    end)

    it("rejects a non-table", function()
      assert.equal("message.raw: expected a table", err_of(function() M.raw("{}") end))
    end)
  end)

  describe("validate()", function()
    it("accepts every constructor's result and hand-made tables", function()
      assert.is_true(M.validate(M.text("Hi")))
      assert.is_true(M.validate({ media_message = { url = "https://ex.com/a.png" } }))
      local json = '{"choice_message":{"choices":[{"text_message":{"text":"A"}}]}}'
      assert.is_true(M.validate(cjson.decode(json)))
    end)

    it("needs exactly one kind and only known extras", function()
      invalid("Hi", "message: expected a table")
      invalid({},
        "message: needs exactly one of text_message, media_message, template_message, choice_message, "
        .. "card_message, carousel_message, location_message, contact_info_message, list_message (got none)")
      invalid({ agent = { display_name = "A" } },
        "message: needs exactly one of text_message, media_message, "
        .. "template_message, choice_message, card_message, carousel_message, location_message, "
        .. "contact_info_message, list_message (got none)")
      invalid({ text_message = { text = "a" }, media_message = { url = "https://x.io" } },
        "message: needs exactly one of text_message, media_message, template_message, choice_message, "
        .. "card_message, carousel_message, location_message, contact_info_message, list_message "
        .. "(got text_message, media_message)")
      invalid({ text_message = { text = "a" }, metadata = "x" }, "metadata: not a message field (kinds: "
        .. "text_message, media_message, template_message, choice_message, card_message, carousel_message, "
        .. "location_message, contact_info_message, list_message; extras: explicit_channel_message, "
        .. "explicit_channel_omni_message, channel_specific_message, agent)")
    end)

    it("names the nested field and rule", function()
      invalid({ text_message = { txt = "a" } }, "text_message.txt: unknown field (known: text)")
      invalid({ carousel_message = { cards = { {}, { choices = { { text_message = {} } } } } } },
        "carousel_message.cards[2].choices[1].text_message.text: required")
      invalid({ text_message = { text = "a" }, agent = { type = "BOT" } }, "agent.display_name: required")
      invalid({ location_message = { title = "x", coordinates = { latitude = 1, longitude = "2" } } },
        "location_message.coordinates.longitude: expected a number")
    end)

    it("lists the kinds and extras it knows", function()
      assert.equal(9, #M.KINDS)
      assert.same({ "explicit_channel_message", "explicit_channel_omni_message", "channel_specific_message",
                    "agent" }, M.EXTRAS)
    end)
  end)
  describe("examples/messages", function()
    local lua = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

    local function run(path)
      local env = string.format("LUA_PATH='%s' LUA_CPATH='%s' ", package.path, package.cpath)
      local p = assert(io.popen(env .. lua .. " " .. path .. " 2>&1"))
      local out = p:read("*a")
      p:close()
      return out
    end

    it("has a script per message kind, each printing a valid message", function()
      local p = assert(io.popen("ls examples/messages/*.lua"))
      local seen = {}
      for path in p:lines() do
        local out = not path:find("/paths%.lua$") and run(path) -- paths.lua: the examples' module paths
        if out then
          local ok, msg = pcall(cjson.decode, out)
          assert(ok, path .. " printed no JSON: " .. out)
          local valid, err = M.validate(msg)
          assert(valid, path .. ": " .. tostring(err))
          for _, kind in ipairs(M.KINDS) do
            if msg[kind] then seen[kind] = true end
          end
        end
      end
      p:close()
      for _, kind in ipairs(M.KINDS) do
        assert(seen[kind], "no example prints a " .. kind)
      end
    end)

    it("runs from any directory with no module path set (each finds lua/ and build/)", function()
      local build = os.getenv("SINCH_BATCH_BUILD") or "build"
      local p = assert(io.popen("cd examples/messages && ls *.lua"))
      for name in p:lines() do
        if name == "paths.lua" then name = nil end -- not an example: the others' module paths
        local q = name and assert(io.popen(("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 "
          .. "-u LUA_CPATH_5_4 SINCH_BATCH_BUILD='%s' %s '%s/examples/messages/%s' 2>&1"):format(build, lua,
          os.getenv("PWD"), name)))
        if q then
          local out = q:read("*a")
          q:close()
          assert(pcall(cjson.decode, out), name .. " from / printed: " .. out)
        end
      end
      p:close()
    end)
  end)
end)
