-- The fault matrix against the libcurl transport: every scenario of
-- spec/support/faults.lua, played by a scripted raw server on 127.0.0.1,
-- through the Lua client's send.  Pass condition: no send is made twice
-- once its body may have left (POSTs seen <= sends), and a send that failed
-- after that says may_have_been_processed.  Prints
-- scenario × requests seen × outcome.
local batch = require "sinch.batch"
local faults = require "support.faults"

local BODY = '{"app_id":"01APP","message":{"text_message":{"text":"hi"}},'
  .. '"recipient_and_params":[{"recipient":{"identified_by":{"channel_identities":'
  .. '[{"channel":"SMS","identity":"+46700000001"}]}}}]}'

describe("fault matrix, libcurl transport", function()
  local rows = {}

  teardown(function()
    faults.print("fault matrix (curl): scenario × POSTs seen × outcome", rows)
  end)

  for _, sc in ipairs(faults.SCENARIOS) do
    it(sc.name .. ": " .. sc.what, function()
      local srv = faults.start(sc.name, 30)
      local ok, err = pcall(function()
        local client = assert(batch.client{
          project_id = "fault-project", base_url = srv.url, auth_url = srv.url,
          key_id = "fault-key", key_secret = "fault-secret-0123456789", transport = "curl",
          timeout = sc.timeout or 5, connect_timeout = 2, deadline = 10, max_attempts = 3,
          backoff_base = 0.01, http2 = false,
        })
        local outcomes, results = {}, {}
        for i = 1, sc.sends or 1 do
          local res, e = client:send{ body = BODY }
          results[i] = { res = res, err = e }
          outcomes[i] = faults.outcome(res, e)
        end
        client:close()
        local posts, reused = srv:posts()
        rows[#rows + 1] = faults.row("curl", sc, posts, reused, table.concat(outcomes, ", "))

        -- never twice: one POST per send at most
        assert.is_true(posts <= (sc.sends or 1),
          sc.name .. ": " .. posts .. " POSTs for " .. (sc.sends or 1) .. " send(s)")
        assert.is_true(posts >= 1, sc.name .. ": the server saw no POST")
        assert.is_true(reused, sc.name .. ": the first POST did not reuse the token connection")
        for i, r in ipairs(results) do
          if sc.ok or i > 1 then
            assert.is_truthy(r.res, sc.name .. " send " .. i .. ": " .. outcomes[i])
          else
            -- the body may have left: ambiguous, never resent, never success
            assert.is_nil(r.res, sc.name .. ": a failed exchange reported success")
            assert.is_true(r.err.may_have_been_processed,
              sc.name .. ": no may_have_been_processed: " .. tostring(r.err.message))
            assert.is_false(r.err.retryable)
            if sc.kind then assert.equals(sc.kind, r.err.kind) end
            -- no secret in what the caller sees
            assert.is_nil(tostring(r.err.message):find("fault-secret-0123456789", 1, true))
            assert.is_nil(tostring(r.err.message):find("fault-token-0123456789", 1, true))
          end
        end
      end)
      srv:stop()
      if not ok then error(err, 0) end
    end)
  end
end)
