-- Campaign outcomes end to end: a 20,000-row CSV campaign sent by
-- bin/sinch-batch through the sandbox, which fails 5 % of the recipients
-- (and a few given numbers), duplicates, shuffles and sends some receipts
-- before the send's answer; the callbacks go to examples/webhook_receiver.lua
-- --store.  Shown: `sinch-batch report` counts exactly what the sandbox
-- counted, its --failed-csv holds exactly the failed rows, and sending that
-- file again delivers them (about 5 s).
local cjson = require "cjson.safe"
local socket = require "socket"
local mock = require "support.mock"
local receiver = require "support.receiver"
local support_cli = require "support.cli"
local outcomes = require "sinch.batch.outcomes"

local N = 20000
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "outcomes-spec-webhook-secret"

local function phone(i) return ("+4673%07d"):format(i) end

-- the numbers the sandbox fails whatever its rate says, with their code
local FORCED = {}
for i = 1, 40 do FORCED[phone(i * 397)] = "CHANNEL_FAILURE" end

describe("campaign outcomes (20,000 rows, 5 % failures, duplicates, out of order)", function()
  local m, base, recv

  local function path(ext) return base .. ext end

  setup(function()
    base = os.tmpname()
    recv, m = receiver.with_sandbox(SECRET, path(".receipts"))
  end)

  teardown(function()
    if m then m:stop() end
    if recv then recv:stop() end
    for _, ext in ipairs{ "", ".csv", ".journal", ".journal2", ".failed.csv", ".failed2.csv",
                          ".receipts", ".receipts-wal", ".receipts-shm" } do
      os.remove(base .. ext)
    end
  end)

  local function cli(args) return support_cli.run(m, APP, args) end

  -- wait (bounded) until the sandbox handed out every receipt and the store
  -- has a final outcome for every recipient of the journal's campaign
  local function settle(journal, recipients)
    local st, r
    for _ = 1, 600 do
      st = m:stats()
      local o = st.outcomes
      r = assert(outcomes.report{ journal = journal, store = path(".receipts") })
      if o.delivered + o.failed == recipients and o.receipts_sent == recipients + o.duplicates_sent
         and r.recipients == recipients and r.pending == 0 then
        return st, r
      end
      socket.sleep(0.05)
    end
    error(("the receipts did not all arrive: sandbox %s, store %s"):format(cjson.encode(st),
      cjson.encode(r)))
  end

  it("reports the sandbox's own counts exactly, and the failed rows go out again", function()
    local f = assert(io.open(path(".csv"), "w"))
    f:write("phone,name\n")
    local lines = {}
    for i = 1, N do
      lines[i + 1] = ("%s,n%d"):format(phone(i), i)
      f:write(lines[i + 1], "\n")
    end
    f:close()

    m:post("/_mock/outcomes", cjson.encode{ fail_rate = 0.05, fail_code = "RECIPIENT_NOT_REACHABLE",
      fail_numbers = FORCED, duplicate_rate = 0.1, shuffle = true, early = true, seed = 42 })
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", path(".csv"),
                              "--journal", path(".journal"), "--concurrency", "4", "--no-progress" }
    assert.equal(0, rc, err)
    local summary = cjson.decode(out:match("[^\n]+\n$"))
    assert.equal(N, summary.summary.recipients)

    local st, r = settle(path(".journal"), N)
    local so = st.outcomes
    -- the sandbox did what it was told: failures, duplicates, forced numbers
    assert.is_true(so.failed > N * 0.04 and so.failed < N * 0.06 + 40, cjson.encode(so))
    assert.is_true(so.duplicates_sent > N * 0.05, cjson.encode(so))
    assert.equal(40, so.failed_by_code.CHANNEL_FAILURE)

    -- the report, from the CLI, equals the sandbox's counts exactly
    rc, out, err = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts"),
                        "--json", "--failed-csv", path(".failed.csv") }
    assert.equal(0, rc, err)
    local rep = assert(cjson.decode(out)).report
    assert.equal(N, rep.rows)
    assert.equal(N / 1000, rep.batches)
    assert.equal(N, rep.recipients)
    assert.equal(so.delivered, rep.delivered)
    assert.equal(so.failed, rep.failed)
    assert.same(so.failed_by_code, rep.failed_by_reason)
    assert.equal(0, rep.pending)
    assert.equal(N, rep.receipts) -- one per recipient: every duplicate counted once
    assert.equal(r.last_receipt, rep.last_receipt)
    assert.is_string(rep.last_receipt)

    -- the text report says the same
    rc, out = cli{ "report", "--journal", path(".journal"), "--store", path(".receipts") }
    assert.equal(0, rc)
    assert.matches(("delivered%%s+%d "):format(so.delivered), out)
    assert.matches("CHANNEL_FAILURE%s+40", out)

    -- which numbers failed, as the receiver logged them (one line per callback)
    local failed_numbers, delivered_numbers = {}, {}
    for line in io.lines(recv.log) do
      local e = cjson.decode(line)
      if type(e) == "table" and e.type == "message_delivery" then
        if e.status == "FAILED" then failed_numbers[e.identity] = e.reason_code
        elseif e.status == "DELIVERED" then delivered_numbers[e.identity] = true end
      end
    end
    local nfailed = 0
    for number in pairs(failed_numbers) do
      assert.is_nil(delivered_numbers[number])
      nfailed = nfailed + 1
    end
    assert.equal(so.failed, nfailed)
    for number, code in pairs(FORCED) do assert.equal(code, failed_numbers[number]) end

    -- the failed-rows CSV: the header, then exactly those rows, as in the source
    local got, n = {}, 0
    for line in io.lines(path(".failed.csv")) do
      n = n + 1
      if n == 1 then
        assert.equal("phone,name,failure_reason", line)
      else
        local number, idx, code = line:match("^(%+%d+),n(%d+),([%u_]+)$")
        assert(number, line)
        assert.equal(lines[tonumber(idx) + 1] .. "," .. code, line)
        assert.equal(failed_numbers[number], code)
        assert.is_nil(got[number])
        got[number] = true
      end
    end
    assert.equal(nfailed + 1, n)

    -- the follow-up: the failed rows, everything delivered this time
    m:reset() -- outcomes back to the default (all delivered), stats and request log cleared
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", path(".failed.csv"),
                        "--journal", path(".journal2"), "--no-progress" }
    assert.equal(0, rc, err)
    assert.equal(nfailed, cjson.decode(out:match("[^\n]+\n$")).summary.recipients)
    local st2, r2 = settle(path(".journal2"), nfailed)
    assert.equal(nfailed, st2.recipients_accepted)
    assert.equal(nfailed, st2.outcomes.delivered)
    assert.equal(nfailed, r2.delivered)
    assert.equal(0, r2.failed)
    assert.equal(0, r2.pending)
    assert.equal(nfailed, r2.rows)
    assert.are_not.equal(rep.campaign, r2.campaign)
    -- the reason column went along as a column, never as a parameter
    local _, raw = m:get("/_mock/requests")
    assert.matches("Hi ${name}", raw, 1, true)
    assert.is_nil(raw:find("failure_reason", 1, true))

    -- the follow-up's own failed-rows CSV is just its header; never over its own source
    rc, _, err = cli{ "report", "--journal", path(".journal2"), "--store", path(".receipts"),
                      "--failed-csv", path(".failed.csv"), "--force" }
    assert.equal(2, rc, err)
    assert.matches("is the campaign's source", err)
    rc, _, err = cli{ "report", "--journal", path(".journal2"), "--store", path(".receipts"),
                      "--failed-csv", path(".failed2.csv") }
    assert.equal(0, rc, err)
    assert.equal("phone,name,failure_reason\n", mock.read_file(path(".failed2.csv")))
  end)
end)
