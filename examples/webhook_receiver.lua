-- A plain-Lua callback receiver (LuaSocket): verifies each Sinch callback,
-- parses it, ties delivery receipts back to the CSV row they were sent from
-- (through the ledger the sender wrote), logs one JSON line per callback on
-- stdout and, with --store, keeps every receipt in the receipts store
-- (sinch.batch.outcomes: SQLite, or PostgreSQL for receivers on several
-- hosts) for `sinch-batch report`.
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
--   --store URL     the receipts store: a file (SQLite, WAL: the CLI and other
--                   receivers on this host may share it), sqlite:FILE, or
--                   postgresql://user@host:port/db (receivers on several hosts)
--   --sync MODE     SQLite only: NORMAL (default: a receipt survives the
--                   process being killed) or FULL (it survives a power loss)
--   --wait S        how long a receipt's log line waits for its batch to
--                   reach the ledger (default 5; see below)
--   --max-body N    the largest body accepted, in bytes (default 65536)
--   --max-conns N   connections served at once (default 256)
--   --request-timeout S  a request's headers and body must arrive within S
--                   seconds of its first byte (default 10); an idle
--                   keep-alive connection is closed after 2 × S
--
-- Never lost once acknowledged: with --store, a receipt is answered 200 only
-- once it is committed to the store (Sinch does not resend a callback it got
-- a 2xx for).  The receipts that arrive together — from all connections
-- ready at once — share one transaction (group commit), so throughput stays
-- high; a store that cannot be written answers 503 and Sinch retries.
--
-- Abuse: connections are served concurrently (one socket.select loop, one
-- coroutine per connection) with keep-alive; a body over --max-body is
-- refused (413) from its Content-Length before a byte of it is read; more
-- than 64 header lines or a line over 8 KiB is refused (431); a request not
-- complete within --request-timeout gets 408.  A slow client only holds
-- its own connection.
--
-- A receipt can arrive before its batch is in the ledger: the API may post
-- callbacks before its answer to the send has reached the sender, which
-- records the batch only then.  Such a receipt is stored at once; it logs
-- {"waiting_for_batch":…} and its own line follows when the ledger has the
-- batch (or after --wait seconds, without its row).  No callback ever waits
-- for another's batch.  The store joins rows whenever they come (the
-- ledger's batches are copied into it at each write).
--
-- It answers 200 to every verified callback (Sinch retries anything else),
-- 401 when the signature check fails and 400 when the body is not JSON.
local socket = require "socket"
local cjson = require "cjson"
local webhook = require "sinch.batch.webhook"
local ledger_mod = require "sinch.batch.ledger"

local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume,
  coroutine.yield, coroutine.status
local byte, find, lower = string.byte, string.find, string.lower

local function usage(msg)
  io.stderr:write("webhook_receiver: ", msg, "\n")
  os.exit(2)
end

local opts = { secrets = {}, port = 8080, host = "127.0.0.1", wait = 5, max_body = 65536,
               max_conns = 256, request_timeout = 10 }
