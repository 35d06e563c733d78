--- sinch.batch.campaign: send a contact list of any size as one campaign,
-- several batches in flight, at a set pace, exactly once, resumable.
--
--   local report = assert(client:campaign{
--     message = batch.message.text("Hi ${name}"),
--     source = "contacts.csv",            -- a CSV path, a Lua list or an iterator
--     journal = "spring.journal",         -- resume: run again with the same journal
--     concurrency = 8, rate = 100,        -- batches in flight, requests per second
--     on_progress = function(p) … end })
--
-- Each batch carries `batch_metadata[metadata_key] = "<campaign id>:<chunk>"`
-- (metadata_key defaults to "sinch_campaign"), so `client:find(key, value)`
-- finds exactly that batch.  The journal (sinch.batch.journal) records every
-- chunk before it leaves and every answer after, fsync'd.  A send that may
-- have been accepted (`may_have_been_processed`) is looked up by that key
-- once `settle` seconds have passed and resent only when the API has no
-- batch for it; on resume, accepted chunks are skipped and unanswered or
-- ambiguous ones are looked up the same way.
--
-- Transport: the libcurl multi driver (plain Lua), light threads on cosockets
-- under OpenResty (ngx.thread, never blocking the worker), or one call at a
-- time for a custom transport object.  While a call waits out a 429/503
-- Retry-After (or a backoff), no new batch starts: the campaign slows down as
-- a whole.
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local journal_m = require "sinch.batch.journal"
local options = require "sinch.batch.options"
local io_m = require "sinch.batch.campaign_io"
local cjson = require "cjson.safe"

local type, pairs, ipairs, tostring, error, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, error, setmetatable, getmetatable
local pcall, require = pcall, require
local floor, max, min, random = math.floor, math.max, math.min, math.random
local fmt, remove = string.format, table.remove
local now_ms = core.now_ms

local _M = { _VERSION = "0.1.0", METADATA_KEY = "sinch_campaign" }

local OPTIONS = {
  client = "table", message = "table", source = "any", concurrency = "number", rate = "number",
  journal = "string", defaults = "table", dedupe = "boolean", on_progress = "function",
  on_batch = "function", on_bad_row = "function", send_after = "string",
  batch_metadata = "table", tag = "any", metadata_key = "string", csv = "table",
  size = "number", settle = "number", retries = "number", id = "string", stop = "function",
  batch = "table", app_id = "string",
}

local function argerror(msg, level)
  error("bad argument #1 to 'campaign' (" .. msg .. ")", (level or 1) + 2)
end

local function check(opts)
  options.assert(opts, OPTIONS, "campaign", 1, 2)
  local st = type(opts.source)
  if st ~= "string" and st ~= "table" and st ~= "function" then
    argerror("source: a CSV path, a list or an iterator function expected, got " .. st, 2)
  end
  local c = opts.concurrency
  if c ~= nil and (c < 1 or c % 1 ~= 0 or c > 256) then
    argerror("concurrency: an integer from 1 to 256 expected", 2)
  end
  if opts.rate ~= nil and opts.rate <= 0 then argerror("rate: requests/s > 0 expected", 2) end
  local tag = opts.tag
  if tag ~= nil and type(tag) ~= "string" and type(tag) ~= "table" then
    argerror("tag: \"key=value\", a string or { key = value } expected", 2)
  end
end

-- tag "k=v" / "name" / { k = v } -> metadata pairs
local function tag_metadata(tag, into)
  if type(tag) == "table" then
    for k, v in pairs(tag) do into[k] = v end
  elseif type(tag) == "string" then
    local k, v = tag:match("^([^=]+)=(.*)$")
    if k then into[k] = v else into.tag = tag end
  end
end

local function new_id()
  local f, noise = io.open("/dev/urandom", "rb"), ""
  if f then
    noise = f:read(16) or ""
    f:close()
  end
  local seed = fmt("%s:%s:%s:%s:%s", tostring(os.time()), tostring(os.clock()), tostring({}),
                   tostring(random()), noise)
  return "c" .. core.digest(seed):sub(1, 12)
end

-- campaign ----------------------------------------------------------------

local Campaign = {}
Campaign.__index = Campaign
_M.Campaign = Campaign

