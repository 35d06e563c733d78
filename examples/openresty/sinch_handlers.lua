--- Handlers of examples/openresty/nginx.conf.
--
-- One client per worker, made on first use: inside nginx the library picks
-- the cosocket transport by itself, so no handler ever blocks its worker.
-- Every accepted batch is recorded in a ledger (SINCH_BATCH_LEDGER), so that
-- the callback handler can tie each delivery receipt back to its recipient
-- and to the CSV row (SINCH_BATCH_CSV) it was sent from.  All workers append to the
-- same ledger file; a worker that meets a batch it does not know reads what
-- the others appended.
--
-- Receipts go into the receipts store (sinch.batch.outcomes: SQLite in WAL
-- mode, or PostgreSQL for receivers on several hosts; SINCH_BATCH_RECEIPTS
-- is a path or a URL).  A callback is answered 200 only once its receipt is
-- committed: never lost once acknowledged (Sinch does not resend a callback
-- it got a 2xx for).  The write runs in nginx's thread pool
-- (ngx.run_worker_thread, sinch_store_thread.lua), so the worker never
-- waits on the disk, and it is group-committed: the callbacks that arrive
-- while one transaction runs share the next one.  GET /report?campaign=TAG
-- counts delivered, failed (by reason) and pending recipients of the
-- batches sent with that tag.
local batch = require "sinch.batch"
local chunk = require "sinch.batch.chunk"
local ledger_mod = require "sinch.batch.ledger"
local cjson = require "cjson.safe"

local _M = {}

local CSV_TAG = "source=openresty-csv" -- the ledger tag of batches sent from SINCH_BATCH_CSV

-- SINCH_BATCH_CSV (run.sh: contacts.csv beside this file), or contacts.csv in
-- nginx's prefix
local function csv_path()
  return os.getenv("SINCH_BATCH_CSV") or (ngx.config.prefix() .. "contacts.csv")
end

local client, ledger, store -- per worker
local store_receipt -- below
-- per worker: the callbacks whose log line waits for the timer.  Receipts
-- wait by batch id, as columns of what their line needs (status, index,
-- reason code; false for none) rather than a table each: a receipt of a
-- batch the ledger does not know waits up to 2 s, and thousands of tables
-- kept that long were the GC's to walk again and again.  The other
-- callbacks wait under `true`, whole.
local to_log = {}
local FLUSH_EVERY = 0.2 -- seconds
local LOG_TRIES = 10   -- flushes a receipt's log line waits for its batch
local POOL = "default" -- nginx.conf's thread_pool
local STORE_WAIT = 30  -- seconds a callback waits for its group's commit

local function store_url()
  return os.getenv("SINCH_BATCH_RECEIPTS") or (ngx.config.prefix() .. "ledger/receipts.db")
end
local function store_sync()
  local v = os.getenv("SINCH_BATCH_RECEIPTS_SYNC")
  return (v == "FULL" or v == "NORMAL") and v or nil
end

-- The worker's own store, for GET /report only (reads, off the hot path).
local function get_store()
  if store then return store end
  local s, err = require("sinch.batch.store").open(store_url())
  if not s then return nil, err end
  store = s
  return store
end

-- Writes receipts and batches in the thread pool: the number of new
-- receipts, or nil and a message.
local function write_store(events, batches)
  local ok, n, err = ngx.run_worker_thread(POOL, "sinch_store_thread", "write", store_url(),
    store_sync(), events, batches)
  if not ok then return nil, tostring(n) end -- the pool refused or the thread failed
  if n == nil then return nil, err end
  return n
end

local function get_ledger()
  if ledger then return ledger end
  local path = os.getenv("SINCH_BATCH_LEDGER") or (ngx.config.prefix() .. "ledger/example.ledger")
  local l, err = ledger_mod.open(path)
  if not l then return nil, err end
  ledger = l
  return ledger
end

