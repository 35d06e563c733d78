--- sinch.batch.campaign.runner: a campaign's loop.  Chunks start at the set
-- pace (sinch.batch.campaign.pacer) while fewer than `concurrency` are in
-- flight.  The journal is group-committed: the chunks about to start (the
-- next `ahead` of them, at most 2 * concurrency and about 50 ms of the pace)
-- are built and their intents made durable by one fsync before any byte of
-- them leaves; answers are written as they come and made durable with the
-- next group of intents, after at most SYNC_MS, and at the end.  Each answer is applied
-- once: accepted, ambiguous (looked up once `settle` has passed), refused for
-- good (its rows fail; never sent again) or not sent (sent again, at most
-- `retries` more calls, each with the core's own retries and backoff).  While
-- a call waits out a Retry-After the campaign starts nothing new.
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"
local sources = require "sinch.batch.campaign.sources"
local drivers = require "sinch.batch.campaign.drivers"
local pacer = require "sinch.batch.campaign.pacer"
local log = require "sinch.batch.log"
local answers = require "sinch.batch.campaign.answers"

local type, ipairs, setmetatable, getmetatable = type, ipairs, setmetatable, getmetatable
local pcall = pcall
local ceil, max, min = math.ceil, math.max, math.min
local fmt, remove = string.format, table.remove
local now_ms = core.now_ms

local _M = { SYNC_MS = 200 }

local Campaign = {}
Campaign.__index = Campaign
_M.Campaign = Campaign
answers.install(Campaign) -- accepted, failed, answer, not_sent, lookup

local Stop, raise, must, reason_of = answers.Stop, answers.raise, answers.must, answers.reason_of

function _M.new(opts, key)
  local concurrency, rate = opts.concurrency or 4, opts.rate or 100
  return setmetatable({
    opts = opts, client = opts.client, size = opts.size or core.MAX_RECIPIENTS,
    concurrency = concurrency, rate = rate, dedupe = opts.dedupe,
    ahead = max(1, min(2 * concurrency, ceil(rate / 20))),
    key = key, settle = (opts.settle or 5) * 1000, retries = opts.retries or 2,
    report = { batches = 0, recipients = 0, rows = 0, skipped = {}, ambiguous = {}, failed = {},
               failed_rows = {}, unsent = {}, already = 0, interrupted = false,
               dry_run = opts.dry_run or nil },
  }, Campaign)
end

function Campaign:bad_row(row, reason)
  local r = self.report
  r.skipped[#r.skipped + 1] = { row = row, reason = reason }
  if self.journal and not self.bad_seen[row] then
    local ok, err = self.journal:bad_row(row, reason)
    if not ok then raise(err) end
  end
  if self.opts.on_bad_row then self.opts.on_bad_row(row, reason) end
end

-- The body of chunk k: batch_metadata names the chunk.  For libcurl it is
-- taken from the builder without a copy (a Body, sent in place and freed
-- once the chunk is settled); other drivers get a string.
function Campaign:body(k)
  local b = self.batch
  self.meta[self.key] = self.id .. ":" .. k
  local ok, err = b.b:field("batch_metadata", cjson.encode(self.meta))
  if not ok then return nil, err end
  if self.driver.takes_body then return b.b:take() end
  return b:body()
end


function Campaign:progress(force)
  local f = self.opts.on_progress
  if not f then return end
  local t = now_ms()
  if not force and self.last_progress and t - self.last_progress < 100 then return end
  self.last_progress = t
  local r = self.report
  local el = (t - self.t0) / 1000
  f{ rows = r.rows, batches = r.batches, recipients = r.recipients, skipped = #r.skipped,
     ambiguous = #self.ambiguous, inflight = self.driver.inflight,
     elapsed = el, rate = el > 0 and r.recipients / el or 0, total = self.total }
end


function Campaign:stopping()
  if self.stopped then return true end
  local stop = self.opts.stop
  if stop and stop() then
    self.stopped = true
    self.report.interrupted = true
  end
  return self.stopped
end

-- The next job to start: a retry, or the source's next chunk (chunks done in
-- an earlier run are counted and skipped; unanswered ones are looked up).
function Campaign:next_job()
  local job = remove(self.retry, 1)
  if job or self.source_done then return job end
  local c, cerr = self.src.next()
  if cerr then raise(cerr) end
  if c == nil then
    self.source_done = true
    return nil
  end
  local r, old = self.report, self.old
  self.k = self.k + 1
  local k = self.k
  r.rows = r.rows + c.count
  local prev = old.chunks[k]
  if prev and prev.digest and c.digest and prev.digest ~= c.digest then
    raise(errors.new("invalid", fmt("journal %s: chunk %d holds other rows than in the "
      .. "earlier run (the source changed); start a new journal", self.opts.journal, k)))
  end
  if prev and prev.status == "accepted" then
    r.already = r.already + 1
    r.batches = r.batches + 1
    r.recipients = r.recipients + c.count
    return self:next_job()
  end
  if prev and prev.status == "refused" then
    self:failed({ chunk = k, rows = c.rows, count = c.count }, prev.reason, prev.http_status)
    return self:next_job()
  end
  local body, berr = self:body(k)
  if not body then raise(berr) end
  job = { chunk = k, body = body, rows = c.rows, count = c.count, digest = c.digest,
          written = prev ~= nil, fresh = prev == nil }
  if prev and prev.status ~= "unsent" then -- unanswered or ambiguous before: look it up first
    job.at = self.t0
    job.amb = { chunk = k, reason = prev.reason or "no answer recorded (interrupted)",
                resolution = "pending" }
    r.ambiguous[#r.ambiguous + 1] = job.amb
    self.ambiguous[#self.ambiguous + 1] = job
    return self:next_job()
  end
  return job
end

-- Prepares jobs until `n` are ready or the source has no more: bodies built,
-- intents queued, then committed together (one fsync for the group).
function Campaign:refill(n)
  local ready, j = self.ready, self.journal
  while #ready < n do
    local job = self:next_job()
    if job == nil then break end
    if j and not job.written then
      must(j:intent(job.chunk, job.rows, job.digest))
      job.written = true
    end
    ready[#ready + 1] = job
  end
  if j and j.intents > 0 then must(j:commit()) end
end

-- The group whose commit runs beside the loop (OpenResty): once it has
-- ended (or, with `wait`, when it ends) its chunks are ready.
function Campaign:landed(wait)
  local ticket = self.ticket
  if not ticket or not (wait or self.journal:commit_done(ticket)) then return end
  self.ticket = nil
  must(self.journal:commit_wait(ticket))
  local ready, staged = self.ready, self.staged
  for i = 1, #staged do ready[#ready + 1] = staged[i] end
  self.staged = {}
end

-- Where a commit can run beside the loop (OpenResty's thread pool): once
-- fewer than `concurrency` chunks are ready, the next group is built and
-- its commit started, so its fsync overlaps the sends of this one.
function Campaign:prefetch()
  local ready, staged, j = self.ready, self.staged, self.journal
  while #ready + #staged < self.ahead do
    local job = self:next_job()
    if job == nil then break end
    if not job.written then
      must(j:intent(job.chunk, job.rows, job.digest))
      job.written = true
    end
    staged[#staged + 1] = job
  end
  if #staged > 0 then
    local ticket, err = j:commit_start()
    if not ticket then raise(err) end
    self.ticket = ticket
  end
end

-- Starts what may start now: as many ready chunks as the pace and the free
-- slots allow, after one commit of every intent not yet durable.  With no
-- start due, the next group is made ready (and durable) meanwhile.
function Campaign:start_due()
  if self:stopping() then -- a group on its way lands (its chunks are then unsent)
    self:landed(true)
    return
  end
  self:landed(false)
  local driver, ready = self.driver, self.ready
  local t = now_ms()
  if t < self.pause_until then return end
  local slots = self.concurrency - driver.inflight
  if slots <= 0 then return end
  local n = self.pacer:count(t, slots)
  if #ready < max(n, 1) then
    self:landed(true) -- the group on its way comes first
    if #ready < max(n, 1) then self:refill(max(n, self.ahead)) end
  end
  n = min(n, #ready)
  if n > 0 then
    local j = self.journal
    if j and j.intents > 0 then must(j:commit()) end -- a resend's intent (resolve_one)
    t = now_ms()
    for _ = 1, n do
      local job = remove(ready, 1)
      self.pacer:took(t)
      local sok, serr = driver.start(job)
      if not sok then self:answer(job, nil, serr) end
    end
  end
  if self.async and not self.ticket and #ready < self.concurrency then self:prefetch() end
end

-- At the end: resolves one ambiguous send (not when stopping: the journal has them).
function Campaign:resolve_one()
  local job = remove(self.ambiguous, 1)
  local wait = job.at + self.settle - now_ms()
  if wait > 0 then drivers.sleep_ms(wait) end
  local found, ferr = self:lookup(job)
  if found == false and (job.resends or 0) >= self.retries then
    -- resent that often and never answered: a resume looks again
    job.amb.resolution = "unresolved"
    job.amb.lookup_error = fmt("resent %d times, each send ambiguous", job.resends)
  elseif found == false then
    job.tries, job.resolved, job.resends = 0, "resent", (job.resends or 0) + 1
    if self.journal then must(self.journal:intent(job.chunk, job.rows, job.digest)) end
    job.written = true
    self.retry[#self.retry + 1] = job
  elseif found == nil then
    job.amb.resolution = "unresolved"
    job.amb.lookup_error = reason_of(ferr)
  end
end

function Campaign:loop()
  local driver, j, SYNC_MS = self.driver, self.journal, _M.SYNC_MS
  while true do
    self:start_due()
    if driver.inflight == 0 and not self.ticket and (self.stopped
        or (self.source_done and #self.retry == 0 and #self.ready == 0)) then
      if self.stopped or #self.ambiguous == 0 then break end
      if j then must(j:commit()) end -- the answers, before waiting out `settle`
      self:resolve_one()
    else
      local t = now_ms()
      local timeout = 50
      -- shorter only when a start is due (else wait for answers, not spin);
      -- rounded up: a late wake-up is made up by the pacer's schedule
      if driver.inflight < self.concurrency and not self.stopped
         and (#self.ready > 0 or not self.source_done or #self.retry > 0) then
        timeout = max(0, min(timeout, max(self.pause_until - t, self.pacer:wait_ms(t))))
      end
      if self.ticket then timeout = min(timeout, 1) end -- a group's commit about to end
      timeout = ceil(timeout)
      if driver.inflight == 0 then
        drivers.sleep_ms(max(1, timeout))
      else
        for _, a in ipairs(driver.wait(timeout)) do self:answer(a[1], a[2], a[3]) end
        local w = driver.waiting_ms()
        if w > 0 then self.pause_until = max(self.pause_until, now_ms() + w) end
      end
      if j then
        t = now_ms()
        must(j:flush(t)) -- the answers, in one write
        must(j:sync_due(t, SYNC_MS))
      end
      self:progress()
    end
  end
end

--- Runs the campaign to its end (or until opts.stop() says so).
-- @return the report: { campaign, journal, batches, recipients, rows, skipped =
--   { {row, reason} }, ambiguous = { {chunk, reason, resolution = "found" |
--   "resent" | "refused" | "unresolved", batch_id} }, failed = { {chunk, rows,
--   first_row, reason, status} } (refused for good), failed_rows = { {row,
--   reason, status} }, unsent = { {chunk, rows, first_row, reason} } (not
--   accepted: a resume sends them), already (chunks accepted in an earlier
--   run), interrupted, unresolved, complete (every chunk accepted or refused),
--   elapsed (s), rate (recipients/s) } | nil, err, report (the run broke off)
function Campaign:run()
  local r, j = self.report, self.journal
  self.t0 = now_ms()
  self.pause_until, self.ambiguous, self.retry, self.ready, self.staged, self.k = 0, {}, {}, {}, {}, 0
  self.async = j ~= nil and log.can_async()
  self.pacer = pacer.new(self.rate, self.t0)
  self.old = j and j.state or { chunks = {}, bad_rows = {} }
  self.bad_seen = {}
  for _, b in ipairs(self.old.bad_rows or {}) do self.bad_seen[b.row] = true end
  self.driver = drivers.for_client(self.client, self.opts.dry_run)
  r.driver = self.driver.name
  local src, err = sources.open(self)
  if not src then
    if j then j:close() end
    self.batch:close()
    return nil, err
  end
  self.src = src
  local ok, perr = pcall(self.loop, self)
  if not ok and getmetatable(perr) == Stop then perr = perr.err end
  -- in flight after an error: let them end and record them
  local driver = self.driver
  while driver.inflight > 0 do
    for _, a in ipairs(driver.wait(50)) do pcall(self.answer, self, a[1], a[2], a[3]) end
  end
  src.close()
  driver.close()
  for _, job in ipairs(self.ambiguous) do
    if job.amb.resolution == "pending" then job.amb.resolution = "unresolved" end
  end
  for _, job in ipairs(self.retry) do self:not_sent(job, "not sent (stopped)") end
  if self.ticket then pcall(self.landed, self, true) end
  for _, job in ipairs(self.staged) do self.ready[#self.ready + 1] = job end
  for _, job in ipairs(self.ready) do -- durable intents, never started
    if j and job.fresh then pcall(j.unsent, j, job.chunk, "not sent (stopped)") end
    self:not_sent(job, "not sent (stopped)")
  end
  local el = (now_ms() - self.t0) / 1000
  r.elapsed = el
  r.rate = el > 0 and r.recipients / el or 0
  local unresolved = 0
  for _, a in ipairs(r.ambiguous) do
    if a.resolution == "unresolved" or a.resolution == "pending" then unresolved = unresolved + 1 end
  end
  r.unresolved = unresolved
  r.complete = ok and not r.interrupted and unresolved == 0 and #r.unsent == 0
  if not ok then r.error = reason_of(perr) end
  self:progress(true)
  if j then
    j:finish{ batches = r.batches, recipients = r.recipients, rows = r.rows,
              skipped = #r.skipped, failed = #r.failed, unsent = #r.unsent, unresolved = unresolved,
              interrupted = r.interrupted, complete = r.complete }
    r.journal_written = j:exists()
    j:close()
  end
  self.batch:close()
  if not ok then
    if type(perr) == "table" and perr.kind then return nil, perr, r end
    error(perr, 0)
  end
  return r
end

return _M
