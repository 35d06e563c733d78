-- webhook.receipt, the fast path for delivery receipts, against webhook.parse:
-- whenever receipt() answers a table, it is exactly what parse() gives for the
-- body (its plain fields, as examples/openresty/sinch_handlers.lua takes
-- them), never a table for a body parse() refuses.  Realistic receipts must
-- take the fast path; a deterministic generator of a few thousand bodies
-- (variants, duplicate keys, escapes, odd numbers, nesting, byte mutations)
-- checks the rule everywhere else.
local webhook = require "sinch.batch.webhook"
local flood = require "support.flood"

local receipt, parse = webhook.receipt, webhook.parse
local mtype = rawget(math, "type") or function() return nil end -- Lua 5.3+
local floor, rep, char = math.floor, string.rep, string.char
local format = string.format

-- project(parse(raw)): the plain fields of a delivery receipt with a batch id
local function v(x)
  local t = type(x)
  if t == "string" or t == "number" then return x end
end
local function project(ev)
  if not ev or ev.type ~= "message_delivery" or ev.batch_id == nil then return nil end
  local reason = ev.reason
  if type(reason) == "table" then
    reason = { code = v(reason.code), description = v(reason.description) }
  else
    reason = nil
  end
  return { type = ev.type, batch_id = v(ev.batch_id), message_index = v(ev.message_index),
           message_id = v(ev.message_id), status = v(ev.status), reason = reason,
           event_time = v(ev.event_time), accepted_time = v(ev.accepted_time) }
end

