--- sinch.batch.outcomes.join: the receipts store's side of the campaign
-- join (`Store:add_batch`, `Store:add_campaign`, `Store:campaigns`, the
-- journal join `Store:import_journal` and what it needs of a store, and
-- back from the outcomes to the campaign rows: `Store:failed`), installed
-- on the store by sinch.batch.outcomes.
local type, tostring, tonumber, error, require = type, tostring, tonumber, error, require
local ipairs, pairs, concat, floor = ipairs, pairs, table.concat, math.floor

local _M = {}
local M = {} -- the methods
local query, store_error, FAILED -- from the store, by install()

local function encode_rows(rows)
  local parts = {}
  for i, r in ipairs(rows) do parts[i] = tostring(r) end
  return concat(parts, ",")
end

-- The CSV rows of a stored batch, from the store's comma-separated text.
local function decode_rows(s)
  local rows = {}
  if not s or s == "" then return rows end
  for item in s:gmatch("[^,]+") do rows[#rows + 1] = tonumber(item) or item end
  return rows
end

--- Records which campaign rows a batch carries (from the journal): message
-- index i (0-based) of `batch_id` is `rows[i + 1]`.
-- @param self the store
-- @param t `{ batch_id, campaign, chunk, rows = { row, … } }`
-- @return true | nil, err
function M.add_batch(self, t)
  self:_check()
  if type(t) ~= "table" or type(t.batch_id) ~= "string" or t.batch_id == "" then
    error("outcomes: add_batch: batch_id: expected a non-empty string", 2)
  end
  if type(t.rows) ~= "table" then
    error("outcomes: add_batch: rows: expected an array of row numbers", 2)
  end
  local n, err = self.st.batch:run(t.batch_id, t.campaign and tostring(t.campaign) or nil,
    t.chunk, #t.rows, encode_rows(t.rows))
  if not n then return nil, store_error("insert batch", err) end
  return true
end

--- Records what is known of a campaign: its source file and row count.
-- @param self the store
-- @param t `{ campaign, source, rows, info }`
-- @return true | nil, err
function M.add_campaign(self, t)
  self:_check()
  if type(t) ~= "table" or t.campaign == nil then
    error("outcomes: add_campaign: campaign: expected an id", 2)
  end
  local n, err = self.st.campaign:run(tostring(t.campaign), t.source, t.rows, t.info)
  if not n then return nil, store_error("insert campaign", err) end
  return true
end

--- The campaigns the store knows (from imported journals or add_campaign).
-- @param self the store
-- @return an array of campaign ids, sorted
function M.campaigns(self)
  self:_check()
  local rows, err = query(self, "SELECT campaign FROM campaigns ORDER BY campaign")
  if not rows then return nil, err end
  local out = {}
  for i, row in ipairs(rows) do out[i] = row[1] end
  return out
end

--- Joins a campaign journal into the store: the campaign (id, source path,
-- rows) and every accepted batch with its rows (sinch.batch.campaign.receipts).
-- Idempotent and cheap to call again while the journal grows.
-- @param self the store
-- @tparam string path the journal
-- @return { campaign = id, batches = n (newly joined), unchanged = bool } |
--   nil, err
function M.import_journal(self, path)
  self:_check()
  if type(path) ~= "string" or path == "" then
    error("outcomes: import_journal: path: expected a journal file name", 2)
  end
  return require("sinch.batch.campaign.receipts").import(self, path)
end

--- What the journal join needs of a store (sinch.batch.campaign.receipts):
-- the size and campaign of a journal when last joined.
-- @param self the store
-- @param path the journal
-- @return { size, campaign } | false (never joined) | nil, err
function M.journal_seen(self, path)
  local rows, err = query(self, "SELECT size, campaign FROM journals WHERE path = ?", path)
  if not rows then return nil, err end
  return rows[1] and { size = rows[1][1], campaign = rows[1][2] } or false
end

--- The batches of a campaign the store already has.
-- @param self the store
-- @param campaign the campaign id
-- @return { [batch_id] = true } | nil, err
function M.known_batches(self, campaign)
  local rows, err = query(self, "SELECT batch_id FROM batches WHERE campaign = ?", campaign)
  if not rows then return nil, err end
  local known = {}
  for _, row in ipairs(rows) do known[row[1]] = true end
  return known
end

--- Records chunk `k` of a campaign as its journal has it (Store:batches lists them).
-- @param self the store
-- @param campaign the campaign id
-- @param k the chunk number
-- @param c `{ status, batch_id, rows, reason }` (the journal's state of the chunk)
-- @return true | nil, err
function M.add_chunk(self, campaign, k, c)
  local rows = c.rows or {}
  local ok, err = self.st.chunk:run(campaign, k, c.status, c.batch_id, #rows, rows[1], rows[#rows],
    c.reason ~= nil and tostring(c.reason) or nil)
  if not ok then return nil, store_error("insert chunk", err) end
  return true
end

--- Records that the journal at `path` was joined up to `size` bytes.
-- @param self the store
-- @param path the journal's path
-- @param size its size when joined
-- @param campaign its campaign id
-- @return true | nil, err
function M.journal_joined(self, path, size, campaign)
  local ok, err = self.st.journal:run(path, size, campaign)
  if not ok then return nil, store_error("record journal", err) end
  return true
end

--- The failed recipients of a campaign, each with its source row.
-- @param self the store
-- @param campaign the campaign id (nil: every campaign)
-- @return an array of { row = n, batch_id, index, reason, description }
-- ordered by row
function M.failed(self, campaign)
  self:_check()
  local rows, err = query(self, "SELECT o.batch_id, o.msg_index, o.reason, o.description " ..
    "FROM outcomes o JOIN batches b ON b.batch_id = o.batch_id " ..
    "WHERE o.rank = ? AND (CAST(? AS TEXT) IS NULL OR b.campaign = ?) " ..
    "ORDER BY b.chunk, o.batch_id, o.msg_index",
    FAILED, campaign, campaign)
  if not rows then return nil, err end
  -- each batch's rows once (not once per failed recipient: they are long)
  local st, perr = self.db:prepare("SELECT rows FROM batches WHERE batch_id = ?")
  if not st then return nil, store_error("prepare", perr) end
  local out, cache_id, cache_rows = {}, nil, nil
  for _, row in ipairs(rows) do
    if row[1] ~= cache_id then
      local b, berr = st:rows(row[1])
      if not b then
        st:close()
        return nil, store_error("query", berr)
      end
      cache_id, cache_rows = row[1], decode_rows(b[1] and b[1][1])
    end
    out[#out + 1] = { batch_id = row[1], index = row[2], reason = row[3], description = row[4],
                      row = cache_rows[floor(row[2]) + 1] }
  end
  st:close()
  return out
end

--- Puts the methods on the store's class; h: { query, store_error, FAILED }.
-- Returns decode_rows (a stored batch's rows, from the store's
-- comma-separated text).
-- @param Store the store's class
-- @param h what the methods need of sinch.batch.outcomes
-- @return decode_rows
function _M.install(Store, h)
  query, store_error, FAILED = h.query, h.store_error, h.FAILED
  for k, f in pairs(M) do Store[k] = f end
  return decode_rows
end

return _M
