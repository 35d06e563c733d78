-- The report page's queries (Store:timeline, Store:batches) and its renderer
-- (sinch.batch.report_html): the timeline's step follows the campaign's
-- length and adds up to the report; every chunk of a journal is listed with
-- its fate and rows; the page is self-contained, escapes what it shows and
-- gives each chart its text alternatives.  The page in a real browser:
-- spec/integration/report_html_spec.lua.
local outcomes = require "sinch.batch.outcomes"
local journal = require "sinch.batch.journal"
local report_html = require "sinch.batch.report_html"

local tmp
local function fresh()
  tmp = os.tmpname()
  os.remove(tmp)
  return assert(outcomes.open(tmp))
end
local function cleanup()
  if not tmp then return end
  for _, sfx in ipairs({ "", "-wal", "-shm", ".journal" }) do os.remove(tmp .. sfx) end
end

local function ev(batch, index, status, at, code)
  return { type = "message_delivery", batch_id = batch, message_index = index,
           message_id = batch .. "-" .. index .. "-" .. status, status = status,
           reason = code and { code = code } or nil, event_time = at }
end

-- n recipients of batch "B" (rows 2…n+1), one outcome each at start + i * every
-- seconds (UTC), every 10th FAILED
local function campaign(s, n, start, every)
  local rows = {}
  for i = 1, n do rows[i] = i + 1 end
  assert(s:add_batch{ batch_id = "B", campaign = "c", chunk = 1, rows = rows })
  local evs = {}
  for i = 0, n - 1 do
    local t = start + i * every
    local at = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t))
      .. (".%03dZ"):format(math.floor(t % 1 * 1000 + 0.5))
    evs[#evs + 1] = ev("B", i, i % 10 == 9 and "FAILED" or "DELIVERED", at,
      i % 10 == 9 and (i % 20 == 9 and "CHANNEL_FAILURE" or "RECIPIENT_NOT_REACHABLE") or nil)
  end
  assert(s:add_many(evs))
end

local T0 = 1795946400 -- 2026-11-29T10:00:00Z

describe("report page: the store's timeline", function()
  after_each(cleanup)

  it("reads UTC times whatever the local zone", function()
    assert.equal(0, outcomes.epoch("1970-01-01T00:00:00Z"))
    assert.equal(T0, outcomes.epoch("2026-11-29T10:00:00.000Z"))
    assert.equal(1709251199, outcomes.epoch("2024-02-29T23:59:59Z"))
    assert.equal(951868800.5, outcomes.epoch("2000-03-01T00:00:00.5Z"))
    assert.is_nil(outcomes.epoch("yesterday"))
  end)

  for _, case in ipairs{
    { span = 12, n = 120, unit = "tenth of a second", at = "2026-11-29T10:00:00.0" },
    { span = 300, n = 300, unit = "second", at = "2026-11-29T10:00:00" },
    { span = 3 * 3600, n = 180, unit = "minute", at = "2026-11-29T10:00" },
    { span = 3 * 86400, n = 72, unit = "hour", at = "2026-11-29T10" },
  } do
    it(("steps by %s for a campaign of %d s, and adds up to the report"):format(case.unit, case.span),
      function()
        local s = fresh()
        campaign(s, case.n, T0, case.span / case.n)
        local r = assert(s:report("c"))
        local tl = assert(s:timeline("c"))
        assert.equal(case.unit, tl.unit)
        assert.equal(case.n, tl.recipients)
        assert.equal(case.at, tl.points[1].at)
        assert.equal(T0, tl.points[1].t)
        local d, f, prev, reasons = 0, 0, nil, {}
        for _, p in ipairs(tl.points) do
          assert.is_true(p.delivered + p.failed > 0) -- no empty step is listed
          if prev then assert.is_true(p.t > prev.t) end
          d, f = d + p.delivered, f + p.failed
          assert.equal(r.recipients - d - f, p.pending)
          for code, k in pairs(p.failed_by_reason) do reasons[code] = (reasons[code] or 0) + k end
          prev = p
        end
        assert.equal(r.delivered, d)
        assert.equal(r.failed, f)
        assert.same(r.failed_by_reason, reasons)
        assert.equal(case.n, #tl.points) -- one outcome a step, as the receipts were spaced
        s:close()
      end)
  end

  it("counts in the step each outcome came in, and leaves the pending ones pending", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "B", campaign = "c", chunk = 1, rows = { 2, 3, 4, 5, 6 } })
    assert(s:add_many{ ev("B", 0, "DELIVERED", "2026-11-29T10:00:01.100Z"),
                       ev("B", 1, "DELIVERED", "2026-11-29T10:00:01.900Z"),
                       ev("B", 2, "FAILED", "2026-11-29T10:00:05Z", "RECIPIENT_NOT_REACHABLE"),
                       ev("B", 3, "QUEUED_ON_CHANNEL", "2026-11-29T10:00:00Z"),
                       ev("B", 4, "DELIVERED", "2026-11-29T10:00:59.999Z") } )
    local tl = assert(s:timeline("c"))
    assert.equal("second", tl.unit)
    assert.equal(3, #tl.points)
    assert.same({ "2026-11-29T10:00:01", 2, 0, 3 }, { tl.points[1].at, tl.points[1].delivered,
      tl.points[1].failed, tl.points[1].pending })
    assert.same({ "2026-11-29T10:00:05", 0, 1, 2 }, { tl.points[2].at, tl.points[2].delivered,
      tl.points[2].failed, tl.points[2].pending })
    assert.same({ "2026-11-29T10:00:59", 1, 0, 1 }, { tl.points[3].at, tl.points[3].delivered,
      tl.points[3].failed, tl.points[3].pending })
    assert.equal(1, assert(s:report("c")).pending)
    -- another campaign's outcomes stay out of it
    assert(s:add_batch{ batch_id = "X", campaign = "other", chunk = 1, rows = { 2 } })
    assert(s:add(ev("X", 0, "DELIVERED", "2026-11-29T11:00:00Z")))
    assert.equal(3, #assert(s:timeline("c")).points)
    local all = assert(s:timeline(nil)) -- every batch: an hour long, per minute
    assert.equal("minute", all.unit)
    assert.same({ "2026-11-29T10:00", 4, "2026-11-29T11:00", 1, 1 }, { all.points[1].at,
      all.points[1].delivered + all.points[1].failed, all.points[2].at, all.points[2].delivered,
      all.points[2].pending })
    s:close()
  end)

  it("has no points before any outcome", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "B", campaign = "c", chunk = 1, rows = { 2, 3 } })
    local tl = assert(s:timeline("c"))
    assert.equal(2, tl.recipients)
    assert.same({}, tl.points)
    assert.is_nil(tl.first)
    s:close()
  end)
