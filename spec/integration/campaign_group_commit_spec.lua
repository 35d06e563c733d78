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
  local flush, commit, commit_start, commit_wait = w.flush, w.commit, w.commit_start, w.commit_wait
  local committing, groups = false, {}
  -- a group's start: queued, then written (killed before its fsync)
  local function group_start(self)
    local group = holds(self, '"intent"')
    if group then at("group-queued") end
    committing = true
    if group and point == "group-written" and seen + 1 == nth then
      flush(self) -- written in one write; killed before the fsync
      at("group-written")
    elseif group then
      at("group-written")
    end
    return group
  end
  w.commit = function(self)
    local group = group_start(self)
    local ok, cerr = commit(self)
    committing = false
    if group then at("group-synced") end
    return ok, cerr
  end
  -- the same group when its fsync runs beside the sends (a sync thread)
  w.commit_start = function(self)
    local group = group_start(self)
    local t, cerr = commit_start(self)
    committing = false
    if group and t then groups[t] = true end
    return t, cerr
  end
  w.commit_wait = function(self, t)
    local ok, cerr = commit_wait(self, t)
    if groups[t] then
      groups[t] = nil
      at("group-synced")
    end
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
      -- what the killed run got accepted, once the sandbox has finished the
      -- requests the kill left in flight (they end after the sender died)
      local before = m:stats()
      for _ = 1, 15 do
        socket.sleep(0.2)
        local again = m:stats()
        if again.batches_accepted == before.batches_accepted then break end
        before = again
      end

      local client = assert(batch.client{ project_id = m.project_id, app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
        base_url = m.url, auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret, timeout = 5 })
      local t0 = socket.gettime()
      local rep = assert(client:campaign{ message = batch.message.text("Hi ${name}"), source = csv,
        csv = { channel = "SMS" }, journal = jpath, concurrency = 4, rate = 1000, size = SIZE,
        settle = 0.2 })
      client:close()
      local st = m:stats()
      local chunks, recipients, twice = m:campaign_batches(rep.campaign, st)
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

-- Under nginx the group's fsync waits for the thread pool in a light thread
-- of its own while the sends go on (the next group's chunks start only once
-- it has ended).
describe("the group-committed journal under nginx (thread-pool fsync beside the sends)", function()
  local nginx = require "support.nginx"
  local m, n, base
  setup(function()
    m = mock.start{ args = { "--quiet" } }
    n = nginx.start{ main = "thread_pool default threads=2;", server = ([[
      set $mock_url "%s";
      location = /campaign { content_by_lua_block { require("campaign_ngx").run() } }
    ]]):format(m.url) }
    base = os.tmpname()
  end)
  teardown(function()
    if n then n:stop() end
    if m then m:stop() end
    os.remove(base)
  end)

  -- the campaign_ngx handler's list and message
  local function list(count)
    local l = {}
    for i = 1, count do
      l[i] = { recipient = batch.recipient.sms(("+4672%07d"):format(i)), parameters = { name = "n" .. i } }
    end
    return l
  end

  it("30 chunks: fewer syncs than intents, every one in the pool, every row once", function()
    m:reset()
    local jpath = base .. "-ngx1.journal"
    os.remove(jpath)
    local status, body = n:request("GET", "/campaign?n=30000&c=4&rate=1000&journal=" .. jpath)
    assert.equal(200, status, body)
    local res = require("cjson").decode(body)
    assert.is_true(res.report.complete, body)
    assert.equal(0, res.syncs.worker_syncs)
    assert.is_true(res.syncs.thread_syncs >= 2 and res.syncs.thread_syncs < 30,
      "thread syncs: " .. tostring(res.syncs.thread_syncs))
    assert.same({ 30, 30000, 0 }, { m:campaign_batches(res.report.campaign) })
    os.remove(jpath)
  end)

  it("the worker killed (SIGKILL) mid-campaign, resumed from its journal: every row once", function()
    m:reset()
    local jpath = base .. "-ngx2.journal"
    os.remove(jpath)
    local pending = n:open("GET", "/campaign?n=30000&c=4&rate=15&journal=" .. jpath)
    local accepted = 0
    for _ = 1, 500 do
      local _, k = (mock.read_file(jpath) or ""):gsub('"accepted"', "")
      accepted = k
      if k >= 5 then break end
      socket.sleep(0.01)
    end
    assert.is_true(accepted >= 5, "the campaign did not get going")
    local master = tonumber((mock.read_file(n.prefix .. "/nginx.pid") or ""):match("%d+"))
    local workers = mock.read_file(("/proc/%d/task/%d/children"):format(master, master)) or ""
    local worker = tonumber(workers:match("%d+"))
    assert.is_truthy(worker, "no nginx worker found")
    assert.is_true(mock.run("kill -9 " .. worker))
    pcall(pending.finish, pending)
    local before = m:stats().batches_accepted
    assert.is_true(before < 30, "the campaign ended before the kill")

    local client = assert(batch.client{ project_id = m.project_id, app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
      base_url = m.url, auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret, timeout = 5 })
    local rep = assert(client:campaign{ message = batch.message.text("Hi ${name}"), source = list(30000),
      journal = jpath, concurrency = 4, rate = 1000, settle = 0.2 })
    client:close()
    assert.is_true(rep.complete)
    assert.same({ 30, 30000, 0 }, { m:campaign_batches(rep.campaign) })
    assert.equal(30, m:stats().batches_accepted)
    local found = 0
    for _, a in ipairs(rep.ambiguous) do
      if a.resolution == "found" then found = found + 1 end
    end
    assert.equal(before, rep.already + found)
    os.remove(jpath)
  end)
end)
