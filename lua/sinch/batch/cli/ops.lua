--- sinch.batch.cli.ops: `sinch-batch status`, `find` and `cancel`.
local common = require "sinch.batch.cli.common"

local ipairs, tostring = ipairs, tostring
local fmt = string.format

local _M = {}

_M.HELP = {
  status = "sinch-batch status BATCH_ID\n",
  find = "sinch-batch find KEY VALUE     (batches whose batch_metadata has KEY = VALUE)\n",
  cancel = "sinch-batch cancel BATCH_ID | sinch-batch cancel --tag K=V\n"
    .. "  cancels, then looks the batches up until each is CANCELLED or final (at most 10 s;\n"
    .. "  the API cancels later): prints {cancelled, pending, not_cancelled}; exit 1 when a\n"
    .. "  batch was not cancelled or none matched, 0 when some are still pending\n",
}

function _M.status(argv)
  local _, pos = common.parse("status", argv, {}, 1, _M.HELP.status)
  if not pos[1] then common.usage("status needs a BATCH_ID", "status") end
  local res, err = common.client():status(pos[1])
  if not res then common.die(err) end
  common.out(res)
end

function _M.find(argv)
  local _, pos = common.parse("find", argv, {}, 2, _M.HELP.find)
  if not pos[2] then common.usage("find needs KEY VALUE", "find") end
  local res, err = common.client():find(pos[1], pos[2])
  if not res then common.die(err) end
  if #res == 0 then io.stdout:write("[]\n") else common.out(res) end
end

function _M.cancel(argv)
  local o, pos = common.parse("cancel", argv, { tag = "value" }, 1, _M.HELP.cancel)
  local req
  if o.tag then
    if pos[1] then common.usage("cancel takes a BATCH_ID or --tag K=V, not both", "cancel") end
    local k, v = common.kv(o.tag, "--tag", "cancel")
    req = { metadata = { [k] = v } }
  elseif pos[1] then
    req = { batch_id = pos[1] }
  else
    common.usage("cancel needs a BATCH_ID or --tag K=V", "cancel")
  end
  -- the API answers 200 whatever it matched: look the batches up afterwards
  req.confirm = true
  local res, err = common.client():cancel(req)
  if not res then common.die(err) end
  common.out(res)
  if #res.not_cancelled > 0 then
    local list = {}
    for i, b in ipairs(res.not_cancelled) do
      list[i] = fmt("%s (%s)", tostring(b.batch_id), tostring(b.status or "not found"))
    end
    common.errline("not_cancelled", fmt("%d batch(es) not cancelled: %s", #list,
      table.concat(list, ", ")), 1)
    return 1
  end
  if #res.pending > 0 then -- the API cancels later: not a failure
    local list = {}
    for i, b in ipairs(res.pending) do list[i] = tostring(b.batch_id) end
    common.errline("pending", fmt("%d batch(es) still SCHEDULED: the cancel was accepted and may "
      .. "yet happen (check with status): %s", #list, table.concat(list, ", ")), 0)
    return 0
  end
  if #res.cancelled == 0 then
    common.errline("not_found", "cancel: no batch matched " .. (o.tag or pos[1]), 1)
    return 1
  end
end

return _M