-- After an accepted send: the receipts store learns which rows the batch
-- carries (in the thread pool: the worker does not wait on the disk).  The
-- ledger has it already; a failure here only delays the join (logged).
local function note_batch(batch_id)
  local e = ledger and ledger:entry(batch_id)
  if e then
    local ok, err = write_store({}, { { batch_id = batch_id, campaign = e.tag, rows = e.rows } })
    if not ok then ngx.log(ngx.ERR, "receipts store: batch ", batch_id, ": ", err) end
  end
end

local function get_client()
  if client then return client end
  local l, err = get_ledger()
  if not l then return nil, err end
  local base_url = os.getenv("SINCH_BATCH_BASE_URL")
  local c
  c, err = batch.client{
    project_id = os.getenv("SINCH_PROJECT_ID"),
    app_id = os.getenv("SINCH_APP_ID") or "01EXAMPLEAPPXXXXXXXXXXXXXX",
    region = os.getenv("SINCH_REGION") or "eu",
    base_url = base_url, -- nil: Sinch's own hosts
    auth_url = os.getenv("SINCH_BATCH_AUTH_URL") or base_url,
    key_id = os.getenv("SINCH_KEY_ID"),
    key_secret = os.getenv("SINCH_KEY_SECRET"),
    shared_dict = "sinch_tokens",
    ledger = l, -- send() records each accepted batch before it returns
  }
  if not c then return nil, err end
  client = c
  return client
end

local CALLBACK_OK = cjson.encode{ ok = true } .. "\n"

local function reply(status, t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
  return ngx.exit(status)
end

local function fail(err)
  -- err never holds a secret; kind tells what happened
  local status = 502
  if err.kind == "invalid" then status = 400 elseif err.status == 404 then status = 404 end
  return reply(status, { error = err.kind, message = err.message,
                         may_have_been_processed = err.may_have_been_processed })
end

local function read_body()
  ngx.req.read_body()
  return ngx.req.get_body_data() or ""
end

--- POST /send {"to":["+4670…",…],"text":"Hi ${name}","name":"Ann"}
function _M.send()
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "use POST" }) end
  local req = cjson.decode(read_body())
  if type(req) ~= "table" or type(req.to) ~= "table" or type(req.text) ~= "string" then
    return reply(400, { error = "invalid", message = 'body: expected {"to":[…],"text":"…"}' })
  end
  local c, err = get_client()
  if not c then return fail(err) end
  local recipients = {}
  for i, number in ipairs(req.to) do
    recipients[i] = { recipient = batch.recipient.sms(number), parameters = { name = req.name } }
  end
  local res
  res, err = c:send{ message = batch.message.text(req.text), recipients = recipients,
                     batch_metadata = { source = "openresty-example" }, defaults = { name = "" } }
  if not res then return fail(err) end
  note_batch(res.batch_id)
  return reply(200, res)
end

