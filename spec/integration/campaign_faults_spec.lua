-- The fault campaign: 100,000 recipients through the sandbox while it injects
-- 429 (with and without Retry-After), 503, 500, accept-then-error, dropped
-- connections, delays past the timeout and token expiry; the sender is
-- killed with SIGKILL mid-run and the campaign resumed from its journal.
-- Shown: 0 rows accepted twice, 0 rows lost.  Runs under Lua 5.4 and LuaJIT
-- only (the suite runs under every Lua; this one is long).
local cjson = require "cjson.safe"
local socket = require "socket"
local mock = require "support.mock"
local batch = require "sinch.batch"
local journal = require "sinch.batch.journal"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local RUN = LUA == "lua5.4" or LUA == "luajit"
local N = 100000

local function faults(m, round)
  local p = m:path("/messages")
  local f = {
    { kind = "status", status = 429, retry_after = 1, method = "POST", path = p },
    { kind = "status", status = 429, method = "POST", path = p },
    { kind = "status", status = 503, method = "POST", path = p },
    { kind = "status", status = 500, method = "POST", path = p },
    { kind = "accept_then_error", method = "POST", path = p },
    { kind = "drop", method = "POST", path = p },
    { kind = "delay", delay_ms = 1500, method = "POST", path = p },
    { kind = "status", status = 503, path = "/oauth2/token" },
  }
  if round == 1 then -- more of each before the kill
    for i = 1, 7 do f[#f + 1] = f[i] end
  end
  m:fault{ faults = f }
end

local CHILD = [[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = %q .. "/" .. %q .. "/?.so;" .. package.cpath
local batch = require "sinch.batch"
local client = assert(batch.client{ project_id = "demo-project", app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
  base_url = %q, auth_url = %q, key_id = "demo-key", key_secret = "demo-secret",
  timeout = 1, backoff_base = 0.05, refresh_ahead = 0.2 })
local rep, err = client:campaign{ message = batch.message.text("Hi ${name}"), source = %q,
  csv = { channel = "SMS" }, journal = %q, concurrency = 4, rate = 30, settle = 2 }
print(rep and rep.batches, err)
]]

local describe_or_skip = RUN and describe or pending

describe_or_skip("the fault campaign (100,000 recipients, every fault, kill -9, resume)", function()
  local m
  setup(function() m = mock.start{ args = { "--token-ttl", "1", "--quiet" } } end)
  teardown(function() if m then m:stop() end end)

  it("accepts every row exactly once", function()
    local base = os.tmpname()
    local csv, jpath, script = base .. ".csv", base .. ".journal", base .. ".lua"
    local f = assert(io.open(csv, "w"))
    f:write("phone,name\n")
    for i = 1, N do f:write(("+4673%07d,n%d\n"):format(i, i)) end
    f:close()
    local build = os.getenv("SINCH_BATCH_BUILD") or "build"
    local flavour = LUA == "luajit" and "luajit" or "lua54"
    f = assert(io.open(script, "w"))
    f:write(CHILD:format(build, flavour, m.url, m.url, csv, jpath))
    f:close()
    faults(m, 1)
    local t0 = socket.gettime()
    local q = mock.shell_quote
    assert(mock.run(("sh -c %s >/dev/null 2>&1 &"):format(q(("%s %s >%s.out 2>%s.err & echo $! >%s.pid; wait")
      :format(LUA, q(script), base, base, base)))))
    local pid, accepted
    for _ = 1, 3000 do
      pid = pid or tonumber((mock.read_file(base .. ".pid") or ""):match("%d+"))
      local _, n = (mock.read_file(jpath) or ""):gsub('"accepted"', "")
      accepted = n
      if pid and n >= 30 then break end
      socket.sleep(0.02)
    end
    assert.is_true(accepted >= 30, "the sender did not get going: " .. (mock.read_file(base .. ".err") or ""))
    assert(mock.run("kill -9 " .. pid))
    socket.sleep(0.2)
    local killed_at = socket.gettime() - t0
    local before = m:stats()

    -- resume in this process, through a fresh round of faults
    faults(m, 2)
    local client = assert(batch.client{ project_id = m.project_id, app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
      base_url = m.url, auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret, timeout = 1,
      backoff_base = 0.05, refresh_ahead = 0.2 })
    local rep = assert(client:campaign{ message = batch.message.text("Hi ${name}"), source = csv,
      csv = { channel = "SMS" }, journal = jpath, concurrency = 4, rate = 100, settle = 2 })
    client:close()
    local st = m:stats()
    local chunks, recipients, twice = m:campaign_batches(rep.campaign, st)
    local j = assert(journal.read(jpath))
    local in_journal = 0
    for _ in pairs(j.batches) do in_journal = in_journal + 1 end
    local how = {}
    for _, a in ipairs(rep.ambiguous) do how[a.resolution] = (how[a.resolution] or 0) + 1 end
    print(("\nfault campaign: %d recipients, %d batches; killed (SIGKILL) after %.1f s with %d batches "
      .. "accepted; resumed: %d already accepted, %d ambiguous (%s), %d failed; %d batches accepted "
      .. "twice, %d rows lost; %d tokens issued; resume took %.1f s")
      :format(N, chunks, killed_at, before.batches_accepted, rep.already, #rep.ambiguous,
        cjson.encode(how), #rep.failed, twice, N - recipients, st.tokens_issued, rep.elapsed))
    assert.equal(0, twice)
    assert.equal(N, recipients)
    assert.equal(100, chunks)
    assert.equal(100, st.batches_accepted)
    assert.equal(100, in_journal)
    assert.is_true(rep.complete)
    for _, ext in ipairs{ "", ".csv", ".journal", ".lua", ".out", ".err", ".pid" } do
      os.remove(base .. ext)
    end
  end)
end)

local KILL_CHILD = [[
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = %q .. "/" .. %q .. "/?.so;" .. package.cpath
local batch = require "sinch.batch"
local client = assert(batch.client{ project_id = "demo-project", app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
  base_url = %q, auth_url = %q, key_id = "demo-key", key_secret = "demo-secret",
  timeout = 1, backoff_base = 0.05 })
local rep, err = client:campaign{ journal = %q, concurrency = 2, rate = 3, settle = 0.3, size = 500,
  message = batch.message.text("Hi ${name}"), source = %q }
io.stdout:write(require("cjson").encode{ complete = rep and rep.complete, batches = rep and rep.batches,
  already = rep and rep.already, err = err and tostring(err) }, "\n")
]]

describe_or_skip("20 random kill -9 points in a 20,000-row campaign, then resume", function()
  local m
  setup(function() m = mock.start{ args = { "--quiet" } } end)
  teardown(function() if m then m:stop() end end)

  it("accepts each row exactly once, and every run ends", function()
    local rows = 20000
    local base = os.tmpname()
    local csv, jpath = base .. ".csv", base .. ".journal"
    local f = assert(io.open(csv, "w"))
    f:write("phone,name\n")
    for i = 1, rows do f:write(("+4674%07d,n%d\n"):format(i, i)) end
    f:close()
    os.remove(jpath)
    local build = os.getenv("SINCH_BATCH_BUILD") or "build"
    local flavour = LUA == "luajit" and "luajit" or "lua54"
    local child = base .. ".lua"
    f = assert(io.open(child, "w"))
    f:write(KILL_CHILD:format(build, flavour, m.url, m.url, jpath, csv))
    f:close()
    local q = mock.shell_quote
    -- every send answers late, so that kills land mid-run; now and then one
    -- is accepted but answered 500 (ambiguous), or refused 503 (not accepted)
    local p = m:path("/messages")
    m:fault{ kind = "delay", delay_ms = 250, method = "POST", path = p, times = 100000 }
    local seed = tonumber(os.getenv("SINCH_BATCH_SEED") or "") or os.time()
    math.randomseed(seed)
    local function start(path)
      for _, ext in ipairs{ ".pid", ".rc", ".out" } do os.remove(base .. ext) end
      assert(mock.run(("sh -c %s >/dev/null 2>&1 &"):format(q(("%s %s >%s.out 2>%s.err & echo $! >%s.pid; "
        .. "wait $!; echo $? >%s.rc"):format(LUA, q(path), base, base, base, base)))))
      for _ = 1, 500 do
        local pid = tonumber((mock.read_file(base .. ".pid") or ""):match("%d+"))
        if pid then return pid end
        socket.sleep(0.005)
      end
      error("the campaign did not start")
    end
    local function ended(limit)
      for _ = 1, limit do
        local rc = tonumber((mock.read_file(base .. ".rc") or ""):match("%d+"))
        if rc then return rc end
        socket.sleep(0.01)
      end
    end
    local kills, rounds, phases = 0, 0, {}
    while kills < 20 and rounds < 40 do
      rounds = rounds + 1
      if rounds % 4 == 0 then
        m:fault{ kind = "accept_then_error", method = "POST", path = p }
      elseif rounds % 7 == 0 then
        m:fault{ kind = "status", status = 503, method = "POST", path = p }
      end
      local pid = start(child)
      socket.sleep(0.03 + math.random() * 0.6)
      local lines = select(2, (mock.read_file(jpath) or ""):gsub("\n", ""))
      if mock.run("kill -9 " .. pid .. " 2>/dev/null") then
        kills = kills + 1
        phases[#phases + 1] = lines
      else -- it ended before the kill: it must have ended well
        assert.equal(0, ended(1000), mock.read_file(base .. ".err"))
      end
      assert.is_truthy(ended(1000), "a killed run did not end") -- its shell saw it die
    end
    assert.equal(20, kills)
    -- the last run, not killed: it ends, and the campaign is complete
    start(child)
    local rc = ended(6000)
    assert.equal(0, rc, mock.read_file(base .. ".err"))
    local last = cjson.decode(mock.read_file(base .. ".out"))
    assert.is_true(last.complete, mock.read_file(base .. ".out"))
    local st = m:stats()
    local j = assert(journal.read(jpath))
    local chunks, recipients, twice = m:campaign_batches(j.header.campaign, st)
    local in_journal = 0
    for _ in pairs(j.batches) do in_journal = in_journal + 1 end
    print(("\nkill -9: %d rows, 40 chunks of 500; %d kills in %d runs (seed %d) at journal lines %s; "
      .. "%d batches accepted twice, %d rows lost"):format(rows, kills, rounds, seed,
      table.concat(phases, ","), twice, rows - recipients))
    assert.equal(0, twice)
    assert.equal(rows, recipients)
    assert.equal(40, chunks)
    assert.equal(40, in_journal)
    assert.equal(40, st.batches_accepted)
    for _, ext in ipairs{ "", ".csv", ".journal", ".lua", ".out", ".err", ".pid", ".rc" } do
      os.remove(base .. ext)
    end
  end)
end)
