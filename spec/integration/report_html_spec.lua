-- The campaign report as a page (sinch-batch report --html), seen in a real
-- browser: a 20,000-row CSV campaign sent by bin/sinch-batch through the
-- sandbox, which fails 5 % of the recipients (RECIPIENT_NOT_REACHABLE) and
-- 40 given numbers (CHANNEL_FAILURE); the receipts go to
-- examples/webhook_receiver.lua --store.  Headless chromium (Debian's
-- package, installed by .ci/setup) loads the page, dumps its DOM and takes a
-- screenshot; every chart is there with its text alternatives, and the
-- figures shown are those `report --json` printed in the same run.
-- SINCH_BATCH_REPORT_SCREENSHOT=FILE keeps the screenshot (docs/report.png).
local cjson = require "cjson.safe"
local socket = require "socket"
local mock = require "support.mock"
local receiver = require "support.receiver"
local support_cli = require "support.cli"
local outcomes = require "sinch.batch.outcomes"

local N = 20000
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "report-html-spec-webhook-secret"
local q = mock.shell_quote

local function phone(i) return ("+4674%07d"):format(i) end

local FORCED = {}
for i = 1, 40 do FORCED[phone(i * 487)] = "CHANNEL_FAILURE" end

local function chromium()
  for _, name in ipairs{ "chromium", "chromium-browser" } do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local found = p:read("*l")
    p:close()
    if found and found ~= "" then return found end
  end
end

-- "19,000" -> 19000
local function number(s) return tonumber((tostring(s):gsub(",", ""))) end

