--- sinch.batch.report_html.charts: the report page's inline SVG charts, each
-- with a `<title>` and a `<desc>` that says its figures in words: the
-- receipts over time (delivered and, on a scale of its own, failed), the
-- recipients still pending over time, and the failures by reason.  Each
-- drawing function appends the chart's markup to `out`.
local tostring, ipairs = tostring, ipairs
local format, concat = string.format, table.concat
local floor, max = math.floor, math.max
local os_date = os.date
local text = require "sinch.batch.report_html.text"

local esc, int, num, pct = text.esc, text.int, text.num, text.pct
local BLUE, ORANGE, GREEN, UNIT_LABEL = text.BLUE, text.ORANGE, text.GREEN, text.UNIT_LABEL

local _M = {}

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

--- Receipts over time (`receipts(out, id, report, timeline)`).
_M.receipts = receipts_chart
--- Recipients still pending over time (`pending(out, id, report, timeline)`).
_M.pending = pending_chart
--- Failures by reason (`reasons(out, id, report, list)`, list as the page sorts it).
_M.reasons = reasons_chart

return _M
