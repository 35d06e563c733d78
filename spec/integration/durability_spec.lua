-- Never lost once acknowledged: receivers killed with SIGKILL in the middle
-- of a flood of signed receipts, and just after its last answer; every
-- receipt that got a 2xx must be in the store afterwards.  The flood runs as
-- a process of its own (spec/support/flood.lua) that records which receipts
-- were answered 2xx, and sends the SIGKILL itself the moment a given
-- answer arrives (the third of the flood, or its last): a point that does
-- not depend on the machine's speed, nor on when the receiver writes.
--
-- The plain receiver runs under each interpreter; nginx (the OpenResty
-- example, whose Lua is always LuaJIT) only in the LuaJIT run.
local socket = require "socket"
local sqlite = require "sinch.batch.sqlite"
local mock = require "support.mock"
local receiver = require "support.receiver"
local nginx = require "support.nginx"

local SECRET = "durability-spec-secret"
local LUA = receiver.LUA
local BUILD = os.getenv("SINCH_BATCH_BUILD") or "build"
local shell_quote, run, read_file = mock.shell_quote, mock.run, mock.read_file

local function alive(pid) return run("kill -0 " .. pid .. " 2>/dev/null") end

local function wait_gone(pid, seconds)
  for _ = 1, (seconds or 120) * 20 do
    if not alive(pid) then return true end
    socket.sleep(0.05)
  end
  return false
end

local function stored_keys(db)
  local d = assert(sqlite.open(db))
  local st = assert(d:prepare("SELECT key FROM receipts"))
  local keys = {}
  for _, row in ipairs(assert(st:rows())) do keys[row[1]] = true end
  st:close()
  d:close()
  return keys
end

-- the flood in the background, killing `pids` at its `at`-th 2xx: { pid, acked (file) }
local function flood(port, from, to, conns, tag, at, pids)
  from, to, at = math.floor(from), math.floor(to), math.floor(at)
  local acked = os.tmpname()
  local p = assert(io.popen(("SINCH_BATCH_BUILD=%s %s spec/support/flood.lua %d /callbacks %d %d %d %s %s "
    .. "%s %d %s >%s.out 2>&1 & echo $!"):format(shell_quote(BUILD), LUA, port, from, to, conns, SECRET, tag,
    shell_quote(acked), at, table.concat(pids, ","), shell_quote(acked))))
  local pid = tonumber(p:read("*l"))
  p:close()
  return { pid = pid, acked = acked }
end

