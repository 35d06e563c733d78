--- sinch.batch.cli.send: `sinch-batch send`, one batch (--to) or a campaign
-- (--csv, through sinch.batch.campaign).  A dry run is the campaign itself
-- with a driver that sends nothing: the very same row rules.  `--resume J`
-- needs nothing but the journal.
local batch = require "sinch.batch"
local common = require "sinch.batch.cli.common"

local ipairs, type, tostring = ipairs, type, tostring
local fmt = string.format

local _M = {}

_M.HELP = [[
sinch-batch send --text TEXT (--to NUMBER... | --csv FILE) [options]
sinch-batch send --resume JOURNAL        (finish a campaign: the journal knows the rest)
  --text TEXT          the message; ${name} takes the row's value
  --to NUMBER          a recipient (repeatable); --param K=V gives the values
  --csv FILE           a contact list (header row; channel, identity or phone,
                       contact_id columns; the others are parameters, except
                       failure_reason, which report --failed-csv adds)
  --channel NAME       the channel (default SMS when the list has no channel column)
  --param K=V          a parameter value for every row (repeatable)
  --tag K=V            batch_metadata on every batch (find/cancel by it)
  --send-after TIME    schedule (RFC 3339, at most 7 days ahead)
  --journal FILE       the campaign's journal (default: a new file in $TMPDIR);
                       created 0600 when the first batch goes out, locked while
                       the run lasts
  --resume FILE        continue the campaign of this journal, exactly once
  --concurrency N      batches in flight (default 4)
  --rate N             requests per second at most (default 100)
  --dedupe             skip a number already seen in the list
  --dry-run            check the list with the send's own rules, send nothing,
                       print a summary (no credentials needed); --bodies prints
                       the request bodies
  --progress / --no-progress   the progress line on stderr (default: when a TTY)
  --json-errors        errors on stderr as JSON lines
Output: one JSON line per batch, then {"summary":{…}}.
]]

local SPEC = { text = "value", to = "list", csv = "value", channel = "value",
  param = "list", tag = "value", ["send-after"] = "value", journal = "value", resume = "value",
  concurrency = "value", rate = "value", dedupe = "flag", ["dry-run"] = "flag", bodies = "flag",
  progress = "flag", ["no-progress"] = "flag" }

local usage = function(msg) common.usage(msg, "send") end

-- Constant --param values go into the text itself: a CSV's rows go from the
-- file into the request body in C, where only columns give ${values}.
local function bake(text, params)
  return (text:gsub("%${([^}]+)}", function(name)
    local v = params[name]
    if v ~= nil then return (v:gsub("%%", "%%%%")) end
  end))
end