--- Prepares a campaign (nothing is sent until run()).
-- @return campaign | nil, err
function _M.new(opts)
  check(opts)
  local client = opts.client
  local batch_mod = require "sinch.batch"
  if getmetatable(client) ~= batch_mod.Client then
    argerror("client: a sinch.batch client expected (client:campaign{…})")
  end
  local self = setmetatable({
    opts = opts, client = client, size = opts.size or batch_mod.MAX_RECIPIENTS,
    concurrency = opts.concurrency or 4, rate = opts.rate or 100, dedupe = opts.dedupe,
    key = opts.metadata_key or _M.METADATA_KEY, settle = (opts.settle or 5) * 1000,
    retries = opts.retries or 5,
    report = { batches = 0, recipients = 0, rows = 0, skipped = {}, ambiguous = {}, failed = {},
               already = 0, interrupted = false },
  }, Campaign)
  -- digests: the message (canonical, table order does not count) and the source
  -- (a file's only for a journal: a resume checks it; it reads the whole file)
  local source = opts.source
  local sdigest, skind
  if type(source) == "string" then
    sdigest, skind = "csv", "csv"
    if opts.journal then
      local d, size_or_err = core.file_digest(source)
      if not d then return nil, size_or_err end
      sdigest = d
    end
  elseif type(source) == "table" then
    sdigest, skind = fmt("list:%d", #source), "list"
  else
    sdigest, skind = "iterator", "iterator"
  end
  self.source_kind = skind
  local header = { campaign = opts.id or new_id(), key = self.key,
                   message = journal_m.digest_value(opts.message), source = sdigest,
                   source_kind = skind, path = type(source) == "string" and source or nil }
  if opts.journal then
    local j, err = journal_m.open(opts.journal, header)
    if not j then return nil, err end
    self.journal = j
    header = j.header
    if opts.id and header.campaign ~= opts.id then
      j:close()
      return errors.fail("invalid", fmt("journal %s belongs to campaign %s, not %s", opts.journal,
        tostring(header.campaign), opts.id))
    end
    self.key = header.key or self.key
  end
  self.id = header.campaign
  self.report.campaign = self.id
  self.report.journal = opts.journal
  -- the batch every chunk is built in
  local meta = {}
  for k, v in pairs(opts.batch_metadata or {}) do meta[k] = v end
  tag_metadata(opts.tag, meta)
  meta[self.key] = self.id .. ":0" -- same length class; replaced per chunk below
  self.meta = meta
  local bopts = { message = opts.message, defaults = opts.defaults, send_after = opts.send_after,
                  app_id = opts.app_id, batch_metadata = meta }
  for k, v in pairs(opts.batch or {}) do bopts[k] = v end
  local b, err = client:batch(bopts)
  if not b then
    if self.journal then self.journal:close() end
    return nil, err
  end
  self.batch = b
  return self
end

function Campaign:bad_row(row, reason)
  local r = self.report
  r.skipped[#r.skipped + 1] = { row = row, reason = reason }
  if self.journal and not (self.journal.state.bad_seen or {})[row] then
    self.journal:bad_row(row, reason)
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
  if self.driver and self.driver.takes_body then return b.b:take() end
  return b:body()
end

-- A chunk is settled (accepted, found or failed): its body is not sent again.
local function settled(job)
  local body = job.body
  if type(body) == "userdata" then body:free() end
  job.body = nil
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
     ambiguous = self.pending_ambiguous or 0, inflight = self.driver and self.driver.inflight or 0,
     elapsed = el, rate = el > 0 and r.recipients / el or 0, total = self.total }
end

local function reason_of(err)
  return tostring(type(err) == "table" and err.message or err)
end

-- Applies one answer.  Returns "retry" when the job goes back in the queue.
function Campaign:answer(job, res, err)
  local j, r = self.journal, self.report
  if res then
    if j then j:accepted(job.chunk, res.batch_id, job.resolved) end
    r.batches = r.batches + 1
    r.recipients = r.recipients + job.count
    if job.amb then job.amb.resolution, job.amb.batch_id = "resent", res.batch_id end
    settled(job)
    if self.opts.on_batch then
      self.opts.on_batch{ chunk = job.chunk, batch_id = res.batch_id, recipients = job.count,
                          first_row = job.rows[1], last_row = job.rows[#job.rows],
                          resent = job.amb ~= nil }
    end
    return
  end
  if type(err) == "table" and err.may_have_been_processed then
    if j then j:ambiguous(job.chunk, reason_of(err)) end
    job.at = now_ms()
    self.ambiguous[#self.ambiguous + 1] = job
    if not job.amb then
      job.amb = { chunk = job.chunk, reason = reason_of(err), resolution = "pending" }
      r.ambiguous[#r.ambiguous + 1] = job.amb
    end
    return
  end
  if type(err) == "table" and err.retryable and (job.tries or 0) < self.retries then
    job.tries = (job.tries or 0) + 1
    -- a refused send (nothing accepted): again later, and the campaign pauses
    local wait = min(30000, 500 * 2 ^ job.tries) * (0.5 + random() / 2)
    self.pause_until = max(self.pause_until, now_ms() + wait)
    self.retry[#self.retry + 1] = job
    return "retry"
  end
  if j then j:failed(job.chunk, reason_of(err)) end
  settled(job)
  r.failed[#r.failed + 1] = { chunk = job.chunk, rows = job.count, first_row = job.rows[1],
                              reason = reason_of(err), status = type(err) == "table" and err.status or nil }
end

-- Looks up an ambiguous chunk: true (found, recorded), false (not found:
-- resend), nil (the lookup failed).
function Campaign:lookup(job)
  local list, err
  for attempt = 1, 3 do
    list, err = self.client:find(self.key, self.id .. ":" .. job.chunk)
    if list then break end
    io_m.sleep_ms(200 * attempt)
  end
  if not list then return nil, err end
  local hit = list[1]
  if hit == nil then return false end
  local id = hit.batch_id or hit.id
  settled(job)
  if self.journal then self.journal:accepted(job.chunk, id, "found") end
  local r = self.report
  r.batches = r.batches + 1
  r.recipients = r.recipients + job.count
  if job.amb then job.amb.resolution, job.amb.batch_id = "found", id end
  if self.opts.on_batch then
    self.opts.on_batch{ chunk = job.chunk, batch_id = id, recipients = job.count,
                        first_row = job.rows[1], last_row = job.rows[#job.rows], found = true }
  end
  return true
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

--- Runs the campaign to its end (or until opts.stop() says so).
-- @return the report: { campaign, journal, batches, recipients, rows, skipped =
--   { {row, reason} }, ambiguous = { {chunk, reason, resolution = "found" |
--   "resent" | "unresolved", batch_id} }, failed = { {chunk, rows, reason} },
--   already (chunks accepted in an earlier run), interrupted, complete,
--   elapsed (s), rate (recipients/s) } | nil, err (nothing could start)
function Campaign:run()
  local client, opts, r = self.client, self.opts, self.report
  self.t0 = now_ms()
  self.pause_until, self.ambiguous, self.retry = 0, {}, {}
  local src, err
  if type(opts.source) == "string" then
    src, err = io_m.csv_source(self, opts.source)
  elseif type(opts.source) == "table" then
    local i, list = 0, opts.source
    self.total = #list
    src = io_m.table_source(self, function()
      if i >= #list then return nil end
      i = i + 1
      return list[i], i
    end)
  else
    local i, fn = 0, opts.source
    src = io_m.table_source(self, function()
      local item = fn()
      if item == nil then return nil end
      i = i + 1
      return item, i
    end)
  end
  if not src then return nil, err end
  local old = self.journal and self.journal.state or { chunks = {}, bad_rows = {} }
  if self.journal then
    local seen = {}
    for _, b in ipairs(old.bad_rows or {}) do seen[b.row] = true end
    old.bad_seen = seen
  end
  local driver
  if client.transport == nil then
    driver = io_m.multi_driver(client)
  elseif rawget(_G, "ngx") and client.transport.run and ngx.thread then -- luacheck: ignore 113
    driver = io_m.thread_driver(client)
  else
    driver = io_m.sync_driver(client)
  end
  self.driver = driver
  r.driver = driver.name
  local interval = 1000 / self.rate
  local next_at = now_ms()
  local k, source_done = 0, false
  local ok, perr = pcall(function()
    while true do
      -- start what may start
      while not self:stopping() and driver.inflight < self.concurrency do
        local t = now_ms()
        if t < self.pause_until or t < next_at then break end
        local job = remove(self.retry, 1)
        if job == nil then
          if source_done then break end
          local c = src.next()
          if c == nil then
            source_done = true
            break
          end
          k = k + 1
          r.rows = r.rows + c.count
          local prev = old.chunks[k]
          if prev and prev.digest and c.digest and prev.digest ~= c.digest then
            error(errors.new("invalid", fmt("journal %s: chunk %d holds other rows than in the "
              .. "earlier run (the source changed); start a new journal", opts.journal, k)))
          end
          if prev and prev.status == "accepted" then
            r.already = r.already + 1
            r.batches = r.batches + 1
            r.recipients = r.recipients + c.count
          else
            local body, berr = self:body(k)
            if not body then error(berr) end
            job = { chunk = k, body = body, rows = c.rows, count = c.count, digest = c.digest }
            if prev then -- unanswered or ambiguous in an earlier run: look it up first
              job.at = self.t0
              job.amb = { chunk = k, reason = prev.reason or "no answer recorded (interrupted)",
                          resolution = "pending" }
              r.ambiguous[#r.ambiguous + 1] = job.amb
              self.ambiguous[#self.ambiguous + 1] = job
              job = nil
            end
          end
        end
        if job then
          if self.journal and not job.written then
            local jok, jerr = self.journal:intent(job.chunk, job.rows, job.digest)
            if not jok then error(jerr) end
            job.written = true
          end
          local sok, serr = driver.start(job)
          if not sok then
            self:answer(job, nil, serr)
          end
          -- token bucket: a start that came late (the loop was busy) may be
          -- made up by the next one, never more: the long-run pace is `rate`
          next_at = max(next_at, t - interval) + interval
        end
      end
      if driver.inflight == 0 and #self.retry == 0 and (source_done or self.stopped) then
        -- the end: resolve the ambiguous sends (not when stopping: the journal has them)
        if self.stopped or #self.ambiguous == 0 then break end
        local job = remove(self.ambiguous, 1)
        local wait = job.at + self.settle - now_ms()
        if wait > 0 then io_m.sleep_ms(wait) end
        local found, ferr = self:lookup(job)
        if found == false then
          job.tries = 0
          job.resolved = "resent"
          self.retry[#self.retry + 1] = job
          if self.journal then
            local jok, jerr = self.journal:intent(job.chunk, job.rows, job.digest)
            if not jok then error(jerr) end
            job.written = true
          end
        elseif found == nil then
          job.amb.resolution = "unresolved"
          job.amb.lookup_error = reason_of(ferr)
        end
      else
        local t = now_ms()
        local timeout = 50
        -- shorter only when a start is due (else wait for answers, not spin)
        if driver.inflight < self.concurrency and not self.stopped
           and (not source_done or #self.retry > 0) then
          timeout = max(0, min(timeout, max(self.pause_until, next_at) - t))
        end
        if driver.inflight == 0 then
          io_m.sleep_ms(max(1, timeout))
        else
          for _, a in ipairs(driver.wait(floor(timeout))) do
            self:answer(a[1], a[2], a[3])
          end
          local w = driver.waiting_ms()
          if w > 0 then self.pause_until = max(self.pause_until, now_ms() + w) end
        end
        self:progress()
      end
    end
  end)
  -- in flight after an error: let them end and record them
  while driver.inflight > 0 do
    for _, a in ipairs(driver.wait(50)) do self:answer(a[1], a[2], a[3]) end
  end
  src.close()
  driver.close()
  for _, job in ipairs(self.ambiguous) do
    if job.amb.resolution == "pending" then job.amb.resolution = "unresolved" end
  end
  for _, job in ipairs(self.retry) do
    r.failed[#r.failed + 1] = { chunk = job.chunk, rows = job.count, first_row = job.rows[1],
                                reason = "not sent (stopped)" }
  end
  local el = (now_ms() - self.t0) / 1000
  r.elapsed = el
  r.rate = el > 0 and (r.recipients - 0) / el or 0
  local unresolved = 0
  for _, a in ipairs(r.ambiguous) do
    if a.resolution == "unresolved" or a.resolution == "pending" then unresolved = unresolved + 1 end
  end
  r.unresolved = unresolved
  r.complete = ok and not r.interrupted and unresolved == 0 and #r.failed == 0
  if not ok then r.error = reason_of(perr) end
  self:progress(true)
  if self.journal then
    self.journal:finish{ batches = r.batches, recipients = r.recipients, rows = r.rows,
                         skipped = #r.skipped, failed = #r.failed, unresolved = unresolved,
                         interrupted = r.interrupted, complete = r.complete }
    self.journal:close()
  end
  self.batch:close()
  if not ok then
    if type(perr) == "table" and perr.kind then return nil, perr, r end
    error(perr, 0)
  end
  return r
end

--- client:campaign{…} / campaign.run{ client = …, … }: prepare and run.
function _M.run(opts)
  local c, err = _M.new(opts)
  if not c then return nil, err end
  return c:run()
end

setmetatable(_M, { __call = function(_, opts) return _M.new(opts) end })

return _M