end)

describe("report page: the store's batches", function()
  after_each(cleanup)

  it("lists every chunk of the journal with its fate, rows and outcomes", function()
    local s = fresh()
    local j = assert(journal.open(tmp .. ".journal", { campaign = "c", path = "contacts.csv" }))
    assert(j:intent(1, { 2, 3, 4 }, "d1"))
    assert(j:accepted(1, "B1"))
    assert(j:intent(2, { 5, 6 }, "d2"))
    assert(j:refused(2, "400 INVALID_ARGUMENT", 400))
    assert(j:intent(3, { 7 }, "d3"))
    assert(j:ambiguous(3, "timeout after the body was sent"))
    assert(j:intent(4, { 8, 9 }, "d4"))
    j:close()
    assert(s:import_journal(tmp .. ".journal"))
    assert(s:add_many{ ev("B1", 0, "DELIVERED", "2026-11-29T10:00:01Z"),
                       ev("B1", 2, "FAILED", "2026-11-29T10:00:02Z", "CHANNEL_FAILURE") })
    local bs = assert(s:batches("c"))
    assert.equal(4, #bs)
    assert.same({ chunk = 1, status = "accepted", batch_id = "B1", recipients = 3, first_row = 2,
                  last_row = 4, delivered = 1, failed = 1 }, bs[1])
    assert.same({ chunk = 2, status = "refused", recipients = 2, first_row = 5, last_row = 6,
                  reason = "400 INVALID_ARGUMENT", delivered = 0, failed = 0 }, bs[2])
    assert.same({ "ambiguous", 7, 7, "timeout after the body was sent" },
      { bs[3].status, bs[3].first_row, bs[3].last_row, bs[3].reason })
    assert.same({ "intent", 8, 9 }, { bs[4].status, bs[4].first_row, bs[4].last_row })
    s:close()
  end)

  it("lists the accepted batches of a ledger's campaign, with their first and last rows", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "L1", campaign = "tag", rows = { 12, 13, 140 } })
    assert(s:add_batch{ batch_id = "L2", campaign = "tag", rows = { 7 } })
    local bs = assert(s:batches("tag"))
    table.sort(bs, function(a, b) return a.batch_id < b.batch_id end)
    assert.same({ "L1", "accepted", 3, 12, 140 }, { bs[1].batch_id, bs[1].status, bs[1].recipients,
      bs[1].first_row, bs[1].last_row })
    assert.same({ "L2", 7, 7 }, { bs[2].batch_id, bs[2].first_row, bs[2].last_row })
    s:close()
  end)
end)

