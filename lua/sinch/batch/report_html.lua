--- sinch.batch.report_html: a campaign report as one self-contained HTML
-- page, for people who do not run a terminal.
--
-- Per campaign: the summary numbers (`Store:report`, the numbers `sinch-batch
-- report --json` prints), the receipts over time (delivered and failed per
-- second, minute or hour, `Store:timeline`), the failures by reason, the
-- recipients still pending over time, and the batches with their first and
-- last rows (`Store:batches`).  The charts are inline SVG, each with a
-- `<title>`, a `<desc>` and the same figures as a table; the colours are the
-- Okabe-Ito palette (distinct for colour-blind readers and in grey) and the
-- page has print styles.  No script, no stylesheet, font or image from
-- elsewhere: the page fetches nothing.
--
--   local report_html = require "sinch.batch.report_html"
--   local html = assert(report_html.render(store, { "c7f3a09e1b2d4" }))
--   assert(report_html.write("spring.html", html))
--
-- The renderer computes nothing from the receipts itself: every figure comes
-- from the store's queries.
--
-- The parts: `report_html/charts.lua` draws the SVG charts,
-- `report_html/tables.lua` the summary cards and the tables,
-- `report_html/style.lua` is the stylesheet and `report_html/text.lua` the
-- escaping, number formats and colours they share; this module puts a page
-- together.
-- @module sinch.batch.report_html

local tostring, ipairs, pairs = tostring, ipairs, pairs
local format, concat, sort = string.format, table.concat, table.sort
local os_date = os.date
local text = require "sinch.batch.report_html.text"
local charts = require "sinch.batch.report_html.charts"
local tables = require "sinch.batch.report_html.tables"
local CSS = require "sinch.batch.report_html.style"

local esc = text.esc
local BLUE, ORANGE, GREEN = text.BLUE, text.ORANGE, text.GREEN

local _M = {}

--- Text made safe in HTML (`& < > " '` as entities).
-- @function escape
-- @param s any value (tostring)
-- @return the escaped string
_M.escape = esc

-- The failures by reason, most first (then by code): the chart and the table
-- list them in this order.
local function reasons_sorted(r)
  local list = {}
  for code, n in pairs(r.failed_by_reason or {}) do list[#list + 1] = { code = code, n = n } end
  sort(list, function(a, b)
    if a.n ~= b.n then return a.n > b.n end
    return a.code < b.code
  end)
  return list
end

local function name(r)
  return r.campaign ~= nil and tostring(r.campaign) or "(every batch in the store)"
end

local function campaign_section(out, n, cp)
  local r, tl = cp.report, cp.timeline
  local id = "c" .. n
  local list = reasons_sorted(r)
  out[#out + 1] = format('<section class="campaign" id="%s" data-campaign="%s">', id, esc(name(r)))
  out[#out + 1] = format("<h2>Campaign %s%s</h2>", esc(name(r)),
    r.source and format(' <small>(%s)</small>', esc(r.source)) or "")
  tables.summary(out, r)

  out[#out + 1] = "<h3>Receipts over time</h3><figure>"
  charts.receipts(out, id .. "-receipts", r, tl)
  out[#out + 1] = format('<figcaption><span class="swatch" style="background:%s"></span>delivered ' ..
    '<span class="swatch" style="background:%s"></span>failed — recipients whose outcome came in ' ..
    'each %s (UTC).</figcaption></figure>', BLUE, ORANGE, tl.unit)

  out[#out + 1] = "<h3>Failures by reason</h3><figure>"
  charts.reasons(out, id .. "-reasons", r, list)
  out[#out + 1] = "</figure>"
  tables.reasons(out, id .. "-reasons-table", r, list)

  out[#out + 1] = "<h3>Pending over time</h3><figure>"
  charts.pending(out, id .. "-pending", r, tl)
  out[#out + 1] = format('<figcaption><span class="swatch" style="background:%s"></span>recipients ' ..
    'without a final outcome (delivered or failed) at the end of each %s.</figcaption></figure>',
    GREEN, tl.unit)
  tables.timeline(out, id .. "-timeline-table", tl)

  out[#out + 1] = "<h3>Batches</h3>"
  tables.batches(out, id .. "-batches", cp.batches)
  out[#out + 1] = "</section>"
end

--- The page of some campaigns, from what the store's queries returned.
-- @tparam table campaigns an array of `{ report = store:report(id),
--   timeline = store:timeline(id), batches = store:batches(id) }`
-- @tparam[opt] table opts `title`, `generated` (a time, default now)
-- @treturn string the HTML page
function _M.page(campaigns, opts)
  opts = opts or {}
  local title = opts.title or (#campaigns == 1 and ("Campaign " .. name(campaigns[1].report))
    or "Campaigns") .. " — sinch-batch report"
  local out = { '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>", esc(title), "</title><style>", CSS, "</style></head><body><main>",
    "<h1>", esc(title), "</h1>",
    format('<p class="meta">Written %s UTC by sinch-batch report: recipients delivered, failed ' ..
      'and pending, from the delivery receipts in the store.</p>',
      esc(opts.generated or os_date("!%Y-%m-%d %H:%M:%S"))) }
  for i, cp in ipairs(campaigns) do campaign_section(out, i, cp) end
  out[#out + 1] = "</main></body></html>\n"
  return concat(out)
end

--- The page of campaigns in a store (sinch.batch.outcomes): the same
-- `report` as `sinch-batch report --json`, with `timeline` and `batches`.
-- @param store an open store
-- @tparam table ids campaign ids; `{ nil, n = 1 }`: every batch the store knows
-- @tparam[opt] table opts as for `page`, and `reports`: the reports of
--   those ids already made by `store:report` (the CLI printed them), in order
-- @return the HTML page, or nil and an error
function _M.render(store, ids, opts)
  local campaigns, err = {}, nil
  local made = opts and opts.reports or {}
  for i = 1, ids.n or #ids do
    local r = made[i]
    if not r then r, err = store:report(ids[i]) end
    if not r then return nil, err end
    local tl, bs
    tl, err = store:timeline(ids[i])
    if not tl then return nil, err end
    bs, err = store:batches(ids[i])
    if not bs then return nil, err end
    campaigns[i] = { report = r, timeline = tl, batches = bs }
  end
  return _M.page(campaigns, opts)
end

--- Writes a page to a file.
-- @return true | nil, err
function _M.write(path, html)
  local f, err = io.open(path, "wb")
  if not f then return nil, format("%s: cannot write: %s", path, tostring(err)) end
  local ok, werr = f:write(html)
  local cok, cerr = f:close()
  if not ok or not cok then return nil, format("%s: %s", path, tostring(werr or cerr)) end
  return true
end

return _M
