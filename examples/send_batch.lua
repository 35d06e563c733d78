-- Sends one batch to three recipients with ${param} substitution, then
-- looks it up by id and by its batch_metadata tag.
--
-- Against the built-in sandbox (what `bash .ci/demo` does):
--   sinch-batch-mock --port 8080 &
--   SINCH_BATCH_BASE_URL=http://127.0.0.1:8080 lua5.4 examples/send_batch.lua
-- Against Sinch: set SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET,
-- SINCH_APP_ID and SINCH_REGION instead of SINCH_BATCH_BASE_URL.
local batch = require "sinch.batch"
local cjson = require "cjson"

local env = os.getenv
local base_url = env("SINCH_BATCH_BASE_URL")
local client = assert(batch.client{
  project_id = env("SINCH_PROJECT_ID") or "demo-project",
  app_id = env("SINCH_APP_ID") or "01DEMOAPP00000000000000000",
  region = env("SINCH_REGION") or "eu",
  base_url = base_url,
  auth_url = env("SINCH_BATCH_AUTH_URL") or base_url,
  key_id = env("SINCH_KEY_ID") or "demo-key",
  key_secret = env("SINCH_KEY_SECRET") or "demo-secret",
})
print("client:", tostring(client))

local M, R = batch.message, batch.recipient
local res, err = client:send{
  message = M.text("Hi ${name}, your code is ${code}"),
  batch_metadata = { campaign = "demo" },
  message_metadata = { campaign = "demo" },
  recipients = {
    { recipient = R.sms("+46700000001"), parameters = { name = "Ann", code = "1234" } },
    { recipient = R.sms("+46700000002"), parameters = { name = "Bo", code = "5678" } },
    { recipient = R.whatsapp("+46700000003"), parameters = { name = "Cy", code = "9012" } },
  },
}
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print("sent batch:", res.batch_id)

local st = assert(client:status(res.batch_id))
print("status:", cjson.encode(st))
local found = assert(client:find("campaign", "demo"))
print(("batches tagged campaign=demo: %d"):format(#found))
client:close()
