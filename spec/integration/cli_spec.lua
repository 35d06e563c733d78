-- The command-line tool bin/sinch-batch, run as a user runs it (a child
-- process of this interpreter) against the sandbox: what it prints, its exit
-- status (0 done, 1 the API or the input said no, 2 bad usage) and the exact
-- requests the sandbox received.
local cjson = require "cjson.safe"
local mock = require "support.mock"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local SECRET = "cli-Qx7-distinctive-secret"

local api = require "support.api"
local q, api_requests = api.shell_quote, api.api_requests

describe("bin/sinch-batch against the sandbox", function()
  local m

  local tmpdir -- $TMPDIR of the runs: the journals of sends without --journal go there
  setup(function()
    m = mock.start()
    local p = io.popen("mktemp -d /tmp/sinch-batch-cli.XXXXXX")
    tmpdir = p:read("*l")
    p:close()
  end)
  teardown(function()
    if m then m:stop() end
    if tmpdir then mock.run("rm -rf " .. tmpdir) end
  end)
  before_each(function() m:reset() end)

  -- Runs the tool: exit status, stdout, stderr.  env overrides the
  -- configuration (false removes a variable).
  local function cli(args, env)
    local vars = { SINCH_PROJECT_ID = m.project_id, SINCH_APP_ID = APP, SINCH_KEY_ID = m.key_id,
                   SINCH_KEY_SECRET = m.key_secret, SINCH_BATCH_BASE_URL = m.url,
                   SINCH_BATCH_AUTH_URL = false, SINCH_TOKEN = false, SINCH_REGION = false,
                   TMPDIR = tmpdir }
    for k, v in pairs(env or {}) do vars[k] = v end
    local parts, sets = { "env" }, {}
    for k, v in pairs(vars) do -- env takes its -u options before the assignments
      if v then sets[#sets + 1] = k .. "=" .. q(v) else parts[#parts + 1] = "-u " .. k end
    end
    for _, a in ipairs(sets) do parts[#parts + 1] = a end
    parts[#parts + 1] = LUA
    parts[#parts + 1] = "bin/sinch-batch"
    for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
    local base = os.tmpname()
    local cmd = table.concat(parts, " ")
    assert(mock.run(("sh -c %s"):format(q(("%s >%s.out 2>%s.err; echo $? >%s.rc")
      :format(cmd, base, base, base)))))
    local rc = tonumber(mock.read_file(base .. ".rc"):match("%d+"))
    local out, err = mock.read_file(base .. ".out"), mock.read_file(base .. ".err")
    for _, ext in ipairs{ "", ".out", ".err", ".rc" } do os.remove(base .. ext) end
    return rc, out, err
  end

  local sms = api.sms

  it("send --to: one batch with every number and the --param values", function()
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--to", "+46700000001",
                              "--to", "+46700000002", "--param", "name=Ann", "--tag", "campaign=cli" }
    assert.equal(0, rc, err)
    local res = assert(cjson.decode(out))
    assert.equal(26, #res.batch_id)
    local reqs = api_requests(m)
    assert.equal(1, #reqs)
    assert.equal("POST", reqs[1].method)
    assert.equal(m:path("/messages"), reqs[1].path)
    assert.same({ app_id = APP, message = { text_message = { text = "Hi ${name}" } },
      batch_metadata = { campaign = "cli" },
      recipient_and_params = { sms("+46700000001", { name = "Ann" }), sms("+46700000002", { name = "Ann" }) },
    }, cjson.decode(reqs[1].body))
  end)

  it("send --csv: recipients and parameters from the file's columns", function()
    local rc, out, err = cli{ "send", "--text", "Hi ${name}, code ${code}",
                              "--csv", "spec/fixtures/csv/basic.csv" }
    assert.equal(0, rc, err)
    local first = assert(cjson.decode(out:match("^[^\n]*")))
    assert.equal(26, #first.batch_id)
    assert.same({ 2, 4 }, { first.first_row, first.last_row }) -- CSV lines
    local reqs = api_requests(m)
    assert.equal(1, #reqs)
    local body = cjson.decode(reqs[1].body)
    assert.same({
      sms("+46700000001", { name = "Ann", code = "1234" }),
      sms("+46700000002", { name = "Bo", code = "5678" }),
      { recipient = { identified_by = { channel_identities = {
          { channel = "WHATSAPP", identity = "+46700000003" } } } },
        parameters = { name = "Cy", code = "9012" } },
    }, body.recipient_and_params)
  end)

  it("send --csv: reports the rows it skipped, sends the rest, exits 3", function()
    local rc, _, err = cli{ "send", "--text", "Hi ${name}", "--csv", "spec/fixtures/csv/nasty.csv" }
    assert.equal(3, rc, err)
    assert.matches("nasty%.csv line 7 skipped: the row has 3 fields, the header has 4", err)
    assert.matches("nasty%.csv line 9 skipped: identity: not a phone number", err)
    local body = cjson.decode(api_requests(m)[1].body)
    assert.equal(4, #body.recipient_and_params)
    assert.same({ name = "Lindqvist, Ann", note = 'said "hi"' }, body.recipient_and_params[1].parameters)
  end)

  it("send --csv: a file with no good row is an error and sends nothing", function()
    local rc, out, err = cli{ "send", "--text", "x", "--csv", "spec/fixtures/csv/open_quote.csv" }
    assert.equal(1, rc)
    assert.equal(0, cjson.decode(out).summary.recipients)
    assert.matches("line 2 skipped: a quoted field is not closed", err)
    assert.matches("no recipient to send", err)
    rc, out, err = cli{ "send", "--text", "x", "--csv", "spec/fixtures/csv/no-such-file.csv" }
    assert.equal(2, rc) -- an input mistake: one line, exit 2, nothing created
    assert.equal("", out)
    assert.matches("^sinch%-batch: %-%-csv spec/fixtures/csv/no%-such%-file%.csv: cannot read it "
      .. "[^\n]*\n$", err)
    assert.equal(0, #m:requests())
  end)

  it("send --dry-run prints a summary, bodies with --bodies, and contacts nobody", function()
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--to", "+46700000001",
                              "--param", "name=Ann", "--dry-run", "--bodies" }
    assert.equal(0, rc, err)
    local body, summary = out:match("^([^\n]*)\n([^\n]*)\n$")
    assert.same({ app_id = APP, message = { text_message = { text = "Hi ${name}" } },
                  recipient_and_params = { sms("+46700000001", { name = "Ann" }) } }, cjson.decode(body))
    assert.same({ dry_run = true, rows = 1, batches = 1, bad_rows = 0 }, cjson.decode(summary).summary)
    -- no credentials, no app id, no project: nothing is sent, nothing is needed
    local none = { SINCH_PROJECT_ID = false, SINCH_APP_ID = false, SINCH_KEY_ID = false,
                   SINCH_KEY_SECRET = false, SINCH_BATCH_BASE_URL = false }
    rc, out, err = cli({ "send", "--text", "Hi ${name} ${zip}", "--csv", "spec/fixtures/csv/basic.csv",
                         "--dry-run" }, none)
    assert.equal(2, rc, err) -- as the real send: ${zip} has no column, nothing goes out
    assert.equal("", out)
    assert.matches("the message uses ${zip} but no CSV column gives it", err, 1, true)
    rc, out, err = cli({ "send", "--text", "Hi ${name}", "--csv", "spec/fixtures/csv/nasty.csv",
                         "--dry-run" }, none)
    assert.equal(3, rc, err)
    assert.equal(3, cjson.decode(out).summary.bad_rows)
    assert.matches("nasty%.csv line 7 skipped", err)
    assert.equal(0, #m:requests())
  end)

  it("status, find and cancel (by id and by --tag)", function()
    local when = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
    local rc, out = cli{ "send", "--text", "later", "--to", "+46700000001", "--tag", "campaign=c1",
                         "--send-after", when }
    assert.equal(0, rc)
    local id = cjson.decode(out).batch_id
    rc, out = cli{ "status", id }
    assert.equal(0, rc)
    local st = cjson.decode(out)
    assert.equal(id, st.batch_id)
    assert.equal("SCHEDULED", st.status)

    rc, out = cli{ "find", "campaign", "c1" }
    assert.equal(0, rc)
    local found = cjson.decode(out)
    assert.equal(1, #found)
    assert.equal(id, found[1].batch_id)
    rc, out = cli{ "find", "campaign", "none" }
    assert.equal(0, rc)
    assert.equal("[]\n", out)
    local req = api_requests(m)[4]
    assert.equal("GET", req.method)
    assert.equal(m:path("/messages"), req.path)
    assert.matches("metadataKey=campaign", req.query)
    assert.matches("metadataValue=none", req.query)

    rc, out = cli{ "cancel", id }
    assert.equal(0, rc)
    assert.same({ id }, cjson.decode(out).cancelled) -- confirmed by a status lookup
    req = api_requests(m)[5]
    assert.equal("DELETE", req.method)
    assert.equal(m:path("/messages"), req.path)
    assert.same({ batch_id = id }, cjson.decode(req.body))
    assert.equal("GET", api_requests(m)[6].method)
    -- the API cancels later (the sandbox after 1 s): the CLI looked again until CANCELLED
    assert.equal("GET", api_requests(m)[7].method)
    rc, out = cli{ "status", id }
    assert.equal(0, rc)
    assert.equal("CANCELLED", cjson.decode(out).status)

    -- the API answers 200 whatever matched: the CLI looks and says so
    local err
    rc, out, err = cli{ "cancel", "--tag", "campaign=c2" }
    assert.equal(1, rc)
    assert.equal(0, #cjson.decode(out).cancelled)
    assert.matches("cancel: no batch matched campaign=c2", err, 1, true)
    local deletes = {}
    for _, r in ipairs(api_requests(m)) do
      if r.method == "DELETE" then deletes[#deletes + 1] = r end
    end
    assert.same({ metadata_key = "campaign", metadata_value = "c2" },
                cjson.decode(deletes[#deletes].body))
    -- a batch already sent cannot be cancelled
    rc, out = cli{ "send", "--text", "now", "--to", "+46700000002" }
    assert.equal(0, rc)
    local sent = cjson.decode(out).batch_id
    rc, out, err = cli{ "cancel", sent }
    assert.equal(1, rc)
    assert.equal(sent, cjson.decode(out).not_cancelled[1].batch_id)
    assert.matches("1 batch(es) not cancelled: " .. sent, err, 1, true)
  end)

  it("cancel reports a batch still SCHEDULED after its lookups as pending, exit 0", function()
    local slow = mock.start{ args = { "--cancel-delay-ms", "600000" } }
    local ok, e = pcall(function()
      local env = { SINCH_BATCH_BASE_URL = slow.url }
      local when = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
      local rc, out = cli({ "send", "--text", "later", "--to", "+46700000001", "--send-after", when },
                          env)
      assert.equal(0, rc)
      local id = cjson.decode(out).batch_id
      local err
      rc, out, err = cli({ "cancel", id }, env)
      assert.equal(0, rc, err)
      assert.same({ { batch_id = id, status = "SCHEDULED" } }, cjson.decode(out).pending)
      assert.matches("1 batch(es) still SCHEDULED: the cancel was accepted and may yet happen",
                     err, 1, true)
    end)
    slow:stop()
    assert(ok, e)
  end)

  it("delete-contacts and consents", function()
    local rc = cli{ "delete-contacts", "01C1", "01C2" }
    assert.equal(0, rc)
    local req = api_requests(m)[1]
    assert.equal("DELETE", req.method)
    assert.equal(m:path("/contacts"), req.path)
    assert.same({ contact_ids = { "01C1", "01C2" } }, cjson.decode(req.body))

    local out
    rc, out = cli{ "consents", "OPT_OUT_MARKETING", "+46700000030", "+46700000031" }
    assert.equal(0, rc)
    assert.is_string(cjson.decode(out).batch_id)
    req = api_requests(m)[2]
    assert.equal("POST", req.method)
    assert.equal(m:path("/consents"), req.path)
    assert.same({ app_id = APP, consent_records = {
      { identification = "+46700000030", consent_type = "OPT_OUT_MARKETING" },
      { identification = "+46700000031", consent_type = "OPT_OUT_MARKETING" } } }, cjson.decode(req.body))
  end)

  it("bad usage exits 2 with the reason and the usage text", function()
    local cases = {
      { {}, nil },
      { { "frob" }, "unknown command frob" },
      { { "send", "--to", "+46700000001" }, "send needs %-%-text" },
      { { "send", "--text", "x" }, "send needs %-%-to or %-%-csv" },
      { { "send", "--text", "x", "--to" }, "%-%-to needs a value" },
      { { "send", "--text", "x", "--to", "+46700000001", "--tag", "bad" },
        "%-%-tag: expected KEY=VALUE, got bad" },
      { { "status" }, "status needs a BATCH_ID" },
      { { "find", "campaign" }, "find needs KEY VALUE" },
      { { "cancel" }, "cancel needs a BATCH_ID or %-%-tag K=V" },
      { { "delete-contacts" }, "delete%-contacts needs at least one CONTACT_ID" },
      { { "consents", "OPT_OUT_ALL" }, "consents needs TYPE and at least one IDENTIFICATION" },
    }
    for _, case in ipairs(cases) do
      local rc, out, err = cli(case[1])
      assert.equal(2, rc, table.concat(case[1], " "))
      assert.equal("", out)
      if case[2] then assert.matches("sinch%-batch: " .. case[2], err) end
      assert.matches("^[^\n]*%(see: sinch%-batch [%w%- ]*%-%-help%)\n$", err) -- one line
    end
    local rc, out, err = cli{ "--help" }
    assert.equal("", err)
    assert.equal(0, rc)
    assert.matches("^usage: sinch%-batch COMMAND", out)
    rc, out, err = cli({ "status", "01X" }, { SINCH_PROJECT_ID = false })
    assert.equal(2, rc)
    assert.equal("", out)
    assert.matches("SINCH_PROJECT_ID is not set", err)
    -- no region and no base URL: the API's host is unknown
    rc, out, err = cli({ "status", "01X" }, { SINCH_BATCH_BASE_URL = false })
    assert.equal(2, rc)
    assert.equal("", out)
    assert.matches("SINCH_REGION is not set: us, eu or br", err)
    rc, out, err = cli({ "status", "01X" }, { SINCH_BATCH_BASE_URL = false, SINCH_REGION = "mars" })
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches('region: "mars" is not one of us, eu, br', err, 1, true)
    assert.is_nil(err:find("traceback", 1, true))
    assert.equal(0, #m:requests())
  end)

  it("API and input errors exit 1 with the error on stderr", function()
    local rc, out, err = cli{ "status", "01NOSUCHBATCHXXXXXXXXXXXXX" }
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches("refused by the API: HTTP 404 NOT_FOUND: ", err, 1, true)
    assert.matches("01NOSUCHBATCHXXXXXXXXXXXXX", err)

    rc, out, err = cli{ "consents", "OPT_OUT_SOMETIMES", "+46700000030" }
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches('consent_records%[1%]%.consent_type: "OPT_OUT_SOMETIMES" is not one of', err)

    rc, out, err = cli({ "find", "campaign", "x" }, { SINCH_KEY_SECRET = SECRET })
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches("not authorized %(HTTP 401%)", err)
    assert.is_nil(err:find(SECRET, 1, true))
  end)
  it("strict options: typos, values given to flags and missing values are usage errors", function()
    local cases = {
      { { "send", "--text", "x", "--to", "+46700000001", "--dryrun", "yes" },
        "send: unknown option %-%-dryrun" },
      { { "send", "--text", "x", "--to", "+46700000001", "--dry-run", "yes" },
        'unexpected argument "yes" %(flags like %-%-dry%-run' },
      { { "send", "--text", "x", "--csv", "f.csv", "--dedupe", "true" }, 'unexpected argument "true"' },
      { { "send", "--text", "x", "--csv", "f.csv", "--dedupe=true" }, "%-%-dedupe takes no value" },
      { { "send", "--text", "x", "--csv", "f.csv", "--concurrency", "0" }, "%-%-concurrency: expected" },
      { { "send", "--text", "x", "--csv", "f.csv", "--rate" }, "%-%-rate needs a value" },
      { { "send", "--text", "x", "--to", "--csv", "f.csv" }, "%-%-to needs a value" },
      { { "send", "--text", "x", "--to", "+46700000001", "--bodies" }, "%-%-bodies goes with %-%-dry%-run" },
      { { "send", "--text", "x", "--to", "12ab" }, '%-%-to%[1%]: "12ab" is not a phone number' },
      { { "status", "a", "b" }, 'unexpected argument "b"' },
      { { "send", "--text", "x", "--csv", "f.csv", "--resume", "/nonexistent-dir/j" }, "no such journal" },
    }
    for _, case in ipairs(cases) do
      local rc, out, err = cli(case[1])
      assert.equal(2, rc, table.concat(case[1], " ") .. "\n" .. err)
      assert.equal("", out)
      assert.matches("sinch%-batch: [^\n]-" .. case[2], err)
      assert.is_nil(err:find("traceback", 1, true))
      assert.is_nil(err:find("%.lua:%d+:"))
    end
    assert.equal(0, #m:requests())
  end)

  it("--help for every command, --version, --json-errors", function()
    for _, cmd in ipairs{ "send", "status", "find", "cancel", "create-contacts", "delete-contacts",
                          "consents" } do
      local rc, out, err = cli{ cmd, "--help" }
      assert.equal(0, rc, cmd)
      assert.equal("", err)
      assert.matches("sinch%-batch " .. cmd:gsub("%-", "%%-"), out)
    end
    local rc, out = cli{ "--version" }
    assert.equal(0, rc)
    assert.matches("^sinch%-batch 0%.1%.0 %(libcurl/", out)
    local err
    rc, out, err = cli{ "--json-errors", "send", "--text", "x", "--frob" }
    assert.equal("", out)
    assert.equal(2, rc)
    assert.same({ error = { kind = "usage", exit = 2,
                            message = "send: unknown option --frob (see: sinch-batch send --help)" } },
                cjson.decode(err))
    rc, out, err = cli{ "status", "01NOSUCHBATCHXXXXXXXXXXXXX", "--json-errors" }
    assert.equal("", out)
    assert.equal(1, rc)
    local e = cjson.decode(err).error
    assert.equal("http", e.kind)
    assert.equal(404, e.status)
  end)

  it("a phone-only CSV goes out as SMS; --dedupe skips a repeated number and exits 3", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("phone,name\n+46700000001,Ann\n+46700000002,Bo\n+46700000001,Ann again\n")
    f:close()
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", path, "--dedupe" }
    os.remove(path)
    assert.equal(3, rc, err)
    assert.matches("line 4 skipped: identity: duplicate of line 2", err)
    local body = cjson.decode(api_requests(m)[1].body)
    assert.same({ sms("+46700000001", { name = "Ann" }), sms("+46700000002", { name = "Bo" }) },
                body.recipient_and_params)
    local summary = cjson.decode(out:match("([^\n]*)\n$")).summary
    assert.equal(2, summary.recipients)
    assert.equal(1, summary.skipped)
    assert.is_true(summary.complete)
  end)

  it("create-contacts --csv: one request per 1000 rows", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("phone,name\n+46700000001,Ann\n+46700000002,Bo\n")
    f:close()
    local rc, _, err = cli{ "create-contacts", "--csv", path, "--language", "SV" }
    os.remove(path)
    assert.equal(0, rc, err)
    local req = api_requests(m)[1]
    assert.equal(m:path("/contacts"), req.path)
    assert.same({ { channel_identities = { { channel = "SMS", identity = "+46700000001" } },
                    language = "SV", display_name = "Ann" },
                  { channel_identities = { { channel = "SMS", identity = "+46700000002" } },
                    language = "SV", display_name = "Bo" } }, cjson.decode(req.body).contacts)
  end)

  it("SIGINT mid-run: in-flight batches finish, exit 4 with the resume command; --resume "
     .. "sends every row exactly once", function()
    local dir = os.tmpname()
    -- a name a shell would mangle unless the printed command quotes it
    local csv, journal = dir .. ".csv", dir .. " it's ${x} $(false).journal"
    local f = assert(io.open(csv, "w"))
    f:write("phone,name\n")
    for i = 1, 12000 do f:write(("+4671%07d,n%d\n"):format(i, i)) end
    f:close()
    -- every send answers after 150 ms: the run takes long enough to interrupt
    m:fault{ kind = "delay", delay_ms = 150, path = m:path("/messages"), method = "POST", times = 1000 }
    local vars = { SINCH_PROJECT_ID = m.project_id, SINCH_APP_ID = APP, SINCH_KEY_ID = m.key_id,
                   SINCH_KEY_SECRET = m.key_secret, SINCH_BATCH_BASE_URL = m.url }
    local sets = {}
    for k, v in pairs(vars) do sets[#sets + 1] = k .. "=" .. q(v) end
    local cmd = ("env -u SINCH_TOKEN %s %s bin/sinch-batch send --text 'Hi ${name}' --csv %s "
      .. "--journal %s --concurrency 2 --progress"):format(table.concat(sets, " "), LUA, q(csv), q(journal))
    local inner = ("%s >%s.out 2>%s.err & echo $! >%s.pid; wait $!; echo $? >%s.rc")
      :format(cmd, dir, dir, dir, dir)
    assert(mock.run("sh -c " .. q(inner) .. " >/dev/null 2>&1 &"))
    local socket = require "socket"
    local pid
    for _ = 1, 1000 do -- until two batches are in
      pid = pid or tonumber((mock.read_file(dir .. ".pid") or ""):match("%d+"))
      local _, n = (mock.read_file(dir .. ".out") or ""):gsub("batch_id", "")
      if pid and n >= 2 then break end
      socket.sleep(0.02)
    end
    assert(mock.run("kill -INT " .. pid))
    local rc
    for _ = 1, 1000 do
      rc = tonumber((mock.read_file(dir .. ".rc") or ""):match("%d+"))
      if rc then break end
      socket.sleep(0.02)
    end
    local out, err = mock.read_file(dir .. ".out"), mock.read_file(dir .. ".err")
    assert.equal(4, rc, err)
    local resume = err:match("interrupted; %d+ batches accepted%. Resume %(exactly once%) with: "
      .. "(sinch%-batch send %-%-resume [^\n]+)\n")
    assert.truthy(resume, err)
    assert.matches("rows, %d+ batches, %d+ recipients", err) -- the progress line
    local first = cjson.decode(out:match("([^\n]*)\n$")).summary
    assert.is_true(first.interrupted)
    assert.is_true(first.batches >= 2 and first.batches < 12)
    local lines = select(2, out:gsub("batch_id", ""))
    assert.equal(first.batches, lines) -- every accepted batch was printed
    assert.equal(first.batches, m:stats().batches_accepted)

    -- the printed line, pasted into a shell as it is: the journal alone finishes the campaign
    local base = os.tmpname()
    local paste = ("env -u SINCH_TOKEN %s bash -c %s >%s.out 2>%s.err; echo $? >%s.rc"):format(
      table.concat(sets, " "), q(("sinch-batch() { %s bin/sinch-batch \"$@\"; }; %s"):format(LUA, resume)),
      base, base, base)
    assert(mock.run("bash -c " .. q(paste)))
    rc = tonumber(mock.read_file(base .. ".rc"):match("%d+"))
    local out2
    out2, err = mock.read_file(base .. ".out"), mock.read_file(base .. ".err")
    for _, ext in ipairs{ "", ".out", ".err", ".rc" } do os.remove(base .. ext) end
    assert.equal(0, rc, err)
    local second = cjson.decode(out2:match("([^\n]*)\n$")).summary
    assert.equal(first.batches, second.already_sent)
    assert.equal(12, second.batches)
    assert.is_true(second.complete)
    local st = m:stats()
    assert.equal(12, st.batches_accepted)
    assert.equal(12000, st.recipients_accepted)
    for key, e in pairs(st.by_metadata) do
      assert.equal(1, e.batches, key) -- each chunk accepted exactly once
    end
    -- the journal is the ledger: line 12001 is the last recipient of chunk 12
    local ledger = require("sinch.batch.ledger").open(journal)
    local last
    for line in out2:gmatch("[^\n]+") do
      local b = cjson.decode(line)
      if b.chunk == 12 then last = b end
    end
    assert.equal(12001, ledger:lookup(last.batch_id, 999).row)
    ledger:close()
    for _, ext in ipairs{ "", ".csv", ".out", ".err", ".pid", ".rc" } do os.remove(dir .. ext) end
    os.remove(journal)
  end)
  -- report: a campaign by hand (a journal, receipts in a store, its CSV)
  local function report_fixture()
    local dir = os.tmpname()
    local f = assert(io.open(dir .. ".csv", "w"))
    f:write('phone,name,note\n+46700000001,Ann,"two\nlines"\n+46700000002,Bob,x\n'
      .. '+46700000003,Cy,y\n+46700000004,Di,z\n')
    f:close()
    f = assert(io.open(dir .. ".journal", "w"))
    for _, e in ipairs{ { event = "header", format = "sinch-batch-log", version = 1, kind = "journal",
                          campaign = "hand", path = dir .. ".csv" },
                        { event = "intent", chunk = 1, rows = { 2, 4 } },
                        { event = "accepted", chunk = 1, batch_id = "H1" },
                        { event = "intent", chunk = 2, rows = { 5, 6 } },
                        { event = "accepted", chunk = 2, batch_id = "H2" },
                        { event = "end", summary = {} } } do
      f:write(cjson.encode(e), "\n")
    end
    f:close()
    local outcomes, webhook = require "sinch.batch.outcomes", require "sinch.batch.webhook"
    local store = assert(outcomes.open(dir .. ".receipts"))
    local function receipt(b, i, status, code)
      return assert(webhook.parse(cjson.encode{ event_time = "2026-11-29T10:00:0" .. i .. "Z",
        message_delivery_report = { message_id = b .. i, status = status,
                                    reason = code and { code = code } or nil },
        message_metadata = cjson.encode{ batchId = b, messageIndex = i } }))
    end
    assert(store:add_many{ receipt("H1", 0, "FAILED", "CHANNEL_FAILURE"), receipt("H1", 1, "DELIVERED"),
                           receipt("H2", 0, "FAILED", "RECIPIENT_NOT_REACHABLE") })
    store:close()
    local function clean()
      for _, ext in ipairs{ "", ".csv", ".journal", ".receipts", ".receipts-wal", ".receipts-shm",
                            ".failed", ".out", ".err", ".rc", ".pid" } do os.remove(dir .. ext) end
    end
    return dir, receipt, clean
  end

  it("report: usage errors exit 2, unreadable inputs exit 1, --help exits 0", function()
    local dir, _, clean = report_fixture()
    local rc, out = cli{ "report", "--help" }
    assert.equal(0, rc)
    assert.matches("--failed-csv", out, 1, true)
    for _, args in ipairs{ { "report" }, { "report", "--store", dir .. ".receipts", "--bogus" },
                           { "report", "--store", dir .. ".receipts", "--watch", "x" },
                           { "report", "--store", dir .. ".receipts", "--csv", "x.csv" },
                           { "report", "--store", dir .. ".receipts", "--timeout", "5" },
                           { "report", "--store", dir .. ".receipts", "--journal" },
                           { "report", "--store", dir .. ".receipts", "--failed-csv", "f",
                             "--journal", "a", "--journal", "b" } } do
      local code, o, e = cli(args)
      assert.equal(2, code, table.concat(args, " ") .. ": " .. e)
      assert.equal("", o)
    end
    local code, _, e = cli{ "report", "--store", dir .. ".receipts", "--journal", dir .. ".nope" }
    assert.equal(2, code)
    assert.matches(dir .. ".nope", e, 1, true)
    -- a mistyped store: one line, exit 2, and no empty database made
    code, _, e = cli{ "report", "--store", dir .. ".empty" }
    assert.equal(2, code)
    assert.matches("^sinch%-batch: %-%-store [^\n]*%.empty: cannot read it[^\n]*\n$", e)
    assert.is_nil(io.open(dir .. ".empty"))
    -- so are a URL of an unknown scheme and sqlite:PATH of a missing file
    code, _, e = cli{ "report", "--store", "mysql://h/db" }
    assert.equal(2, code, e)
    assert.matches("unknown scheme", e, 1, true)
    code, _, e = cli{ "report", "--store", "sqlite:" .. dir .. ".empty" }
    assert.equal(2, code, e)
    assert.is_nil(io.open(dir .. ".empty"))
    assert.is_nil(e:find("traceback"))
    clean()
  end)

  it("report: per campaign counts as text and JSON, and the failed rows as CSV", function()
    local dir, _, clean = report_fixture()
    local rc, out, err = cli{ "report", "--journal", dir .. ".journal", "--store", dir .. ".receipts",
                              "--json", "--failed-csv", dir .. ".failed" }
    assert.equal(0, rc, err)
    local r = assert(cjson.decode(out)).report
    assert.equal("hand", r.campaign)
    assert.equal(4, r.rows)
    assert.equal(2, r.batches)
    assert.equal(1, r.delivered)
    assert.equal(2, r.failed)
    assert.same({ CHANNEL_FAILURE = 1, RECIPIENT_NOT_REACHABLE = 1 }, r.failed_by_reason)
    assert.equal(1, r.pending)
    assert.equal("2026-11-29T10:00:01Z", r.last_receipt)
    assert.matches("2 failed rows", err)
    assert.equal('phone,name,note,failure_reason\n+46700000001,Ann,"two\nlines",CHANNEL_FAILURE\n'
      .. "+46700000003,Cy,y,RECIPIENT_NOT_REACHABLE\n", mock.read_file(dir .. ".failed"))
    -- without --journal: every campaign the store knows, as text
    rc, out = cli{ "report", "--store", dir .. ".receipts" }
    assert.equal(0, rc)
    assert.matches("campaign hand", out, 1, true)
    assert.matches("failed%s+2", out)
    assert.matches("RECIPIENT_NOT_REACHABLE%s+1", out)
    assert.matches("pending%s+1", out)
    -- the failed rows go out again: failure_reason is not a parameter
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", dir .. ".failed", "--dry-run", "--bodies" }
    assert.equal(0, rc, err)
    assert.is_nil(out:find("failure_reason", 1, true))
    assert.matches('"note":"two\\nlines"', out, 1, true)
    -- the source moved: --csv names it; a wrong one is an error, not a wrong file
    local short = assert(io.open(dir .. ".out", "w"))
    short:write("phone,name\n+46700000001,Ann\n")
    short:close()
    rc, _, err = cli{ "report", "--journal", dir .. ".journal", "--store", dir .. ".receipts",
                      "--failed-csv", dir .. ".failed", "--csv", dir .. ".out" }
    assert.equal(1, rc)
    assert.matches("has no row 5", err)
    clean()
  end)

  it("report --watch: refreshes until nothing is pending; SIGINT ends it with exit 4", function()
    local dir, receipt, clean = report_fixture()
    local socket = require "socket"
    local function start(extra)
      local parts = { LUA, "bin/sinch-batch", "report", "--store", q(dir .. ".receipts"),
                      "--journal", q(dir .. ".journal"), "--json", "--watch", "0.1" }
      for _, a in ipairs(extra or {}) do parts[#parts + 1] = q(a) end
      for _, ext in ipairs{ ".rc", ".pid", ".out" } do os.remove(dir .. ext) end
      local inner = ("%s >%s.out 2>%s.err & echo $! >%s.pid; wait $!; echo $? >%s.rc")
        :format(table.concat(parts, " "), dir, dir, dir, dir)
      assert(mock.run("sh -c " .. q(inner) .. " >/dev/null 2>&1 &"))
    end
    local function wait_rc()
      for _ = 1, 400 do
        local rc = tonumber((mock.read_file(dir .. ".rc") or ""):match("%d+"))
        if rc then return rc end
        socket.sleep(0.05)
      end
    end
    local function reports()
      local n = 0
      for _ in (mock.read_file(dir .. ".out") or ""):gmatch('"report"') do n = n + 1 end
      return n
    end
    start()
    for _ = 1, 400 do -- refreshing, one recipient pending
      if reports() >= 2 then break end
      socket.sleep(0.05)
    end
    assert.is_true(reports() >= 2)
    local store = assert(require("sinch.batch.outcomes").open(dir .. ".receipts"))
    assert(store:add(receipt("H2", 1, "DELIVERED")))
    store:close()
    assert.equal(0, wait_rc())
    local last
    for line in mock.read_file(dir .. ".out"):gmatch("[^\n]+") do last = cjson.decode(line).report end
    assert.equal(0, last.pending)
    assert.equal(2, last.delivered)

    -- pending for ever: SIGINT ends the watch, exit 4
    store = assert(require("sinch.batch.outcomes").open(dir .. ".receipts"))
    assert(store:add_batch{ batch_id = "H3", campaign = "hand", chunk = 3, rows = { 7 } })
    store:close()
    start{ "--timeout", "30" }
    for _ = 1, 400 do
      if reports() >= 1 then break end
      socket.sleep(0.05)
    end
    assert(mock.run("kill -INT " .. tonumber(mock.read_file(dir .. ".pid"):match("%d+"))))
    assert.equal(4, wait_rc())
    assert.matches("1 recipients still pending", mock.read_file(dir .. ".err"))
    clean()
  end)
end)
