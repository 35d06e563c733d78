--- Handlers of examples/openresty/nginx.conf.
--
-- One client per worker, made on first use: inside nginx the library picks
-- the cosocket transport by itself, so no handler ever blocks its worker.
-- Every accepted batch is recorded in a ledger (SINCH_BATCH_LEDGER), so that
-- the callback handler can tie each delivery receipt back to its recipient
-- and to the CSV row (SINCH_BATCH_CSV) it was sent from.  All workers append to the
-- same ledger file; a worker that meets a batch it does not know reads what
-- the others appended.
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

local client, ledger -- per worker

local function get_ledger()
  if ledger then return ledger end
  local path = os.getenv("SINCH_BATCH_LEDGER") or (ngx.config.prefix() .. "ledger/example.ledger")
  local l, err = ledger_mod.open(path)
  if not l then return nil, err end
  ledger = l
  return ledger
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
-- callback is refused even when another worker took the first copy.
local nonces = {
  seen = function(_, nonce, ttl)
    local ok, err = ngx.shared.sinch_nonces:add(nonce, true, ttl)
    return not ok and err == "exists"
  end,
}

function _M.callback()
  local secret = os.getenv("SINCH_WEBHOOK_SECRET")
  if secret == nil or secret == "" then
    -- an empty key would accept callbacks anyone can sign
    ngx.log(ngx.ERR, "SINCH_WEBHOOK_SECRET is not set: refusing callbacks")
    return reply(503, { error = "not configured" })
  end
  local raw = read_body()
  local ok, err = batch.webhook.verify(secret, ngx.req.get_headers(), raw, { replay = nonces })
  if not ok then
    -- err.message names the failed check, never a secret or a signature
    ngx.log(ngx.WARN, "callback refused: ", err.message)
    return reply(401, { error = "signature" })
  end
  local event
  event, err = batch.webhook.parse(raw)
  if not event then return reply(400, { error = err.message }) end
  local entry = { type = event.type, batch_id = event.batch_id, status = event.status,
                  message_index = event.message_index }
  if event.type == "message_delivery" and event.batch_id and event.message_index then
    entry.reason_code = event.reason and event.reason.code
    local l = get_ledger()
    local hit = l and l:lookup(event.batch_id, event.message_index)
    -- a receipt can overtake the ledger line of its batch: send() records
    -- the batch once the API's answer is in, and the API may post callbacks
    -- before that answer arrives.  Wait a little for an unknown batch (the
    -- worker keeps serving meanwhile).
    for _ = 1, 40 do
      if hit or not l or l:entry(event.batch_id) then break end
      ngx.sleep(0.05)
      hit = l:lookup(event.batch_id, event.message_index)
    end
    if hit then
      entry.row, entry.recipient, entry.tag = hit.row, hit.recipient, hit.tag
      if hit.tag == CSV_TAG then entry.csv = csv_line(tonumber(hit.row)) end
    end
  end
  ngx.log(ngx.NOTICE, "callback ", cjson.encode(entry))
  return reply(200, { ok = true })
end

return _M
