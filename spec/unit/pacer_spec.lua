-- The campaign's pacer, on a made-up clock: its schedule, not its timing.
local pacer = require "sinch.batch.campaign.pacer"

-- A loop like the campaign's: at each turn start what count() allows (at
-- most `slots`), then sleep until next_at() and wake up `late(turn)` ms
-- after it.  Returns the start times.
local function simulate(rate, starts, late, slots)
  local t = 1000
  local p = pacer.new(rate, t)
  local out, turn = {}, 0
  while #out < starts do
    turn = turn + 1
    local n = p:count(t, math.min(slots or 16, starts - #out))
    for _ = 1, n do
      p:took(t)
      out[#out + 1] = t
    end
    t = math.max(t, p:next_at(t)) + late(turn, t)
  end
  return out
end

-- the most starts within any `span` ms
local function densest(times, span)
  local most, i = 0, 1
  for j = 1, #times do
    while times[j] - times[i] >= span do i = i + 1 end
    most = math.max(most, j - i + 1)
  end
  return most
end

-- a made-up jitter: 0 to 0.99 ms late each turn, and a 3 ms stall (an
-- fsync) every 16th turn
local function jitter(turn) return (turn * 37 % 100) / 100 + (turn % 16 == 0 and 3 or 0) end

describe("campaign pacer", function()
  it("holds 800/s over 1000 starts though every turn wakes late (no drift)", function()
    local times = simulate(800, 1000, jitter)
    local span = times[#times] - times[1]
    -- the schedule is absolute: 999 intervals of 1.25 ms, give or take a turn's lateness
    assert.is_true(span >= 1248.75 - 0.01 and span <= 1248.75 + 4, "span " .. span)
    -- per-request sleeps would have added every turn's lateness
    local lateness = 0
    for turn = 1, 1000 do lateness = lateness + jitter(turn) end
    assert.is_true(lateness > 400)
  end)

  it("never starts more than the rate within any second, even when catching up", function()
    local times = simulate(800, 2400, function(turn)
      return turn % 50 == 0 and 90 or jitter(turn) -- a 90 ms stall now and then
    end, 256)
    assert.is_true(densest(times, 1000) <= 800, "densest second: " .. densest(times, 1000))
    -- and it does catch up: 2399 intervals, not one more than a turn late
    assert.is_true(times[#times] - times[1] <= 2399 * 1.25 + 90 + 1)
  end)

  it("starts over after a stall longer than its lag instead of bursting", function()
    local p = pacer.new(100, 0)
    for i = 0, 9 do
      assert.equal(1, p:count(i * 10, 16))
      p:took(i * 10)
    end
    -- 2 s with nothing started (a Retry-After): at most lag (100 ms) is made up
    local n = p:count(2100, 256)
    assert.is_true(n >= 10 and n <= 11, "caught up " .. n)
    for _ = 1, n do p:took(2100) end
    assert.equal(0, p:count(2100, 256))
    assert.is_true(p:next_at(2100) > 2100)
  end)

  it("waits for the next due start, and says how long", function()
    local p = pacer.new(4, 0)
    assert.equal(1, p:count(0, 8))
    p:took(0)
    assert.equal(0, p:count(100, 8))
    assert.equal(250, p:next_at(100))
    assert.equal(150, p:wait_ms(100))
    assert.equal(50, p:wait_ms(100, 50))
    assert.equal(1, p:count(250, 8))
  end)

  it("paces a rate below 1/s", function()
    local times = simulate(0.5, 4, function() return 0 end)
    for i = 2, #times do assert.equal(2000, times[i] - times[i - 1]) end
  end)

  it("does not limit a rate above 10,000/s", function()
    local p = pacer.new(1e9, 0)
    assert.equal(256, p:count(0, 256))
    p:took(0)
    assert.equal(0, p:wait_ms(0))
  end)
end)
