-- Handler for spec/integration/campaign_spec.lua, run inside nginx: a small
-- campaign on cosockets (light threads), answering its report as JSON.
--   GET /campaign?n=2500&c=3[&rate=400][&journal=/path]
local batch = require "sinch.batch"
local cjson = require "cjson.safe"

local _M = {}

function _M.run()
  local args = ngx.req.get_uri_args()
  local n, conc, rate = tonumber(args.n) or 2500, tonumber(args.c) or 3, tonumber(args.rate) or 400
  local client = assert(batch.client{ project_id = "demo-project", app_id = "01APPIDXXXXXXXXXXXXXXXXXXX",
    base_url = ngx.var.mock_url, auth_url = ngx.var.mock_url, key_id = "demo-key",
    key_secret = "demo-secret", transport = "ngx" })
  local list = {}
  for i = 1, n do
    list[i] = { recipient = batch.recipient.sms(("+4672%07d"):format(i)), parameters = { name = "n" .. i } }
  end
  -- a timer ticks while the campaign runs: the worker is never blocked
  local ticks = 0
  local function tick(premature)
    if premature or ticks < 0 then return end
    ticks = ticks + 1
    ngx.timer.at(0.005, tick)
  end
  ngx.timer.at(0, tick)
  local report, err = client:campaign{ message = batch.message.text("Hi ${name}"), source = list,
                                       concurrency = conc, rate = rate, journal = args.journal }
  local t = ticks
  ticks = -1
  ngx.say(cjson.encode{ report = report, err = err and tostring(err), ticks = t,
                        driver = report and report.driver,
                        syncs = require("sinch.batch.journal").stats })
end

return _M
