--- sinch.batch.outcomes.timeline: the receipts store's queries over time
-- for the campaign report (`Store:timeline`, `Store:batches`), installed
-- on the store by sinch.batch.outcomes.
local tostring, tonumber, ipairs, pairs = tostring, tonumber, ipairs, pairs
local floor, format = math.floor, string.format

local _M = {}
local M = {} -- the methods
local query, DELIVERED -- from the store, by install()

-- Seconds since 1970 of "YYYY-MM-DDTHH:MM:SS[.fff]…" (UTC; os.time would
-- read it as local time).
local function epoch(s)
  local y, mo, d, h, mi, se = tostring(s):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)")
  if not y then
    y, mo, d = tostring(s):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
    if not y then return nil end
    h, mi, se = 0, 0, 0
  end
  local frac = tonumber(tostring(s):match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d:%d%d(%.%d+)")) or 0
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end -- days from the civil date (March-based years)
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) + frac
end

-- A timeline's step by the campaign's length: per tenth of a second up to
-- 30 seconds, per second up to 15 minutes, per minute up to 2 days, per hour
-- beyond (at most ~300, ~900, ~2900 or one per hour of the campaign points).
-- key: how much of the time the step keeps.
local STEPS = { { unit = "tenth of a second", seconds = 0.1, key = 21, upto = 30 },
                { unit = "second", seconds = 1, key = 19, upto = 900 },
                { unit = "minute", seconds = 60, key = 16, upto = 2 * 86400 },
                { unit = "hour", seconds = 3600, key = 13 } }

-- The step's start of a time, as the key says: "2026-11-29T16:40:26.7",
-- "2026-11-29T16:40:26", "2026-11-29T16:40", "2026-11-29T16".
local function step_key(at, key)
  if key <= 19 then return at:sub(1, key) end
  local tenth = at:match("^.-:%d%d:%d%d%.(%d)")
  return at:sub(1, 19) .. "." .. (tenth or "0")
end

-- The start of a step in seconds since 1970.
local function step_time(k)
  if #k == 13 then return epoch(k .. ":00:00") end
  if #k == 16 then return epoch(k .. ":00") end
  return epoch(k)
end

-- " AND b.campaign = ?" (prefix AND or WHERE) and its argument, or nothing.
local function campaign_where(campaign, prefix)
  if campaign == nil then return "", nil end
  return " " .. prefix .. " b.campaign = ?", tostring(campaign)
end

