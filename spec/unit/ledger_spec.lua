-- sinch.batch.ledger: round trip, reopen, torn lines, a second reader.
local ledger = require "sinch.batch.ledger"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local function spit(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("ledger", function()
  local path, opened

  local function open(p)
    local l = assert(ledger.open(p or path))
    opened[#opened + 1] = l
    return l
  end

  before_each(function()
    path = os.tmpname()
    os.remove(path) -- start without the file: open creates it
    opened = {}
  end)

  after_each(function()
    for _, l in ipairs(opened) do l:close() end
    os.remove(path)
  end)

  it("records a batch and looks recipients up by 0-based message index", function()
    local l = open()
    assert.is_true(l:record{ batch_id = "01A", tag = "spring", rows = { 2, 3, 4 },
                             recipients = { "+46700000001", "+46700000002", "+46700000003" } })
    assert.same({ row = 2, recipient = "+46700000001", tag = "spring", batch_id = "01A", index = 0 },
                l:lookup("01A", 0))
    assert.same({ row = 4, recipient = "+46700000003", tag = "spring", batch_id = "01A", index = 2 },
                l:lookup("01A", 2))
    assert.is_nil(l:lookup("01A", 3))
    assert.is_nil(l:lookup("01A", -1))
    assert.is_nil(l:lookup("01A", 0.5))
    assert.is_nil(l:lookup("01A", nil))
    assert.is_nil(l:lookup("01NOPE", 0))
    assert.is_nil(l:lookup(nil, 0))
  end)

  it("writes one JSON line per batch and flushes it before record returns", function()
    local l = open()
    l:record{ batch_id = "01A", tag = "t", rows = { 1 }, recipients = { "+1" } }
    local data = slurp(path) -- the ledger is still open
    assert.equal(2, select(2, data:gsub("\n", ""))) -- the header, the batch
    assert.equal("\n", data:sub(-1))
    local h = require("cjson").decode(data:match("^[^\n]*"))
    assert.same({ event = "header", format = "sinch-batch-log", version = 1, kind = "ledger" }, h)
    local e = require("cjson").decode(data:match("\n([^\n]*)\n$"))
    assert.same({ event = "batch", batch_id = "01A", tag = "t", rows = { 1 }, recipients = { "+1" } }, e)
    l:record{ batch_id = "01B", rows = { "row-x", "row-y" } }
    assert.equal(3, select(2, slurp(path):gsub("\n", "")))
  end)

  it("leaves recipients out of a line recorded with rows only", function()
    local l = open()
    l:record{ batch_id = "01A", rows = { 5, 6 } }
    local data = slurp(path)
    assert.is_nil(data:find("recipients", 1, true))
    assert.same({ event = "batch", batch_id = "01A", rows = { 5, 6 } },
                require("cjson").decode(data:match("\n([^\n]*)\n$")))
    assert.same({ row = 6, batch_id = "01A", index = 1 }, l:lookup("01A", 1))
  end)

  it("survives a restart", function()
    local l = open()
    l:record{ batch_id = "01A", tag = "spring", rows = { 10, 11 }, recipients = { "a", "b" } }
    l:record{ batch_id = "01B", rows = { "id-7" }, recipients = { "c" } }
    l:close()
    local again = open()
    assert.equal(2, again.count)
    assert.equal("10", tostring(again:lookup("01A", 0).row)) -- an integer again after reload
    assert.same({ row = 11, recipient = "b", tag = "spring", batch_id = "01A", index = 1 },
                again:lookup("01A", 1))
    assert.same({ row = "id-7", recipient = "c", batch_id = "01B", index = 0 }, again:lookup("01B", 0))
    again:record{ batch_id = "01C", rows = { 1 } }
    again:close()
    assert.equal(3, open().count)
  end)

  it("numbers the rows 1, 2, … when only recipients are given", function()
    local l = open()
    l:record{ batch_id = "01A", recipients = { "+1", "+2" } }
    assert.same({ row = 2, recipient = "+2", batch_id = "01A", index = 1 }, l:lookup("01A", 1))
  end)

  it("accepts a message index given as a string of digits", function()
    local l = open()
    l:record{ batch_id = "01A", rows = { 5, 6 } }
    assert.equal(6, l:lookup("01A", "1").row)
  end)

  local HEADER = '{"event":"header","format":"sinch-batch-log","version":1,"kind":"ledger"}\n'

  it("leaves a torn last line alone, then ends and marks it before the next record", function()
    spit(path, HEADER .. '{"event":"batch","batch_id":"01A","rows":[1,2]}\n'
      .. '{"event":"batch","batch_id":"01B","rows":[3]}\n{"event":"batch","batch_id":"01C","ro')
    local l = open()
    assert.equal(2, l.count)
    assert.equal(2, l:lookup("01A", 1).row)
    assert.is_nil(l:lookup("01C", 0))
    assert.is_true(l:record{ batch_id = "01D", rows = { 9 } })
    l:close()
    local lines = {}
    for line in slurp(path):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    assert.equal('{"event":"batch","batch_id":"01C","ro', lines[4])
    assert.same({ event = "torn", bytes = 37 }, require("cjson").decode(lines[5]))
    assert.equal(6, #lines)
    local again = open()
    assert.equal(3, again.count)
    assert.equal(9, again:lookup("01D", 0).row)
    assert.is_nil(again:lookup("01C", 0))
  end)

  it("refuses a file it cannot read, never skipping a line", function()
    for _, text in ipairs{
      'garbage\n',                                                   -- not a log
      '{"batch_id":"01A","rows":[7]}\n',                             -- no header
      HEADER .. 'garbage\n{"event":"batch","batch_id":"01A","rows":[7]}\n', -- an edited line
      HEADER .. '{"event":"batch","batch_id":"01A","ro\n{"event":"torn","bytes":3}\n', -- a wrong mark
      '{"event":"header","format":"sinch-batch-log","version":1,"kind":"receipts"}\n',
    } do
      spit(path, text)
      local l, err = ledger.open(path)
      assert.is_nil(l, text)
      assert.equal("invalid", err.kind)
      assert.matches(path, err.message, 1, true)
      assert.equal(text, slurp(path)) -- untouched
    end
  end)

  it("keeps the last entry of a batch recorded twice", function()
    local l = open()
    l:record{ batch_id = "01A", rows = { 1 } }
    l:record{ batch_id = "01A", rows = { 2 } }
    assert.equal(2, l:lookup("01A", 0).row)
    assert.equal(1, l.count)
    l:close()
    assert.equal(2, open():lookup("01A", 0).row)
  end)

  it("takes recipients as identities, recipient tables or send entries", function()
    local l = open()
    l:record{ batch_id = "01A", rows = { 1, 2, 3 }, recipients = {
      "+46700000001",
      { contact_id = "01CONTACT" },
      { recipient = { identified_by = { channel_identities = { { channel = "SMS", identity = "+4670" } } } },
        parameters = { name = "Cy" } },
    } }
    assert.equal("+46700000001", l:lookup("01A", 0).recipient)
    assert.equal("01CONTACT", l:lookup("01A", 1).recipient)
    assert.equal("+4670", l:lookup("01A", 2).recipient)
  end)

  it("sees batches that another process appended after it opened", function()
    local reader = open()
    local writer = open()
    assert.is_nil(reader:lookup("01LATER", 0))
    writer:record{ batch_id = "01LATER", tag = "x", rows = { 41, 42 }, recipients = { "a", "b" } }
    assert.equal(42, reader:lookup("01LATER", 1).row)
    assert.equal("b", reader:entry("01LATER").recipients[2])
  end)

  it("is idempotent to close and refuses to record when closed", function()
    local l = open()
    l:record{ batch_id = "01A", rows = { 1 } }
    l:close()
    l:close()
    assert.equal(1, l:lookup("01A", 0).row) -- what was loaded stays readable
    assert.matches("closed", tostring(l))
    assert.has_error(function() l:record{ batch_id = "01B", rows = { 1 } } end,
                     "ledger:record: the ledger is closed")
  end)

  it("returns nil, err when the file cannot be opened", function()
    local l, err = ledger.open("/nonexistent-dir/x.ledger")
    assert.is_nil(l)
    assert.equal("internal", err.kind)
    assert.matches("^ledger /nonexistent%-dir/x%.ledger: cannot open for appending: ", err.message)
  end)

  describe("misuse raises", function()
    local cases = {
      { "ledger:record: expected a table, got string", "x" },
      { "ledger:record: batch_id: expected a non-empty string, got nil", { rows = {} } },
      { "ledger:record: batch_id: expected a non-empty string, got ", { batch_id = "", rows = {} } },
      { "ledger:record: tag: expected a string or a table, got boolean",
        { batch_id = "b", tag = true, rows = {} } },
      { "ledger:record: rows: expected an array of row numbers or ids (or recipients), got nil",
        { batch_id = "b" } },
      { "ledger:record: rows: expected an array of row numbers or ids, got string",
        { batch_id = "b", rows = "1" } },
      { "ledger:record: rows[2]: expected a row number or id, got table",
        { batch_id = "b", rows = { 1, {} } } },
      { "ledger:record: recipients: 1 given for 2 rows; one per row is needed",
        { batch_id = "b", rows = { 1, 2 }, recipients = { "a" } } },
      { "ledger:record: recipients[2]: expected an identity string or a recipient table with contact_id "
        .. "or identified_by", { batch_id = "b", rows = { 1, 2 }, recipients = { "a", { foo = 1 } } } },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local l = open()
        local ok, msg = pcall(l.record, l, c[2])
        assert.is_false(ok)
        assert.matches(c[1], msg, 1, true)
        l:close()
        assert.equal(1, select(2, slurp(path):gsub("\n", ""))) -- nothing after the header
      end)
    end

    it("ledger.open without a path", function()
      assert.has_error(function() ledger.open() end, "ledger.open: path: expected a file name, got nil")
    end)
  end)
end)
