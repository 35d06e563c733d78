-- The campaign fault suite, part 1: campaigns fail closed and stay operable
-- where real operations break.  Two runs on one journal, a torn or foreign
-- journal, lookups answered with no list (a raw server), a chunk the API
-- refuses for good, files the tool writes, a run that sends nothing, a dry
-- run against the send's own rules, input mistakes.  Each ends with every
-- row accepted exactly once or listed as failed, 0 sent twice, and every run
-- ending.  (Part 2, kill -9 at 20 points: campaign_faults_spec.lua.)
local cjson = require "cjson.safe"
local socket = require "socket"
local mock = require "support.mock"
local faults = require "support.faults"
local batch = require "sinch.batch"
local journal = require "sinch.batch.campaign.journal"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local q, read_file, run = mock.shell_quote, mock.read_file, mock.run

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function mode_of(path)
  local p = io.popen("stat -c %a " .. q(path))
  local m = p:read("*l")
  p:close()
  return m
end

-- a phone,name list of n rows (rows 2..n+1)
local function contacts(path, n, row_fn)
  local parts = { "phone,name\n" }
  for i = 1, n do
    parts[#parts + 1] = row_fn and row_fn(i) or ("+4672%07d,n%d\n"):format(i, i)
  end
  write_file(path, table.concat(parts))
end

describe("campaign fault suite: fail closed", function()
  local m, base, files

  setup(function() m = mock.start() end)
  teardown(function() if m then m:stop() end end)
  before_each(function()
    m:reset()
    base = os.tmpname()
    files = { base }
  end)
  after_each(function()
    for _, f in ipairs(files) do os.remove(f) end
  end)

  local function tmp(ext)
    files[#files + 1] = base .. ext
    return base .. ext
  end

  local function env_prefix()
    local vars = { SINCH_PROJECT_ID = m.project_id, SINCH_APP_ID = APP, SINCH_KEY_ID = m.key_id,
                   SINCH_KEY_SECRET = m.key_secret, SINCH_BATCH_BASE_URL = m.url }
    local sets = { "env -u SINCH_TOKEN -u SINCH_REGION -u SINCH_BATCH_AUTH_URL" }
    for k, v in pairs(vars) do sets[#sets + 1] = k .. "=" .. q(v) end
    return table.concat(sets, " ")
  end

  local function cmdline(args)
    local parts = { env_prefix(), LUA, "bin/sinch-batch" }
    for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
    return table.concat(parts, " ")
  end

  -- runs the CLI to its end: rc, stdout, stderr
  local function cli(args)
    local out = os.tmpname()
    assert(run(("sh -c %s"):format(q(("%s >%s.out 2>%s.err; echo $? >%s.rc")
      :format(cmdline(args), out, out, out)))))
    local rc = tonumber(read_file(out .. ".rc"):match("%d+"))
    local o, e = read_file(out .. ".out"), read_file(out .. ".err")
    for _, ext in ipairs{ "", ".out", ".err", ".rc" } do os.remove(out .. ext) end
    return rc, o, e
  end

  -- starts the CLI in the background; wait() gives rc, stdout, stderr
  local function cli_bg(args)
    local out = os.tmpname()
    assert(run(("sh -c %s >/dev/null 2>&1 &"):format(q(("%s >%s.out 2>%s.err; echo $? >%s.rc")
      :format(cmdline(args), out, out, out)))))
    return function()
      local rc
      for _ = 1, 1500 do -- 30 s at most: every run ends
        rc = tonumber((read_file(out .. ".rc") or ""):match("%d+"))
        if rc then break end
        socket.sleep(0.02)
      end
      local o, e = read_file(out .. ".out"), read_file(out .. ".err")
      for _, ext in ipairs{ "", ".out", ".err", ".rc" } do os.remove(out .. ext) end
      return rc, o, e
    end
  end

  local function summary_of(out)
    return cjson.decode(out:match("([^\n]*)\n$")).summary
  end

  local function client()
    return assert(batch.client{ project_id = m.project_id, app_id = APP, base_url = m.url,
      auth_url = m.url, key_id = m.key_id, key_secret = m.key_secret })
  end

  it("a second run on a journal in use is refused (exit 2); the first sends each chunk once", function()
    local csv, j = tmp(".csv"), tmp(".journal")
    contacts(csv, 3000)
    m:fault{ kind = "delay", delay_ms = 400, method = "POST", path = m:path("/messages"), times = 3 }
    local wait = cli_bg{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", j,
                         "--concurrency", "1", "--no-progress" }
    for _ = 1, 500 do -- until the first batch is on its way
      if (read_file(j) or ""):find('"intent"', 1, true) then break end
      socket.sleep(0.01)
    end
    assert.is_true(exists(j))
    assert.equal("600", mode_of(j))
    for _, args in ipairs{ { "send", "--resume", j },
                           { "send", "--text", "Hi ${name}", "--csv", csv, "--journal", j } } do
      local rc, out, err = cli(args)
      assert.equal(2, rc, err)
      assert.equal("", out)
      assert.matches("^sinch%-batch: [^\n]*in use by another run[^\n]*\n$", err)
    end
    local rc, out, err = wait()
    assert.equal(0, rc, err)
    local s = summary_of(out)
    assert.same({ 3, 3000, 0 }, { m:campaign_batches(s.campaign) })
    assert.equal(3, m:stats().batches_accepted)
  end)

  it("refuses a journal it cannot read, or a file that is no journal, and never adopts it", function()
    local csv, j = tmp(".csv"), tmp(".journal")
    contacts(csv, 10)
    local csv_before = read_file(csv)
    local cases = {
      -- a torn header, then lines of a journal
      'garbage{"event":"head\n{"event":"intent","chunk":1,"rows":[2,3]}\n',
      -- an edited header (another format)
      '{"event":"header","version":1,"campaign":"cX"}\n{"event":"intent","chunk":1,"rows":[2]}\n',
      -- a good header, an edited line in the middle
      '{"event":"header","format":"sinch-batch-log","version":1,"kind":"journal","campaign":"cX",'
        .. '"spec":{"source":"' .. csv .. '","message":{"text_message":{"text":"x"}}}}\n'
        .. 'not json\n{"event":"intent","chunk":1,"rows":[2]}\n',
      -- a header torn before its newline
      '{"event":"header","format":"sinch-batch-log"',
    }
    for i, text in ipairs(cases) do
      write_file(j, text)
      local rc, out, err = cli{ "send", "--resume", j }
      assert.equal(2, rc, i .. ": " .. err)
      assert.equal("", out)
      assert.matches("^sinch%-batch: [^\n]*" .. j:gsub("%p", "%%%0") .. "[^\n]*\n$", err)
      rc, out, err = cli{ "send", "--text", "x", "--csv", csv, "--resume", j }
      assert.equal("", out)
      assert.equal(2, rc, err)
      assert.equal(text, read_file(j)) -- untouched
      local c = client()
      local rep, lerr = c:campaign{ message = batch.message.text("x"), source = csv, journal = j }
      c:close()
      assert.is_nil(rep)
      assert.equal("invalid", lerr.kind)
    end
    -- --journal pointing at the source CSV: refused, the CSV untouched
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", csv }
    assert.equal(2, rc, err)
    assert.equal("", out)
    assert.matches("not a sinch%-batch log", err)
    assert.equal(csv_before, read_file(csv))
    assert.equal(0, #m:requests())
  end)

  it("a torn last line (a crash mid-write) is marked and the resume finishes exactly once", function()
    local csv, j = tmp(".csv"), tmp(".journal")
    contacts(csv, 3000)
    local c = client()
    local n = 0
    local rep = assert(c:campaign{ message = batch.message.text("Hi ${name}"), source = csv,
      journal = j, concurrency = 1, on_batch = function() n = n + 1 end,
      stop = function() return n >= 1 end })
    assert.is_true(rep.interrupted)
    local f = assert(io.open(j, "ab"))
    f:write('{"event":"accepted","chunk":2,"batch_id":"01TO') -- torn
    f:close()
    rep = assert(c:campaign{ journal = j }) -- the journal alone
    c:close()
    assert.is_true(rep.complete)
    assert.same({ 3, 3000, 0 }, { m:campaign_batches(rep.campaign) })
    local st = assert(journal.read(j)) -- marked, and readable again
    for k = 1, 3 do assert.equal("accepted", st.chunks[k].status) end
    assert.matches('\n{"[^\n]*"torn"[^\n]*}\n', read_file(j))
  end)

  describe("a lookup whose answer is no list leaves the chunk unresolved", function()
    for _, mode in ipairs{ "empty", "object", "error500", "truncated", "none" } do
      it("(" .. mode .. ")", function()
        local srv = faults.start("close_without_answer", 30, mode)
        local c = assert(batch.client{ project_id = "p", app_id = APP, base_url = srv.url,
          auth_url = srv.url, key_id = "k", key_secret = "s", timeout = 3, max_attempts = 2,
          backoff_base = 0.01 })
        local j = tmp(".journal")
        os.remove(j)
        local list = {}
        for i = 1, 3 do
          list[i] = { recipient = batch.recipient.sms(("+4672%07d"):format(i)) }
        end
        local rep = assert(c:campaign{ message = batch.message.text("x"), source = list,
          journal = j, settle = 0, retries = 1 })
        c:close()
        local posts = srv:posts()
        local gets = 0
        for _, r in ipairs(srv:requests()) do if r.method == "GET" then gets = gets + 1 end end
        srv:stop()
        assert.is_false(rep.complete)
        assert.equal(1, rep.unresolved)
        assert.equal("unresolved", rep.ambiguous[1].resolution)
        assert.is_true(gets >= 1)
        if mode == "none" then
          -- a well-formed answer listing no batch: resent (retries = 1), then unresolved again
          assert.equal(2, posts)
        else
          assert.equal(1, posts) -- never resent on an answer that is no list
        end
        assert.equal("ambiguous", assert(journal.read(j)).chunks[1].status)
      end)
    end
  end)

  it("a chunk refused for good (413) fails its rows, the campaign finishes and --failed-csv lists them",
     function()
    local csv, j, store = tmp(".csv"), tmp(".journal"), tmp(".receipts")
    local failed_csv, link = tmp(".failed"), tmp(".link")
    files[#files + 1] = store .. "-wal"
    files[#files + 1] = store .. "-shm"
    local big = string.rep("x", 11 * 1024 * 1024)
    contacts(csv, 3000, function(i)
      return ("+4672%07d,%s\n"):format(i, i + 1 == 1502 and big or "n" .. i)
    end)
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", j,
                              "--concurrency", "1" }
    assert.equal(1, rc, err)
    assert.matches("1000 rows in 1 batches refused by the API", err)
    assert.is_nil(err:find("Resume", 1, true))
    local s = summary_of(out)
    assert.is_true(s.complete)
    assert.same({ 1, 1000 }, { s.failed, s.failed_rows })
    assert.same({ 2, 2000, 0 }, { m:campaign_batches(s.campaign) })
    local st = assert(journal.read(j))
    assert.equal("refused", st.chunks[2].status)
    -- the resume has nothing left to do: no send, no loop
    local before = #m:requests()
    rc, out, err = cli{ "send", "--resume", j }
    assert.equal(1, rc, err)
    assert.is_nil(err:find("Resume", 1, true))
    assert.equal(before, #m:requests())
    assert.equal(2, summary_of(out).already_sent)
    -- the failed rows as CSV: 0600, never over a file or through a link unless --force
    local _
    write_file(store, "")
    os.remove(store)
    assert(batch.outcomes.open(store)):close()
    rc, _, err = cli{ "report", "--store", store, "--journal", j, "--failed-csv", failed_csv }
    assert.equal(0, rc, err)
    assert.equal("600", mode_of(failed_csv))
    local rows = {}
    for line in read_file(failed_csv):gmatch("[^\n]+") do rows[#rows + 1] = line end
    assert.equal(1001, #rows)
    assert.equal("phone,name,failure_reason", rows[1])
    assert.matches("^%+46720001501,x+,REFUSED %(HTTP 413%)", rows[502]) -- line 1502: the big field
    rc, _, err = cli{ "report", "--store", store, "--journal", j, "--failed-csv", failed_csv }
    assert.equal(1, rc)
    assert.matches("exists already", err)
    rc, _, err = cli{ "report", "--store", store, "--journal", j, "--failed-csv", failed_csv, "--force" }
    assert.equal(0, rc, err)
    assert(run("ln -s " .. q(base .. ".elsewhere") .. " " .. q(link)))
    rc, _, err = cli{ "report", "--store", store, "--journal", j, "--failed-csv", link, "--force" }
    assert.equal(1, rc)
    assert.matches("symbolic link", err)
    assert.is_false(exists(base .. ".elsewhere"))
    local src_before = read_file(csv)
    rc, _, err = cli{ "report", "--store", store, "--journal", j, "--failed-csv", csv, "--force" }
    assert.equal(2, rc)
    assert.matches("is the campaign's source", err)
    assert.equal(src_before, read_file(csv))
  end)
  it("a run that sends nothing leaves no journal (CLI and client:campaign), so the corrected run starts",
     function()
    local csv, bad, j, j2 = tmp(".csv"), tmp(".bad.csv"), tmp(".journal"), tmp(".journal2")
    os.remove(j)
    contacts(csv, 5)
    write_file(bad, "phone,name\n1 2,a\nabc,b\n")
    local rc, out, err = cli{ "send", "--text", "Hi ${nam}", "--csv", csv, "--journal", j }
    assert.equal(2, rc, err)
    assert.equal("", out)
    assert.matches("${nam}", err, 1, true)
    assert.is_false(exists(j))
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", bad, "--journal", j }
    assert.equal(1, rc, err)
    assert.matches("no recipient to send", err)
    assert.is_nil(summary_of(out).journal)
    assert.is_false(exists(j))
    local c = client()
    local rep, lerr = c:campaign{ message = batch.message.text("Hi ${nam}"), source = csv, journal = j2 }
    assert.is_nil(rep)
    assert.equal("invalid", lerr.kind)
    assert.is_false(exists(j2))
    rep = assert(c:campaign{ message = batch.message.text("Hi ${name}"), source = bad, journal = j2 })
    assert.equal(2, #rep.skipped)
    assert.is_false(exists(j2))
    c:close()
    assert.equal(0, #m:requests())
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", j }
    assert.equal(0, rc, err)
    assert.equal(5, summary_of(out).recipients)
  end)

  it("--dry-run applies the send's own row rules: the same rows skipped for the same reasons", function()
    local csv = tmp(".csv")
    write_file(csv, "phone,name\n+46720000001,Ann\n+46720000002,\n+46720000003,Cy\n12 3,Di\n")
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--dry-run" }
    assert.equal(3, rc, err)
    assert.same({ dry_run = true, rows = 2, batches = 1, bad_rows = 2 }, summary_of(out))
    local dry = {}
    for line in err:gmatch("line %d+ skipped: [^\n]+") do dry[#dry + 1] = line end
    assert.equal(0, #m:requests())
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv }
    assert.equal(3, rc, err)
    assert.same({ 2, 2 }, { summary_of(out).recipients, summary_of(out).skipped })
    local sent = {}
    for line in err:gmatch("line %d+ skipped: [^\n]+") do sent[#sent + 1] = line end
    assert.equal(2, #dry)
    assert.same(dry, sent)
  end)

  it("input mistakes are one line naming the value, exit 2, nothing sent or created", function()
    local csv, j, store = tmp(".csv"), tmp(".journal"), tmp(".receipts")
    os.remove(j)
    contacts(csv, 2)
    for _, case in ipairs{
      { { "send", "--text", "x", "--csv", base .. ".missing.csv", "--journal", j },
        "%-%-csv [^\n]*missing%.csv: cannot read it" },
      { { "send", "--text", "x", "--csv", csv, "--channel", "FOO", "--journal", j },
        "%-%-channel FOO: no such channel %(one of [^\n]*SMS" },
      { { "send", "--text", "x", "--csv", csv, "--rate", "fast", "--journal", j },
        "%-%-rate: expected a number" },
      { { "send", "--resume", base .. ".nope" }, "%-%-resume [^\n]*%.nope: no such journal" },
      { { "report", "--store", store .. "x" }, "%-%-store [^\n]*: cannot read it" },
      { { "send", "--txt", "x" }, "send: unknown option %-%-txt %(see: sinch%-batch send %-%-help%)" },
    } do
      local rc, out, err = cli(case[1])
      assert.equal(2, rc, err)
      assert.equal("", out)
      assert.matches("^sinch%-batch: " .. case[2] .. "[^\n]*\n$", err)
      assert.is_nil(err:find("internal error", 1, true))
    end
    assert.is_false(exists(j))
    assert.is_false(exists(store .. "x"))
    assert.equal(0, #m:requests())
  end)

  it("the progress line is cleared before a line goes to stdout", function()
    local csv = tmp(".csv")
    contacts(csv, 3000)
    local both = tmp(".both")
    assert(run(("sh -c %s"):format(q(("%s >%s 2>&1"):format(cmdline{ "send", "--text", "Hi ${name}",
      "--csv", csv, "--concurrency", "1", "--rate", "20", "--progress" }, both)))))
    local text = read_file(both)
    assert.matches("sinch%-batch: %d+ rows, %d+ batches", text) -- there was a progress line
    local n = 0
    for line in text:gmatch("[^\n]*") do
      local json = line:find('{"', 1, true)
      if json then
        n = n + 1
        -- what a terminal shows: the text after the last carriage return
        assert.equal(1, json - (line:sub(1, json - 1):match("^.*\r\27%[K()") or 1) + 1, line)
      end
    end
    assert.equal(4, n) -- 3 batches and the summary
  end)

  it("client:campaign takes the CLI's own list (phone,name): SMS is the one default", function()
    local csv = tmp(".csv")
    contacts(csv, 3)
    local c = client()
    local rep = assert(c:campaign{ message = batch.message.text("Hi ${name}"), source = csv })
    c:close()
    assert.is_true(rep.complete)
    local req = m:requests()[#m:requests()]
    local body = cjson.decode(req.body)
    assert.equal("SMS", body.recipient_and_params[1].recipient.identified_by.channel_identities[1].channel)
  end)
  it("a journal given as a symbolic link is never followed: refused, the target untouched", function()
    local csv, j, target, dangling = tmp(".csv"), tmp(".journal"), tmp(".target"), tmp(".dangling")
    os.remove(j)
    contacts(csv, 3)
    write_file(target, "precious\n")
    assert(run("ln -s " .. q(target) .. " " .. q(j)))
    local rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", j }
    assert.equal(2, rc, err)
    assert.equal("", out)
    assert.equal("precious\n", read_file(target))
    os.remove(j)
    assert(run("ln -s " .. q(base .. ".nowhere") .. " " .. q(dangling)))
    rc, out, err = cli{ "send", "--text", "Hi ${name}", "--csv", csv, "--journal", dangling }
    assert.equal(2, rc, err) -- found when the first batch was about to go: nothing went
    assert.matches("symbolic link", err)
    assert.equal("", out)
    assert.is_false(exists(base .. ".nowhere")) -- not created through the link
    assert.equal(0, #m:requests())
  end)

  it("a 2xx send answer without batch_id is ambiguous for client:send and every campaign driver",
     function()
    local p = m:path("/messages")
    local c = client()
    m:fault{ kind = "status", status = 200, method = "POST", path = p, body = {} }
    local res, err = c:send{ message = batch.message.text("x"),
                             recipients = { { recipient = batch.recipient.sms("+46720000001") } } }
    assert.is_nil(res)
    assert.is_true(err.may_have_been_processed)
    -- the campaign (libcurl multi driver): ambiguous, looked up (nothing there), resent once
    m:reset()
    m:fault{ kind = "status", status = 200, method = "POST", path = p, body = { id = "x" } }
    local list = { { recipient = batch.recipient.sms("+46720000001") } }
    local rep = assert(c:campaign{ message = batch.message.text("x"), source = list, settle = 0 })
    assert.equal("curl-multi", rep.driver)
    assert.same({ 1, "resent", true }, { #rep.ambiguous, rep.ambiguous[1].resolution, rep.complete })
    assert.equal(1, m:stats().batches_accepted)
    c:close()
  end)
end)
