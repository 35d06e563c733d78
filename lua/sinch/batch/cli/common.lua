--- sinch.batch.cli.common: what every command of bin/sinch-batch shares:
-- strict option parsing, one-line errors and exit codes, JSON lines on
-- stdout, the client from the environment, shell quoting, files the tool
-- writes (0600, never through a symlink, never over a file unless --force).
local batch = require "sinch.batch"
local cjson = require "cjson"

local type, pairs, tostring, tonumber, pcall = type, pairs, tostring, tonumber, pcall
local fmt = string.format

local _M = { json_errors = false }

_M.EXIT = [[
exit status: 0 done, every row sent; 1 failed (the API, the network or the input
  said no); 2 bad usage (nothing sent); 3 done, but rows were skipped (bad or
  duplicate rows, listed on stderr); 4 interrupted, or sends left ambiguous:
  run again with --resume JOURNAL to finish exactly once.
]]

-- Something on stderr that stdout lines must not stick to (the progress line).
local pending_line = false
function _M.progress(text)
  io.stderr:write("\r\27[K", text)
  pending_line = true
end
function _M.clear_progress()
  if pending_line then
    io.stderr:write("\r\27[K")
    pending_line = false
  end
end

function _M.errline(kind, msg, code, extra)
  _M.clear_progress()
  if _M.json_errors then
    local e = { kind = kind, message = msg, exit = code }
    for k, v in pairs(extra or {}) do e[k] = v end
    io.stderr:write(cjson.encode{ error = e }, "\n")
  else
    io.stderr:write("sinch-batch: ", msg, "\n")
  end
end

--- A usage error: one line, pointing to --help; exit 2.
function _M.usage(msg, cmd)
  _M.errline("usage", fmt("%s (see: sinch-batch %s--help)", msg, cmd and cmd .. " " or ""), 2)
  os.exit(2)
end

function _M.die(err, code)
  local msg = type(err) == "table" and err.message or tostring(err)
  local kind = type(err) == "table" and err.kind or "error"
  if not _M.json_errors and type(err) == "table" and err.kind then msg = tostring(err) end
  _M.errline(kind, msg, code or 1, type(err) == "table" and { status = err.status } or nil)
  os.exit(code or 1)
end

function _M.out(v)
  _M.clear_progress()
  io.stdout:write(cjson.encode(v), "\n")
end

