--- sinch.batch.campaign.pacer: when a campaign's next request may start.
--
-- Starts are scheduled against absolute time: the n-th start is due at
-- `t0 + n * 1000 / rate` ms, so a turn of the loop that comes late (an
-- fsync, a slow poll) is made up by the next starts instead of pushing every
-- later one back (per-request sleeps drift; this does not).  Two bounds keep
-- the catching up from bursting:
--   * the schedule never lags the clock by more than `lag` ms (default 100):
--     after a longer stall (concurrency full, a Retry-After) it starts over
--     from now;
--   * at most `n = floor(rate)` starts in any `n * 1000 / rate` ms (at most
--     `rate` in any second), checked against the times of the last n starts.
-- A rate above 10,000 requests/s is no limit.  The clock is the caller's
-- (milliseconds), so the schedule can be checked with a made-up clock.
-- @module sinch.batch.campaign.pacer
local floor, max, min, huge = math.floor, math.max, math.min, math.huge
local setmetatable = setmetatable

local _M = { LAG_MS = 100, UNLIMITED = 10000 }

local Pacer = {}
Pacer.__index = Pacer

--- A pacer of `rate` starts per second from time `now` (ms).
-- @param opts `{ lag = ms }` (optional)
function _M.new(rate, now, opts)
  local self = setmetatable({ free = rate > _M.UNLIMITED }, Pacer)
  if self.free then return self end
  local interval = 1000 / rate
  local n = max(1, floor(rate))
  self.interval, self.due, self.lag = interval, now, (opts and opts.lag) or _M.LAG_MS
  self.n, self.span, self.ring, self.head = n, n * interval, {}, 1
  return self
end

--- How many starts may go at time `t`, at most `limit` (none taken yet).
function Pacer:count(t, limit)
  if self.free then return limit end
  local due, interval = max(self.due, t - self.lag), self.interval
  local ring, head, n, span = self.ring, self.head, self.n, self.span
  local k = 0
  while k < limit and due <= t do
    local older = ring[(head + k - 1) % n + 1] -- the start n starts before this one
    if older and older + span > t then break end
    k = k + 1
    due = due + interval
  end
  return k
end

--- The time (ms) at which the next start may go (<= t: now).
function Pacer:next_at(t)
  if self.free then return t end
  local at = max(self.due, t - self.lag)
  local older = self.ring[self.head]
  if older then at = max(at, older + self.span) end
  return at
end

--- One start went at time `t`.
function Pacer:took(t)
  if self.free then return end
  self.due = max(self.due, t - self.lag) + self.interval
  self.ring[self.head] = t
  self.head = self.head % self.n + 1
end

--- Milliseconds to wait from `t` until the next start may go (0: now),
-- at most `cap`.
function Pacer:wait_ms(t, cap)
  return min(cap or huge, max(0, self:next_at(t) - t))
end

return _M
