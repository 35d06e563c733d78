--- sinch.batch.cli.report: `sinch-batch report`, a campaign's outcomes from
-- its journal and the receipts store (sinch.batch.outcomes), as text or
-- JSON, the failed rows as a CSV ready for a follow-up campaign, and a
-- `--watch` mode that refreshes while receipts arrive.
--
-- The failed-rows CSV has the source's header and rows, byte for byte, plus a
-- trailing `failure_reason` column (an earlier one is replaced).  `sinch-batch
-- send --csv` never sends that column as a parameter.
local store_url = require "sinch.batch.store"
local core = require "sinch.batch.core"
local cjson = require "cjson"

local fmt, concat, sort = string.format, table.concat, table.sort
local floor = math.floor

local _M = {}

_M.HELP = [[
sinch-batch report --store URL [--journal FILE...] [options]
  --store URL          the receipts store (examples/webhook_receiver.lua --store,
                       the OpenResty example's store): a file or sqlite:FILE
                       (SQLite; it must exist), or postgresql://user@host/db
  --journal FILE       a campaign's journal (repeatable); joined into the store
                       first. Without it: every campaign the store knows
  --json               one JSON object per campaign per line
  --failed-csv FILE    write the failed recipients' CSV rows (the source's
                       columns plus failure_reason) for a follow-up campaign:
                       sinch-batch send --text … --csv FILE (one campaign only);
                       rows the API refused for good are listed too.  The file
                       is created 0600, never over a file (unless --force) nor
                       through a symbolic link
  --csv FILE           the campaign's source CSV, when it moved since the send
  --html FILE          also write the report as one self-contained HTML page
                       (charts of the receipts over time, failures by reason,
                       pending over time, the batches); created as --failed-csv
                       is (never over a file unless --force); --watch rewrites it
  --watch [S]          refresh every S seconds (default 2) until nothing is
                       pending and the sending is done, SIGINT, or --timeout
  --timeout S          how long --watch goes on at most (default 3600)
Per campaign: rows, batches accepted, recipients delivered / failed by reason /
pending, the last receipt time.  Exit status: 0 done; 1 a journal, the store or
the CSV could not be read or written; 2 bad usage; 4 --watch ended (SIGINT or
--timeout) with recipients still pending.
]]

local function int(v) return type(v) == "number" and floor(v) or v end

local function pct(n, of)
  if not of or of == 0 then return "" end
  return fmt("  (%.1f %%)", 100 * n / of)
end

