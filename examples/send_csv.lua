-- Sends a CSV contact list in batches of up to 1000: rows go from the file
-- straight into the request body (in C), one batch at a time, and every
-- batch remembers the CSV line of each recipient.
--
--   lua5.4 examples/send_csv.lua contacts.csv
--
-- contacts.csv has a header row; here: channel,identity,name,code (any
-- other column becomes a ${parameter}; a contact_id column sends to a
-- contact instead).  Bad rows are skipped and listed with their line.
--
-- Against the built-in sandbox:
--   sinch-batch-mock --port 8080 &
--   SINCH_BATCH_BASE_URL=http://127.0.0.1:8080 lua5.4 examples/send_csv.lua \
--     spec/fixtures/csv/basic.csv
-- Against Sinch: set SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET,
-- SINCH_APP_ID and SINCH_REGION instead of SINCH_BATCH_BASE_URL.
local batch = require "sinch.batch"

local env = os.getenv
local path = arg[1] or "spec/fixtures/csv/basic.csv"
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

-- one builder, reused for every chunk
local b = assert(client:batch{
  message = batch.message.text("Hi ${name}, your code is ${code}"),
  batch_metadata = { campaign = "csv-demo" },
})

local src, err = batch.chunk.csv(path, { builder = b, dedupe = true })
if not src then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local sent = 0
for c in src do
  local res
  res, err = client:send(b, { rows = c.rows })
  if not res then
    -- may_have_been_processed: look the batch up (client:find) before resending
    io.stderr:write(("lines %d-%d: %s\n"):format(c.rows[1], c.rows[#c.rows], tostring(err)))
    os.exit(1)
  end
  sent = sent + c.count
  -- a FAILED receipt's messageIndex maps back to its line: c.rows[index + 1]
  print(("batch %s: %d recipients, CSV lines %d-%d"):format(res.batch_id, c.count, c.rows[1],
    c.rows[#c.rows]))
end
print(("sent to %d recipients"):format(sent))
for _, bad in ipairs(src.bad) do
  print(("skipped line %d: %s"):format(bad.line, bad.reason))
end
client:close()