--- POST /send_csv?text=Hi%20${name}: sends every row of SINCH_BATCH_CSV (a header
-- row, then one recipient per line: phone, and parameters such as name), in
-- batches of up to 1000; the ledger keeps the CSV line of each recipient.
function _M.send_csv()
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "use POST" }) end
  local text = ngx.var.arg_text and ngx.unescape_uri(ngx.var.arg_text) or "Hi ${name}"
  local c, err = get_client()
  if not c then return fail(err) end
  local src
  src, err = chunk.csv(csv_path(), { channel = "SMS" })
  if not src then return fail(err) end
  local msg = batch.message.text(text)
  local ids, count = {}, 0
  for ch in src do
    local res
    res, err = c:send({ message = msg, recipients = ch.recipients,
                        batch_metadata = { source = "openresty-csv" } },
                      { rows = ch.rows, recipients = ch.recipients })
    if not res then
      src:close()
      return fail(err)
    end
    ids[#ids + 1] = res.batch_id
    note_batch(res.batch_id)
    count = count + #ch.recipients
  end
  local bad = {}
  for i, b in ipairs(src.bad) do bad[i] = { line = b.line, reason = b.reason } end
  return reply(200, { batch_ids = ids, recipients = count, bad_rows = bad })
end

--- GET /status/<batch_id>
function _M.status()
  local id = ngx.var.uri:match("^/status/([%w]+)$")
  if not id then return reply(400, { error = "invalid", message = "path: /status/<batch_id>" }) end
  local c, err = get_client()
  if not c then return fail(err) end
  local res
  res, err = c:status(id)
  if not res then return fail(err) end
  return reply(200, res)
end

-- The lines of SINCH_BATCH_CSV, read once per worker (line 1 is the header).
local csv_lines
local function csv_line(n)
  if csv_lines == nil then
    csv_lines = {}
    local f = io.open(csv_path(), "rb")
    if f then
      for line in f:lines() do csv_lines[#csv_lines + 1] = (line:gsub("\r$", "")) end
      f:close()
    end
  end
  return csv_lines[n]
end

--- POST /callbacks: Sinch's signed callbacks (delivery reports, batch
-- status).  Verifies the signature, parses the event, and logs it as one
-- JSON line with, for a delivery receipt, the recipient and the original
-- CSV row it was sent from.
-- Nonces seen in the last tolerance window, shared by all workers: a replayed
-- callback is refused even when another worker took the first copy.  When
-- the dict is full, nginx drops the least recently used nonces to make room,
-- even ones still inside the window, and a replay of one of those would be
-- taken (the receipts store still counts its receipt once): each worker then
-- warns, at most once a minute, so that the dict can be sized (nginx.conf).
local NONCES_WARN_EVERY = 60 -- seconds
local nonces_warned = -math.huge
local function nonces_warn(what)
  local now = ngx.now()
  if now - nonces_warned < NONCES_WARN_EVERY then return end
  nonces_warned = now
  ngx.log(ngx.WARN, "lua_shared_dict sinch_nonces is full: ", what, "; a replay of those ",
          "callbacks would not be refused: make it larger (about 128 bytes per callback ",
          "of the last 300 s)")
end
local nonces = {
  seen = function(_, nonce, ttl)
    local ok, err, forcible = ngx.shared.sinch_nonces:add(nonce, true, ttl)
    if forcible then
      nonces_warn("nonces still inside the replay window were dropped to make room")
    elseif not ok and err ~= "exists" then
      nonces_warn("a nonce could not be kept (" .. tostring(err) .. ")")
    end
    return not ok and err == "exists"
  end,
}

-- The group commit.  A callback joins the open group and waits on the
-- group's semaphore.  One writer per worker (a timer's light thread, started
-- by init_worker) takes the open group, writes it in one transaction in the
-- thread pool, and wakes all its callbacks at once with the result; the
-- callbacks that arrive meanwhile form the next group.
local semaphore = require "ngx.semaphore"
local open_group -- the group callbacks join; nil when none is open
local wake = semaphore.new(0) -- the writer's: a group was opened

-- only plain values cross into the pool thread (no cjson.null)
local function v(x)
  local t = type(x)
  if t == "string" or t == "number" then return x end
end
local function plain(ev)
  local reason = ev.reason
  if type(reason) == "table" then
    reason = { code = v(reason.code), description = v(reason.description) }
  else
    reason = nil
  end
  return { type = ev.type, batch_id = v(ev.batch_id), message_index = v(ev.message_index),
           message_id = v(ev.message_id), status = v(ev.status), reason = reason,
           event_time = v(ev.event_time), accepted_time = v(ev.accepted_time) }
end

local writer_running = false
local function writer(premature)
  if premature then return end
  writer_running = true
  while true do
    local g = open_group
    if g then
      open_group = nil -- callbacks from now on open the next group
      local ok, n, err = pcall(write_store, g.events, nil) -- (a raise must not stop the writer)
      if not ok then n, err = nil, tostring(n) end
      g.done, g.stored, g.err = true, n ~= nil, err
      g.sema:post(g.n)
    elseif ngx.worker.exiting() then -- (a group still open is written first)
      writer_running = false
      return
    else
      wake:wait(1) -- (a second at most: then it looks whether nginx is exiting)
    end
  end