--- 'text' for a POSIX shell: what is printed for a person to paste.
function _M.shell_quote(s)
  s = tostring(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function _M.kv(s, what, cmd)
  local k, v = tostring(s):match("^([^=]+)=(.*)$")
  if not k then _M.usage(what .. ": expected KEY=VALUE, got " .. tostring(s), cmd) end
  return k, v
end

-- Strict options: spec[name] = "value" | "list" | "flag"; --name=value works
-- for values; an unknown option, a missing value, a value given to a flag or
-- an unexpected argument is a usage error.  npos: positionals allowed (nil: any).
function _M.parse(cmd, argv, spec, npos, help)
  local opts, pos, i = {}, {}, 1
  spec["json-errors"] = "flag"
  while i <= #argv do
    local a = argv[i]
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if a == "--help" or a == "-h" then
      io.stdout:write(help or (_M.help_of and _M.help_of(cmd)) or "")
      os.exit(0)
    elseif name then
      local kind = spec[name]
      if kind == nil then _M.usage(fmt("%s: unknown option --%s", cmd, name), cmd) end
      local key = name:gsub("%-", "_")
      if kind == "flag" then
        if val then _M.usage(fmt("--%s takes no value (got %q)", name, val), cmd) end
        opts[key] = true
      else
        if val == nil then
          val = argv[i + 1]
          if val == nil or val:match("^%-%-") then _M.usage("--" .. name .. " needs a value", cmd) end
          i = i + 1
        end
        if kind == "list" then
          opts[key] = opts[key] or {}
          opts[key][#opts[key] + 1] = val
        elseif opts[key] ~= nil then
          _M.usage(fmt("--%s given twice", name), cmd)
        else
          opts[key] = val
        end
      end
    elseif a:match("^%-") and a ~= "-" then
      _M.usage(fmt("%s: unknown option %s", cmd, a), cmd)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  if npos and #pos > npos then
    local extra = pos[npos + 1]
    _M.usage(fmt("%s: unexpected argument %q%s", cmd, extra,
      (extra == "yes" or extra == "no" or extra == "true" or extra == "false")
        and " (flags like --dry-run and --dedupe take no value)" or ""), cmd)
  end
  return opts, pos
end

function _M.number_opt(o, name, lo, hi, cmd)
  local v = o[name]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n < lo or n > hi or (name == "concurrency" and n % 1 ~= 0) then
    _M.usage(fmt("--%s: expected a number from %s to %s, got %s", name, lo, hi, v), cmd)
  end
  return n
end

--- An input file that must be there: one clear line and exit 2 otherwise.
function _M.input_file(path, option, cmd)
  local f, err = io.open(path, "rb")
  if not f then
    _M.usage(fmt("%s %s: cannot read it (%s)", option, path, tostring(err):gsub("^[^:]*: ", "")), cmd)
  end
  f:close()
end

--- A channel name, checked: exit 2 for one the API does not have.
function _M.channel(name, cmd)
  if name == nil or batch.core.CHANNELS[name] then return name end
  local names = {}
  for k in pairs(batch.core.CHANNELS) do names[#names + 1] = k end
  table.sort(names)
  _M.usage(fmt("--channel %s: no such channel (one of %s)", name, table.concat(names, ", ")), cmd)
end

--- Creates a file the tool writes: 0600, never through a symbolic link, never
-- over an existing file unless force.
-- @return true | nil, message
function _M.write_file(path, data, force, option)
  local fd, err, code = batch.core.journal_open(path, force and "w" or "x")
  if not fd then
    local why = code == "EEXIST" and "exists already (give --force to replace it)"
      or code == "ELOOP" and "is a symbolic link (refused)"
      or tostring(type(err) == "table" and err.message or err)
    return nil, fmt("%s %s: %s", option, path, why)
  end
  local ok, werr = fd:write(data)
  fd:close()
  if not ok then return nil, fmt("%s %s: %s", option, path, tostring(werr)) end
  return true
end

function _M.client(dry)
  local env = os.getenv
  if dry then -- nothing is sent: no credentials needed
    return assert(batch.client{ project_id = "dry-run", token = "dry-run",
                                region = "us", -- never reached: nothing is sent
                                app_id = env("SINCH_APP_ID") or "SINCH_APP_ID" })
  end
  local base = env("SINCH_BATCH_BASE_URL")
  if not base and not env("SINCH_REGION") then
    _M.usage("SINCH_REGION is not set: us, eu or br (the region of your Conversation API app)")
  end
  local made, c, err = pcall(batch.client, {
    project_id = env("SINCH_PROJECT_ID") or _M.usage("SINCH_PROJECT_ID is not set"),
    app_id = env("SINCH_APP_ID"), region = env("SINCH_REGION"), base_url = base,
    auth_url = env("SINCH_BATCH_AUTH_URL") or base,
    key_id = env("SINCH_KEY_ID"), key_secret = env("SINCH_KEY_SECRET"), token = env("SINCH_TOKEN"),
  })
  if not made then -- a bad setting (e.g. SINCH_REGION=xx): say which, exit 2
    _M.usage((tostring(c):gsub("^bad argument #1 to 'client' %((.*)%)$", "%1")))
  end
  if not c then _M.die(err) end
  return c
end

--- The header of a CSV file (from the C reader), lower-cased names as a set
-- and the names in order; {} when it cannot be read.
function _M.csv_columns(path)
  return require("sinch.batch.campaign.sources").columns(path) or {}
end

return _M