describe("the report page (20,000 rows, 5 % failed, two reasons) in headless chromium", function()
  local browser = chromium()
  if not browser then
    if os.getenv("CI") then
      error("chromium is not installed, and CI must run this spec: run .ci/setup")
    end
    pending("chromium is not installed (Debian's chromium, .ci/setup installs it): the page is " ..
      "not checked in a browser here")
    return
  end

  local m, base, recv

  local function path(ext) return base .. ext end

  setup(function()
    base = os.tmpname()
    recv, m = receiver.with_sandbox(SECRET, path(".receipts"))
  end)

  teardown(function()
    if m then m:stop() end
    if recv then recv:stop() end
    for _, ext in ipairs{ "", ".csv", ".journal", ".html", ".png", ".dom", ".chrome",
                          ".receipts", ".receipts-wal", ".receipts-shm" } do
      os.remove(base .. ext)
    end
    if base then mock.run("rm -rf " .. q(base .. ".profile")) end
  end)

  local function cli(args) return support_cli.run(m, APP, args) end

  -- headless chromium on the page: --dump-dom or --screenshot (as root it
  -- needs --no-sandbox); a profile of its own, never the user's
  local function browse(what)
    local cmd = ("timeout 120 %s --headless --no-sandbox --disable-gpu --no-first-run " ..
      "--user-data-dir=%s --hide-scrollbars --window-size=1100,2200 %s %s >%s 2>%s")
      :format(q(browser), q(path(".profile")), what, q("file://" .. path(".html")), q(path(".dom")),
        q(path(".chrome")))
    local ok = mock.run(cmd)
    assert(ok, "chromium failed: " .. tostring(mock.read_file(path(".chrome"))))
    return mock.read_file(path(".dom"))
  end

  it("shows every chart, with its text alternatives, and the figures of report --json", function()
    local f = assert(io.open(path(".csv"), "w"))
    f:write("phone,name\n")
    for i = 1, N do f:write(("%s,n%d\n"):format(phone(i), i)) end
    f:close()
    m:post("/_mock/outcomes", cjson.encode{ fail_rate = 0.05, fail_code = "RECIPIENT_NOT_REACHABLE",
      fail_numbers = FORCED, seed = 7 })
    local rc, _, err = cli{ "send", "--text", "Hi ${name}", "--csv", path(".csv"),
                            "--journal", path(".journal"), "--concurrency", "1", "--rate", "8",
                            "--no-progress" } -- over ~2.5 s: receipts in many tenths of a second
    assert.equal(0, rc, err)
    -- every receipt in the store (bounded)
    local r
    for _ = 1, 600 do
      r = assert(outcomes.report{ journal = path(".journal"), store = path(".receipts") })
      if r.recipients == N and r.pending == 0 then break end
      socket.sleep(0.05)
    end
    assert.equal(0, r.pending, cjson.encode(r))

    -- the numbers and the page from one run of the CLI
    local out
    rc, out, err = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"),
                        "--json", "--html", path(".html") }
    assert.equal(0, rc, err)
    local rep = assert(cjson.decode(out)).report
    assert.equal(N, rep.recipients)
    assert.is_true(rep.failed > N * 0.04 and rep.failed < N * 0.06 + 40, out)
    assert.equal(40, rep.failed_by_reason.CHANNEL_FAILURE)
    assert.is_true(rep.failed_by_reason.RECIPIENT_NOT_REACHABLE > 0, out)

    -- self-contained: nothing to fetch, no script
    local html = assert(mock.read_file(path(".html")))
    for _, fetch in ipairs{ "<script", "<link", "<img", "<iframe", "src=", "url(", "@import" } do
      assert.is_nil(html:find(fetch, 1, true), fetch)
    end

    local dom = browse("--dump-dom")
    assert.is_truthy(dom:find("</html>", 1, true),
      "no DOM dumped: " .. tostring(mock.read_file(path(".chrome"))))

    -- the summary: each figure shown, as report --json gave it
    local shown = {}
    for field, value in dom:gmatch('data%-field="([%w_]+)">([^<]*)<') do shown[field] = value end
    for _, field in ipairs{ "rows", "batches", "recipients", "delivered", "failed", "pending",
                            "receipts" } do
      assert.equal(rep[field], number(shown[field]), field)
    end
    assert.equal(rep.last_receipt, shown.last_receipt)
    assert.matches(('data%%-campaign="%s"'):format(rep.campaign), dom)

    -- each chart: an SVG image with its title and description
    for _, chart in ipairs{ "receipts", "reasons", "pending" } do
      local id = "c1%-" .. chart -- a pattern
      local svg = dom:match('<svg id="' .. id .. '".-</svg>')
      assert(svg, "no chart " .. id)
      assert.matches('role="img"', svg)
      assert.matches(('aria%%-labelledby="%s%%-title %s%%-desc"'):format(id, id), svg)
      assert.matches('<title id="' .. id .. '%-title">[^<]+</title>', svg)
      assert.matches('<desc id="' .. id .. '%-desc">[^<]+</desc>', svg)
    end

    -- failures by reason: a bar and a table row per reason, with the counts
    local bars, cells = {}, {}
    for code, n in dom:gmatch('<rect data%-reason="([%u_]+)" data%-count="(%d+)"') do
      bars[code] = tonumber(n)
    end
    for code, n in dom:gmatch('<td data%-reason="([%u_]+)">([%d,]+)</td>') do cells[code] = number(n) end
    assert.same(rep.failed_by_reason, bars)
    assert.same(rep.failed_by_reason, cells)

    -- receipts and pending over time: the table beside the charts adds up
    -- to the report, and each bar of the chart is a row of it
    local tbl = assert(dom:match('<table id="c1%-timeline%-table">.-</table>'), "no timeline table")
    local delivered, failed, rows_with_failed, last_pending, points = 0, 0, 0, nil, 0
    for d, fl, p in tbl:gmatch("<tr><th[^>]*>[^<]+</th><td>(%d+)</td><td>(%d+)</td><td>(%d+)</td></tr>") do
      points = points + 1
      delivered, failed = delivered + tonumber(d), failed + tonumber(fl)
      if tonumber(fl) > 0 then rows_with_failed = rows_with_failed + 1 end
      last_pending = tonumber(p)
    end
    assert.is_true(points > 0)
    assert.equal(rep.delivered, delivered)
    assert.equal(rep.failed, failed)
    assert.equal(rep.pending, last_pending)
    local failed_path = assert(dom:match('<path data%-series="failed"[^>]- d="([^"]*)"'))
    local _, nbars = failed_path:gsub("M", "")
    assert.equal(rows_with_failed, nbars)
    assert.is_truthy(dom:match('<path data%-series="delivered"[^>]- d="M[^"]+"'))
    assert.is_truthy(dom:match('<path data%-series="pending"[^>]- d="M[^"]+"'))

    -- the batches: every chunk accepted, with its rows
    assert.equal(rep.batches, number(dom:match('data%-batches="accepted">([%d,]+)<')))
    assert.matches("<td>2–1,001</td>", dom, 1, true) -- the first batch: the CSV's lines 2 to 1001

    -- the screenshot: a PNG of the window's width, and not a blank page
    browse("--screenshot=" .. q(path(".png")))
    local png = assert(mock.read_file(path(".png")), "no screenshot")
    assert.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    local w = png:byte(17) * 2 ^ 24 + png:byte(18) * 2 ^ 16 + png:byte(19) * 2 ^ 8 + png:byte(20)
    assert.equal(1100, w)
    assert.is_true(#png > 40000, "a blank screenshot? " .. #png .. " bytes")
    -- a page that cannot be written: exit 1, naming the option and the file
    rc, _, err = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"),
                      "--html", path(".nodir") .. "/page.html" }
    assert.equal(1, rc)
    assert.matches("--html " .. path(".nodir"):gsub("%p", "%%%0") .. "/page.html: ", err)
    -- the page is written as --failed-csv is: never over a file unless --force,
    -- never through a symbolic link
    local other = path(".other")
    local fh = assert(io.open(other, "wb"))
    fh:write("keep me\n")
    fh:close()
    rc, _, err = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"), "--html", other }
    assert.equal(1, rc)
    assert.matches("exists already", err, 1, true)
    assert.equal("keep me\n", mock.read_file(other))
    os.remove(path(".link"))
    os.execute("ln -s " .. q(other) .. " " .. q(path(".link")))
    rc, _, err = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"), "--force",
                      "--html", path(".link") }
    assert.equal(1, rc)
    assert.matches("symbolic link", err, 1, true)
    assert.equal("keep me\n", mock.read_file(other))
    rc = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"), "--force",
              "--html", other }
    assert.equal(0, rc)
    assert.matches("<svg", mock.read_file(other), 1, true)
    os.remove(other)
    os.remove(path(".link"))

    local keep = os.getenv("SINCH_BATCH_REPORT_SCREENSHOT")
    if keep then
      local k = assert(io.open(keep, "wb"))
      k:write(png)
      k:close()
    end
  end)
end)
