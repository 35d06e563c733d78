-- Drives Debian's wrk (bench/wrk_receipts.lua) with pre-signed receipts of
-- spec/support/flood.lua, for the receipts benches: a load generator in C,
-- so that the Lua client is no longer what is measured.
--   local wrk_flood = require "wrk_flood"   (package.path holds bench/?.lua)
--   if wrk_flood.available() then
--     local seconds, answered, extra = wrk_flood.drive{ ports = { p1, p2 }, n = N, threads = 2,
--       conns = 4, secret = SECRET, run = "x" }
-- Receipts 0..n-1 are split between the ports (one wrk process each, with
-- `threads` threads of `conns` connections each); each thread then has a
-- few more (ids n and up), so connections still sending when its share is
-- answered never resend a nonce.  Returns the seconds from the first request
-- to the last answer of a share, the receipts answered 2xx (n), and how many
-- extra receipts may have been stored besides.  Raises when an answer was
-- not 2xx or a thread did not finish in 120 s.
local socket = require "socket"
local flood = require "support.flood"

local _M = {}

local mock = require "support.mock" -- shell_quote, read_file: the specs' own
local q, read = mock.shell_quote, mock.read_file
local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function _M.available()
  local ok = os.getenv("BENCH_CLIENT") ~= "flood" and os.execute("command -v wrk >/dev/null 2>&1")
  return ok == true or ok == 0
end

function _M.drive(o)
  local ports, threads, conns = o.ports, o.threads or 1, o.conns or 4
  local total = #ports * threads
  local per, ts = math.ceil(o.n / total), tostring(os.time())
  local prefixes, pids, k = {}, {}, 0
  for w, port in ipairs(ports) do
    prefixes[w] = os.tmpname()
    for t = 0, threads - 1 do
      local from, to = k * per, math.min(o.n, (k + 1) * per)
      local f = assert(io.open(prefixes[w] .. "." .. t, "wb"))
      f:write(math.max(0, to - from), "\n")
      local function put(i)
        local r = flood.request(o.path or "/callbacks", o.secret, i, o.run, ts)
        f:write(#r, "\n", r)
      end
      for i = from, to - 1 do put(i) end
      for j = 0, conns do put(o.n + k * (conns + 1) + j) end
      f:close()
      k = k + 1
    end
    local p = assert(io.popen(("wrk -t %d -c %d -d 600s -s bench/wrk_receipts.lua http://127.0.0.1:%d -- %s "
      .. ">/dev/null 2>&1 & echo $!"):format(threads, threads * conns, port, q(prefixes[w]))))
    pids[w] = p:read("*l")
    p:close()
  end
  local function all_done()
    for w = 1, #ports do
      for t = 0, threads - 1 do
        if not exists(prefixes[w] .. "." .. t .. ".done") then return false end
      end
    end
    return true
  end
  local done = false
  for _ = 1, 6000 do
    done = all_done()
    if done then break end
    socket.sleep(0.02)
  end
  local answered, non2xx, from, to = 0, 0, math.huge, 0
  for w = 1, #ports do
    os.execute("kill -INT " .. pids[w] .. " 2>/dev/null")
    for t = 0, threads - 1 do
      local d = read(prefixes[w] .. "." .. t .. ".done") or ""
      local a, n, t0, t1 = d:match("answered (%d+) non2xx (%d+) from (%S+) to (%S+)")
      if a then
        answered, non2xx = answered + tonumber(a), non2xx + tonumber(n)
        from, to = math.min(from, tonumber(t0)), math.max(to, tonumber(t1))
      end
      os.remove(prefixes[w] .. "." .. t)
      os.remove(prefixes[w] .. "." .. t .. ".done")
    end
    os.remove(prefixes[w])
  end
  assert(done, "wrk: a thread did not have its share answered within 120 s")
  assert(non2xx == 0, ("wrk: %d answers not 2xx"):format(non2xx))
  assert(answered == o.n, ("wrk: %d of %d receipts answered"):format(answered, o.n))
  return to - from, answered, total * (conns + 1)
end

return _M
