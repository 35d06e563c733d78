--- sinch.batch.cli: bin/sinch-batch's dispatcher over its command modules
-- (send, ops: status/find/cancel, contacts, report).  main(arg) returns the
-- exit status; an unexpected error is one clean line, never a stack trace.
local common = require "sinch.batch.cli.common"

local type, tostring = type, tostring
local fmt = string.format

local _M = {}

local USAGE = [==[
usage: sinch-batch COMMAND [options]       (sinch-batch COMMAND --help for its options)
  send --text TEXT (--to NUMBER... | --csv FILE) [--journal FILE]
       [--channel SMS] [--param K=V...] [--tag K=V] [--send-after RFC3339]
       [--concurrency N] [--rate N] [--dedupe] [--dry-run [--bodies]]
  send --resume JOURNAL
  status BATCH_ID
  find KEY VALUE
  cancel BATCH_ID | cancel --tag K=V
  create-contacts --csv FILE [--channel NAME] [--language EN_US]
  report --store URL [--journal FILE...] [--json] [--failed-csv FILE] [--html FILE] [--force] [--watch [S]]
  delete-contacts CONTACT_ID...
  consents TYPE IDENTIFICATION...      (TYPE: OPT_OUT_ALL, OPT_OUT_MARKETING, OPT_OUT_NOTIFICATION)
  --version, --help, --json-errors
environment: SINCH_PROJECT_ID SINCH_APP_ID SINCH_REGION SINCH_KEY_ID SINCH_KEY_SECRET
             SINCH_TOKEN SINCH_BATCH_BASE_URL SINCH_BATCH_AUTH_URL
]==] .. common.EXIT

-- name -> { module, function name }
local COMMANDS = {
  send = { "send", "run" }, status = { "ops", "status" }, find = { "ops", "find" },
  cancel = { "ops", "cancel" }, report = { "report", "run" },
  ["create-contacts"] = { "contacts", "create-contacts" },
  ["delete-contacts"] = { "contacts", "delete-contacts" }, consents = { "contacts", "consents" },
}

-- what the command modules written against a context table use
local ctx = { parse = common.parse, usage = common.usage, die = common.die, out = common.out,
              errline = common.errline, kv = common.kv, csv_columns = common.csv_columns,
              client = common.client, write_file = common.write_file,
              input_file = common.input_file }

local function help_of(name)
  local c = COMMANDS[name]
  if not c then return nil end
  local m = require("sinch.batch.cli." .. c[1])
  local h = m.HELP
  if type(h) == "table" then h = h[c[2]] end
  return h
end

common.help_of = help_of

local function run(argv)
  local cmd = argv[1]
  if cmd == nil then common.usage("no command given") end
  if cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.stdout:write(argv[2] and help_of(argv[2]) or USAGE)
    return 0
  end
  if cmd == "--version" or cmd == "version" then
    local batch = require "sinch.batch"
    io.stdout:write(fmt("sinch-batch %s (%s, %s)\n", batch._VERSION, require("sinch.batch.curl").version,
      rawget(_G, "jit") and jit.version or _VERSION)) -- luacheck: ignore 113
    return 0
  end
  local c = COMMANDS[cmd]
  if not c then common.usage("unknown command " .. cmd) end
  table.remove(argv, 1)
  local m = require("sinch.batch.cli." .. c[1])
  if c[1] == "send" or c[1] == "ops" then return m[c[2]](argv) or 0 end
  if c[1] == "report" then return m.run(argv, ctx) or 0 end
  return m[c[2]](argv, ctx) or 0
end

function _M.main(arg)
  local argv = {}
  for i = 1, #arg do
    if arg[i] == "--json-errors" then common.json_errors = true end
    if arg[i] ~= "--json-errors" or i > 1 then argv[#argv + 1] = arg[i] end
  end
  io.stdout:setvbuf("line")
  local ok, rc = xpcall(function() return run(argv) end, function(e)
    if type(e) == "table" and e.kind then return e end
    return (tostring(e):gsub("^[^:]*%.lua:%d+: ", ""))
  end)
  if not ok then common.die(type(rc) == "table" and rc or ("internal error: " .. tostring(rc))) end
  io.stdout:flush()
  return rc
end

return _M
