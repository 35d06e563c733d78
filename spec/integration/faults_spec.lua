-- The fault matrix (spec/support/faults.lua) through the libcurl transport,
-- from the Lua facade: the same scenarios and the same pass condition as the
-- nginx transport's (spec/integration/nginx_spec.lua).  A send whose body
-- may have left is never resent and, when it fails, says
-- may_have_been_processed.
local batch = require "sinch.batch"
local faults = require "support.faults"

describe("the fault matrix through the curl transport", function()
  local rows = {}
  teardown(function()
    faults.print("fault matrix, curl transport: scenario x POSTs seen x outcome", rows)
  end)

  for _, sc in ipairs(faults.SCENARIOS) do
    it(("%s: the server %s; the batch is sent once"):format(sc.name, sc.what), function()
      local srv = faults.start(sc.name)
      local ok_run, res, err = pcall(function()
        local client = assert(batch.client{
          transport = "curl", project_id = "demo-project", app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
          base_url = srv.url, auth_url = srv.url, key_id = "demo-key", key_secret = "demo-secret",
          timeout = sc.timeout or 5, max_attempts = 3, backoff_base = 0.01, seed = 7 })
        local r, e = client:send{ message = batch.message.text("fault"),
                                  recipients = { { recipient = batch.recipient.sms("+46700000001") } } }
        client:close()
        return r, e
      end)
      local posts, bodies, reused = srv:posts()
      srv:stop()
      assert(ok_run, res)
      rows[#rows + 1] = faults.row("curl", sc, posts, bodies, reused, faults.outcome(res, err))
      -- libcurl may resend a request whose body had not left (reset_before_body)
      faults.check(sc, { posts = posts, bodies = bodies, reused = reused, result = res, err = err },
                   true)
    end)
  end
end)