--- The final outcomes of a campaign over time (every receipt when `campaign`
-- is nil): how many recipients became DELIVERED and FAILED in each second,
-- minute or hour (a tenth of a second for a campaign of less than 30 s: by
-- the campaign's length), and how many were still pending
-- after it.  The sums equal `Store:report`'s delivered and failed, and the
-- last point's pending its pending.
-- @return { unit = "tenth of a second"|"second"|"minute"|"hour", seconds =
--   the step, recipients,
--   first, last (the first and last outcome's second, UTC), points = { {
--   at = "2026-11-29T16:40:26" (the step's start, UTC, as long as the unit
--   needs: "…:26.7" by tenth of a second), t = seconds since 1970, delivered, failed, failed_by_reason = {
--   CODE = n }, pending }, … } } | nil, err
function M.timeline(self, campaign)
  self:_check()
  local where, arg = campaign_where(campaign, "AND")
  local rows, err = query(self, "SELECT coalesce(sum(recipients), 0) FROM batches b WHERE 1 = 1" ..
    where, arg)
  if not rows then return nil, err end
  local tl = { recipients = rows[1][1], points = {} }
  -- one pass over the outcomes, by second; the step is chosen after (a
  -- campaign of less than 30 s: a second pass, by tenth of a second)
  local function by(key)
    return query(self, format("SELECT substr(o.at, 1, %d), o.rank, o.reason, count(*) " ..
      "FROM outcomes o WHERE o.rank > 0%s GROUP BY 1, 2, 3 ORDER BY 1", key, campaign ~= nil and
      " AND o.batch_id IN (SELECT batch_id FROM batches b WHERE b.campaign = ?)" or ""), arg)
  end
  rows, err = by(19)
  if not rows then return nil, err end
  local step = STEPS[#STEPS]
  if rows[1] then
    tl.first, tl.last = rows[1][1], rows[#rows][1]
    local t1, t2 = epoch(tl.first), epoch(tl.last)
    for _, s in ipairs(STEPS) do
      if t1 and t2 and s.upto and t2 - t1 <= s.upto then
        step = s
        break
      end
    end
    if step.key > 19 then
      rows, err = by(step.key)
      if not rows then return nil, err end
    end
  end
  tl.unit, tl.seconds = step.unit, step.seconds
  local pts, by_at, done, key = tl.points, {}, 0, step.key
  for _, row in ipairs(rows) do
    local at, rank, n = step_key(row[1], key), row[2], row[4]
    local p = by_at[at]
    if not p then
      p = { at = at, t = step_time(at), delivered = 0, failed = 0, failed_by_reason = {} }
      by_at[at] = p
      pts[#pts + 1] = p
    end
    if rank == DELIVERED then
      p.delivered = p.delivered + n
    else
      p.failed = p.failed + n
      local code = row[3] or "UNKNOWN"
      p.failed_by_reason[code] = (p.failed_by_reason[code] or 0) + n
    end
  end
  for _, p in ipairs(pts) do
    done = done + p.delivered + p.failed
    p.pending = tl.recipients - done
  end
  return tl
end

--- The batches of a campaign: every chunk its journal recorded, whatever
-- became of it (accepted, failed, ambiguous, intent: sent, no answer yet),
-- or, for a campaign known only from a ledger, its accepted batches.
-- @return an array, by chunk, of { chunk, status, batch_id, recipients,
--   first_row, last_row, reason, delivered, failed } | nil, err
function M.batches(self, campaign)
  self:_check()
  local where, arg = campaign_where(campaign, "WHERE")
  -- (CASE, not sum(o.rank = 2): the same SQL runs on PostgreSQL, sinch.batch.store.postgres)
  local counts, err = query(self, "SELECT o.batch_id, sum(CASE WHEN o.rank = 2 THEN 1 ELSE 0 END), " ..
    "sum(CASE WHEN o.rank = 1 THEN 1 ELSE 0 END) " ..
    "FROM outcomes o WHERE o.batch_id IN (SELECT batch_id FROM batches b" .. where .. ") " ..
    "GROUP BY o.batch_id", arg)
  if not counts then return nil, err end
  local by_id = {}
  for _, row in ipairs(counts) do by_id[row[1]] = row end
  local out = {}
  local rows
  if campaign ~= nil then
    rows, err = query(self, "SELECT chunk, status, batch_id, recipients, first_row, last_row, " ..
      "reason FROM chunks WHERE campaign = ? ORDER BY chunk", tostring(campaign))
    if not rows then return nil, err end
    for i, row in ipairs(rows) do
      out[i] = { chunk = row[1], status = row[2], batch_id = row[3], recipients = row[4],
                 first_row = row[5], last_row = row[6], reason = row[7] }
    end
  end
  if #out == 0 then -- a ledger's campaign (or every batch): the accepted ones
    -- the first and the last of the rows "2,3,…,1001" (long: never read whole)
    rows, err = query(self, "SELECT chunk, batch_id, recipients, substr(rows, 1, " ..
      "instr(rows || ',', ',') - 1), substr(rows, length(rtrim(rows, '0123456789')) + 1) " ..
      "FROM batches b" .. where .. " ORDER BY chunk, batch_id", arg)
    if not rows then return nil, err end
    for i, row in ipairs(rows) do
      out[i] = { chunk = row[1], status = "accepted", batch_id = row[2], recipients = row[3],
                 first_row = tonumber(row[4]), last_row = tonumber(row[5]) }
    end
  end
  for _, b in ipairs(out) do
    local c = b.batch_id and by_id[b.batch_id]
    b.delivered, b.failed = c and c[2] or 0, c and c[3] or 0
  end
  return out
end


--- Puts the methods on the store's class; h: { query, DELIVERED }.  Returns epoch (seconds since 1970 of an
-- RFC 3339 UTC time).
function _M.install(Store, h)
  query, DELIVERED = h.query, h.DELIVERED
  for k, f in pairs(M) do Store[k] = f end
  return epoch
end

return _M
