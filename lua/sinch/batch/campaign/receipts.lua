--- sinch.batch.campaign.receipts: joins a campaign's journal into a receipts
-- store (sinch.batch.outcomes, or any store with the same few methods), so
-- that each receipt's (batch id, message index) finds its campaign row.
-- The journal is read by the log's one reader (through the journal module).
local errors = require "sinch.batch.errors"
local journal = require "sinch.batch.campaign.journal"
local log = require "sinch.batch.log"
local cjson = require "cjson.safe"

local pairs, tostring = pairs, tostring
local fmt = string.format

local _M = {}

--- Joins journal `path` into `store`: the campaign (id, source path, rows),
-- every chunk whatever became of it, every accepted batch with its rows.
-- Idempotent and cheap to call again while the journal grows: an unchanged
-- journal is not read again, and batches already known are not rewritten.
-- @return { campaign = id, batches = n (newly joined), unchanged = bool } | nil, err
function _M.import(store, path)
  local size = log.size(path)
  if not size then
    return nil, errors.new("invalid", fmt("journal %s: cannot read it", path))
  end
  local seen, err = store:journal_seen(path)
  if seen == nil then return nil, err end
  if seen and seen.size == size then
    return { campaign = seen.campaign, batches = 0, unchanged = true }
  end
  local st, rerr = journal.read(path)
  if not st then return nil, rerr end
  local h = st.header
  local id = tostring(h.campaign)
  local known, kerr = store:known_batches(id)
  if not known then return nil, kerr end
  local rows, chunks, accepted, refused, open_chunks = #st.bad_rows, 0, 0, 0, 0
  for _, c in pairs(st.chunks) do
    chunks = chunks + 1
    rows = rows + (c.rows and #c.rows or 0)
    if c.status == "accepted" then
      accepted = accepted + 1
    elseif c.status == "refused" then -- refused for good: its rows failed, nothing left to send
      refused = refused + 1
    else
      open_chunks = open_chunks + 1
    end
  end
  local info = cjson.encode{ path = path, chunks = chunks, accepted = accepted, refused = refused,
    not_accepted = open_chunks + refused, bad_rows = #st.bad_rows, runs_ended = st.ends,
    done = st.ends > 0 and open_chunks == 0 }
  return store:transaction(function()
    local new = 0
    local ok, aerr = store:add_campaign{ campaign = id, source = h.path, rows = rows, info = info }
    if not ok then return nil, aerr end
    for k, c in pairs(st.chunks) do -- every chunk, whatever became of it (Store:batches)
      ok, aerr = store:add_chunk(id, k, c)
      if not ok then return nil, aerr end
    end
    for batch_id, c in pairs(st.batches) do
      if not known[batch_id] then
        ok, aerr = store:add_batch{ batch_id = batch_id, campaign = id, chunk = c.chunk,
                                    rows = c.rows or {} }
        if not ok then return nil, aerr end
        new = new + 1
      end
    end
    ok, aerr = store:journal_joined(path, size, id)
    if not ok then return nil, aerr end
    return { campaign = id, batches = new, unchanged = false }
  end)
end

return _M
