--- sinch.batch.report_html.tables: the report page's HTML parts other than
-- the charts: the summary cards, the charts' figures as tables (receipts and
-- pending per step, failures by reason) and the batches' table.  Each
-- function appends its markup to `out`.
local tostring, ipairs = tostring, ipairs
local format, concat = string.format, table.concat
local text = require "sinch.batch.report_html.text"

local esc, int, num, pct = text.esc, text.int, text.num, text.pct
local BLUE, ORANGE, GREEN, UNIT_LABEL = text.BLUE, text.ORANGE, text.GREEN, text.UNIT_LABEL

local _M = {}

local function card(out, label, field, value, sub, swatch, wide)
  out[#out + 1] = format('<div class="card%s"><span class="label">%s%s</span>' ..
    '<span class="value" data-field="%s">%s</span>%s</div>', wide and " wide" or "",
    swatch and format('<span class="swatch" style="background:%s"></span>', swatch) or "",
    esc(label), field, value, sub and format('<span class="sub">%s</span>', sub) or "")
end

--- The summary cards of a report (`summary(out, report)`), and its notes.
function _M.summary(out, r)
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

--- The timeline as a table, under a disclosure (`timeline(out, id, timeline)`).
function _M.timeline(out, id, tl)
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

--- The failures by reason as a table (`reasons(out, id, report, list)`); nothing when none.
function _M.reasons(out, id, r, list)
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

--- The batches: a table of them all (under a disclosure when there are many,
-- the ones not accepted then shown apart, printed too).
-- (`batches(out, id, batches)`, batches as `Store:batches` gives them)
function _M.batches(out, id, batches)
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

return _M