-- equal, key for key, and of the same number subtype (Lua 5.3+)
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if a ~= a then return b ~= b end
    return a == b and mtype(a) == mtype(b)
  end
  if type(a) ~= "table" then return a == b end
  for k, x in pairs(a) do
    if not same(x, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function show(x)
  if type(x) == "string" then return format("%q", x) end
  if type(x) == "number" then return tostring(x) .. (mtype(x) and "(" .. mtype(x) .. ")" or "") end
  if type(x) ~= "table" then return tostring(x) end
  local keys, out = {}, {}
  for k in pairs(x) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. show(x[k]) end
  return "{" .. table.concat(out, ", ") .. "}"
end

local FIELDS = { "message_id", "status", "event_time", "accepted_time" }
local KEYS = { type = true, batch_id = true, message_index = true, message_id = true, status = true,
               event_time = true, accepted_time = true, reason = true }

-- What the contract says of a table receipt() answers, beyond the equality.
local function shape(t)
  for k in pairs(t) do
    if not KEYS[k] then return "unexpected key " .. show(k) end
  end
  if t.type ~= "message_delivery" then return "type is " .. show(t.type) end
  if type(t.batch_id) ~= "string" or t.batch_id == "" then return "batch_id is " .. show(t.batch_id) end
  local i = t.message_index
  if type(i) ~= "number" or i < 0 or i % 1 ~= 0 or (mtype(i) and mtype(i) ~= "integer") then
    return "message_index is " .. show(i)
  end
  for _, f in ipairs(FIELDS) do
    if t[f] ~= nil and type(t[f]) ~= "string" then return f .. " is " .. show(t[f]) end
  end
  local r = t.reason
  if r ~= nil then
    if type(r) ~= "table" then return "reason is " .. show(r) end
    for k, x in pairs(r) do
      if (k ~= "code" and k ~= "description") or type(x) ~= "string" then
        return "reason is " .. show(r)
      end
    end
  end
  return nil
end

-- nil, accepted (true/false) when receipt() keeps the rule; else what is wrong.
local function verdict(raw)
  local ok, got = pcall(receipt, raw)
  if not ok then return "receipt() raised " .. tostring(got) end
  if got == nil then return nil, false end
  if type(got) ~= "table" then return "receipt() answered a " .. type(got) end
  local event, err = parse(raw)
  local want = project(event)
  if want == nil then
    return "receipt() answered " .. show(got) .. " where parse() gives "
      .. (event and "no delivery receipt with a batch id" or ("an error: " .. tostring(err)))
  end
  local bad = shape(got)
  if bad then return "receipt() answered " .. show(got) .. ": " .. bad end
  if not same(got, want) then
    return "receipt() answered " .. show(got) .. ", project(parse()) gives " .. show(want)
  end
  return nil, true
end

-- A smaller body that still breaks the rule (deleting chunks while it does).
local function minimise(raw)
  local chunk = floor(#raw / 2)
  while chunk >= 1 do
    local i, shrunk = 1, false
    while i <= #raw do
      local try = raw:sub(1, i - 1) .. raw:sub(i + chunk)
      if verdict(try) then raw, shrunk = try, true else i = i + chunk end
    end
    if not shrunk then chunk = floor(chunk / 2) end
  end
  return raw
end

-- Checks every body; fails with the three shortest (minimised) that break
-- the rule.  Returns how many were accepted and declined.
local function check_all(bodies)
  local accepted, declined, fails = 0, 0, {}
  for _, raw in ipairs(bodies) do
    local bad, took = verdict(raw)
    if bad then
      fails[#fails + 1] = raw
    elseif took then
      accepted = accepted + 1
    else
      declined = declined + 1
    end
  end
  if #fails > 0 then
    table.sort(fails, function(a, b) return #a < #b end)
    local msg = { #fails .. " of " .. #bodies .. " bodies break the rule; the shortest:" }
    for k = 1, math.min(3, #fails) do
      local small = minimise(fails[k])
      msg[#msg + 1] = format("body %q\n  %s\n  minimised: %q\n  %s", fails[k], verdict(fails[k]),
                             small, verdict(small))
    end
    error(table.concat(msg, "\n"), 0)
  end
  return accepted, declined
end

-- JSON text ---------------------------------------------------------------

-- a JSON string literal of s (as an encoder writes one)
local SHORT = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function jstr(s)
  return '"' .. (s:gsub('[%c"\\]', function(c) return SHORT[c] or format("\\u%04x", c:byte()) end)) .. '"'
end

local function nest(n) return rep("[", n) .. rep("]", n) end

-- raw with its white space between tokens replaced by gap() around every
-- brace, bracket, colon and comma (strings left as they are)
local function respace(raw, gap)
  local out, in_string, escaped = {}, false, false
  for c in raw:gmatch(".") do
    if in_string then
      out[#out + 1] = c
      if escaped then escaped = false
      elseif c == "\\" then escaped = true
      elseif c == '"' then in_string = false
      end
    elseif c == '"' then
      out[#out + 1], in_string = c, true
    elseif c:match("[{}%[%]:,]") then
      out[#out + 1] = gap() .. c .. gap()
    elseif not c:match("[ \t\r\n]") then
      out[#out + 1] = c
    end
  end
  return table.concat(out)
end
local function cycle(list)
  local i = 0
  return function()
    i = i % #list + 1
    return list[i]
  end
end

-- one receipt, with any of its parts replaced by raw JSON text
local function receipt_body(o)
  local md = o.md or ('{"batchId":"B0","messageIndex":' .. (o.index or "1") .. (o.md_extra or "") .. "}")
  local report = o.report or ('{"message_id":"M1","status":"DELIVERED"' .. (o.report_extra or "") .. "}")
  return (o.pre or "") .. '{"app_id":"A","event_time":"2026-11-29T10:00:00Z"' .. (o.before or "")
    .. ',"message_delivery_report":' .. report .. ',"message_metadata":' .. (o.md_raw or jstr(md))
    .. (o.after or "") .. "}" .. (o.post or "")
end

-- Realistic receipts -------------------------------------------------------

local SINCH = [[
{
  "app_id": "01EB37HMH1M6SV18ASNS3G135H",
  "accepted_time": "2026-11-29T10:55:40.081Z",
  "event_time": "2026-11-29T10:55:41.126Z",
  "project_id": "c36f3d3d-1513-4edd-ae42-11995557ff61",
  "message_delivery_report": {
    "message_id": "01EK3FVZ5A5YQ9K8C6S7ZH6YS3",
    "conversation_id": "01EK3FVZ5A5YQ9K8C6S7ZH6YS4",
    "status": "%s",%s
    "channel_identity": {
      "channel": "WHATSAPP",
      "identity": "46732001122",
      "app_id": ""
    },
    "contact_id": "01EK3FVZ5A5YQ9K8C6S7ZH6YS5",
    "metadata": "",
    "processing_mode": "CONVERSATION"
  },
  "message_metadata": "{\"batchId\":\"01KBATCH7Q2W3E4R5T6Y7U8I9O\",\"messageIndex\":%d}",
  "correlation_id": ""
}
]]

local REALISTIC = {
  flood.body(1), flood.body(0), flood.body(20), flood.body(999), flood.body(1000), flood.body(123456),
  format(SINCH, "DELIVERED", "", 0),
  format(SINCH, "QUEUED_ON_CHANNEL", "", 41),
  format(SINCH, "FAILED", '\n    "reason": {\n      "code": "RECIPIENT_NOT_REACHABLE",\n'
    .. '      "description": "Destinataire injoignable \226\128\148 r\195\169essayez \240\159\152\128"\n'
    .. '    },', 7),
  (format(SINCH, "READ", "", 12):gsub("\n", "\r\n")),
  respace(format(SINCH, "DELIVERED", "", 3), function() return "" end),
  respace(format(SINCH, "DELIVERED", "", 3), cycle { "\t", " \n ", "", "\r\n", "  " }),
  respace(flood.body(20), cycle { " ", "\n", "" }),
  -- raw UTF-8 in the values taken, arrays and objects in the values skipped
  '{"app_id":"A","message_delivery_report":{"message_id":"M\195\169\226\130\172","status":"FAILED",'
    .. '"reason":{"code":"X","description":"\228\184\141\229\156\168 \240\159\147\181"},'
    .. '"channel_identity":{"channel":"SMS","identity":"+46"},"extra":[1,2.5,-3e2,true,false,null,'
    .. '{"k":[[],{}]}]},"event_time":"2026-11-29T10:00:00Z","message_metadata":'
    .. '"{\\"messageIndex\\":0,\\"batchId\\":\\"B\\",\\"other\\":[1,{\\"a\\":null}]}",'
    .. '"accepted_time":"2026-11-29T09:59:59Z","correlation_id":"c-1","list":[{"a":[1]}]}',
  -- the batch under batch_id in message_metadata
  receipt_body { md = '{"batch_id":"B7","messageIndex":2}' },
}

-- Bodies a fast path gets wrong easily ------------------------------------

local TRAPS = {}
local function trap(o) TRAPS[#TRAPS + 1] = receipt_body(o) end

-- message indexes: floats, huge integers, strings, invalid numbers cjson takes
for _, i in ipairs { "0", "5.0", "5e0", "5E+0", "50e-1", "-0", "-0.0", "-1", "0.5", "1e300", "1e400",
                     "2147483648", "4294967296", "999999999999999", "1000000000000000",
                     "9007199254740991", "9007199254740993",
                     "9223372036854775807", "9223372036854775808", "18446744073709551617",
                     "123456789012345678901234567890", "0x10", "007", "+1", "1.", "nan", "inf", "-inf",
                     "Infinity", "0x1p3", "-", ".5", "1.2.3", '"5"', '"05"', '" 5"', '"5 "', '"-1"',
                     '"1.0"', '"9007199254740993"', '"99999999999999999999999"', "null", "true", "false",
                     "[]", "{}", "[1]", "1 2" } do
  trap { index = i }
  trap { index = i, md_extra = ',"message_index":3' }
end
trap { md = '{"batchId":"B0","message_index":3}' }
trap { md = '{"batchId":"B0"}', after = ',"messageIndex":4' }
trap { md = '{"batchId":"B0"}', report_extra = ',"metadata":"{\\"messageIndex\\":4}"' }
trap { md = '{"batchId":"B0"}', report_extra = ',"message_index":4' }
trap { md = '{"batchId":"B0","messageIndex":null}', report_extra = ',"messageIndex":4' }
-- where the batch id comes from
for _, md in ipairs { '{"batchId":"","batch_id":"X","messageIndex":1}',
                      '{"batchId":null,"batch_id":"X","messageIndex":1}',
                      '{"batchId":false,"batch_id":"X","messageIndex":1}',
                      '{"batchId":5,"messageIndex":1}', '{"batchId":"","messageIndex":1}',
                      '{"batchId":"B0","messageIndex":1,"batchId":"B9"}',
                      '{"batchId":"B0","messageIndex":1,"batchId":""}',
                      '{"batchId":"B0","messageIndex":1,"batchId":null}',
                      '{"batchId":"B0","messageIndex":1,"messageIndex":2}',
                      '{"batchId":"B0","messageIndex":1,"batch\\u0049d":"B9"}',
                      '{"batch\\u0049d":"B9","messageIndex":1}',
                      '{"batchId":"B\\u00e9","messageIndex":1}', '{"batchId":"B\\"","messageIndex":1}',
                      '{"messageIndex":1}', '{}', "", "[]", "null", "5", '"x"', "not json",
                      '{"batchId":"B0","messageIndex":1} x', '{"batchId":"B0","messageIndex":1}\0junk',
                      '{"batchId":"B0","messageIndex":1,}', ' {"batchId":"B0","messageIndex":1}',
                      -- cjson takes 1000 levels, not 1001
                      '{"batchId":"B0","messageIndex":1,"x":' .. nest(999) .. "}",
                      '{"batchId":"B0","messageIndex":1,"x":' .. nest(1000) .. "}" } do
  trap { md = md }
  trap { md = md, report_extra = ',"metadata":"{\\"_batch_id\\":\\"R\\",\\"messageIndex\\":6}"' }
  trap { md = md, report_extra = ',"batch_id":"P"', after = ',"batchId":"T"' }
end
-- message_metadata as an object, with its quotes or brace escaped, not a string
for _, raw in ipairs { '{"batchId":"B0","messageIndex":1}',
                       '"{\\u0022batchId\\u0022:\\u0022B0\\u0022,\\u0022messageIndex\\u0022:1}"',
                       '"{\\"batchId\\":\\"B0\\",\\"messageIndex\\":1}\\u0000x"',
                       '"{\\"batchId\\":\\"B0\\",\\"messageIndex\\":1\\u007d"', '"{\\/}"', "null", "5",
                       "[]", '""', "true" } do
  trap { md_raw = raw }
end
-- more than one delivery report, payloads of other kinds
trap { after = ',"message_delivery_report":null' }
trap { after = ',"message_delivery_report":"x"' }
trap { after = ',"message_delivery_report":{"message_id":"M2","status":"FAILED"}' }
trap { before = ',"message_delivery_report":null' }
trap { before = ',"message_delivery_report":{"status":"X"}' }
trap { after = ',"message_delivery\\u005freport":null' }
trap { after = ',"message_delivery\\u005freport":{"status":"FAILED"}' }
trap { after = ',"message_metadata":"{}"' }
trap { after = ',"message_metadata":null' }
trap { before = ',"message_metadata":"{\\"batchId\\":\\"B9\\",\\"messageIndex\\":9}"' }
trap { after = ',"message_metadat\\u0061":"{}"' }
trap { after = ',"event_time":"later"', before = ',"accepted_time":"t1","accepted_time":"t2"' }
trap { after = ',"event_time":5' }
trap { after = ',"event_time":null' }
trap { after = ',"event_tim\\u0065":"x"' }
for _, other in ipairs { "message_submit_notification", "batch_status_update", "event_delivery_report",
                         "message", "unsupported_callback" } do
  trap { before = ',"' .. other .. '":{"batch_id":"Z","status":"S"}' }
  trap { after = ',"' .. other .. '":{}' }
  trap { report = "null", after = ',"' .. other .. '":{}' }
end
for _, report in ipairs { "null", "[]", "[{}]", '"x"', "5", "true", "{}", '{"status":"DELIVERED"}' } do
  trap { report = report }
end
-- the fields taken: duplicates, escapes, other types
for _, s in ipairs { '"a\\"b"', '"a\\\\b"', '"a\\/b"', '"a\\bb"', '"a\\fb"', '"a\\nb"', '"a\\rb"',
                     '"a\\tb"', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\ude00"', '"\\ud83dx"',
                     '"\\u0000"', '"\\x"', '"\\u12"', '"\\uZZZZ"', '"a\nb"', '"a\0b"', '"\255\254"',
                     '"\\"', '""', "5", "5.0", "-1", "1e300", "null", "true", "false", "[]", "{}",
                     '{"a":1}', '["x"]', "0x10", "nan" } do
  trap { report = '{"message_id":' .. s .. ',"status":"DELIVERED"}' }
  trap { report = '{"message_id":"M1","status":' .. s .. "}" }
  trap { report = '{"message_id":"M1","status":"FAILED","reason":{"code":' .. s .. ',"description":"d"}}' }
  trap { report_extra = ',"reason":{"code":"C","description":' .. s .. "}" }
  trap { after = ',"accepted_time":' .. s }
  trap { md = '{"batchId":' .. s .. ',"messageIndex":1}' }
  trap { after = ',"x":' .. s } -- a value no field takes must still be valid JSON
  trap { report_extra = ',"channel_identity":{"identity":' .. s .. "}" }
end
for _, r in ipairs { "[]", "{}", "null", '"x"', "5", '{"code":"A","code":"B"}', '{"code":"A","code":null}',
                     '{"description":"only"}', '{"cod\\u0065":"A"}', '{"code":"A","extra":{"x":[1]}}',
                     '[{"code":"A"}]', '{"code":{"code":"A"}}' } do
  trap { report_extra = ',"reason":' .. r }
  trap { report_extra = ',"reason":{"code":"A","description":"d"},"reason":' .. r }
end
trap { report_extra = ',"status":"FAILED"' }
trap { report_extra = ',"message_id":"M2"' }
trap { report_extra = ',"stat\\u0075s":"FAILED"' }
-- JSON the fast path must refuse where cjson does (and may refuse where it takes it)
for _, bad in ipairs { "1.2.3", "-", ".5", "tru", "nul", "[1,]", '{"a":1,}', '{"a"}', "[", "{", '"',
                       "01", "+1", "0x1p3", "Infinity", "NaN", "-inf", "1e", "1e+", "[1 2]", '{"a":1 "b":2}',
                       "{1:2}", "{'a':1}", nest(998), nest(999), nest(1000), nest(2000) } do
  trap { after = ',"x":' .. bad }
  trap { report_extra = ',"x":' .. bad }
end
-- before and after the body
for _, pre in ipairs { " ", "\n\r\t ", "\239\187\191", "\f", "\v", "\0", "x", "[", '"' } do
  trap { pre = pre }
end
for _, post in ipairs { " ", "\n", "\0", "\0junk", "x", "}", "]", ",", " {}", "\f", "\v" } do
  trap { post = post }
end
TRAPS[#TRAPS + 1] = ""
TRAPS[#TRAPS + 1] = "[" .. flood.body(1) .. "]"
TRAPS[#TRAPS + 1] = jstr(flood.body(1))
TRAPS[#TRAPS + 1] = "null"
TRAPS[#TRAPS + 1] = "{}"

-- The generator -------------------------------------------------------------

-- Park-Miller: the same numbers under every interpreter (exact in doubles)
local function rng(seed)
  local s = seed % 2147483646 + 1
  return function(n)
    s = s * 16807 % 2147483647
    return s % n + 1
  end
end

local WS = { " ", "\n", "\r\n", "\t", "  ", "\n    " }
local PLAIN_STRINGS = { '"DELIVERED"', '"QUEUED_ON_CHANNEL"', '"FAILED"', '"2026-11-29T10:00:00Z"',
                        '"M1"', '"01EK3FVZ5A5YQ9K8C6S7ZH6YS3"', '"Zo\195\171 \226\156\147 \240\159\152\128"',
                        '"a b"', '""', '"x{y}[z],:"' }
local ODD_STRINGS = { '"a\\"b"', '"a\\\\b"', '"a\\/b"', '"a\\bb"', '"a\\fb"', '"a\\nb"', '"a\\rb"',
                      '"a\\tb"', '"\\u00e9"', '"\\u00E9"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\ude00"',
                      '"\\ud83dx"', '"\\ud83d\\u0041"', '"\\u0000"', '"\\x"', '"\\u12"', '"a\nb"',
                      '"a\0b"', '"\255\254"', '"\192\128"', "5", "5.0", "-1", "1e300", "null", "true",
                      "false", "[]", "{}", '{"a":1}', '["x"]', "0x10", "-0", '""' }
local PLAIN_BATCHES = { '"B0"', '"01KBATCH7Q2W3E4R5T6Y7U8I9O"', '"batch-1"', '"B\195\169"' }
local PLAIN_INDEXES = { "0", "1", "7", "42", "999", "123456", "2147483647", "4294967296",
                        "999999999999999", "9007199254740991" }
local ODD_INDEXES = { '"5"', '"05"', '" 5"', '"-1"', '"1.0"', '"9007199254740993"',
                      '"99999999999999999999999"', "5.0", "5e0", "5E+0", "50e-1", "-0", "-0.0", "-1",
                      "0.5", "1e300", "1e400", "9007199254740993", "9223372036854775807",
                      "9223372036854775808", "18446744073709551616", "123456789012345678901234567890",
                      "0x10", "007", "+1", "1.", "nan", "inf", "Infinity", "01", "-", "null", "true",
                      "false", "[]", "{}", "[1]" }
local JUNK = { '{"a":[1,2,{"b":null}],"c":"\\u00e9"}', "[]", "{}", '[[[["deep"]]]]', "-12.5e-3",
               '"{\\"batchId\\":\\"J\\"}"', '{"batchId":"J","messageIndex":9}', nest(100) }
local OTHER_PAYLOADS = { "message_submit_notification", "batch_status_update", "event_delivery_report",
                         "message", "event", "unsupported_callback" }
local MUTATION_BYTES = { '"', "\\", "{", "}", "[", "]", ",", ":", "0", "9", "-", ".", "e", " ", "\0", "\n",
                         "\255", "u", "n", "t" }

local function gen(seed)
  local r = rng(seed)
  -- the percentage of choices that take an odd branch: none (realistic), about
  -- one per body, a few, most
  local percent = ({ 0, 3, 10, 30 })[r(4)]
  local function odd() return r(100) <= percent end
  local function pick(list) return list[r(#list)] end
  local function ws() return r(4) == 1 and pick(WS) or "" end
  local function obj(members)
    if #members > 1 and r(2) == 1 then -- shuffled
      for i = #members, 2, -1 do
        local j = r(i)
        members[i], members[j] = members[j], members[i]
      end
    end
    local out = {}
    for i, m in ipairs(members) do
      out[i] = ws() .. m[1] .. ws() .. ":" .. ws() .. m[2] .. ws()
    end
    return "{" .. table.concat(out, ",") .. (#out == 0 and ws() or "") .. "}"
  end
  local function str_value() return odd() and pick(ODD_STRINGS) or pick(PLAIN_STRINGS) end
  -- a member that sometimes comes twice or under an escaped spelling of its key
  local function add(members, key, value, other)
    if odd() then
      local k = r(4)
      if k == 1 then members[#members + 1] = { key, value }; members[#members + 1] = { key, other() }
      elseif k == 2 then members[#members + 1] = { key, value }; members[#members + 1] = { key, value }
      elseif k == 3 then members[#members + 1] = { key:sub(1, 2) .. format("\\u%04x", key:byte(3))
                                                   .. key:sub(4), value }
      else
        members[#members + 1] = { key, value }
        members[#members + 1] = { (key:gsub("_", "\\u005f")), other() }
      end
    else
      members[#members + 1] = { key, value }
    end
  end

  -- message_metadata
  local md = {}
  if not odd() then
    add(md, r(8) == 1 and '"batch_id"' or '"batchId"', odd() and pick(ODD_STRINGS) or pick(PLAIN_BATCHES),
        function() return pick(PLAIN_BATCHES) end)
  end
  if not odd() then
    add(md, r(8) == 1 and '"message_index"' or '"messageIndex"',
        odd() and pick(ODD_INDEXES) or pick(PLAIN_INDEXES), function() return pick(PLAIN_INDEXES) end)
  end
  if odd() then md[#md + 1] = { pick { '"batch_id"', '"batchId"', '"_batch_id"' }, pick(PLAIN_BATCHES) } end
  if odd() then md[#md + 1] = { pick { '"message_index"', '"messageIndex"' }, pick(PLAIN_INDEXES) } end
  if odd() then md[#md + 1] = { '"other"', pick(JUNK) } end
  local md_text = obj(md)
  if odd() then
    md_text = pick { "", "{}", "not json", "[1]", "null", "5", md_text .. " x", md_text .. "\0junk",
                     md_text .. ",", md_text:sub(1, -2), "{" .. nest(999) }
  end
  local md_value = jstr(md_text)
  if odd() then
    md_value = pick { md_text, (md_value:gsub('\\"', "\\u0022")), (md_value:gsub("/", "\\/")), "null",
                      "5", '""', "[]", "true" }
  end

  -- the delivery report
  local report = {}
  local failed = r(5) == 1
  add(report, '"message_id"', str_value(), str_value)
  add(report, '"status"', failed and '"FAILED"' or str_value(), str_value)
  if failed or odd() then
    local reason = {}
    add(reason, '"code"', odd() and pick(ODD_STRINGS) or '"RECIPIENT_NOT_REACHABLE"', str_value)
    if r(3) > 1 then add(reason, '"description"', str_value(), str_value) end
    if odd() then reason[#reason + 1] = { '"sub_code"', pick(JUNK) } end
    local text = obj(reason)
    if odd() then text = pick { "[]", "{}", "null", '"x"', "5", "[" .. text .. "]" } end
    add(report, '"reason"', text, function() return pick { "null", "{}", '{"code":"OTHER"}' } end)
  end
  if r(2) == 1 then
    report[#report + 1] = { '"channel_identity"', obj { { '"channel"', '"WHATSAPP"' },
                                                        { '"identity"', '"46732001122"' },
                                                        { '"app_id"', '""' } } }
  end
  if r(2) == 1 then report[#report + 1] = { '"conversation_id"', '"01EK3FVZ5A5YQ9K8C6S7ZH6YS4"' } end
  if r(2) == 1 then report[#report + 1] = { '"contact_id"', '"01EK3FVZ5A5YQ9K8C6S7ZH6YS5"' } end
  if r(2) == 1 then report[#report + 1] = { '"processing_mode"', '"CONVERSATION"' } end
  if r(2) == 1 then
    report[#report + 1] = { '"metadata"', odd() and pick { '"{\\"_batch_id\\":\\"R\\",\\"messageIndex\\":6}"',
                                                           '{"batch_id":"R"}', '"{\\"messageIndex\\":6}"',
                                                           "null", '"x"' } or '""' }
  end
  if odd() then
    report[#report + 1] = { pick { '"batch_id"', '"batchId"', '"messageIndex"', '"message_index"' },
                            pick { '"R"', "3", '"3"' } }
  end
  if odd() then report[#report + 1] = { '"x"', pick(JUNK) } end
  local report_text = obj(report)
  if odd() then report_text = pick { "null", '"x"', "5", "[]", "[{}]", "true", "{}" } end

  -- the envelope
  local top = {
    { '"app_id"', '"01EB37HMH1M6SV18ASNS3G135H"' },
    { '"project_id"', '"c36f3d3d-1513-4edd-ae42-11995557ff61"' },
  }
  add(top, '"event_time"', str_value(), str_value)
  if r(2) == 1 then add(top, '"accepted_time"', str_value(), str_value) end
  if r(2) == 1 then top[#top + 1] = { '"correlation_id"', '""' } end
  add(top, '"message_delivery_report"', report_text,
      function() return pick { "null", '"x"', "{}", '{"status":"OTHER"}' } end)
  add(top, '"message_metadata"', md_value,
      function() return pick { '""', "null", '"{\\"batchId\\":\\"B9\\",\\"messageIndex\\":9}"' } end)
  if odd() then
    top[#top + 1] = { pick { '"batch_id"', '"batchId"', '"messageIndex"', '"message_index"' },
                      pick { '"T"', "8", '"8"' } }
  end
  if odd() then
    top[#top + 1] = { '"' .. pick(OTHER_PAYLOADS) .. '"', pick { "{}", '{"batch_id":"Z"}', "null" } }
  end
  if odd() then top[#top + 1] = { '"extra"', pick(JUNK) } end
  if odd() then top[#top + 1] = { '"deep"', nest(pick { 100, 997, 998, 999, 1000, 2000 }) } end
  local body = obj(top)
  if odd() then body = pick { " ", "\n", "\239\187\191", "\f", "\v", "\0" } .. body end
  if odd() then body = body .. pick { " ", "\r\n", "\0", "\0junk", "x", "}", "\f" } end

  -- byte mutations
  if odd() then
    local at = r(#body)
    local k = r(4)
    if k == 1 then body = body:sub(1, at - 1)
    elseif k == 2 then body = body:sub(1, at - 1) .. pick(MUTATION_BYTES) .. body:sub(at + 1)
    elseif k == 3 then body = body:sub(1, at - 1) .. pick(MUTATION_BYTES) .. body:sub(at)
    else body = body:sub(1, at - 1) .. body:sub(at + 1)
    end
  end
  return body
end

-- both outcomes, many times each: the bodies test both paths
local function assert_both(accepted, declined, min_accepted, min_declined)
  assert(accepted >= min_accepted and declined >= min_declined,
         format("accepted %d (want %d or more), declined %d (want %d or more)", accepted, min_accepted,
                declined, min_declined))
end

describe("webhook.receipt", function()
  it("takes realistic receipts, as parse() reads them", function()
    for _, raw in ipairs(REALISTIC) do
      local got = receipt(raw)
      assert(got ~= nil, "declined a realistic receipt: " .. format("%q", raw))
    end
    local accepted, declined = check_all(REALISTIC)
    assert.same({ #REALISTIC, 0 }, { accepted, declined })
  end)

  it("answers what parse() reads, or nothing, for bodies a fast path gets wrong easily", function()
    local accepted, declined = check_all(TRAPS)
    assert_both(accepted, declined, 50, 300)
  end)

  it("answers what parse() reads, or nothing, for generated bodies", function()
    local bodies = {}
    for seed = 1, 4000 do bodies[seed] = gen(seed) end
    local accepted, declined = check_all(bodies)
    assert_both(accepted, declined, 800, 1500)
  end)

  it("answers what parse() reads, or nothing, for every truncation and single-byte change", function()
    local bodies = {}
    for _, raw in ipairs { flood.body(20), REALISTIC[9], receipt_body { md_extra = ',"x":"\\u00e9"' } } do
      for at = 0, #raw - 1 do
        bodies[#bodies + 1] = raw:sub(1, at)
        bodies[#bodies + 1] = raw:sub(1, at) .. raw:sub(at + 2)
        bodies[#bodies + 1] = raw:sub(1, at) .. char((raw:byte(at + 1) + 1) % 256) .. raw:sub(at + 2)
      end
    end
    local accepted, declined = check_all(bodies)
    assert_both(accepted, declined, 800, 1500)
  end)

  -- Found by this spec: parse() takes any table as the report's reason, a
  -- JSON array too (so project() gives reason = {}), while receipt() once
  -- answered such a body with no reason at all.  It now declines it.
  it("declines or mirrors a reason that is a JSON array", function()
    for _, raw in ipairs {
      '{"message_delivery_report":{"reason":[]},'
        .. '"message_metadata":"{\\"batchId\\":\\"B\\",\\"messageIndex\\":1}"}',
      receipt_body { report_extra = ',"reason":[{"code":"A","description":"d"}]' },
    } do
      local bad = verdict(raw)
      assert(bad == nil, format("body %q: %s", raw, tostring(bad)))
    end
  end)

  it("needs the body as a string", function()
    assert.error_matches(function() receipt(42) end, "raw_body")
    assert.error_matches(function() receipt(nil) end, "raw_body")
    assert.error_matches(function() receipt({}) end, "raw_body")
  end)
end)
