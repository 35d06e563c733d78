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
-- @module sinch.batch.report_html

local tostring, tonumber, ipairs, pairs = tostring, tonumber, ipairs, pairs
local format, concat, sort = string.format, table.concat, table.sort
local floor, max = math.floor, math.max
local os_date = os.date

local _M = {}

-- Okabe & Ito's palette: told apart with any colour vision, and in grey
-- (delivered dark, failed light, pending mid)
local BLUE, ORANGE, GREEN = "#0072B2", "#E69F00", "#009E73"

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function esc(s) return (tostring(s):gsub("[&<>\"']", ESC)) end
--- Text made safe in HTML (`& < > " '` as entities).
-- @function escape
-- @param s any value (tostring)
-- @return the escaped string
_M.escape = esc

local function int(n) return floor(tonumber(n) or 0) end

-- 1234567 -> "1,234,567"
local function num(n)
  local s = format("%d", int(n))
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

local function pct(n, of)
  if not of or of == 0 then return "–" end
  return format("%.1f %%", 100 * n / of)
end

-- a coordinate: one decimal is enough, and keeps large charts small
local function c(v)
  local s = format("%.1f", v)
  return (s:gsub("%.0$", ""))
end

-- A "nice" axis maximum and step for values up to v (4 or 5 ticks).
local function nice(v)
  if v <= 0 then return 1, 1 end
  local mag = 1 -- the power of ten under a quarter of v (counts: never under 1)
  while mag * 10 <= v / 4 do mag = mag * 10 end
  for _, m in ipairs{ 1, 2, 2.5, 5, 10 } do
    local step = max(1, floor(m * mag + 0.5))
    if step * 5 >= v then return step * math.ceil(v / step), step end
  end
  return v, v
end

