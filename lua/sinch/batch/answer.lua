--- sinch.batch.answer: the one decoder of API answers, for every driver
-- (the client's calls, a campaign's libcurl multi and light-thread drivers).
-- A send's 2xx is accepted only with a `batch_id`; anything else from a 2xx
-- send may have been accepted (ambiguous).  A find's answer must be a list of
-- batches (or an object holding exactly one list): an empty body, `{}` or a
-- truncated answer is no answer, so a campaign never reads it as "not sent".
-- @module sinch.batch.answer
local errors = require "sinch.batch.errors"
local cjson = require "cjson.safe"

local type, pairs, ipairs, next, setmetatable = type, pairs, ipairs, next, setmetatable
local fmt = string.format
local decode, fail = cjson.decode, errors.fail
local is_array = require("sinch.batch.fields").is_array

local _M = {}

--- Decodes the answer (status, body) of operation op.
-- @return the decoded answer | nil, err
function _M.decode(op, status, resp)
  if op == "send" then
    local data = resp ~= "" and decode(resp) or nil
    if type(data) ~= "table" or type(data.batch_id) ~= "string" or data.batch_id == "" then
      return fail("json", fmt("HTTP %d: the send's answer has no batch_id (%d bytes); the batch "
        .. "may have been accepted", status, #resp), { status = status, may_have_been_processed = true })
    end
    return data
  elseif op == "find" then
    local data = decode(resp)
    local list = type(data) == "table" and is_array(data) and next(data) ~= nil and data or nil
    if type(data) == "table" and list == nil then
      for _, v in pairs(data) do
        if type(v) == "table" and is_array(v) then
          if list then list = nil break end
          list = v
        end
      end
      if list == nil and resp:match("^%s*%[%s*%]%s*$") then list = data end
    end
    local ok = list ~= nil
    for _, b in ipairs(list or {}) do
      if type(b) ~= "table" or type(b.batch_id) ~= "string" then ok = false end
    end
    if not ok then
      return fail("json", fmt("HTTP %d: the metadata search's answer is not a list of batches "
        .. "(%d bytes)", status, #resp), { status = status })
    end
    return setmetatable(list, cjson.array_mt)
  end
  if resp == "" then return {} end
  local data = decode(resp)
  if data == nil then
    return fail("json", fmt("HTTP %d: the response is not JSON (%d bytes)", status, #resp),
      { status = status })
  end
  return data
end

return _M
