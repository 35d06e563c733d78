-- examples/openresty/sinch_store_thread.lua, outside nginx: what the pool
-- threads run.  Its flock of the SQLite file must be let go whatever the
-- write does, or the other worker's pool thread waits on it for good.  It
-- uses LuaJIT's FFI, as nginx's Lua does: run in the LuaJIT run only.
local sqlite = require "sinch.batch.sqlite"

describe("the OpenResty example's store thread", function()
  if not rawget(_G, "jit") then
    it("runs in the LuaJIT run of this suite (its lock is LuaJIT's FFI)", function()
      pending("LuaJIT only")
    end)
    return
  end
  local ffi = require "ffi"
  pcall(ffi.cdef, [[
  int open(const char *pathname, int flags, ...);
  int flock(int fd, int operation);
  int close(int fd);
  ]])
  local LOCK_EX, LOCK_NB, LOCK_UN = 2, 4, 8

  local old_path = package.path
  setup(function() package.path = "examples/openresty/?.lua;" .. package.path end)
  teardown(function() package.path = old_path end)

  -- whether another open file description of path can take the lock now
  local function lock_free(path)
    local fd = ffi.C.open(path, 0)
    assert(fd >= 0, "cannot open " .. path)
    local got = ffi.C.flock(fd, LOCK_EX + LOCK_NB) == 0
    if got then ffi.C.flock(fd, LOCK_UN) end
    ffi.C.close(fd)
    return got
  end

  it("lets go of the file's lock when a write raises, and writes the next group", function()
    local thread = require "sinch_store_thread"
    local db = os.tmpname()
    finally(function()
      for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end
    end)
    local good = { type = "message_delivery", batch_id = "B1", message_index = 0,
                   message_id = "M1", status = "DELIVERED" }
    assert.equal(1, thread.write(db, nil, { good }, nil))
    -- an event that is not a table: the store raises (misuse)
    local n, err = thread.write(db, nil, { 42 }, nil)
    assert.is_nil(n)
    assert.matches("expected an event", err)
    assert.is_true(lock_free(db), "the write that raised kept the lock")
    good.message_id = "M2"
    assert.equal(1, thread.write(db, nil, { good }, nil))
    local d = assert(sqlite.open(db))
    local st = assert(d:prepare("SELECT count(*) FROM receipts"))
    assert.equal(2, st:rows()[1][1])
    st:close()
    d:close()
  end)
end)
