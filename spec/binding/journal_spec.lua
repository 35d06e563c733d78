-- The campaign journal's C helpers (src/lua/journal.c): one write and an
-- fsync per line, and SHA-256 content digests.
local core = require "sinch.batch.core"

local ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
local EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

describe("core.digest and core.file_digest", function()
  it("are SHA-256 in hex", function()
    assert.equal(ABC, core.digest("abc"))
    assert.equal(EMPTY, core.digest(""))
  end)

  it("chain: digest(s, seed) is the digest of seed .. s", function()
    assert.equal(core.digest("seedabc"), core.digest("abc", "seed"))
    assert.not_equal(core.digest("abc"), core.digest("abc", "seed"))
  end)

  it("read a file of any size, and give its size", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local s = string.rep("0123456789abcdef", 10000) .. "tail" -- past one 64 KiB read
    f:write(s)
    f:close()
    local d, size = core.file_digest(path)
    os.remove(path)
    assert.equal(core.digest(s), d)
    assert.equal(#s, size)
    local none, err = core.file_digest(path)
    assert.is_nil(none)
    assert.equal("internal", err.kind)
    assert.matches("cannot read", err.message)
  end)
end)

describe("core.int_list", function()
  it("joins a list of integers as a journal intent's rows, and what cjson reads back", function()
    local cjson = require "cjson"
    local rows = { 2, 3, 1001, 0, -7, 2 ^ 53, 123456789012 }
    local s = core.int_list(rows)
    assert.equal("2,3,1001,0,-7,9007199254740992,123456789012", s)
    local back = cjson.decode("[" .. s .. "]")
    for i = 1, #rows do assert.equal(rows[i], back[i]) end
    assert.equal("", core.int_list{})
  end)

  it("refuses what is no integer, naming its position", function()
    for _, bad in ipairs{ { 1, 2.5 }, { 1, "3" }, { 1, 2 ^ 60 }, { 0 / 0 } } do
      local ok, err = pcall(core.int_list, bad)
      assert.is_false(ok)
      assert.matches("element " .. #bad .. " is not an integer", err)
    end
  end)
end)

describe("core.journal_open", function()
  it("appends whole lines and refuses a line with a newline inside", function()
    local path = os.tmpname()
    local j = assert(core.journal_open(path))
    assert.is_true(j:append('{"a":1}'))
    assert.is_true(j:append('\n{"b":2}')) -- a leading newline ends a torn line
    assert.has_error(function() j:append("x\ny") end)
    j:close()
    j:close()
    assert.has_error(function() j:append("z") end)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    os.remove(path)
    assert.equal('{"a":1}\n\n{"b":2}\n', text)
  end)
end)

describe("j:sync_start (a group's fsync beside the sends, plain Lua)", function()
  it("syncs in a thread of its own: done() never waits, wait() says when it is on disk", function()
    local path = os.tmpname()
    local j = assert(core.journal_open(path))
    assert.is_true(j:write("one\n", false))
    local t = assert(j:sync_start())
    assert.equal("userdata", type(t))
    assert.is_boolean(t:done())
    assert.is_true(t:wait())
    assert.is_true(t:done())
    assert.is_true(t:wait()) -- again: the same answer, nothing joined twice
    -- the journal may close while a sync runs (the thread has its own descriptor)
    local t2 = assert(j:sync_start())
    j:close()
    assert.is_true(t2:wait())
    assert.has_error(function() j:sync_start() end)
    os.remove(path)
  end)

  it("is what sinch.batch.log's commit_start uses outside OpenResty", function()
    local log = require "sinch.batch.log"
    local path = os.tmpname()
    os.remove(path)
    local w = assert(log.open(path, "x"))
    assert.is_true(w:add{ event = "intent", chunk = 1 })
    local before = log.stats.thread_syncs
    local t = assert(w:commit_start())
    assert.equal("userdata", type(t))
    assert.is_true(w:commit_wait(t))
    assert.is_true(w:commit_done(t))
    assert.equal(before + 1, log.stats.thread_syncs)
    w:close()
    local f = assert(io.open(path, "rb"))
    assert.matches('"intent"', f:read("*a"), 1, true)
    f:close()
    os.remove(path)
  end)
end)