local function send_to(o, spec, params)
  if o.journal or o.resume then usage("--journal and --resume go with --csv") end
  local channel = o.channel or "SMS"
  local ch = batch.core.CHANNELS[channel]
  local list = {}
  for i, n in ipairs(o.to) do
    if ch and ch.phone and not batch.core.phone_ok(n) then
      usage(fmt("--to[%d]: %q is not a phone number for %s (an optional +, then digits)",
        i, n, channel))
    end
    list[i] = { recipient = batch.recipient.channel(channel, n), parameters = params }
  end
  local c = common.client(o.dry_run)
  if o.dry_run then
    local b, err = c:batch{ message = spec.message, batch_metadata = spec.batch_metadata,
                            send_after = spec.send_after }
    if not b then common.die(err) end
    for _, r in ipairs(list) do
      local ok, aerr = b:add(r.recipient, r.parameters)
      if not ok then common.die(aerr) end
    end
    local body, berr = b:body()
    if not body then common.die(berr) end
    if o.bodies then io.stdout:write(body, "\n") end
    common.out{ summary = { dry_run = true, rows = #list, batches = 1, bad_rows = 0 } }
    return 0
  end
  spec.recipients = list
  local res, err = c:send(spec)
  if not res then common.die(err) end
  common.out(res)
  return 0
end

local function new_journal_name()
  local core = batch.core
  return fmt("%s/sinch-batch-%s-%s.journal", os.getenv("TMPDIR") or "/tmp",
    os.date("!%Y%m%dT%H%M%SZ"), core.digest(tostring(core.now_ms()) .. os.clock()
      .. tostring({}) .. math.random()):sub(1, 8))
end

local function campaign(o, spec)
  local core = batch.core
  local journal = o.resume or o.journal
  local c = common.client(o.dry_run)
  if not journal and not o.dry_run then journal = new_journal_name() end
  local show = (core.isatty(2) or o.progress) and not o.no_progress
  local source = o.csv or "the list"
  core.watch_signals()
  local report, err = c:campaign{
    message = spec.message, source = o.csv, csv = spec.csv, journal = journal,
    send_after = spec.send_after, batch_metadata = spec.batch_metadata, dedupe = o.dedupe or nil,
    concurrency = spec.concurrency, rate = spec.rate, dry_run = o.dry_run or nil,
    stop = function() return core.signal_flag() ~= false end,
    on_progress = show and function(p)
      local eta = ""
      if p.rate > 0 and p.total then eta = fmt(", ETA %ds", (p.total - p.rows) / p.rate) end
      common.progress(fmt("sinch-batch: %d rows, %d batches, %d recipients, %.0f recipients/s%s%s",
        p.rows, p.batches, p.recipients, p.rate, eta,
        p.skipped > 0 and fmt(", %d skipped", p.skipped) or ""))
    end or nil,
    on_batch = function(b)
      if o.dry_run then
        if o.bodies then
          common.clear_progress()
          io.stdout:write(b.body, "\n")
        end
        return
      end
      b.body, b.dry_run = nil, nil
      common.out(b)
    end,
    on_bad_row = function(row, reason)
      common.errline("bad_row", fmt("%s line %d skipped: %s", source, row, reason), 3)
    end,
  }
  common.clear_progress()
  if not report then
    -- refused before anything was sent (a busy or foreign journal, a bad list): exit 2
    common.die(err, type(err) == "table" and err.kind == "invalid" and 2 or 1)
  end
  return report, journal
end

local function summary(r, o)
  if o.dry_run then
    common.out{ summary = { dry_run = true, rows = r.rows, batches = r.batches, bad_rows = #r.skipped } }
    if r.error then common.die(r.error) end
    if r.rows == 0 then return 1 end
    return #r.skipped > 0 and 3 or 0
  end
  common.out{ summary = { campaign = r.campaign, journal = r.journal_written and r.journal or nil,
    rows = r.rows, batches = r.batches, recipients = r.recipients, skipped = #r.skipped,
    failed = #r.failed, failed_rows = #r.failed_rows, unsent = #r.unsent,
    ambiguous = #r.ambiguous, unresolved = r.unresolved, already_sent = r.already,
    interrupted = r.interrupted, complete = r.complete, elapsed = r.elapsed, rate = r.rate,
    failures = #r.failed > 0 and r.failed or nil,
    ambiguous_sends = #r.ambiguous > 0 and r.ambiguous or nil } }
  if not r.complete and r.journal_written then
    local why = r.interrupted and "interrupted" or r.unresolved > 0
      and fmt("%d sends left ambiguous", r.unresolved) or r.error
      or fmt("%d batches not sent", #r.unsent)
    common.errline("interrupted", fmt("%s; %d batches accepted. Resume (exactly once) with: "
      .. "sinch-batch send --resume %s", why, r.batches, common.shell_quote(r.journal)), 4)
    return 4
  end
  if r.error then common.die(r.error) end
  if #r.failed > 0 then
    common.errline("failed", fmt("%d rows in %d batches refused by the API (first: %s); the "
      .. "campaign is finished: sinch-batch report --journal %s --failed-csv FILE lists them",
      #r.failed_rows, #r.failed, r.failed[1].reason, common.shell_quote(r.journal)), 1)
    return 1
  end
  if not r.complete then
    common.errline("failed", "nothing was sent: " .. (r.interrupted and "interrupted"
      or fmt("%d batches not sent (first: %s)", #r.unsent, r.unsent[1] and r.unsent[1].reason or "?")), 1)
    return 1
  end
  if r.rows == 0 then
    common.errline("invalid", (o.csv or "the list") .. ": no recipient to send", 1)
    return 1
  end
  return #r.skipped > 0 and 3 or 0
end

function _M.run(argv)
  local o = common.parse("send", argv, SPEC, 0, _M.HELP)
  if o.journal and o.resume then usage("send takes --journal or --resume, not both") end
  if o.bodies and not o.dry_run then usage("--bodies goes with --dry-run") end
  if o.resume and not io.open(o.resume, "rb") then usage("--resume " .. o.resume .. ": no such journal") end
  common.channel(o.channel, "send")
  local spec = { send_after = o.send_after,
                 concurrency = common.number_opt(o, "concurrency", 1, 256, "send"),
                 rate = common.number_opt(o, "rate", 0.1, 800, "send") }
  if o.resume and not o.text and not o.csv and not o.to then -- the journal knows the rest
    if o.dry_run then usage("--dry-run goes with --text and --csv, not --resume alone") end
    local r, journal = campaign(o, spec)
    r.journal = journal
    return summary(r, o)
  end
  if not o.text then usage("send needs --text") end
  if not o.to and not o.csv then usage("send needs --to or --csv") end
  if o.to and o.csv then usage("send takes --to or --csv, not both") end
  local params = {}
  for _, p in ipairs(o.param or {}) do
    local k, v = common.kv(p, "--param", "send")
    params[k] = v
  end
  if o.tag then
    local k, v = common.kv(o.tag, "--tag", "send")
    spec.batch_metadata = { [k] = v }
  end
  if o.to then
    spec.message = batch.message.text(o.text)
    return send_to(o, spec, params)
  end
  common.input_file(o.csv, "--csv", "send")
  spec.message = batch.message.text(bake(o.text, params))
  spec.csv = o.channel and { channel = o.channel } or nil
  local r, journal = campaign(o, spec)
  r.journal = journal
  return summary(r, o)
end

return _M
