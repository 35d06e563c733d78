-- What becomes of a campaign's chunk when its answer comes: accepted,
-- ambiguous (looked up once `settle` has passed), refused for good (its rows
-- fail; never sent again) or not sent (sent again, at most `retries` more
-- calls).  One verdict per kind of answer (sinch.batch.answer decodes them);
-- the runner (sinch.batch.campaign.runner) applies it through these methods.
local core = require "sinch.batch.core"

local type, ipairs, tostring, error, setmetatable =
  type, ipairs, tostring, error, setmetatable
local now_ms = core.now_ms

local _M = {}

-- A failure that stops the run: raised inside the loop, returned by run().
-- Wrapped, so that it crosses pcall as it is on every interpreter (PUC Lua
-- 5.1's wrapped `error` would turn a sinch.batch error into its text).
local Stop = {}
_M.Stop = Stop
local function raise(err) error(setmetatable({ err = err }, Stop), 0) end
_M.raise = raise

-- HTTP statuses that refuse a chunk for good: its rows fail, the run goes on.
-- (401/403 are the account's, not the chunk's: they stop nothing here but
-- leave the chunk unsent for a resume.)
local function refused(err)
  local s = type(err) == "table" and err.status
  return type(s) == "number" and s >= 400 and s < 500 and s ~= 401 and s ~= 403 and s ~= 408
    and s ~= 429 and not err.may_have_been_processed
end

-- A chunk is settled (accepted, found or refused): its body is not sent again.
local function settled(job)
  local body = job.body
  if type(body) == "userdata" then body:free() end
  job.body = nil
end
_M.settled = settled

local function reason_of(err)
  return tostring(type(err) == "table" and err.message or err)
end
_M.reason_of = reason_of

local function must(ok, err)
  if not ok then raise(err) end
end
_M.must = must

--- Puts the answer methods on the runner's class.
function _M.install(Campaign)
  function Campaign:accepted(job, batch_id, how)
    local r = self.report
    r.batches = r.batches + 1
    r.recipients = r.recipients + job.count
    if job.amb then job.amb.resolution, job.amb.batch_id = how or "resent", batch_id end
    local body = job.body
    settled(job)
    if self.opts.on_batch then
      self.opts.on_batch{ chunk = job.chunk, batch_id = batch_id, recipients = job.count,
                          first_row = job.rows[1], last_row = job.rows[#job.rows],
                          resent = how == "resent" or nil, found = how == "found" or nil,
                          dry_run = r.dry_run, body = r.dry_run and body or nil }
    end
  end

  -- A chunk refused for good: every row of it is a failed row.
  function Campaign:failed(job, reason, status)
    local r = self.report
    settled(job)
    r.failed[#r.failed + 1] = { chunk = job.chunk, rows = job.count, first_row = job.rows[1],
                                reason = reason, status = status }
    for _, row in ipairs(job.rows) do
      r.failed_rows[#r.failed_rows + 1] = { row = row, reason = reason, status = status }
    end
    if job.amb then job.amb.resolution = "refused" end
  end

  -- Applies one answer.
  function Campaign:answer(job, res, err)
    local j = self.journal
    if res then
      if j then must(j:accepted(job.chunk, res.batch_id, job.resolved)) end
      return self:accepted(job, res.batch_id, job.resolved)
    end
    if type(err) == "table" and err.may_have_been_processed then
      if j then must(j:ambiguous(job.chunk, reason_of(err))) end
      job.at = now_ms()
      self.ambiguous[#self.ambiguous + 1] = job
      if not job.amb then
        job.amb = { chunk = job.chunk, reason = reason_of(err), resolution = "pending" }
        self.report.ambiguous[#self.report.ambiguous + 1] = job.amb
      end
      return
    end
    if refused(err) then
      if j then must(j:refused(job.chunk, reason_of(err), err.status)) end
      return self:failed(job, reason_of(err), err.status)
    end
    -- certainly not accepted: another call, with the core's own retries
    if (job.tries or 0) < self.retries and not self.stopped then
      job.tries = (job.tries or 0) + 1
      self.retry[#self.retry + 1] = job
      return
    end
    if j then must(j:unsent(job.chunk, reason_of(err))) end
    self:not_sent(job, reason_of(err))
  end

  function Campaign:not_sent(job, reason)
    settled(job)
    local u = self.report.unsent
    u[#u + 1] = { chunk = job.chunk, rows = job.count, first_row = job.rows[1], reason = reason }
  end

  -- Looks up an ambiguous chunk: true (found, recorded), false (a well-formed
  -- answer lists no batch: resend), nil, err (no answer that can be trusted).
  function Campaign:lookup(job)
    local list, err = self.client:find(self.key, self.id .. ":" .. job.chunk)
    if not list then return nil, err end
    local hit = list[1]
    if hit == nil then return false end
    if self.journal then must(self.journal:accepted(job.chunk, hit.batch_id, "found")) end
    self:accepted(job, hit.batch_id, "found")
    return true
  end
end

return _M
