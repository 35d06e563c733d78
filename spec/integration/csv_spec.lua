-- A CSV contact list sent through the sandbox with chunk.csv, both ways:
-- the table path (c.recipients into client:send{}) and the builder fast
-- path (rows straight into a client:batch()).  Several chunks per file; the
-- bodies the sandbox received hold exactly the good rows, in order; bad rows
-- are reported with their line numbers and never sent; and every delivery
-- receipt the sandbox posts back maps, through its messageIndex and the
-- chunk's rows, to the CSV line of the recipient it was for.
--
-- The receipts are read by a plain LuaSocket listener on 127.0.0.1 in this
-- process: the sandbox's webhook thread connects and waits in the listen
-- queue until the spec accepts.
local cjson = require "cjson.safe"
local batch = require "sinch.batch"
local mock = require "support.mock"

local chunk = batch.chunk
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- The file, with the expected outcome of every line written out by hand.
-- A BOM, CRLF line ends, a quoted comma, doubled quotes and a quoted line
-- break (so line numbers and row numbers part ways), and four bad rows.
local CSV = "\239\187\191" .. table.concat({
  "channel,phone,name,code",                         -- 1
  "SMS,+46700000001,Ann,1001",                       -- 2
  'SMS,+46700000002,"Lindqvist, Bo",1002',           -- 3
  'SMS,+46700000003,"Cy ""the"" 3rd",1003',          -- 4
  'SMS,+46700000004,"Di',                            -- 5
  'line two",1004',                                  -- 6 (still line 5's row)
  "SMS,0700 000007,Ed,1007",                         -- 7 bad: not a phone number
  "SMS,+46700000008,Fa",                             -- 8 bad: 3 fields
  "SMS,+46700000009,Gus,1009",                       -- 9
  "SMS,,Hal,1010",                                   -- 10 bad: empty identity
  "WHATSAPP,+46700000011,Ida,1011",                  -- 11
  "SMS,+46700000012,Jo,1012",                        -- 12
  "SMS,+46700000013,Kim,1013,extra",                 -- 13 bad: 5 fields
  "SMS,+46700000014,Liv,1014",                       -- 14
}, "\r\n") .. "\r\n"

-- line -> { channel, identity, name, code } for every good row
local GOOD = {
  [2] = { "SMS", "+46700000001", "Ann", "1001" },
  [3] = { "SMS", "+46700000002", "Lindqvist, Bo", "1002" },
  [4] = { "SMS", "+46700000003", 'Cy "the" 3rd', "1003" },
  [5] = { "SMS", "+46700000004", "Di\r\nline two", "1004" },
  [9] = { "SMS", "+46700000009", "Gus", "1009" },
  [11] = { "WHATSAPP", "+46700000011", "Ida", "1011" },
  [12] = { "SMS", "+46700000012", "Jo", "1012" },
  [14] = { "SMS", "+46700000014", "Liv", "1014" },
}
local GOOD_LINES = { 2, 3, 4, 5, 9, 11, 12, 14 }
local BAD = {
  { line = 7, reason = 'identity: not a phone number (an optional "+", then digits) '
    .. "for channel SMS" },
  { line = 8, reason = "the row has 3 fields, the header has 4" },
  { line = 10, reason = "identity: is empty" },
  { line = 13, reason = "the row has 5 fields, the header has 4" },
}
local SIZE = 3 -- 8 good rows: chunks of 3, 3 and 2

-- The RecipientAndParam the API reference gives for a good line.
local function expected_entry(line)
  local g = GOOD[line]
  return { recipient = { identified_by = { channel_identities = {
             { channel = g[1], identity = g[2] } } } },
           parameters = { name = g[3], code = g[4] } }
end

-- The bodies of the sends the sandbox received, in order.
local function sent_bodies(m)
  local out = {}
  for _, r in ipairs(m:requests()) do
    if r.method == "POST" and r.path:find("/messages$") then
      out[#out + 1] = assert(cjson.decode(r.body))
    end
  end
  return out
end

-- Accepts one HTTP request on server, answers 200; returns its body.
local function receive_one(server)
  local conn = assert(server:accept())
  conn:settimeout(30)
  local len
  while true do
    local h = assert(conn:receive("*l"))
    if h == "" then break end
    local v = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if v then len = tonumber(v) end
  end
  assert(len, "a callback without Content-Length")
  local body = assert(conn:receive(len))
  conn:send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
  conn:close()
  return body
end

-- Reads callbacks until n delivery receipts of the batches in ids came:
-- { [batch_id] = { [messageIndex] = identity } }
local function receipts(server, ids, n)
  local out, got = {}, 0
  while got < n do
    local ev = assert(cjson.decode(receive_one(server)))
    local report = ev.message_delivery_report
    local mm = report and assert(cjson.decode(ev.message_metadata))
    if mm and ids[mm.batchId] then
      out[mm.batchId] = out[mm.batchId] or {}
      assert.is_nil(out[mm.batchId][mm.messageIndex], "receipt delivered twice")
      out[mm.batchId][mm.messageIndex] = report.channel_identity.identity
      got = got + 1
    end
  end
  return out
end

describe("a CSV list through the sandbox", function()
  local m, client, server, path
  local msg = batch.message.text("Hi ${name}, your code is ${code}")

  setup(function()
    path = os.tmpname()
    write_file(path, CSV)
    local url
    server, url = mock.callback_server("/callbacks", 30) -- a bound for a broken run, not a timing assertion
    m = mock.start{ args = { "--webhook", url, "--quiet" } }
    client = assert(batch.client{ project_id = m.project_id, app_id = APP, base_url = m.url,
      auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret })
  end)

  teardown(function()
    if client then client:close() end
    if m then m:stop() end
    if server then server:close() end
    if path then os.remove(path) end
  end)

  before_each(function() m:reset() end)

  -- What both ways must give: the chunks' rows, the bodies and the receipts.
  local function check_run(chunks, bad)
    assert.same(BAD, bad)
    local rows = {}
    for i, c in ipairs(chunks) do
      rows[i] = c.rows
    end
    assert.same({ { 2, 3, 4 }, { 5, 9, 11 }, { 12, 14 } }, rows)

    local bodies = sent_bodies(m)
    assert.equal(#chunks, #bodies)
    local all = {}
    for i, body in ipairs(bodies) do
      assert.equal(APP, body.app_id)
      assert.same({ text_message = { text = "Hi ${name}, your code is ${code}" } }, body.message)
      local want = {}
      for j, line in ipairs(chunks[i].rows) do
        want[j] = expected_entry(line)
        all[#all + 1] = line
      end
      assert.same(want, body.recipient_and_params)
    end
    assert.same(GOOD_LINES, all)

    -- each receipt: batch id + messageIndex -> the chunk's row -> the CSV line,
    -- whose identity is the one the sandbox delivered to
    local ids = {}
    for _, c in ipairs(chunks) do ids[c.batch_id] = true end
    local got = receipts(server, ids, #GOOD_LINES)
    local n = 0
    for _, c in ipairs(chunks) do
      local by_index = assert(got[c.batch_id], "no receipts for batch " .. c.batch_id)
      for index, identity in pairs(by_index) do
        local line = chunk.row_of(c, index)
        assert.equal(c.rows[index + 1], line)
        assert.equal(GOOD[line][2], identity)
        n = n + 1
      end
    end
    assert.equal(#GOOD_LINES, n)
  end

  it("sends the table path, chunk by chunk", function()
    local src = assert(chunk.csv(path, { size = SIZE }))
    local chunks = {}
    for c in src do
      local res, err = client:send{ message = msg, recipients = c.recipients }
      assert.is_nil(err)
      c.batch_id = res.batch_id
      chunks[#chunks + 1] = c
    end
    check_run(chunks, src.bad)
  end)

  it("sends the builder fast path, chunk by chunk", function()
    local b = assert(client:batch{ message = msg })
    local src = assert(chunk.csv(path, { size = SIZE, builder = b }))
    local chunks = {}
    for c in src do
      assert.equal(#c.rows, c.count)
      assert.equal(c.count, b:count())
      local res, err = client:send(b)
      assert.is_nil(err)
      c.batch_id = res.batch_id
      chunks[#chunks + 1] = c
    end
    check_run(chunks, src.bad)
  end)

  it("sends nothing from a file whose columns miss a ${param}", function()
    local b = assert(client:batch{ message = batch.message.text("Hi ${name}, ${city}") })
    local src, err = chunk.csv(path, { builder = b })
    assert.is_nil(src)
    assert.equal("params: the message uses ${city} but no CSV column gives it (defaults do "
      .. "not apply to rows filled from a file)", err.message)
    assert.same({}, sent_bodies(m))
  end)
end)
