-- bench/builder_bench.lua -- building and serialising send-batch bodies:
-- the C builder (core.builder + b:add) and the paths the README teaches
-- (client:send{recipients}, client:batch + b:add(R.sms(n), {...}), the
-- batch's add_row / add_columns) against the idiomatic Lua way (nested
-- tables + cjson.encode), in the same run.  Not a test.
--
--   SINCH_BATCH_BUILD=build lua5.4 bench/builder_bench.lua [batches [per_batch]]
--   SINCH_BATCH_BUILD=build luajit bench/builder_bench.lua
--
-- Workload (defaults): 1000 batches x 1000 recipients = 1,000,000
-- recipients, each an SMS identity with two parameters.  Every variant
-- produces the complete request body of each batch as one Lua string;
-- the bodies are checked to decode to the same value before timing.
local build = os.getenv("SINCH_BATCH_BUILD") or "build"
local flavour = rawget(_G, "jit") and "luajit" or "lua54"
package.cpath = build .. "/" .. flavour .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path

local core = require "sinch.batch.core"
local cjson = require "cjson"

local clock = os.clock
local fmt = string.format

local batches = tonumber(arg and arg[1]) or 1000
local per_batch = tonumber(arg and arg[2]) or 1000
local total = batches * per_batch

local APP = "01APPIDXXXXXXXXXXXXXXXXXXX"
local message = { text_message = { text = "Hi ${name}, your code is ${code}" } }

-- The contact list: built once, outside the timed loops.
local numbers, names, codes = {}, {}, {}
for i = 1, per_batch do
  numbers[i] = fmt("+4670%07d", i)
  names[i] = "Name" .. i
  codes[i] = fmt("%06d", (i * 7919) % 1000000)
end

-- 1. the idiomatic Lua way: one table per entry, then cjson.encode.
local function idiomatic()
  local bytes = 0
  for _ = 1, batches do
    local list = {}
    for i = 1, per_batch do
      list[i] = {
        recipient = { identified_by = { channel_identities = {
          { channel = "SMS", identity = numbers[i] } } } },
        parameters = { name = names[i], code = codes[i] },
      }
    end
    local body = cjson.encode({ app_id = APP, message = message, recipient_and_params = list })
    bytes = bytes + #body
  end
  return bytes
end

-- 2. the builder, with fresh recipient and parameter tables per row (what
-- recipient helpers such as R.sms(number) hand over).
local function builder_fresh()
  local bytes = 0
  local b = assert(core.builder(APP, cjson.encode(message)))
  for _ = 1, batches do
    b:reset()
    for i = 1, per_batch do
      b:add({ identified_by = { channel_identities = {
              { channel = "SMS", identity = numbers[i] } } } },
            { name = names[i], code = codes[i] })
    end
    bytes = bytes + #assert(b:body())
  end
  b:close()
  return bytes
end

-- 3. the builder, reusing one recipient table and one parameter table
-- (add() copies what it is given, so the tables can be refilled per row).
local function builder_reused()
  local bytes = 0
  local b = assert(core.builder(APP, cjson.encode(message)))
  local id = { channel = "SMS" }
  local recipient = { identified_by = { channel_identities = { id } } }
  local params = {}
  for _ = 1, batches do
    b:reset()
    for i = 1, per_batch do
      id.identity = numbers[i]
      params.name, params.code = names[i], codes[i]
      b:add(recipient, params)
    end
    bytes = bytes + #assert(b:body())
  end
  b:close()
  return bytes
end

-- 4. the builder's column form: no table per row at all.
local function builder_columns()
  local bytes = 0
  local b = assert(core.builder(APP, cjson.encode(message)))
  local columns = { name = names, code = codes }
  for _ = 1, batches do
    b:reset()
    b:add_columns("SMS", numbers, columns)
    bytes = bytes + #assert(b:body())
  end
  b:close()
  return bytes
end

-- 5. the builder's row form: the parameter names once, then positional
-- values per row -- no table per row either.
local function builder_rows()
  local bytes = 0
  local b = assert(core.builder(APP, cjson.encode(message)))
  b:columns({ "name", "code" })
  for _ = 1, batches do
    b:reset()
    for i = 1, per_batch do
      b:add_row("SMS", numbers[i], names[i], codes[i])
    end
    bytes = bytes + #assert(b:body())
  end
  b:close()
  return bytes
end

-- The taught paths, through a client whose transport hands back the body
-- it was given as a string (building only: no network; the body is made
-- into a Lua string, as every other variant does).
local batch = require "sinch.batch"
local R, M = batch.recipient, batch.message
local sent_bytes = 0
local client = assert(batch.client{ project_id = "P", app_id = APP, region = "eu", token = "t",
  transport = { run = function(_, _, _, body)
    sent_bytes = sent_bytes + #(type(body) == "string" and body or assert(body:body()))
    return 200, '{"batch_id":"x"}'
  end } })
local msg = M.text("Hi ${name}, your code is ${code}")

