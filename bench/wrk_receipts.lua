-- A wrk script (wrk runs it in LuaJIT, one state per thread): POSTs
-- pre-signed callbacks, each once.  bench/receipts_http_bench.lua writes the
-- requests: one file per thread, PREFIX.<thread>, each request as
-- "<bytes>\n<request>"; the first line of the file is the thread's share
-- (the requests it must see answered; a few more follow, so that connections
-- still sending when the share is reached never resend a nonce).
--   wrk -t T -c C -d 600s -s bench/wrk_receipts.lua http://127.0.0.1:PORT -- PREFIX
-- Once a thread has had its share answered it stops and writes
-- PREFIX.<thread>.done: "answered N non2xx M from T0 to T1" (CLOCK_MONOTONIC
-- seconds from its first request to that answer).  wrk itself runs until
-- its duration or SIGINT: the bench stops it once every thread is done.
local ffi = require "ffi"
ffi.cdef [[
  struct sinch_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk, struct sinch_timespec *tp);
]]
local function now()
  local t = ffi.new("struct sinch_timespec")
  ffi.C.clock_gettime(1, t) -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local path, finish
local reqs, share, nxt, answered, non2xx, t0 = {}, 0, 1, 0, 0, nil
local counter = 0

function setup(thread) -- luacheck: ignore (a global wrk calls)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args) -- luacheck: ignore
  path = args[1] .. "." .. id -- luacheck: ignore (id: set by setup)
  local f = assert(io.open(path, "rb"))
  share = tonumber(f:read("*l"))
  while true do
    local len = f:read("*l")
    if not len then break end
    reqs[#reqs + 1] = f:read(tonumber(len))
  end
  f:close()
end

function request() -- luacheck: ignore
  if share == 0 then finish() end -- more threads than receipts: nothing to send
  t0 = t0 or now()
  local r = reqs[nxt]
  if nxt < #reqs then nxt = nxt + 1 end
  return r
end

finish = function()
  local t1 = now()
  local f = assert(io.open(path .. ".done", "wb"))
  f:write(("answered %d non2xx %d from %.6f to %.6f\n"):format(answered, non2xx, t0 or t1, t1))
  f:close()
  wrk.thread:stop() -- luacheck: ignore (wrk: the global wrk gives)
end

function response(status) -- luacheck: ignore
  answered = answered + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if answered == share then finish() end
end