-- waits for the flood's end: the receipts it got a 2xx for
local function acked_of(f)
  assert.is_true(wait_gone(f.pid), "the flood did not end")
  local out = {}
  for line in io.lines(f.acked) do out[#out + 1] = tonumber(line) end
  os.remove(f.acked)
  os.remove(f.acked .. ".out")
  return out
end

-- every acknowledged receipt is in the store: the missing ones (none)
local function missing(acked, db)
  local keys, out = stored_keys(db), {}
  local flood_mod = require "support.flood"
  for _, i in ipairs(acked) do
    if not keys[flood_mod.key(i)] then out[#out + 1] = i end
  end
  return out
end

local function remove_db(db)
  for _, sfx in ipairs{ "", "-wal", "-shm" } do os.remove(db .. sfx) end
end

-- the issue's flood: 50,000 signed callbacks (a kill in its middle stops it)
local N = 50000

describe("the plain receiver killed with SIGKILL", function()
  it("in the middle of a flood: every receipt answered 2xx is in the store", function()
    local db = os.tmpname()
    remove_db(db)
    local r = receiver.start{ "--secret", SECRET, "--store", db }
    finally(function() r:kill(9) remove_db(db) end) -- also when an assertion fails
    local acked = acked_of(flood(r.port, 0, N, 16, "mid", math.floor(N / 3), { r.pid }))
    assert.is_true(wait_gone(r.pid, 30))
    r:kill(9)
    assert.is_true(#acked > 0 and #acked < N, "the kill landed mid-flood: " .. #acked .. " acked")
    assert.same({}, missing(acked, db))
    remove_db(db)
  end)

  it("just after the last answer of a flood: every receipt is in the store", function()
    local db = os.tmpname()
    remove_db(db)
    local r = receiver.start{ "--secret", SECRET, "--store", db }
    finally(function() r:kill(9) remove_db(db) end) -- also when an assertion fails
    local acked = acked_of(flood(r.port, 0, N, 16, "end", N, { r.pid }))
    assert.is_true(wait_gone(r.pid, 30))
    r:kill(9)
    assert.equal(N, #acked)
    assert.same({}, missing(acked, db))
    remove_db(db)
  end)
end)

-- The OpenResty example through its run.sh, with a prefix of the spec's own
-- (kept when nginx dies; removed here).
local function start_nginx()
  local prefix = (function()
    local p = io.popen("mktemp -d")
    local d = p:read("*l")
    p:close()
    return d
  end)()
  local out = prefix .. ".out"
  local env = ("SINCH_BATCH_PREFIX=%s SINCH_WEBHOOK_SECRET=%s SINCH_PROJECT_ID=spec SINCH_APP_ID=spec "
    .. "SINCH_KEY_ID=spec SINCH_KEY_SECRET=spec SINCH_BATCH_BASE_URL=http://127.0.0.1:9 SINCH_BATCH_BUILD=%s")
    :format(shell_quote(prefix), SECRET, shell_quote(nginx.build))
  local p = assert(io.popen(("%s sh examples/openresty/run.sh >%s 2>&1 & echo $!"):format(env,
    shell_quote(out))))
  local sh = tonumber(p:read("*l"))
  p:close()
  local port
  for _ = 1, 400 do
    port = tonumber((read_file(out) or ""):match("url http://127%.0%.0%.1:(%d+)"))
    if port then break end
    socket.sleep(0.05)
  end
  assert(port, "nginx did not start: " .. tostring(read_file(out)))
  local master = tonumber(read_file(prefix .. "/logs/nginx.pid"))
  return { sh = sh, prefix = prefix, out = out, port = port, master = master,
           db = prefix .. "/ledger/receipts.db" }
end

local function workers(n)
  local p = io.popen("pgrep -P " .. n.master)
  local out = {}
  for line in p:lines() do out[#out + 1] = tonumber(line) end
  p:close()
  return out
end

local function stop_nginx(n)
  local left = alive(n.master) and workers(n) or {}
  run("kill " .. n.sh .. " 2>/dev/null") -- run.sh stops nginx (QUIT)
  wait_gone(n.sh, 30)
  if alive(n.master) then -- still shutting down: the master and every worker it has
    for _, w in ipairs(workers(n)) do left[#left + 1] = w end
    left[#left + 1] = n.master
  end
  -- a worker whose master is gone lives on (nginx does not tie it to the
  -- master's death): none is left behind
  for _, pid in ipairs(left) do
    local cmd = read_file("/proc/" .. pid .. "/cmdline") or "" -- still that nginx, not a reused pid
    if cmd:find("^nginx") and alive(pid) then run("kill -9 " .. pid .. " 2>/dev/null") end
  end
  run("rm -rf " .. shell_quote(n.prefix) .. " " .. shell_quote(n.out))
end

local function all_pids(n)
  local pids = workers(n)
  pids[#pids + 1] = n.master
  return pids
end

local under_luajit = rawget(_G, "jit") ~= nil

describe("the OpenResty receiver killed with SIGKILL", function()
  if not under_luajit then
    it("runs in the LuaJIT run of this suite (nginx's Lua is LuaJIT whichever drives it)", function()
      pending("nginx is driven from the LuaJIT run only")
    end)
    return
  end

  it("two workers log every callback once, one whole JSON line each, in logs/callbacks.log", function()
    local n = start_nginx()
    finally(function() stop_nginx(n) end) -- also when an assertion fails
    local M = 6000
    local acked = acked_of(flood(n.port, 0, M, 16, "log", M + 1, {}))
    assert.equal(M, #acked)
    assert.same({}, missing(acked, n.db))
    -- the flood's batches are in no ledger: each line waits its rounds, then goes out
    local lines
    for _ = 1, 200 do
      lines = {}
      for line in ((read_file(n.prefix .. "/logs/callbacks.log") or "") .. "\n"):gmatch("([^\n]*)\n") do
        if line ~= "" then lines[#lines + 1] = line end
      end
      if #lines >= M then break end
      socket.sleep(0.05)
    end
    local seen = {}
    for _, line in ipairs(lines) do
      local e = require("cjson.safe").decode(line)
      assert.is_table(e, line)
      local i = tonumber(e.batch_id:match("^B(%d+)$")) * 1000 + e.message_index
      assert.is_nil(seen[i], "logged twice: " .. line)
      seen[i] = true
    end
    assert.equal(M, #lines)
  end)

  it("one worker, in the middle of a flood: every receipt answered 2xx is in the store", function()
    local n = start_nginx()
    finally(function() stop_nginx(n) end) -- also when an assertion fails
    local victim = workers(n)[1]
    local acked = acked_of(flood(n.port, 0, N, 16, "worker", math.floor(N / 3), { victim }))
    assert.is_true(wait_gone(victim, 30))
    assert.is_true(alive(n.master))
    assert.is_true(#acked > 0, "nothing acknowledged")
    assert.same({}, missing(acked, n.db))
  end)

  it("all of nginx, in the middle of a flood: every receipt answered 2xx is in the store", function()
    local n = start_nginx()
    finally(function() stop_nginx(n) end) -- also when an assertion fails
    local acked = acked_of(flood(n.port, 0, N, 16, "all", math.floor(N / 3), all_pids(n)))
    assert.is_true(wait_gone(n.master, 30))
    assert.is_true(#acked > 0 and #acked < N, "the kill landed mid-flood: " .. #acked .. " acked")
    assert.same({}, missing(acked, n.db))
  end)

  it("all of nginx, just after the last answer of a flood: every receipt is in the store", function()
    local n = start_nginx()
    finally(function() stop_nginx(n) end) -- also when an assertion fails
    local acked = acked_of(flood(n.port, 0, N, 16, "end", N, all_pids(n)))
    assert.is_true(wait_gone(n.master, 30))
    assert.equal(N, #acked)
    assert.same({}, missing(acked, n.db))
  end)
end)
