--- Handlers of examples/openresty/nginx.conf.
--
-- One client per worker, made on first use: inside nginx the library picks
-- the cosocket transport by itself, so no handler ever blocks its worker.
local batch = require "sinch.batch"
local cjson = require "cjson.safe"

local _M = {}

local client -- per worker

local function get_client()
  if client then return client end
  local base_url = os.getenv("SINCH_BASE_URL")
  local c, err = batch.client{
    project_id = os.getenv("SINCH_PROJECT_ID"),
    app_id = os.getenv("SINCH_APP_ID") or "01EXAMPLEAPPXXXXXXXXXXXXXX",
    region = os.getenv("SINCH_REGION") or "eu",
    base_url = base_url, auth_url = base_url, -- nil: Sinch's own hosts
    key_id = os.getenv("SINCH_KEY_ID"),
    key_secret = os.getenv("SINCH_KEY_SECRET"),
    shared_dict = "sinch_tokens",
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

--- POST /callbacks: Sinch's signed callbacks (delivery reports, batch status)
function _M.callback()
  local raw = read_body()
  local ok, err = batch.webhook.verify(os.getenv("SINCH_WEBHOOK_SECRET") or "", ngx.req.get_headers(), raw)
  if not ok then
    ngx.log(ngx.WARN, "callback refused: ", err.message)
    return reply(401, { error = "signature" })
  end
  local event
  event, err = batch.webhook.parse(raw)
  if not event then return reply(400, { error = err.message }) end
  ngx.log(ngx.NOTICE, "callback ", event.type, " batch ", tostring(event.batch_id),
    " status ", tostring(event.status))
  return reply(200, { ok = true })
end

return _M