end

-- true once the receipt (plain values: webhook.receipt's fields) is
-- committed, or nil and a message
store_receipt = function(event)
  if not writer_running then -- the worker is exiting (or its timer did not start): written alone
    local n, err = write_store({ event }, nil)
    if n then return true end
    return nil, err
  end
  local g = open_group
  if not g then
    g = { events = {}, n = 0, sema = semaphore.new(0) }
    open_group = g
    wake:post(1)
  end
  local n = g.n + 1
  g.n, g.events[n] = n, event
  local ok = g.sema:wait(STORE_WAIT)
  if not ok then -- still written with its group, but answered 503
    return nil, g.done and g.err or ("no commit within " .. STORE_WAIT .. " s")
  end
  if g.stored then return true end
  return nil, g.err
end

-- the webhook secret (the environment nginx.conf's `env` passes does not
-- change under a worker) and verify's options, once per worker
local webhook_secret = os.getenv("SINCH_WEBHOOK_SECRET")
local receipt = batch.webhook.receipt
local verify_opts = { replay = nonces }

function _M.callback()
  local secret = webhook_secret
  if secret == nil or secret == "" then
    -- an empty key would accept callbacks anyone can sign
    ngx.log(ngx.ERR, "SINCH_WEBHOOK_SECRET is not set: refusing callbacks")
    return reply(503, { error = "not configured" })
  end
  local raw = read_body()
  local ok, err = batch.webhook.verify(secret, ngx.req.get_headers(), raw, verify_opts)
  if not ok then
    -- err.message names the failed check, never a secret or a signature
    ngx.log(ngx.WARN, "callback refused: ", err.message)
    return reply(401, { error = "signature" })
  end
  -- a plain delivery receipt's fields, read in C (the usual case), or the
  -- whole event
  local event, whole = receipt(raw), false
  if not event then
    event, err = batch.webhook.parse(raw)
    if not event then return reply(400, { error = err.message }) end
    whole = true
  end
  -- a batch's delivery receipt: stored (as plain values) before the answer
  local batch_id = event.type == "message_delivery" and event.batch_id
  if batch_id then
    if whole then event = plain(event) end
    local stored, serr = store_receipt(event)
    if not stored then
      -- not acknowledged: Sinch sends it again
      ngx.log(ngx.ERR, "receipts store: ", serr)
      return reply(503, { error = "store" })
    end
  end
  -- logged with its row by the timer: receipts wait by batch, the rest at once
  local w = to_log[batch_id or true]
  if not w then
    w = { tries = 0, n = 0, status = {}, index = {}, code = {} }
    to_log[batch_id or true] = w
  end
  local n = w.n + 1
  w.n = n
  if batch_id then
    local reason = event.reason
    w.status[n], w.index[n] = event.status or false, event.message_index or false
    w.code[n] = type(reason) == "table" and reason.code or false
  else
    w[n] = event
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.print(CALLBACK_OK) -- reply(200, { ok = true }), without encoding it each time
  return ngx.exit(200)
end

-- The callbacks log: one JSON line per callback, with the recipient and the
-- CSV row of a delivery receipt when the ledger knows its batch, in
-- SINCH_BATCH_CALLBACK_LOG (default <prefix>/logs/callbacks.log).  Each
-- flush writes its lines with one write(2) on a file opened for appending,
-- so the workers' lines never interleave; when the file cannot be opened
-- the lines go to the error log instead.
local callback_log -- the open file, or false when it could not be opened
local function write_lines(lines)
  if #lines == 0 then return end
  if callback_log == nil then
    local path = os.getenv("SINCH_BATCH_CALLBACK_LOG") or (ngx.config.prefix() .. "logs/callbacks.log")
    local f, err = io.open(path, "a")
    if f then
      f:setvbuf("no") -- each write below is one write(2)
    else
      ngx.log(ngx.WARN, "callbacks log: ", err, "; logging callbacks to the error log")
    end
    callback_log = f or false
  end
  if callback_log then
    local ok, err = callback_log:write(table.concat(lines))
    if ok then return end
    ngx.log(ngx.ERR, "callbacks log: ", err)
  end
  for _, line in ipairs(lines) do
    if line ~= "\n" then ngx.log(ngx.NOTICE, "callback ", line) end
  end
end

-- one line (and its "\n", apart: no copy of the line to join them)
local function log_line(lines, kind, batch_id, status, index, code, hit)
  local entry = { type = kind, batch_id = batch_id, status = status, message_index = index }
  if kind == "message_delivery" then
    entry.reason_code = code
    if hit then
      entry.row, entry.recipient, entry.tag = hit.row, hit.recipient, hit.tag
      if hit.tag == CSV_TAG then entry.csv = csv_line(tonumber(hit.row)) end
    end
  end
  local n = #lines
  lines[n + 1], lines[n + 2] = cjson.encode(entry), "\n"
end

-- The log timer: log lines go out once the ledger knows their batch (a
-- receipt can overtake the ledger line: send() records the batch once the
-- API has answered, and the API may post callbacks before that), or after
-- LOG_TRIES rounds without it.  Receipts wait by batch, so a round asks the
-- ledger once per batch, not once per receipt.  The store joins rows
-- whenever they come.
local function flush(premature)
  if next(to_log) == nil then return end
  local l = get_ledger()
  local lines, still = {}, {}
  for key, w in pairs(to_log) do
    -- a batch the ledger does not know yet: a miss reads what the other
    -- workers appended, so it is asked once per round
    local known = key == true or not l or l:entry(key) ~= nil
    if known or premature or w.tries >= LOG_TRIES then
      if key == true then
        for i = 1, w.n do
          local e = w[i]
          log_line(lines, e.type, e.batch_id, e.status, e.message_index,
                   type(e.reason) == "table" and e.reason.code or nil, nil)
        end
      else
        local status, index, code = w.status, w.index, w.code
        for i = 1, w.n do
          local at = index[i] or nil
          log_line(lines, "message_delivery", key, status[i] or nil, at, code[i] or nil,
                   known and l and l:lookup(key, at) or nil)
        end
      end
    else
      w.tries = w.tries + 1
      still[key] = w
    end
  end
  to_log = still
  write_lines(lines)
end

--- init_worker_by_lua: starts the worker's log timer.
function _M.init_worker()
  local ok, err = ngx.timer.every(FLUSH_EVERY, flush)
  if not ok then ngx.log(ngx.ERR, "cannot start the receipts flush timer: ", err) end
  ok, err = ngx.timer.at(0, writer)
  if not ok then ngx.log(ngx.ERR, "cannot start the receipts writer: ", err) end
end

--- GET /report?campaign=TAG: the receipts store's report of the batches sent
-- with that ledger tag (all batches without one); as an HTML page
-- (sinch.batch.report_html) when the client accepts text/html.
function _M.report()
  local s, err = get_store()
  if not s then return reply(500, { error = "store", message = tostring(err) }) end
  local campaign = ngx.var.arg_campaign and ngx.unescape_uri(ngx.var.arg_campaign) or nil
  local r
  r, err = s:report(campaign)
  if not r then return reply(500, { error = "store", message = tostring(err) }) end
  if (ngx.var.http_accept or ""):find("text/html", 1, true) then -- a browser: the page
    local page, perr = require("sinch.batch.report_html").render(s, { campaign, n = 1 }, { reports = { r } })
    if not page then return reply(500, { error = "store", message = tostring(perr) }) end
    ngx.header["Content-Type"] = "text/html; charset=utf-8"
    ngx.print(page)
    return ngx.exit(200)
  end
  return reply(200, r)
end

return _M