local CSS = [[
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1a1a1a; background: #fff; margin: 0 auto; padding: 1.5em 2em; max-width: 1040px; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; border-bottom: 2px solid #1a1a1a; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
.meta { color: #4d4d4d; margin: 0 0 1em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(112px, 1fr));
  gap: .6em; margin: .8em 0; }
.card { border: 1px solid #bbb; border-radius: 6px; padding: .5em .7em; }
.card.wide { grid-column: span 2; }
.card .label { display: block; font-size: .8em; color: #4d4d4d; text-transform: uppercase;
  letter-spacing: .03em; }
.card .value { display: block; font-size: 1.5em; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { display: block; font-size: .85em; color: #4d4d4d; }
.swatch { display: inline-block; width: .8em; height: .8em; border: 1px solid #1a1a1a;
  margin-right: .3em; vertical-align: -.05em; }
figure { margin: .4em 0 1em; }
figcaption { font-size: .9em; color: #333; }
svg { display: block; max-width: 100%; height: auto; font: 12px system-ui, "DejaVu Sans", sans-serif; }
svg text { fill: #1a1a1a; }
svg .grid { stroke: #d9d9d9; stroke-width: 1; }
svg .axis { stroke: #1a1a1a; stroke-width: 1; }
table { border-collapse: collapse; margin: .4em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
details { margin: .3em 0 1em; }
summary { cursor: pointer; color: #0b4f8a; }
.status-failed, .status-refused, .status-unsent, .status-ambiguous, .status-intent { font-weight: 600; }
.note { color: #4d4d4d; font-size: .9em; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.campaign { break-before: page; }
  section.campaign:first-of-type { break-before: auto; }
  figure, table, .cards { break-inside: avoid; }
  summary { display: none; }
  details:not([open]) { display: none; }
  a { color: inherit; text-decoration: none; }
}
]]

-- The time axis of a timeline: labels by unit, UTC.
local function time_label(t, unit, span)
  if unit == "second" then return os_date("!%H:%M:%S", t) end
  if unit == "tenth of a second" then
    local tenths = floor(t * 10 + 0.5)
    return os_date("!%H:%M:%S", floor(tenths / 10)) .. "." .. (tenths % 10)
  end
  if unit == "minute" and span <= 86400 then return os_date("!%H:%M", t) end
  return os_date("!%m-%d %H:%M", t)
end

local UNIT_LABEL = { ["tenth of a second"] = "per tenth of a second", second = "per second",
                     minute = "per minute", hour = "per hour" }

-- A chart's frame: the <svg>, its title and desc (aria-labelledby both).
local function svg_open(out, id, w, h, title, desc)
  out[#out + 1] = format('<svg id="%s" class="chart" role="img" viewBox="0 0 %d %d" width="%d" ' ..
    'height="%d" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">' ..
    '<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>', id, w, h, w, h, id, id, id,
    esc(title), id, esc(desc))
end

local W, H, L, R, T, B = 960, 250, 64, 16, 14, 40

-- The x scale of a timeline: the step's start -> x, and the step's width.
local function xscale(tl)
  local pts = tl.points
  local t0, t1 = pts[1].t, pts[#pts].t
  local steps = (t1 - t0) / tl.seconds + 1
  local bw = (W - L - R) / steps
  return function(t) return L + (t - t0) / tl.seconds * bw end, bw, t0, t1 + tl.seconds
end

-- A panel's y grid (from the values' top down to the baseline y0) and,
-- below the lowest panel, the time axis.
local function yaxis(out, top, y0, ymax, ystep)
  while (y0 - top) * ystep / ymax < 18 do ystep = ystep * 2 end -- labels 18 px apart at least
  for v = 0, ymax, ystep do
    local y = y0 - (y0 - top) * v / ymax
    out[#out + 1] = format('<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>' ..
      '<text x="%d" y="%s" text-anchor="end">%s</text>', L, W - R, c(y), c(y), L - 6, c(y + 4),
      num(v))
  end
  out[#out + 1] = format('<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y0, y0)
end

local function taxis(out, tl, x, t0, t_end, y0, h)
  local span = t_end - t0
  local ticks = 6
  local last
  for i = 0, ticks do
    local t = t0 + floor(span * i / ticks / tl.seconds + 1e-9) * tl.seconds
    local xx = x(t)
    if not last or xx - last >= 80 then -- a short campaign: fewer labels
      last = xx
      out[#out + 1] = format('<line class="axis" x1="%s" x2="%s" y1="%d" y2="%d"/>' ..
        '<text x="%s" y="%d" text-anchor="%s">%s</text>', c(xx), c(xx), y0, y0 + 5, c(xx), y0 + 18,
        i == 0 and "start" or i == ticks and "end" or "middle", time_label(t, tl.unit, span))
    end
  end
  out[#out + 1] = format('<text x="%d" y="%d" text-anchor="middle">time (UTC), %s</text>',
    L + (W - L - R) / 2, h - 4, UNIT_LABEL[tl.unit] or tl.unit)
end

local function empty_chart(out, id, title, what)
  svg_open(out, id, W, 60, title, "No " .. what .. " yet.")
  out[#out + 1] = format('<text x="%d" y="35">No %s yet.</text></svg>', L, esc(what))
end

-- Bars of one series of a timeline as one path, in the panel above y0.
local function bars(tl, x, bw, field, y0, ppx)
  local d = {}
  local w = c(max(bw - (bw > 3 and 1 or 0), 0.3))
  for _, p in ipairs(tl.points) do
    local v = p[field]
    if v > 0 then
      local h = max(v * ppx, 0.5)
      d[#d + 1] = format("M%s %sh%sv%sh-%sz", c(x(p.t)), c(y0 - h), w, c(h), w)
    end
  end
  return concat(d)
end

-- Receipts over time: two panels on one time axis, the recipients delivered
-- (dark) and, on a scale of its own so that a few are seen, those failed
-- (light).
local RH = 340
local function receipts_chart(out, id, r, tl)
  local title = "Receipts over time: recipients delivered and failed " .. (UNIT_LABEL[tl.unit] or "")
  if #tl.points == 0 then return empty_chart(out, id, title, "delivery outcome") end
  local x, bw, t0, t_end = xscale(tl)
  local top_d, top_f, at_f = 0, 0, nil
  for _, p in ipairs(tl.points) do
    top_d = max(top_d, p.delivered)
    if p.failed > top_f then top_f, at_f = p.failed, p.at end
  end
  local desc = format("%s recipients delivered and %s failed from %s to %s (UTC); at most %s " ..
    "delivered in one %s, and at most %s failed%s. The table under the pending chart gives " ..
    "every %s.", num(r.delivered), num(r.failed), tostring(tl.first), tostring(tl.last),
    num(top_d), tl.unit, num(top_f), at_f and (" (at " .. at_f .. ")") or "", tl.unit)
  svg_open(out, id, W, RH, title, desc)
  local d_top, d_y0, f_top, f_y0 = T + 6, 196, 226, RH - B
  local dmax, dstep = nice(top_d)
  local fmax, fstep = nice(top_f)
  yaxis(out, d_top, d_y0, dmax, dstep)
  yaxis(out, f_top, f_y0, fmax, fstep)
  taxis(out, tl, x, t0, t_end, f_y0, RH)
  out[#out + 1] = format('<path data-series="delivered" fill="%s" d="%s"/>', BLUE,
    bars(tl, x, bw, "delivered", d_y0, (d_y0 - d_top) / dmax))
  out[#out + 1] = format('<path data-series="failed" fill="%s" stroke="#1a1a1a" stroke-width="0.3" d="%s"/>',
    ORANGE, bars(tl, x, bw, "failed", f_y0, (f_y0 - f_top) / fmax))
  out[#out + 1] = format('<text x="%d" y="%d" text-anchor="end" font-weight="600">delivered</text>' ..
    '<text x="%d" y="%d" text-anchor="end" font-weight="600">failed (a scale of its own)</text>',
    W - R, d_top - 4, W - R, f_top - 6)
  out[#out + 1] = "</svg>"
end

-- Pending over time: a step line from every recipient down to what is left.
local function pending_chart(out, id, r, tl)
  local title = "Recipients still pending over time"
  if #tl.points == 0 then return empty_chart(out, id, title, "delivery outcome") end
  local x, _, t0, t_end = xscale(tl)
  local ymax, ystep = nice(max(tl.recipients, 1))
  local desc = format("Of %s recipients, %s were pending before the first outcome (%s), " ..
    "%s after the last (%s, UTC).", num(tl.recipients), num(tl.recipients), tostring(tl.first),
    num(r.pending), tostring(tl.last))
  svg_open(out, id, W, H, title, desc)
  yaxis(out, T, H - B, ymax, ystep)
  taxis(out, tl, x, t0, t_end, H - B, H)
  local y0, ppx = H - B, (H - T - B) / ymax
  local line = { format("M%d %s", L, c(y0 - tl.recipients * ppx)) }
  for _, p in ipairs(tl.points) do
    line[#line + 1] = format("H%sV%s", c(x(p.t + tl.seconds)), c(y0 - p.pending * ppx))
  end
  line[#line + 1] = format("H%d", W - R)
  local path = concat(line)
  out[#out + 1] = format('<path data-series="pending-area" fill="%s" fill-opacity="0.25" d="%sV%dH%dz"/>',
    GREEN, path, y0, L)
  out[#out + 1] = format('<path data-series="pending" fill="none" stroke="%s" stroke-width="2" d="%s"/>',
    GREEN, path)
  out[#out + 1] = "</svg>"
end

local function reasons_sorted(r)
  local list = {}
  for code, n in pairs(r.failed_by_reason or {}) do list[#list + 1] = { code = code, n = n } end
  sort(list, function(a, b)
    if a.n ~= b.n then return a.n > b.n end
    return a.code < b.code
  end)
  return list
end

-- Failures by reason: horizontal bars with the count and the share.
local function reasons_chart(out, id, r, list)
  local title = "Failures by reason"
  if #list == 0 then return empty_chart(out, id, title, "failed recipient") end
  local row, lw = 34, 250
  local h = T + row * #list + 8
  local parts = {}
  for _, e in ipairs(list) do
    parts[#parts + 1] = format("%s: %s (%s of the failed)", e.code, num(e.n), pct(e.n, r.failed))
  end
  svg_open(out, id, W, h, title, format("%s recipients failed, %s: %s.", num(r.failed),
    #list == 1 and "one reason" or (#list .. " reasons"), concat(parts, "; ")))
  local top = list[1].n
  local bar_w = W - lw - R - 310
  for i, e in ipairs(list) do
    local y = T + (i - 1) * row
    local w = max(bar_w * e.n / top, 1)
    out[#out + 1] = format('<text x="%d" y="%d" text-anchor="end">%s</text>' ..
      '<rect data-reason="%s" data-count="%d" x="%d" y="%d" width="%s" height="%d" fill="%s" ' ..
      'stroke="#1a1a1a" stroke-width="0.5"/><text x="%s" y="%d">%s (%s of the failed, %s of all)</text>',
      lw - 8, y + 18, esc(e.code), esc(e.code), int(e.n), lw, y + 4, c(w), row - 10, ORANGE,
      c(lw + w + 6), y + 18, num(e.n), pct(e.n, r.failed), pct(e.n, r.recipients))
  end
  out[#out + 1] = "</svg>"
end

local function card(out, label, field, value, sub, swatch, wide)
  out[#out + 1] = format('<div class="card%s"><span class="label">%s%s</span>' ..
    '<span class="value" data-field="%s">%s</span>%s</div>', wide and " wide" or "",
    swatch and format('<span class="swatch" style="background:%s"></span>', swatch) or "",
    esc(label), field, value, sub and format('<span class="sub">%s</span>', sub) or "")
end

local function summary(out, r)
  out[#out + 1] = '<div class="cards">'
  if r.rows then
    card(out, "rows", "rows", num(r.rows), (r.bad_rows or 0) > 0
      and format('<span data-field="bad_rows">%s</span> skipped as bad', num(r.bad_rows)) or nil)
  end
  card(out, "batches accepted", "batches", num(r.batches), (r.chunks_not_accepted or 0) > 0
    and format('<span data-field="chunks_not_accepted">%s</span> not (yet) accepted',
      num(r.chunks_not_accepted)) or nil)
  card(out, "recipients", "recipients", num(r.recipients))
  card(out, "delivered", "delivered", num(r.delivered), pct(r.delivered, r.recipients), BLUE)
  card(out, "failed", "failed", num(r.failed), pct(r.failed, r.recipients), ORANGE)
  card(out, "pending", "pending", num(r.pending), pct(r.pending, r.recipients), GREEN)
  card(out, "receipts", "receipts", num(r.receipts),
    format('the last at <span data-field="last_receipt">%s</span>',
    esc(r.last_receipt or "–")), nil, true)
  out[#out + 1] = "</div>"
  if r.sending_done == false then
    out[#out + 1] = '<p class="note" data-field="sending_done">The sending is not finished.</p>'
  end
  if (r.unmatched_receipts or 0) > 0 then
    out[#out + 1] = format('<p class="note">The store also holds ' ..
      '<span data-field="unmatched_receipts">%s</span> ' ..
      'receipts of batches no campaign claims.</p>', num(r.unmatched_receipts))
  end
end

local function timeline_table(out, id, tl)
  out[#out + 1] = format('<details><summary>The receipts and pending recipients %s, as a table ' ..
    '(%d rows)</summary><table id="%s"><caption>Recipients delivered, failed and still pending ' ..
    '%s (UTC)</caption><thead><tr><th class="l" scope="col">%s starting</th><th scope="col">' ..
    'delivered</th><th scope="col">failed</th><th scope="col">pending after</th></tr></thead><tbody>',
    UNIT_LABEL[tl.unit] or "", #tl.points, id, UNIT_LABEL[tl.unit] or "", tl.unit)
  for _, p in ipairs(tl.points) do
    out[#out + 1] = format('<tr><th class="l" scope="row">%s</th><td>%d</td><td>%d</td><td>%d</td></tr>',
      esc(p.at), int(p.delivered), int(p.failed), int(p.pending))
  end
  out[#out + 1] = "</tbody></table></details>"
end

local function reasons_table(out, id, r, list)
  if #list == 0 then return end
  out[#out + 1] = format('<table id="%s"><caption>Failed recipients by reason</caption><thead><tr>' ..
    '<th class="l" scope="col">reason</th><th scope="col">recipients</th><th scope="col">' ..
    'of the failed</th><th scope="col">of all recipients</th></tr></thead><tbody>', id)
  for _, e in ipairs(list) do
    out[#out + 1] = format('<tr><th class="l" scope="row">%s</th><td data-reason="%s">%s</td>' ..
      '<td>%s</td><td>%s</td></tr>', esc(e.code), esc(e.code), num(e.n), pct(e.n, r.failed),
      pct(e.n, r.recipients))
  end
  out[#out + 1] = "</tbody></table>"
end

local STATUS_TEXT = { accepted = "accepted", failed = "failed", ambiguous = "ambiguous",
                      intent = "sent, no answer yet", refused = "refused (its rows failed)",
                      unsent = "not sent (a resume sends it)" }

local function batch_rows(out, id, caption, list)
  out[#out + 1] = format('<table id="%s"><caption>%s</caption><thead><tr>' ..
    '<th scope="col">chunk</th><th class="l" scope="col">status</th><th class="l" scope="col">' ..
    'batch id</th><th scope="col">rows</th><th scope="col">recipients</th><th scope="col">' ..
    'delivered</th><th scope="col">failed</th><th class="l" scope="col">reason</th></tr></thead>' ..
    '<tbody>', id, caption)
  for _, b in ipairs(list) do
    local rows = b.first_row and (b.first_row == b.last_row and num(b.first_row)
      or num(b.first_row) .. "–" .. num(b.last_row)) or "–"
    out[#out + 1] = format('<tr><td>%s</td><td class="l status-%s">%s</td><td class="l">%s</td>' ..
      '<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="l">%s</td></tr>',
      b.chunk and tostring(int(b.chunk)) or "–", esc(b.status or "?"),
      esc(STATUS_TEXT[b.status] or b.status or "?"), esc(b.batch_id or "–"), rows, num(b.recipients),
      num(b.delivered), num(b.failed), esc(b.reason or ""))
  end
  out[#out + 1] = "</tbody></table>"
end

-- The batches: a table of them all (under a disclosure when there are many,
-- the ones not accepted then shown apart, printed too).
local function batches_table(out, id, batches)
  local by, open = {}, {}
  for _, b in ipairs(batches) do
    by[b.status or "?"] = (by[b.status or "?"] or 0) + 1
    if b.status ~= "accepted" then open[#open + 1] = b end
  end
  local counts = {}
  for _, s in ipairs{ "accepted", "refused", "failed", "unsent", "ambiguous", "intent" } do
    if by[s] then
      counts[#counts + 1] = format('<span data-batches="%s">%s</span> %s', s, num(by[s]), STATUS_TEXT[s])
    end
  end
  out[#out + 1] = format("<p>%s batches: %s.</p>", num(#batches), #counts > 0 and concat(counts, ", ")
    or "none")
  if #batches <= 40 then
    if #batches > 0 then batch_rows(out, id, "The batches, by chunk", batches) end
    return
  end
  if #open > 0 then batch_rows(out, id .. "-open", "The batches not accepted", open) end
  out[#out + 1] = format("<details><summary>Every batch (%s)</summary>", num(#batches))
  batch_rows(out, id, "The batches, by chunk", batches)
  out[#out + 1] = "</details>"
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
  summary(out, r)

  out[#out + 1] = "<h3>Receipts over time</h3><figure>"
  receipts_chart(out, id .. "-receipts", r, tl)
  out[#out + 1] = format('<figcaption><span class="swatch" style="background:%s"></span>delivered ' ..
    '<span class="swatch" style="background:%s"></span>failed — recipients whose outcome came in ' ..
    'each %s (UTC).</figcaption></figure>', BLUE, ORANGE, tl.unit)

  out[#out + 1] = "<h3>Failures by reason</h3><figure>"
  reasons_chart(out, id .. "-reasons", r, list)
  out[#out + 1] = "</figure>"
  reasons_table(out, id .. "-reasons-table", r, list)

  out[#out + 1] = "<h3>Pending over time</h3><figure>"
  pending_chart(out, id .. "-pending", r, tl)
  out[#out + 1] = format('<figcaption><span class="swatch" style="background:%s"></span>recipients ' ..
    'without a final outcome (delivered or failed) at the end of each %s.</figcaption></figure>',
    GREEN, tl.unit)
  timeline_table(out, id .. "-timeline-table", tl)

  out[#out + 1] = "<h3>Batches</h3>"
  batches_table(out, id .. "-batches", cp.batches)
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