do
  local numeric = { ["--port"] = "port", ["--count"] = "count", ["--lifetime"] = "lifetime",
                    ["--wait"] = "wait", ["--max-body"] = "max_body", ["--max-conns"] = "max_conns",
                    ["--request-timeout"] = "request_timeout" }
  local i = 1
  while arg[i] do
    local k, v = arg[i], arg[i + 1]
    if v == nil then usage(k .. ": needs a value") end
    if numeric[k] then
      opts[numeric[k]] = tonumber(v)
      if not opts[numeric[k]] or opts[numeric[k]] < 0 then
        usage(k .. ": expected a number >= 0, got " .. v)
      end
    elseif k == "--secret" then opts.secrets[#opts.secrets + 1] = v
    elseif k == "--host" then opts.host = v
    elseif k == "--ledger" then opts.ledger = v
    elseif k == "--csv" then opts.csv = v
    elseif k == "--store" then opts.store = v
    elseif k == "--sync" then
      if v ~= "NORMAL" and v ~= "FULL" then usage("--sync: expected NORMAL or FULL, got " .. v) end
      opts.sync = v
    else usage(k .. ": unknown option") end
    i = i + 2
  end
end
if #opts.secrets == 0 then usage("--secret is required") end

local MAX_LINE = 8192      -- the request line
local MAX_HEADERS = 64     -- header lines per request
local MAX_HEADER_BYTES = 8192 -- all of them
local RECV = 16384         -- bytes asked of the socket at a time

-- the CSV, by line number (line 1 is the header)
local csv_lines = {}
if opts.csv then
  local f = assert(io.open(opts.csv, "rb"))
  for line in f:lines() do csv_lines[#csv_lines + 1] = (line:gsub("\r$", "")) end
  f:close()
end

local ledger = opts.ledger and assert(ledger_mod.open(opts.ledger))
local store -- nil while a store that went away (PostgreSQL restarting) is not back
local function open_store()
  return require("sinch.batch.store").open(opts.store, { synchronous = opts.sync })
end
if opts.store then
  local s, err = open_store()
  if not s then usage("--store: " .. tostring(err and err.message or err)) end
  store = s
end
local deadline = opts.lifetime and (socket.gettime() + opts.lifetime)

-- log lines are flushed once per round of the loop, not one by one
io.stdout:setvbuf("full")
local function log(t)
  io.stdout:write(cjson.encode(t), "\n")
end

local REASONS = { [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized",
                  [405] = "Method Not Allowed", [408] = "Request Timeout",
                  [411] = "Length Required", [413] = "Payload Too Large",
                  [431] = "Request Header Fields Too Large", [503] = "Service Unavailable" }

-- Nonces of callbacks already handled.  A nonce is recorded only once its
-- callback was handled (stored and answered 200): a callback that failed
-- half-way is processed again when Sinch retries it, and a repeat of a
-- handled one is acknowledged without being processed twice.
local handled = webhook.memory_store(100000)

local function nonce_of(headers)
  return headers["x-sinch-webhook-signature-nonce"]
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
server:settimeout(0)
local _, port = server:getsockname()
io.stdout:write("port=", port, "\n")
io.stdout:flush()

-- Log lines waiting for their batch, and the ledger batches already copied
-- into the store.
local waiting, imported = {}, {}

local function emit(entry)
  entry.event, entry.waiting = nil, nil
  log(entry)
end

-- Log lines whose batch has reached the ledger, or that waited long enough.
local function drain_waiting(force)
  if #waiting == 0 then return end
  local still, now = {}, socket.gettime()
  local in_ledger = {} -- asked once per batch and round: a miss reads the file again
  for _, entry in ipairs(waiting) do
    local known = in_ledger[entry.batch_id]
    if known == nil then
      known = ledger:entry(entry.batch_id) ~= nil
      in_ledger[entry.batch_id] = known
    end
    if known then -- known now: its row comes from that entry
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

-- The ledger's batches the store does not have yet.
local function import_batches()
  if not (store and ledger) then return true end
  for id, e in ledger:batches() do
    if not imported[id] then
      local ok, err = store:add_batch{ batch_id = id, campaign = e.tag, rows = e.rows }
      if not ok then return nil, err end
      imported[id] = true
    end
  end
  return true
end

---------------------------------------------------------------- connections
-- Each connection is a coroutine that yields "r" (wants to read), "w" (wants
-- to write) or "commit" (its receipt waits for the group's transaction).
local conns = {}       -- socket -> connection
local nconns = 0
local commit_queue = {} -- connections whose receipt waits for the store
local queued_at        -- when the first of them joined it
local MAX_LINGER = 0.002 -- seconds the group waits for more receipts at most

local function fill(c)
  local data, err, partial = c.sock:receive(RECV)
  data = data or partial
  if data and data ~= "" then
    c.buf = c.buf .. data
    c.got_bytes = true
    return true
  end
  if err == "timeout" then
    co_yield("r")
    return true
  end
  return nil, err
end

-- One line (without its CRLF); nil, "too long" past MAX_LINE.
local function read_line(c)
  while true do
    local i = c.buf:find("\n", 1, true)
    if i then
      if i > MAX_LINE + 2 then return nil, "too long" end
      local line = c.buf:sub(1, i - 1):gsub("\r$", "")
      c.buf = c.buf:sub(i + 1)
      return line
    end
    if #c.buf > MAX_LINE then return nil, "too long" end
    local ok, err = fill(c)
    if not ok then return nil, err end
  end
end

-- The header block up to its blank line, whole (one search per read, no
-- copy per line); nil, "too long" past MAX_HEADERS lines or MAX_HEADER_BYTES.
local function read_headers(c)
  local from = 1
  while true do
    local buf = c.buf
    if buf:find("^\r?\n") then -- no header at all
      c.buf = buf:sub(buf:sub(1, 1) == "\r" and 3 or 2)
      return ""
    end
    local i, j = buf:find("\n\r?\n", from)
    if i then
      if i > MAX_HEADER_BYTES then return nil, "too long" end
      c.buf = buf:sub(j + 1)
      return buf:sub(1, i)
    end
    local _, lines = buf:gsub("\n", "")
    if #buf > MAX_HEADER_BYTES or lines > MAX_HEADERS then return nil, "too long" end
    from = #buf > 2 and #buf - 2 or 1
    local ok, err = fill(c)
    if not ok then return nil, err end
  end
end

local function read_body(c, n)
  while #c.buf < n do
    local ok, err = fill(c)
    if not ok then return nil, err end
  end
  local body = c.buf:sub(1, n)
  c.buf = c.buf:sub(n + 1)
  return body
end

local function send_all(c, data)
  local i = 1
  while i <= #data do
    local n, err, last = c.sock:send(data, i)
    if n then return true end
    if err ~= "timeout" then return nil, err end
    i = last + 1
    co_yield("w")
  end
  return true
end

-- the answers, made once: [status][keep]
local ANSWERS = {}
for status, reason in pairs(REASONS) do
  ANSWERS[status] = {}
  for _, keep in ipairs{ true, false } do
    ANSWERS[status][keep] = ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
      .. "Connection: %s\r\n\r\n"):format(status, reason, keep and "keep-alive" or "close")
  end
end

local function respond(c, status, keep)
  return send_all(c, ANSWERS[status][keep and true or false])
end

local verified = 0

-- One request: the status it was answered, or nil when the connection is done.
local function serve_one(c)
  c.deadline = socket.gettime() + 2 * opts.request_timeout -- idle keep-alive
  c.got_bytes = c.buf ~= ""
  -- nothing buffered: wait for the socket to be readable rather than ask
  -- it for bytes a client answered a moment ago has not sent yet
  if not c.got_bytes then co_yield("r") end
  local line, err
  repeat -- a blank line between requests is allowed
    line, err = read_line(c)
    if not line then return nil, err == "too long" and 431 or nil end
  until line ~= ""
  c.deadline = socket.gettime() + opts.request_timeout -- the request must be complete by then
  local method, path, minor = line:match("^(%u+) (%S+) HTTP/1%.([01])$")
  if not method then return nil, 400 end
  local block
  block, err = read_headers(c)
  if not block then return nil, err == "too long" and 431 or nil end
  -- one anchored match per line: "name: value", then CRLF or LF (a line
  -- that is anything else, a bare CR among them, is refused)
  local headers, n, pos, size = {}, 0, 1, #block
  while pos <= size do
    local _, e, name, value = find(block, "^([^:%s]+):[ \t]*([^\r\n]*)\r?\n", pos)
    if not e then return nil, 400 end
    n = n + 1
    if n > MAX_HEADERS then return nil, 431 end
    local last = byte(value, -1)
    if last == 32 or last == 9 then value = value:match("^(.-)[ \t]*$") end
    headers[lower(name)] = value
    pos = e + 1
  end
  local conn_hdr = (headers["connection"] or ""):lower()
  local keep = conn_hdr ~= "close" and (minor == "1" or conn_hdr == "keep-alive")
  if method ~= "POST" then return nil, 405 end
  if headers["transfer-encoding"] then return nil, 411 end -- Sinch sends a Content-Length
  local len = headers["content-length"]
  if not len then return nil, 411 end
  len = len:match("^%d+$") and tonumber(len)
  if not len then return nil, 400 end
  if len > opts.max_body then return nil, 413 end -- refused before reading a byte of it
  local body
  body = read_body(c, len)
  if not body then return nil, nil end
  local status, entry = handle(headers, body)
  entry.path = path
  if status == 200 and entry.event and opts.store then
    c.event, c.result = entry.event, nil
    if #commit_queue == 0 then queued_at = socket.gettime() end
    commit_queue[#commit_queue + 1] = c
    co_yield("commit")        -- the group's transaction ran: c.result says how
    if not c.result then status = 503 end
  end
  if status == 200 and not entry.duplicate then handled:seen(nonce_of(headers)) end
  local ok = respond(c, status, keep)
  if status == 503 then
    log({ verified = true, stored = false, error = tostring(c.store_error) })
  elseif entry.waiting then
    log({ waiting_for_batch = entry.batch_id })
    waiting[#waiting + 1] = entry
  else
    emit(entry)
  end
  if entry.verified then verified = verified + 1 end
  if not ok or not keep then return nil end
  return status
end

local function serve(c)
  while true do
    local status, refuse = serve_one(c)
    if not status then
      if refuse then respond(c, refuse, false) end
      return
    end
    if opts.count and verified >= opts.count then return end
  end
end

local function close_conn(c)
  conns[c.sock] = nil
  nconns = nconns - 1
  c.sock:close()
end

-- Resumes a connection's coroutine; closes the connection when it ends.
local function step(c, ...)
  local ok, want = co_resume(c.co, ...)
  if not ok then
    io.stderr:write("webhook_receiver: ", tostring(want), "\n")
    want = nil
  end
  if co_status(c.co) == "dead" then
    close_conn(c)
  else
    c.want = want
  end
end

local function accept()
  while nconns < opts.max_conns do
    local s = server:accept()
    if not s then return end
    s:settimeout(0)
    s:setoption("tcp-nodelay", true)
    local c = { sock = s, buf = "", want = "r" }
    c.co = co_create(function() return serve(c) end)
    conns[s] = c
    nconns = nconns + 1
    step(c)
  end
end

-- The group commit: every receipt waiting, in one transaction.  On
-- PostgreSQL (store.send_many) the group is sent and the loop goes on
-- reading the next group's requests while the server commits (its commit
-- waits for its disk); the group's answers go out once it has.
local inflight -- the group PostgreSQL is committing

local function answer(group, ok, err)
  if ok == nil and store then -- a connection that broke is opened again for the next group
    store:close()
    store = nil
  end
  for _, c in ipairs(group) do
    c.result, c.store_error, c.event = ok ~= nil, err, nil
    if conns[c.sock] then step(c) end
  end
end

local function commit()
  if #commit_queue == 0 or inflight then return end
  local group = commit_queue
  commit_queue = {}
  local events = {}
  for i, c in ipairs(group) do events[i] = c.event end
  if not store then
    local oerr
    store, oerr = open_store()
    if not store then return answer(group, nil, oerr) end -- 503: Sinch sends them again
    imported = {}
  end
  local ok, err = import_batches()
  if ok and store.send_many then
    ok, err = store:send_many(events)
    if ok == true then
      inflight = group
      return
    end
  elseif ok then
    ok, err = store:add_many(events)
  end
  answer(group, ok, err)
end

-- the group in flight, once PostgreSQL has answered
local function committed()
  local n, err = store:poll_many()
  if n == false then return end
  local group = inflight
  inflight = nil
  answer(group, n, err)
  commit() -- the next group, gathered meanwhile
end

local function timeouts(now)
  for _, c in pairs(conns) do
    if c.want ~= "commit" and now > c.deadline then
      if c.got_bytes then -- a request under way: tell it (best effort, no waiting)
        c.sock:send(("HTTP/1.1 408 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
          :format(REASONS[408]))
      end
      close_conn(c)
    end
  end
end

local last_check = socket.gettime()
while not (opts.count and verified >= opts.count) do
  local now = socket.gettime()
  if deadline and now > deadline then break end
  local readers, writers = {}, {}
  if nconns < opts.max_conns then readers[1] = server end
  if inflight then readers[#readers + 1] = store.pollable end
  for s, c in pairs(conns) do
    if c.want == "r" then readers[#readers + 1] = s
    elseif c.want == "w" then writers[#writers + 1] = s end
  end
  local r, w = socket.select(readers, writers, #commit_queue > 0 and not inflight and 0 or 0.05)
  local quiet = #r == 0 and #w == 0
  for _, s in ipairs(w) do
    local c = conns[s]
    if c and c.want == "w" then step(c) end
  end
  for _, s in ipairs(r) do
    if s == server then
      accept()
    elseif store and s == store.pollable then
      committed()
    else
      local c = conns[s]
      if c and c.want == "r" then step(c) end
    end
  end
  -- The group is committed once no socket has anything more for it (a
  -- select that waited for nothing found nothing), once every connection
  -- waits for it, or MAX_LINGER after its first receipt came: a client that
  -- sends its next request only once answered joins the group that is
  -- forming rather than one of its own, and no busy socket holds it back.
  if quiet or #commit_queue >= nconns or (#commit_queue > 0 and now - queued_at > MAX_LINGER) then
    commit()
  end
  io.stdout:flush()
  now = socket.gettime()
  if now - last_check >= 0.05 then
    timeouts(now)
    drain_waiting(false)
    last_check = now
  end
end
-- the group being written, and any gathered meanwhile, are answered first
-- (for --request-timeout at most: a store that never answers leaves them
-- unanswered, and Sinch sends them again)
local drain_by = socket.gettime() + opts.request_timeout
while inflight and socket.gettime() < drain_by do
  socket.select({ store.pollable }, nil, 1)
  committed()
end
-- every answer sent; the batches the ledger learnt meanwhile go to the store,
-- and waiting lines get their batch or time out
for _, c in pairs(conns) do c.sock:close() end
while #waiting > 0 and not (deadline and socket.gettime() > deadline) do
  drain_waiting(false)
  io.stdout:flush()
  if #waiting > 0 then socket.sleep(0.05) end
end
drain_waiting(true)
io.stdout:flush()
if store then import_batches() end
server:close()
if ledger then ledger:close() end
if store then store:close() end
