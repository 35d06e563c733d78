-- spec/support/cli.lua -- bin/sinch-batch as a process of a spec, under the
-- spec's own interpreter, configured for a sandbox (support.mock) and
-- nothing else of the environment (no token, region or auth URL).
--
--   local cli = require "support.cli"
--   local rc, out, err = cli.run(m, APP, { "send", "--csv", file })
local mock = require "support.mock"

local _M = {}

_M.LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local q = mock.shell_quote

--- Runs the tool to its end against the sandbox `m` (app id `app`): its
-- exit status, stdout and stderr.
function _M.run(m, app, args)
  local vars = { "SINCH_PROJECT_ID=" .. q(m.project_id), "SINCH_APP_ID=" .. q(app),
                 "SINCH_KEY_ID=" .. q(m.key_id), "SINCH_KEY_SECRET=" .. q(m.key_secret),
                 "SINCH_BATCH_BASE_URL=" .. q(m.url) }
  local parts = { "env -u SINCH_TOKEN -u SINCH_REGION -u SINCH_BATCH_AUTH_URL",
                  table.concat(vars, " "), _M.LUA, "bin/sinch-batch" }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local o = os.tmpname()
  assert(mock.run(("sh -c %s"):format(q(("%s >%s.out 2>%s.err; echo $? >%s.rc")
    :format(table.concat(parts, " "), o, o, o)))))
  local rc = tonumber(mock.read_file(o .. ".rc"):match("%d+"))
  local out, err = mock.read_file(o .. ".out"), mock.read_file(o .. ".err")
  for _, ext in ipairs{ "", ".out", ".err", ".rc" } do os.remove(o .. ext) end
  return rc, out, err
end

return _M