local function text(r)
  local out = {}
  local function line(...) out[#out + 1] = fmt(...) end
  line("campaign %s%s", tostring(r.campaign), r.source and fmt("  (%s)", r.source) or "")
  if r.rows then line("  rows            %d%s", r.rows,
    (r.bad_rows or 0) > 0 and fmt("  (%d skipped as bad)", r.bad_rows) or "") end
  line("  batches         %d accepted%s", r.batches, r.chunks_not_accepted and r.chunks_not_accepted > 0
    and fmt(", %d not (yet) accepted", r.chunks_not_accepted) or "")
  line("  recipients      %d", r.recipients)
  line("  delivered       %d%s", r.delivered, pct(r.delivered, r.recipients))
  line("  failed          %d%s", r.failed, pct(r.failed, r.recipients))
  local codes = {}
  for code in pairs(r.failed_by_reason) do codes[#codes + 1] = code end
  sort(codes)
  for _, code in ipairs(codes) do line("    %-30s %d", code, r.failed_by_reason[code]) end
  line("  pending         %d%s", r.pending, pct(r.pending, r.recipients))
  line("  receipts        %d, the last at %s", r.receipts, r.last_receipt or "-")
  if r.sending_done == false then line("  (the sending is not finished)") end
  return concat(out, "\n") .. "\n"
end

local function json(r) -- failed_by_reason: an object, {} when empty
  local t = {}
  for k, v in pairs(r) do t[k] = int(v) end
  t.in_progress = nil
  return cjson.encode{ report = t } .. "\n"
end

-- CSV records of a file by the line each starts on (a quoted field may span
-- lines), only for the wanted lines (and line 1, the header).
local function csv_records(path, wanted)
  local f, err = io.open(path, "rb")
  if not f then return nil, fmt("--csv %s: cannot read: %s", path, tostring(err)) end
  local recs, ln, start, buf, quoted = {}, 0, nil, nil, false
  for line in f:lines() do
    ln = ln + 1
    if not quoted then start, buf = ln, {} end
    if wanted[start] or start == 1 then buf[#buf + 1] = line end
    local _, q = line:gsub('"', "")
    if q % 2 == 1 then quoted = not quoted end
    if not quoted then
      if buf[1] then recs[start] = (concat(buf, "\n"):gsub("\r$", "")) end
      buf = nil
    end
  end
  f:close()
  return recs
end

local function csv_field(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

--- Writes the failed rows of one campaign (store:failed) as CSV.
-- @return the number of rows written | nil, err
function _M.write_failed_csv(out_path, src_path, failed, force)
  local wanted = {}
  for _, f in ipairs(failed) do
    if f.row then wanted[f.row] = true end
  end
  local recs, err = csv_records(src_path, wanted)
  if not recs then return nil, err end
  local header = recs[1]
  if not header then return nil, fmt("--csv %s: the file is empty", src_path) end
  -- an earlier failure_reason column (a follow-up of a follow-up) is replaced
  local strip = header:lower():match(',%s*"?failure_reason"?%s*$') ~= nil
  if strip then header = header:gsub(',[^,]*$', "") end
  local lines = { header .. ",failure_reason" }
  sort(failed, function(a, b) return (a.row or 0) < (b.row or 0) end)
  for _, f in ipairs(failed) do
    local rec = f.row and recs[f.row]
    if not rec then
      return nil, fmt("%s has no row %s (batch %s, index %s): is it the campaign's source?",
        src_path, tostring(f.row), tostring(f.batch_id), tostring(f.index))
    end
    if strip then rec = rec:gsub(',[^,"]*$', "") end
    lines[#lines + 1] = rec .. "," .. csv_field(f.reason or "UNKNOWN")
  end
  local ok, werr = require("sinch.batch.cli.common").write_file(out_path,
    concat(lines, "\n") .. "\n", force, "--failed-csv")
  if not ok then return nil, werr end
  return #lines - 1
end

-- Whether two paths name one file (the same path, or the same content).
local function same_file(a, b)
  if a == b then return true end
  local da = core.file_digest(a)
  return da ~= nil and da == core.file_digest(b)
end

-- --watch takes an optional number: "--watch 5" / "--watch=5" / "--watch".
local function watch_arg(argv)
  local out, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--watch" then
      local n = argv[i + 1] and argv[i + 1]:match("^%d+%.?%d*$") and argv[i + 1]
      out[#out + 1] = "--watch=" .. (n or "2")
      if n then i = i + 1 end
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  return out
end

--- The command: ctx = { parse, usage, die, errline }.
function _M.run(argv, ctx)
  local usage, die = ctx.usage, ctx.die
  local o = ctx.parse("report", watch_arg(argv), { store = "value", journal = "list", json = "flag",
    ["failed-csv"] = "value", csv = "value", html = "value", watch = "value", timeout = "value",
    force = "flag" }, 0,
    _M.HELP)
  if not o.store then usage("report needs --store FILE (the receipts store)") end
  local every = o.watch and tonumber(o.watch)
  if o.watch and (not every or every < 0.1 or every > 3600) then
    usage("--watch: expected seconds from 0.1 to 3600, got " .. o.watch)
  end
  local timeout = tonumber(o.timeout or "3600")
  if not timeout or timeout <= 0 then usage("--timeout: expected seconds > 0, got " .. o.timeout) end
  if o.timeout and not o.watch then usage("--timeout goes with --watch") end
  if o.csv and not o.failed_csv then usage("--csv goes with --failed-csv") end
  if o.failed_csv and #(o.journal or {}) > 1 then
    usage("--failed-csv takes one campaign: give one --journal")
  end
  if o.force and not o.failed_csv and not o.html then usage("--force goes with --failed-csv or --html") end
  -- a URL that cannot be right is bad usage; a mistyped SQLite path is no new empty store
  local kind, target = store_url.parse(o.store)
  if not kind then usage("--store: " .. target.message) end
  if kind == "sqlite" then ctx.input_file(target, "--store", "report") end
  for _, j in ipairs(o.journal or {}) do ctx.input_file(j, "--journal", "report") end
  local store, err = store_url.open(o.store)
  if not store then die(err) end

  local function campaigns()
    local ids = {}
    for _, j in ipairs(o.journal or {}) do
      local imp, ierr = store:import_journal(j)
      if not imp then die(ierr) end
      ids[#ids + 1] = imp.campaign
    end
    if not o.journal then
      local all, cerr = store:campaigns()
      if not all then die(cerr) end
      ids = all
    end
    if #ids == 0 then die(o.store .. ": no campaign in the store yet; give --journal FILE") end
    return ids
  end

  local html_written = false
  local function render(ids)
    local pending, done, reports = 0, true, {}
    for i, id in ipairs(ids) do
      local r, rerr = store:report(id)
      if not r then die(rerr) end
      reports[i] = r
      io.stdout:write(o.json and json(r) or text(r))
      pending = pending + r.pending
      if r.sending_done == false then done = false end
    end
    io.stdout:flush()
    if o.html then -- the page: sinch.batch.report_html, from the same store:report
      local report_html = require "sinch.batch.report_html"
      local page, herr = report_html.render(store, ids, { reports = reports })
      if not page then die(herr) end
      -- created as --failed-csv is (0600, no symbolic link, never over a
      -- file unless --force); --watch then rewrites the page it made
      local ok, werr = require("sinch.batch.cli.common").write_file(o.html, page,
        o.force or html_written, "--html")
      if not ok then die(werr) end
      html_written = true
    end
    return pending, done
  end

  local ids = campaigns()
  local pending, done = render(ids)
  local rc = 0
  if o.watch then
    core.watch_signals()
    local deadline = core.now_ms() + timeout * 1000
    while pending > 0 or not done do
      local wake = core.now_ms() + every * 1000
      while core.now_ms() < wake and not core.signal_flag() and core.now_ms() < deadline do
        core.sleep_ms(50)
      end
      if core.signal_flag() or core.now_ms() >= deadline then
        rc = 4
        break
      end
      if not o.json then io.stdout:write("\n") end
      ids = campaigns()
      pending, done = render(ids)
    end
    core.unwatch_signals()
  end
  if o.failed_csv then
    if #ids ~= 1 then usage("--failed-csv takes one campaign: give --journal FILE") end
    local r = assert(store:report(ids[1]))
    local src = o.csv or r.source
    if not src then die("the campaign's source CSV is not known: give --csv FILE") end
    local failed, ferr = store:failed(ids[1])
    if not failed then die(ferr) end
    -- the rows of chunks the API refused for good (400, 413, …): in the journal
    for _, j in ipairs(o.journal or {}) do
      local st = require("sinch.batch.campaign.journal").read(j)
      for _, c in pairs(st and st.chunks or {}) do
        if c.status == "refused" then
          local why = fmt("REFUSED%s: %s", c.http_status and " (HTTP " .. c.http_status .. ")" or "",
            tostring(c.reason))
          for _, row in ipairs(c.rows or {}) do failed[#failed + 1] = { row = row, reason = why } end
        end
      end
    end
    if same_file(o.failed_csv, src) then
      usage(fmt("--failed-csv %s is the campaign's source; name another file", o.failed_csv))
    end
    local n, werr = _M.write_failed_csv(o.failed_csv, src, failed, o.force)
    if not n then die(werr) end
    io.stderr:write(fmt("sinch-batch: %d failed rows written to %s\n", n, o.failed_csv))
  end
  store:close()
  if rc == 4 then
    ctx.errline("interrupted", fmt("%d recipients still pending", pending), 4)
  end
  return rc
end

return _M