describe("report page: the renderer", function()
  after_each(cleanup)

  it("is self-contained and accessible, and shows the report's figures", function()
    local s = fresh()
    campaign(s, 300, T0, 1)
    local html = assert(report_html.render(s, { "c" }))
    local r = assert(s:report("c"))
    assert.matches("^<!DOCTYPE html>", html)
    for _, fetch in ipairs{ "<script", "<link", "<img", "src=", "url(", "@import", "https:" } do
      assert.is_nil(html:find(fetch, 1, true), fetch)
    end
    for _, id in ipairs{ "c1%-receipts", "c1%-reasons", "c1%-pending" } do
      local svg = assert(html:match('<svg id="' .. id .. '".-</svg>'), id)
      assert.matches('role="img"', svg)
      assert.matches("<title id=\"" .. id .. "%-title\">[^<]+</title><desc id=\"" .. id ..
        "%-desc\">[^<]+</desc>", svg)
    end
    assert.matches('data-field="delivered">' .. r.delivered .. "<", html, 1, true)
    assert.matches('data-field="failed">' .. r.failed .. "<", html, 1, true)
    assert.matches('<td data-reason="CHANNEL_FAILURE">15</td>', html, 1, true)
    assert.matches('<rect data-reason="RECIPIENT_NOT_REACHABLE" data-count="15"', html, 1, true)
    assert.matches("@media print", html, 1, true)
    assert.matches("print-color-adjust: exact", html, 1, true)
    -- Okabe-Ito: delivered blue, failed orange, pending bluish green
    assert.matches('data-series="delivered" fill="#0072B2"', html, 1, true)
    assert.matches('data-series="failed" fill="#E69F00"', html, 1, true)
    assert.matches('<table id="c1-timeline-table">', html, 1, true)
    s:close()
  end)

  it("escapes what the store holds", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "B<1>", campaign = 'c"<x>&', chunk = 1, rows = { 2 } })
    assert(s:add(ev("B<1>", 0, "FAILED", "2026-11-29T10:00:00Z", "<b>EVIL&</b>")))
    local html = assert(report_html.render(s, { 'c"<x>&' }))
    assert.is_nil(html:find("<x>", 1, true))
    assert.is_nil(html:find("<b>", 1, true))
    assert.matches("Campaign c&quot;&lt;x&gt;&amp;", html, 1, true)
    assert.matches("&lt;b&gt;EVIL&amp;&lt;/b&gt;", html, 1, true)
    assert.matches("B&lt;1&gt;", html, 1, true)
    s:close()
  end)

  it("says so when nothing came in yet, and reports every batch without a campaign", function()
    local s = fresh()
    assert(s:add_batch{ batch_id = "B", campaign = "c", chunk = 1, rows = { 2, 3 } })
    local html = assert(report_html.render(s, { "c" }))
    assert.matches("No delivery outcome yet.", html, 1, true)
    assert.matches("No failed recipient yet.", html, 1, true)
    assert.matches('data-field="pending">2<', html, 1, true)
    html = assert(report_html.render(s, { nil, n = 1 }))
    assert.matches("Campaign (every batch in the store)", html, 1, true)
    s:close()
  end)

  it("shows the batches not accepted apart when there are many", function()
    local s = fresh()
    local j = assert(journal.open(tmp .. ".journal", { campaign = "c", path = "contacts.csv" }))
    for k = 1, 50 do
      assert(j:intent(k, { k * 10, k * 10 + 9 }, "d" .. k))
      if k == 7 then assert(j:ambiguous(k, "timeout")) else assert(j:accepted(k, "B" .. k)) end
    end
    j:close()
    assert(s:import_journal(tmp .. ".journal"))
    local html = assert(report_html.render(s, { "c" }))
    assert.matches('<span data-batches="accepted">49</span> accepted, ' ..
      '<span data-batches="ambiguous">1</span> ambiguous', html, 1, true)
    local open = assert(html:match('<table id="c1%-batches%-open">.-</table>'))
    local _, rows = open:gsub("<tr><td>", "")
    assert.equal(1, rows)
    assert.matches("<td>70–79</td>", open, 1, true)
    local every = assert(html:match("<details><summary>Every batch %(50%)</summary>(.-)</details>"))
    _, rows = every:gsub("<tr><td>", "")
    assert.equal(50, rows)
    s:close()
  end)

  it("writes the page, and says which file it cannot write", function()
    local s = fresh()
    campaign(s, 10, T0, 1)
    local html = assert(report_html.render(s, { "c" }))
    s:close()
    assert.is_true(report_html.write(tmp .. ".html", html))
    local f = assert(io.open(tmp .. ".html", "rb"))
    assert.equal(html, f:read("*a"))
    f:close()
    os.remove(tmp .. ".html")
    local ok, err = report_html.write("/nonexistent-dir/x.html", html)
    assert.is_nil(ok)
    assert.matches("^/nonexistent%-dir/x.html: cannot write", err)
  end)
end)
