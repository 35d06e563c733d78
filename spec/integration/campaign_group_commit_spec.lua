-- The group-committed journal under kill -9: a sender killed (SIGKILL, by
-- itself, at an exact point of the journal's write path) around a group
-- commit, then resumed from its journal.  At every point: no batch accepted
-- twice, no row lost, and the journal's groups really are groups (fewer
-- fsyncs than intents).  Runs under Lua 5.4 and LuaJIT (the suite runs under
-- every Lua; the sender is a child process of that interpreter).
local socket = require "socket"
local mock = require "support.mock"
local batch = require "sinch.batch"
local journal = require "sinch.batch.campaign.journal"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local RUN = LUA == "lua5.4" or LUA == "luajit"
local ROWS, SIZE = 6000, 200 -- 30 chunks

-- The sender: wraps the journal's writer (sinch.batch.log) so that it kills
-- itself at the n-th time the run reaches `point`:
--   group-queued   a group of intents queued, nothing of it written
--   group-written  the group written (one write), not yet fsync'd
--   group-synced   the group durable, none of its chunks started
--   answers-queued answers in memory, about to be written
--   answers-written answers written, not yet fsync'd
local CHILD = [[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = %q .. "/" .. %q .. "/?.so;" .. package.cpath
local point, nth = %q, %d
local log = require "sinch.batch.log"
local function die()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*l"):match("^%%d+")
  f:close()
  io.stdout:flush()
  os.execute("kill -9 " .. pid)
  os.execute("sleep 5") -- never reached
end
local function holds(w, what)
  for _, line in ipairs(w.queue) do if line:find(what, 1, true) then return true end end
  return false
end
local seen = 0
local function at(p) if p == point then seen = seen + 1; if seen == nth then die() end end end
local open = log.open
log.open = function(...)
  local w, err = open(...)
  if not w then return nil, err end
  local flush, commit = w.flush, w.commit
  local committing = false
  w.commit = function(self)
    local group = holds(self, '"intent"')
    if group then at("group-queued") end
    committing = true
    if group and point == "group-written" and seen + 1 == nth then
      flush(self) -- written in one write; killed before the fsync
      at("group-written")
    elseif group then
      at("group-written")
    end
    local ok, cerr = commit(self)
    committing = false
    if group then at("group-synced") end
    return ok, cerr
  end
  w.flush = function(self)
    local answers = not committing and holds(self, '"accepted"')
    if answers then at("answers-queued") end
    local ok, ferr = flush(self)
    if answers then at("answers-written") end
    return ok, ferr
  end
  return w
end
local batch = require "sinch.batch"
local client = assert(batch.client{ project_id = "demo-project", app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
  base_url = %q, auth_url = %q, key_id = "demo-key", key_secret = "demo-secret", timeout = 5 })
local rep, err = client:campaign{ message = batch.message.text("Hi ${name}"), source = %q,
  csv = { channel = "SMS" }, journal = %q, concurrency = 4, rate = 1000, size = %d }
print("finished", rep and rep.batches, err)
]]

local describe_or_skip = RUN and describe or pending

describe_or_skip("the group-committed journal, kill -9 around a group commit, resume", function()
  local m, base, csv
  setup(function()
    m = mock.start{ args = { "--quiet" } }
    base = os.tmpname()
    csv = base .. ".csv"
    local f = assert(io.open(csv, "w"))
    f:write("phone,name\n")
    for i = 1, ROWS do f:write(("+4673%07d,n%d\n"):format(i, i)) end
    f:close()
  end)
  teardown(function()
    if m then m:stop() end
    for _, ext in ipairs{ "", ".csv", ".lua", ".out" } do os.remove(base .. ext) end
  end)

  for _, case in ipairs{ { "group-queued", 2 }, { "group-written", 2 }, { "group-synced", 2 },
                         { "group-synced", 1 }, { "answers-queued", 3 }, { "answers-written", 3 } } do
    local point, nth = case[1], case[2]
    it(("killed at %s (#%d): every row accepted exactly once after the resume"):format(point, nth), function()
      m:reset()
      local jpath = base .. "-" .. point .. nth .. ".journal"
      os.remove(jpath)
      local build = os.getenv("SINCH_BATCH_BUILD") or "build"
      local f = assert(io.open(base .. ".lua", "w"))
      f:write(CHILD:format(build, LUA == "luajit" and "luajit" or "lua54", point, nth, m.url, m.url,
        csv, jpath, SIZE))
      f:close()
      local q = mock.shell_quote
      mock.run(("%s %s >%s 2>&1"):format(LUA, q(base .. ".lua"), q(base .. ".out")))
      local out = mock.read_file(base .. ".out") or ""
      assert.is_nil(out:find("finished", 1, true), "the sender was not killed: " .. out)
      local before = m:stats()

      local client = assert(batch.client{ project_id = m.project_id, app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
        base_url = m.url, auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret, timeout = 5 })
      local t0 = socket.gettime()
      local rep = assert(client:campaign{ message = batch.message.text("Hi ${name}"), source = csv,
        csv = { channel = "SMS" }, journal = jpath, concurrency = 4, rate = 1000, size = SIZE,
        settle = 0.2 })
      client:close()
      local st = m:stats()
      local chunks, recipients, twice = 0, 0, 0
      for key, e in pairs(st.by_metadata) do
        if key:find("^sinch_campaign=" .. rep.campaign .. ":") then
          chunks, recipients = chunks + 1, recipients + e.recipients
          if e.batches ~= 1 then twice = twice + e.batches - 1 end
        end
      end
      assert.equal(0, twice)
      assert.equal(ROWS, recipients)
      assert.equal(ROWS / SIZE, chunks)
      assert.equal(ROWS / SIZE, st.batches_accepted)
      assert.is_true(rep.complete)
      -- the killed run's accepted batches are known to the resume: in its
      -- journal, or found by the lookup of its unanswered chunks
      local found = 0
      for _, a in ipairs(rep.ambiguous) do
        if a.resolution == "found" then found = found + 1 end
      end
      assert.equal(before.batches_accepted, rep.already + found)
      local j = assert(journal.read(jpath))
      local n = 0
      for _ in pairs(j.batches) do n = n + 1 end
      assert.equal(ROWS / SIZE, n)
      assert.is_true(socket.gettime() - t0 < 20)
      os.remove(jpath)
    end)
  end
end)
