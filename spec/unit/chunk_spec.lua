-- sinch.batch.chunk: list and iter chunking, and chunk.csv over nasty files.
local chunk = require "sinch.batch.chunk"

local FIX = "spec/fixtures/csv/"

local function collect(src)
  local out = {}
  for c in src do out[#out + 1] = c end
  return out
end

local function sizes(chunks)
  local s = {}
  for i, c in ipairs(chunks) do s[i] = c.recipients and #c.recipients or c.count or #c end
  return s
end

local function write_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- n rows; row i (line i + 1) is +4670000000i padded, name "n<i>"
local function numbered_csv(n)
  local lines = { "channel,identity,name" }
  for i = 1, n do lines[#lines + 1] = string.format("SMS,+4670%07d,n%d", i, i) end
  return write_file(table.concat(lines, "\n") .. "\n")
end

local function sms(i)
  return { recipient = { identified_by = { channel_identities = {
    { channel = "SMS", identity = string.format("+4670%07d", i) } } } } }
end

describe("chunk.list", function()
  for _, case in ipairs{ { n = 1, want = { 1 } }, { n = 999, want = { 999 } },
                         { n = 1000, want = { 1000 } }, { n = 1001, want = { 1000, 1 } },
                         { n = 2500, want = { 1000, 1000, 500 } } } do
    it("splits " .. case.n .. " items into chunks of at most 1000", function()
      local t = {}
      for i = 1, case.n do t[i] = sms(i) end
      local chunks = collect(chunk.list(t))
      assert.same(case.want, sizes(chunks))
      local k = 0
      for _, c in ipairs(chunks) do
        for j = 1, #c do
          k = k + 1
          assert.equal(k, c.rows[j])
          assert.equal(t[k], c[j])
        end
      end
      assert.equal(case.n, k)
    end)
  end

  it("takes a smaller size", function()
    local t = {}
    for i = 1, 7 do t[i] = i end
    local chunks = collect(chunk.list(t, 3))
    assert.same({ 3, 3, 1 }, sizes(chunks))
    assert.same({ 7 }, chunks[3].rows)
    assert.same({ 4, 5, 6 }, chunks[2].rows)
    assert.same(chunks, collect(chunk.list(t, { size = 3 })))
  end)

  it("yields nothing for an empty list", function()
    assert.same({}, collect(chunk.list({})))
  end)

  it("rejects sizes outside 1..1000 with the rule", function()
    assert.has_error(function() chunk.list({}, 1001) end,
      "bad argument to 'list' (size: an integer from 1 to 1000 expected, got 1001; "
      .. "a batch holds at most 1000 recipients)")
    assert.has_error(function() chunk.list({}, 0) end,
      "bad argument to 'list' (size: an integer from 1 to 1000 expected, got 0; "
      .. "a batch holds at most 1000 recipients)")
    assert.has_error(function() chunk.list({}, 2.5) end,
      "bad argument to 'list' (size: an integer from 1 to 1000 expected, got 2.5; "
      .. "a batch holds at most 1000 recipients)")
    assert.has_error(function() chunk.list("x") end,
      "bad argument #1 to 'list' (table expected, got string)")
    assert.has_error(function() chunk.list({}, { sise = 3 }) end,
      "bad argument #2 to 'list' (unknown option 'sise')")
  end)

  it("drops duplicate identities and reports them by index", function()
    local t = { sms(1), sms(2), sms(1), { recipient = { contact_id = "01C" } },
                { recipient = { contact_id = "01C" } }, sms(3) }
    local src = chunk.list(t, { size = 2, dedupe = true })
    local chunks = collect(src)
    assert.same({ 2, 2 }, sizes(chunks))
    assert.same({ 1, 2 }, chunks[1].rows)
    assert.same({ 4, 6 }, chunks[2].rows)
    assert.same({ { index = 3, reason = "duplicate of item 1" },
                  { index = 5, reason = "duplicate of item 4" } }, src.bad)
  end)

  it("de-duplicates by a key function", function()
    local src = chunk.list({ "a", "A", "b" }, { dedupe = string.lower })
    assert.same({ { "a", "b", rows = { 1, 3 } } }, collect(src))
    assert.same({ { index = 2, reason = "duplicate of item 1" } }, src.bad)
  end)

  it("maps a receipt's messageIndex back to the source row", function()
    local t = {}
    for i = 1, 1500 do t[i] = i end
    local chunks = collect(chunk.list(t))
    assert.equal(1001, chunk.row_of(chunks[2], 0))
    assert.equal(1500, chunk.row_of(chunks[2], 499))
  end)
end)

describe("chunk.iter", function()
  it("chunks a generator and numbers its items", function()
    local i = 0
    local src = chunk.iter(function()
      i = i + 1
      if i <= 2500 then return sms(i) end
    end)
    local chunks = collect(src)
    assert.same({ 1000, 1000, 500 }, sizes(chunks))
    assert.equal(2001, chunks[3].rows[1])
    assert.equal("+46700002001", chunks[3][1].recipient.identified_by.channel_identities[1].identity)
  end)

  it("stops asking after the end", function()
    local calls = 0
    local src = chunk.iter(function() calls = calls + 1 end, 5)
    assert.is_nil(src())
    assert.is_nil(src())
    assert.equal(1, calls)
  end)

  it("rejects a non-function", function()
    assert.has_error(function() chunk.iter({}) end,
      "bad argument #1 to 'iter' (function expected, got table)")
  end)
end)

describe("chunk.csv", function()
  local function ids(c)
    local out = {}
    for i, r in ipairs(c.recipients) do
      local rec = r.recipient
      out[i] = rec.contact_id or rec.identified_by.channel_identities[1].identity
    end
    return out
  end

  it("reads a plain file into RecipientAndParam tables", function()
    local src = assert(chunk.csv(FIX .. "basic.csv"))
    assert.same({ "channel", "identity", "name", "code" }, src.columns)
    assert.same({ "name", "code" }, src.params)
    local chunks = collect(src)
    assert.equal(1, #chunks)
    assert.same({ 2, 3, 4 }, chunks[1].rows)
    assert.same({
      recipient = { identified_by = { channel_identities = {
        { channel = "SMS", identity = "+46700000002" } } } },
      parameters = { name = "Bo", code = "5678" },
    }, chunks[1].recipients[2])
    assert.equal("WHATSAPP", chunks[1].recipients[3].recipient.identified_by
      .channel_identities[1].channel)
    assert.same({}, src.bad)
  end)

  it("handles a BOM, CRLF, quotes, commas and line breaks, and reports bad rows by line",
    function()
      local src = assert(chunk.csv(FIX .. "nasty.csv"))
      assert.same({ "Channel", "Phone", "name", "note" }, src.columns)
      local c = collect(src)[1]
      assert.same({ 2, 3, 10, 12 }, c.rows)
      assert.same({ "+46700000001", "+46700000002", "+46700000006", "+46700000007" }, ids(c))
      local p = {}
      for i, r in ipairs(c.recipients) do p[i] = r.parameters end
      assert.same({ name = "Lindqvist, Ann", note = 'said "hi"' }, p[1])
      assert.same({ name = "Bo", note = "line one\r\nline two\r\nline three" }, p[2])
      assert.same({ name = 'Fa "the" 2nd', note = "multi\nline, with comma" }, p[3])
      assert.same({ name = "Gus", note = "  spaced  " }, p[4])
      assert.same({
        { line = 7, reason = "the row has 3 fields, the header has 4" },
        { line = 8, reason = "identity: is empty" },
        { line = 9, reason = 'identity: not a phone number (an optional "+", then digits) '
          .. "for channel SMS" },
      }, src.bad)
    end)

  it("reports a quote that never closes at the line where its row starts", function()
    local src = assert(chunk.csv(FIX .. "open_quote.csv"))
    assert.same({}, collect(src))
    assert.same({ { line = 2, reason = "a quoted field is not closed before the end of the file" } },
      src.bad)
  end)

  it("fails on an empty file: the header row is required", function()
    local src, err = chunk.csv(FIX .. "empty.csv")
    assert.is_nil(src)
    assert.equal("invalid", err.kind)
    assert.equal("header: the file is empty, the first row must name the columns", err.message)
    assert.equal("sinch.batch: invalid request: header: the file is empty, the first row must "
      .. "name the columns", tostring(err))
  end)

  it("yields nothing for a header-only file", function()
    local src = assert(chunk.csv(FIX .. "header_only.csv"))
    assert.same({}, collect(src))
    assert.same({}, src.bad)
  end)

  it("fails on a missing file", function()
    local src, err = chunk.csv(FIX .. "no-such-file.csv")
    assert.is_nil(src)
    assert.equal("invalid", err.kind)
    assert.equal(FIX .. "no-such-file.csv: No such file or directory", err.message)
  end)

  it("de-duplicates identities per channel and contacts on request", function()
    local src = assert(chunk.csv(FIX .. "dedupe.csv", { dedupe = true }))
    local c = collect(src)[1]
    assert.same({ 2, 3, 5, 6 }, c.rows)
    assert.same({ { line = 4, reason = "identity: duplicate of line 2" },
                  { line = 7, reason = "contact_id: duplicate of line 5" } }, src.bad)
    local all = collect(assert(chunk.csv(FIX .. "dedupe.csv")))[1]
    assert.equal(6, #all.recipients)
  end)

  it("maps contact_id and app_id columns; app_id is optional (the docs do not require it)",
    function()
    local src = assert(chunk.csv(FIX .. "mixed.csv"))
    local c = collect(src)[1]
    assert.same({ 2, 3, 4, 5 }, c.rows)
    assert.same({ recipient = { contact_id = "01CONTACTA" }, parameters = { name = "Ann" } },
      c.recipients[1])
    assert.same({ channel = "MESSENGER", identity = "1234567890", app_id = "01APPX" },
      c.recipients[2].recipient.identified_by.channel_identities[1])
    assert.is_nil(c.recipients[3].recipient.identified_by.channel_identities[1].app_id)
    assert.same({}, src.bad)
  end)

  it("takes a fixed channel, a named identity column and a parameter list", function()
    local path = write_file("msisdn;first;last\n0700000001;Ann;Lee\n")
    local src = assert(chunk.csv(path, { channel = "sms", identity_column = "MSISDN",
      params = { "first" }, check_e164 = false, delimiter = ";" }))
    local c = collect(src)[1]
    os.remove(path)
    assert.same({ { recipient = { identified_by = { channel_identities = {
      { channel = "SMS", identity = "0700000001" } } } }, parameters = { first = "Ann" } } },
      c.recipients)
  end)

  it("explains a header that does not fit the options", function()
    local _, err = chunk.csv(FIX .. "basic.csv", { identity_column = "msisdn" })
    assert.equal('identity_column: the header has no column "msisdn"', err.message)
    _, err = chunk.csv(FIX .. "basic.csv", { params = { "name", "nickname" } })
    assert.equal('params[2]: the header has no column "nickname"', err.message)
  end)

  it("rejects unknown options and wrong types", function()
    assert.has_error(function() chunk.csv(FIX .. "basic.csv", { chanel = "SMS" }) end,
      "bad argument #2 to 'csv' (unknown option 'chanel')")
    assert.has_error(function() chunk.csv(FIX .. "basic.csv", { dedupe = "yes" }) end,
      "bad argument #2 to 'csv' (opts.dedupe: expected a boolean, got string)")
    assert.has_error(function() chunk.csv(FIX .. "basic.csv", { size = 1001 }) end,
      "bad argument to 'csv' (size: an integer from 1 to 1000 expected, got 1001; "
      .. "a batch holds at most 1000 recipients)")
    assert.has_error(function() chunk.csv(FIX .. "basic.csv", { builder = 42 }) end,
      "bad argument #2 to 'csv' (builder: a batch from client:batch() or a core builder "
      .. "expected, got number)")
  end)

  for _, case in ipairs{ { n = 1, want = { 1 } }, { n = 999, want = { 999 } },
                         { n = 1000, want = { 1000 } }, { n = 1001, want = { 1000, 1 } },
                         { n = 2500, want = { 1000, 1000, 500 } } } do
    it("splits a " .. case.n .. "-row file into chunks of at most 1000, rows mapped", function()
      local path = numbered_csv(case.n)
      local chunks = collect(assert(chunk.csv(path)))
      os.remove(path)
      assert.same(case.want, sizes(chunks))
      local k, wrong = 0, 0
      for _, c in ipairs(chunks) do
        for j, r in ipairs(c.recipients) do
          k = k + 1
          local want_id = string.format("+4670%07d", k)
          if c.rows[j] ~= k + 1 or r.parameters.name ~= "n" .. k
            or r.recipient.identified_by.channel_identities[1].identity ~= want_id then
            wrong = wrong + 1
          end
        end
      end
      assert.equal(case.n, k)
      assert.equal(0, wrong)
    end)
  end

  it("chunks by a smaller size", function()
    local path = numbered_csv(10)
    local chunks = collect(assert(chunk.csv(path, { size = 4 })))
    os.remove(path)
    assert.same({ 4, 4, 2 }, sizes(chunks))
    assert.same({ 10, 11 }, chunks[3].rows)
    assert.equal(11, chunk.row_of(chunks[3], 1))
  end)
end)