-- 6. client:send{ message, recipients = { {recipient = R.sms(n), parameters = {...}} } }
local function taught_send()
  sent_bytes = 0
  for _ = 1, batches do
    local list = {}
    for i = 1, per_batch do
      list[i] = { recipient = R.sms(numbers[i]), parameters = { name = names[i], code = codes[i] } }
    end
    assert(client:send{ message = msg, recipients = list })
  end
  return sent_bytes
end

-- 7. client:batch{} + b:add(R.sms(n), {...}) with fresh helper tables per row
local function taught_batch_add()
  local bytes = 0
  for _ = 1, batches do
    local b = assert(client:batch{ message = msg })
    for i = 1, per_batch do
      b:add(R.sms(numbers[i]), { name = names[i], code = codes[i] })
    end
    bytes = bytes + #assert(b:body())
  end
  return bytes
end

-- 8. the batch's add_row and 9. add_columns
local function taught_add_row()
  local bytes = 0
  local b = assert(client:batch{ message = msg })
  b:columns{ "name", "code" }
  for _ = 1, batches do
    b:reset()
    for i = 1, per_batch do b:add_row("SMS", numbers[i], names[i], codes[i]) end
    bytes = bytes + #assert(b:body())
  end
  return bytes
end

local function taught_add_columns()
  local bytes = 0
  local b = assert(client:batch{ message = msg })
  local columns = { name = names, code = codes }
  for _ = 1, batches do
    b:reset()
    b:add_columns("SMS", numbers, columns)
    bytes = bytes + #assert(b:body())
  end
  return bytes
end

-- Same result: one batch of each decodes to the same value.
local function same_value(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same_value(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

do
  local saved_b, saved_n = batches, per_batch
  batches, per_batch = 1, math.min(per_batch, 10)
  local bodies = {}
  local capture = cjson.encode
  cjson.encode = function(v) local s = capture(v); bodies.idiomatic = s; return s end
  idiomatic()
  cjson.encode = capture
  local b = assert(core.builder(APP, cjson.encode(message)))
  for i = 1, per_batch do
    b:add({ identified_by = { channel_identities = { { channel = "SMS", identity = numbers[i] } } } },
          { name = names[i], code = codes[i] })
  end
  bodies.builder = b:body()
  local c = assert(core.builder(APP, cjson.encode(message)))
  c:add_columns("SMS", numbers, { name = names, code = codes }, 1, per_batch)
  assert(c:body() == bodies.builder, "add_columns and add differ")
  local r = assert(core.builder(APP, cjson.encode(message)))
  r:columns({ "name", "code" })
  for i = 1, per_batch do r:add_row("SMS", numbers[i], names[i], codes[i]) end
  assert(same_value(cjson.decode(r:body()), cjson.decode(bodies.builder)), "add_row and add differ")
  assert(same_value(cjson.decode(bodies.idiomatic), cjson.decode(bodies.builder)),
         "the builder's body differs from cjson's")
  batches, per_batch = saved_b, saved_n
end

-- Each variant runs three times; its best time counts (the host's other
-- load moves single runs by up to 20 %, always upwards).
local function run(name, fn)
  local dt, bytes = math.huge, 0
  for _ = 1, 3 do
    collectgarbage("collect")
    local t0 = clock()
    bytes = fn()
    dt = math.min(dt, clock() - t0)
  end
  print(fmt("%-24s %8.3f s  %12.0f recipients/s  %7.1f MB of JSON", name, dt, total / dt,
            bytes / 1e6))
  return dt
end

print(fmt("%s, %d batches x %d recipients = %d recipients, 2 parameters each",
          rawget(_G, "jit") and rawget(_G, "jit").version or _VERSION, batches, per_batch, total))
local t_idiom = run("idiomatic (cjson)", idiomatic)
local t_fresh = run("builder, fresh tables", builder_fresh)
local t_reuse = run("builder, reused tables", builder_reused)
local t_rows = run("builder, add_row", builder_rows)
local t_cols = run("builder, add_columns", builder_columns)
local t_send = run("client:send{recipients}", taught_send)
local t_badd = run("batch:add(R.sms(n), {..})", taught_batch_add)
local t_brow = run("batch:add_row", taught_add_row)
local t_bcol = run("batch:add_columns", taught_add_columns)
print(fmt("core builder over idiomatic: %.1fx (fresh tables), %.1fx (reused tables), "
          .. "%.1fx (add_row), %.1fx (add_columns)", t_idiom / t_fresh, t_idiom / t_reuse,
          t_idiom / t_rows, t_idiom / t_cols))
print(fmt("taught paths over idiomatic: %.2fx client:send{recipients} (target 1.5), "
          .. "%.2fx batch:add(R.sms(n), {..}) (target 1.8), %.1fx batch:add_row, "
          .. "%.1fx batch:add_columns", t_idiom / t_send, t_idiom / t_badd, t_idiom / t_brow,
          t_idiom / t_bcol))
