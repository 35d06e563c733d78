-- A plain-Lua callback receiver (LuaSocket): verifies each Sinch callback,
-- parses it, ties delivery receipts back to the CSV row they were sent from
-- (through the ledger the sender wrote), logs one JSON line per callback on
-- stdout and, with --store, keeps every receipt in the receipts store
-- (sinch.batch.outcomes, SQLite) for `sinch-batch report`.
--
--   lua5.4 examples/webhook_receiver.lua --secret S --ledger spring.ledger \
--          --csv contacts.csv --store spring.receipts --port 8080
--
-- Options:
--   --secret S      webhook secret (repeat it while rotating: any one matches)
--   --port N        port to listen on; 0 picks a free one (default 8080);
--                   the first line of stdout is then port=N
--   --host ADDR     address to bind (default 127.0.0.1)
--   --ledger FILE   the ledger written by the sender (client{ ledger = … })
--   --csv FILE      the CSV the batches were built from; the ledger's rows are
--                   its line numbers, and the logged line carries that row
--   --count N       exit after N verified callbacks (default: run forever)
--   --lifetime S    exit after S seconds whatever happens (default: never)
--   --store FILE    the receipts store (SQLite, WAL: the CLI and other
--                   receivers may share it); receipts are written in groups
--                   (every 500, or when 0.2 s pass without a callback)
--   --wait S        how long a receipt's log line waits for its batch to
--                   reach the ledger (default 5; see below)
--
-- A receipt can arrive before its batch is in the ledger: the API may post
-- callbacks before its answer to the send has reached the sender, which
-- records the batch only then.  Such a receipt is answered and stored at
-- once; it logs {"waiting_for_batch":…} and its own line follows when the
-- ledger has the batch (or after --wait seconds, without its row).  No
-- callback ever waits for another's batch.  The store joins rows whenever
-- they come (the ledger's batches are copied into it at each write).
--
-- It answers 200 to every verified callback (Sinch retries anything else),
-- 401 when the signature check fails and 400 when the body is not JSON.
-- Receipts in the current group (at most 0.2 s of them) are lost if the
-- process dies before writing them: they were answered already.
local socket = require "socket"
local cjson = require "cjson"
local webhook = require "sinch.batch.webhook"
local ledger_mod = require "sinch.batch.ledger"

local function usage(msg)
  io.stderr:write("webhook_receiver: ", msg, "\n")
  os.exit(2)
end

local opts = { secrets = {}, port = 8080, host = "127.0.0.1", wait = 5 }
do
  local i = 1
  while arg[i] do
    local k, v = arg[i], arg[i + 1]
    if v == nil then usage(k .. ": needs a value") end
    if k == "--secret" then opts.secrets[#opts.secrets + 1] = v
    elseif k == "--port" then opts.port = tonumber(v)
    elseif k == "--host" then opts.host = v
    elseif k == "--ledger" then opts.ledger = v
    elseif k == "--csv" then opts.csv = v
    elseif k == "--count" then opts.count = tonumber(v)
    elseif k == "--lifetime" then opts.lifetime = tonumber(v)
    elseif k == "--wait" then opts.wait = tonumber(v)
    elseif k == "--store" then opts.store = v
    else usage(k .. ": unknown option") end
    i = i + 2
  end
end
if #opts.secrets == 0 then usage("--secret is required") end

-- the CSV, by line number (line 1 is the header)
local csv_lines = {}
if opts.csv then
  local f = assert(io.open(opts.csv, "rb"))
  for line in f:lines() do csv_lines[#csv_lines + 1] = (line:gsub("\r$", "")) end
  f:close()
end

local ledger = opts.ledger and assert(ledger_mod.open(opts.ledger))
local store = opts.store and assert(require("sinch.batch.outcomes").open(opts.store))
local deadline = opts.lifetime and (socket.gettime() + opts.lifetime)

local function log(t)
  io.stdout:write(cjson.encode(t), "\n")
  io.stdout:flush()
end

-- One HTTP/1.1 request: method, path, headers (as sent), body.
local function read_request(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local method, path = line:match("^(%u+) (%S+) HTTP/1%.[01]$")
  if not method then return nil, "bad request line" end
  local headers = {}
  while true do
    local h, herr = c:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name] = value end
  end
  local len
  for name, value in pairs(headers) do
    if name:lower() == "content-length" then len = tonumber(value) end
  end
  if not len then return method, path, headers, nil end
  local body, berr = c:receive(len)
  if not body then return nil, berr end
  return method, path, headers, body
end

local REASONS = { [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized",
                  [405] = "Method Not Allowed", [411] = "Length Required" }

local function respond(c, status, text)
  text = text or ""
  c:send(("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
          .. "Connection: close\r\n\r\n%s"):format(status, REASONS[status], #text, text))
end

-- Nonces of callbacks already handled.  A nonce is recorded only once its
-- callback was handled (answered 200): a callback that failed half-way is
-- processed again when Sinch retries it, and a repeat of a handled one is
-- acknowledged without being processed twice.
local handled = webhook.memory_store(100000)

local function nonce_of(headers)
  for name, value in pairs(headers) do
    if name:lower() == "x-sinch-webhook-signature-nonce" then return value end
  end
end

-- Verify, parse, map: the answer's status and the log line.
local function handle(headers, body)
  -- The signature and the timestamp's age (tolerance, 300 s by default): a
  -- receiver down for longer refuses Sinch's retries of what it missed; pass a
  -- larger tolerance (or false) if that matters more than a bounded window.
  local ok, err = webhook.verify(opts.secrets, headers, body)
  if not ok then
    -- err.message names the failed check, never a secret or a signature
    return 401, { verified = false, reason = err.reason, error = err.message }
  end
  if handled:has(nonce_of(headers)) then
    return 200, { verified = true, duplicate = true }
  end
  local ev, perr = webhook.parse(body)
  if not ev then return 400, { verified = true, error = perr.message } end
  local entry = { verified = true, type = ev.type, status = ev.status,
                  batch_id = ev.batch_id, message_index = ev.message_index }
  if ev.type == "message_delivery" then
    entry.reason_code = ev.reason and ev.reason.code
    entry.identity = ev.channel_identity and ev.channel_identity.identity
    -- the batch first, then the row from that same entry: two reads of a
    -- file the sender is appending to could disagree
    local known = ledger and ev.batch_id and ev.message_index and ledger:entry(ev.batch_id)
    if known then
      local hit = ledger:lookup(ev.batch_id, ev.message_index)
      if hit then
        entry.row, entry.recipient, entry.tag = hit.row, hit.recipient, hit.tag
        entry.csv = csv_lines[tonumber(hit.row)]
      end
    elseif ledger and ev.batch_id and ev.message_index then
      entry.waiting = socket.gettime() + (opts.wait or 0) -- logged once the batch is known
    end
  end
  entry.event = ev
  return 200, entry
end

local server = assert(socket.bind(opts.host, opts.port))
server:settimeout(1) -- wake up now and then to honour --lifetime
local _, port = server:getsockname()
io.stdout:write("port=", port, "\n")
io.stdout:flush()

-- Receipts not yet in the store, and log lines waiting for their batch.
local queue, waiting = {}, {}
local imported = {} -- ledger batches already copied into the store

local function flush()
  if not store then return end
  if ledger then
    for id, e in ledger:batches() do
      if not imported[id] then
        assert(store:add_batch{ batch_id = id, campaign = e.tag, rows = e.rows })
        imported[id] = true
      end
    end
  end
  if #queue > 0 then assert(store:add_many(queue)) end
  queue = {}
end

local function emit(entry)
  entry.event, entry.waiting = nil, nil
  log(entry)
end

-- Log lines whose batch has reached the ledger, or that waited long enough.
local function drain_waiting(force)
  if #waiting == 0 then return end
  local still, now = {}, socket.gettime()
  for _, entry in ipairs(waiting) do
    if ledger:entry(entry.batch_id) then -- known now: its row comes from that entry
      local hit = ledger:lookup(entry.batch_id, entry.message_index)
      if hit then
        entry.row, entry.recipient, entry.tag = hit.row, hit.recipient, hit.tag
        entry.csv = csv_lines[tonumber(hit.row)]
      end
      emit(entry)
    elseif force or now > entry.waiting then
      emit(entry)
    else
      still[#still + 1] = entry
    end
  end
  waiting = still
end

local verified = 0
local last_flush = socket.gettime()
server:settimeout(0.05) -- a tick to write the store and the waiting log lines
while not (opts.count and verified >= opts.count) do
  if deadline and socket.gettime() > deadline then break end
  local c = server:accept()
  if c then
    c:settimeout(10)
    local method, path, headers, body = read_request(c)
    if method == "POST" and body then
      local status, entry = handle(headers, body)
      entry.path = path
      if status == 200 and not entry.duplicate then handled:seen(nonce_of(headers)) end
      respond(c, status)
      if entry.event and status == 200 then queue[#queue + 1] = entry.event end
      if entry.waiting then
        log({ waiting_for_batch = entry.batch_id })
        waiting[#waiting + 1] = entry
      else
        emit(entry)
      end
      if entry.verified then verified = verified + 1 end
    elseif method == "POST" then
      respond(c, 411)
    elseif method then
      respond(c, 405)
    end
    c:close()
  end
  local now = socket.gettime()
  if #queue >= 500 or (#queue > 0 and not c) or now - last_flush >= 0.2 then
    flush()
    last_flush = now
  end
  drain_waiting(false)
end
-- the last receipts go to the store; waiting lines get their batch or time out
flush()
while #waiting > 0 and not (deadline and socket.gettime() > deadline) do
  drain_waiting(false)
  if #waiting > 0 then socket.sleep(0.05) end
end
drain_waiting(true)
flush() -- the batches the ledger learnt meanwhile
server:close()
if ledger then ledger:close() end
if store then store:close() end
