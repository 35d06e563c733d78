--- sinch.batch.campaign: send a contact list of any size as one campaign,
-- several batches in flight, at a set pace, exactly once, resumable.
--
--   local report = assert(client:campaign{
--     message = batch.message.text("Hi ${name}"),
--     source = "contacts.csv",            -- a CSV path, a Lua list or an iterator
--     journal = "spring.journal",         -- resume: run again with the same journal
--     concurrency = 8, rate = 100,        -- batches in flight, requests per second
--     on_progress = function(p) … end })
--   client:campaign{ journal = "spring.journal" }   -- resume from the journal alone
--
-- The package, from the bottom up: `journal` (the campaign's log, on
-- sinch.batch.log), `sources` (CSV, list, iterator; the row rules),
-- `drivers` (libcurl multi, ngx light threads, sequential, dry run), `runner`
-- (the loop: pace, answers, lookups of ambiguous sends) and this module
-- (options and the journal's header).  The receipts store
-- (sinch.batch.outcomes) imports journals; the CLI's `report` reads both.
--
-- Each batch carries `batch_metadata[metadata_key] = "<campaign id>:<chunk>"`
-- (metadata_key defaults to "sinch_campaign"), so `client:find(key, value)`
-- finds exactly that batch.  A send that may have been accepted is looked up
-- by that key once `settle` seconds have passed and resent only when a
-- well-formed answer lists no batch for it; any other answer leaves it
-- unresolved.  A final refusal (400, 413, …) fails that chunk's rows.
-- @module sinch.batch.campaign
local core = require "sinch.batch.core"
local errors = require "sinch.batch.errors"
local options = require "sinch.batch.options"
local client_m = require "sinch.batch.client"
local journal_m = require "sinch.batch.campaign.journal"
local runner = require "sinch.batch.campaign.runner"

local type, pairs, tostring, error, setmetatable, getmetatable =
  type, pairs, tostring, error, setmetatable, getmetatable
local random = math.random
local fmt = string.format

local _M = { _VERSION = "0.1.0", METADATA_KEY = "sinch_campaign" }

local OPTIONS = {
  client = "table", message = "table", source = "any", concurrency = "number", rate = "number",
  journal = "string", defaults = "table", dedupe = "boolean", on_progress = "function",
  on_batch = "function", on_bad_row = "function", send_after = "string",
  batch_metadata = "table", tag = "any", metadata_key = "string", csv = "table",
  size = "number", settle = "number", retries = "number", id = "string", stop = "function",
  batch = "table", app_id = "string", dry_run = "boolean",
}

-- What a resume needs besides the journal: kept in its header.
local SPEC = { "message", "source", "csv", "send_after", "batch_metadata", "tag", "defaults",
               "app_id", "size", "dedupe", "batch" }

local function argerror(msg, level)
  error("bad argument #1 to 'campaign' (" .. msg .. ")", (level or 1) + 2)
end

local function check(opts)
  options.assert(opts, OPTIONS, "campaign", 1, 2)
  local st = type(opts.source)
  if st ~= "string" and st ~= "table" and st ~= "function" then
    argerror("source: a CSV path, a list or an iterator function expected, got " .. st, 2)
  end
  if opts.message == nil then argerror("message: required (or a journal to resume)", 2) end
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

--- Resuming from the journal alone: the options its header keeps, under
-- those given.  @return opts | nil, err
local function from_journal(opts)
  local st, err = journal_m.peek(opts.journal)
  if st == false and require("sinch.batch.log").size(opts.journal) then
    -- there, but empty: maybe a run writing its first line
    local busy, berr = journal_m.open(opts.journal, {})
    if not busy then return nil, berr end
    busy:close()
  end
  if st == false then
    return errors.fail("invalid", fmt("journal %s: no such journal to resume (give message and "
      .. "source to start a campaign)", opts.journal))
  end
  if not st then return nil, err end
  local spec = st.header.spec
  if type(spec) ~= "table" or spec.source == nil then
    return errors.fail("invalid", fmt("journal %s: its campaign cannot be resumed from the journal "
      .. "alone (its source was not a CSV file); give message and source", opts.journal))
  end
  local o = {}
  for k, v in pairs(spec) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  return o
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

-- The journal's header: digests of the message (canonical: table order does
-- not count) and of the source (a file's: a resume checks it), and the spec.
local function header_of(self, opts)
  local source, sdigest, skind = opts.source
  if type(source) == "string" then -- a file's digest only for a journal (it reads the whole file)
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
  local spec
  if skind == "csv" then
    spec = {}
    for _, k in pairs(SPEC) do spec[k] = opts[k] end
  end
  return { campaign = opts.id or new_id(), key = self.key, message = journal_m.digest_value(opts.message),
           source = sdigest, source_kind = skind, path = skind == "csv" and source or nil,
           spec = spec }
end

--- Prepares a campaign (nothing is sent until run()).
-- @return campaign | nil, err
function _M.new(opts)
  if type(opts) ~= "table" then argerror("expected a table of options") end
  if getmetatable(opts.client) ~= client_m.Client then
    argerror("client: a sinch.batch client expected (client:campaign{…})")
  end
  if opts.journal and opts.message == nil and opts.source == nil then
    local err
    opts, err = from_journal(opts)
    if not opts then return nil, err end
  end
  check(opts)
  if opts.dry_run then opts.journal = nil end
  local self = runner.new(opts, opts.metadata_key or _M.METADATA_KEY)
  local header, err = header_of(self, opts)
  if not header then return nil, err end
  if opts.journal then
    local j
    j, err = journal_m.open(opts.journal, header)
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
  meta[self.key] = self.id .. ":0" -- replaced per chunk
  self.meta = meta
  local bopts = { message = opts.message, defaults = opts.defaults, send_after = opts.send_after,
                  app_id = opts.app_id, batch_metadata = meta }
  for k, v in pairs(opts.batch or {}) do bopts[k] = v end
  local b
  b, err = opts.client:batch(bopts)
  if not b then
    if self.journal then self.journal:close() end
    return nil, err
  end
  self.batch = b
  return self
end

--- client:campaign{…} / campaign.run{ client = …, … }: prepare and run.
-- @return the report (see runner) | nil, err
function _M.run(opts)
  local c, err = _M.new(opts)
  if not c then return nil, err end
  return c:run()
end

_M.Campaign = runner.Campaign
setmetatable(_M, { __call = function(_, opts) return _M.new(opts) end })

return _M
