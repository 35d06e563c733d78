--- sinch.batch.outcomes.schema: the receipts store's tables and the
-- statements it prepares once, for both of its databases: SQLite
-- (sinch.batch.outcomes) and PostgreSQL (sinch.batch.store.postgres).  One
-- definition, so the two stores cannot drift apart; what differs between
-- the dialects (a few column types, the transaction's BEGIN, what each
-- needs before and after the tables) is in DIALECTS.
local _M = {}

local DIALECTS = {
  sqlite = {
    bigint = "INTEGER", double = "REAL", begin = "BEGIN IMMEDIATE",
    before = "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n",
    after = "",
  },
  postgres = {
    bigint = "BIGINT", double = "DOUBLE PRECISION", begin = "BEGIN",
    before = "",
    -- SQLite's instr(), which the report's queries use
    after = "CREATE OR REPLACE FUNCTION instr(s text, t text) RETURNS integer\n" ..
      "  AS 'SELECT strpos(s, t)' LANGUAGE sql IMMUTABLE;\n",
  },
}

local function dialect(name)
  local d = DIALECTS[name]
  if not d then error("sinch.batch.outcomes.schema: no such dialect: " .. tostring(name), 3) end
  return d
end

-- ${bigint}, ${double}: the dialect's types
local TABLES = [[
CREATE TABLE IF NOT EXISTS receipts (
  key TEXT PRIMARY KEY,
  batch_id TEXT NOT NULL,
  msg_index ${bigint},
  message_id TEXT,
  status TEXT,
  reason TEXT,
  description TEXT,
  event_time TEXT,
  received ${double}
);
CREATE INDEX IF NOT EXISTS receipts_batch ON receipts (batch_id, msg_index);
CREATE TABLE IF NOT EXISTS outcomes (
  batch_id TEXT NOT NULL,
  msg_index ${bigint} NOT NULL,
  rank INTEGER NOT NULL,
  status TEXT,
  reason TEXT,
  description TEXT,
  at TEXT,
  PRIMARY KEY (batch_id, msg_index)
);
CREATE TABLE IF NOT EXISTS batches (
  batch_id TEXT PRIMARY KEY,
  campaign TEXT,
  chunk INTEGER,
  recipients INTEGER NOT NULL,
  rows TEXT
);
CREATE INDEX IF NOT EXISTS batches_campaign ON batches (campaign);
CREATE TABLE IF NOT EXISTS journals (
  path TEXT PRIMARY KEY,
  size ${bigint},
  campaign TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
  campaign TEXT NOT NULL,
  chunk INTEGER NOT NULL,
  status TEXT,
  batch_id TEXT,
  recipients INTEGER,
  first_row INTEGER,
  last_row INTEGER,
  reason TEXT,
  PRIMARY KEY (campaign, chunk)
);
CREATE TABLE IF NOT EXISTS campaigns (
  campaign TEXT PRIMARY KEY,
  source TEXT,
  rows INTEGER,
  info TEXT
);
]]

local STATEMENTS = {
  receipt = "INSERT INTO receipts (key, batch_id, msg_index, message_id, status, " ..
    "reason, description, event_time, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " ..
    "ON CONFLICT (key) DO NOTHING",
  outcome = "INSERT INTO outcomes (batch_id, msg_index, rank, status, reason, description, at) " ..
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (batch_id, msg_index) DO UPDATE SET " ..
    "rank = excluded.rank, status = excluded.status, reason = excluded.reason, " ..
    "description = excluded.description, at = excluded.at WHERE excluded.rank > outcomes.rank",
  batch = "INSERT INTO batches (batch_id, campaign, chunk, recipients, rows) VALUES (?, ?, ?, ?, ?) " ..
    "ON CONFLICT (batch_id) DO UPDATE SET campaign = excluded.campaign, chunk = excluded.chunk, " ..
    "recipients = excluded.recipients, rows = excluded.rows",
  campaign = "INSERT INTO campaigns (campaign, source, rows, info) VALUES (?, ?, ?, ?) " ..
    "ON CONFLICT (campaign) DO UPDATE SET source = coalesce(excluded.source, campaigns.source), " ..
    "rows = coalesce(excluded.rows, campaigns.rows), info = coalesce(excluded.info, campaigns.info)",
  chunk = "INSERT INTO chunks (campaign, chunk, status, batch_id, recipients, first_row, " ..
    "last_row, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign, chunk) DO UPDATE SET " ..
    "status = excluded.status, batch_id = excluded.batch_id, recipients = excluded.recipients, " ..
    "first_row = excluded.first_row, last_row = excluded.last_row, reason = excluded.reason",
  journal = "INSERT INTO journals (path, size, campaign) VALUES (?, ?, ?) ON CONFLICT (path) " ..
    "DO UPDATE SET size = excluded.size, campaign = excluded.campaign",
  begin = "${begin}",
  commit = "COMMIT",
  rollback = "ROLLBACK",
}

--- The tables (and the dialect's settings and helpers), as one script.
-- @param name "sqlite" or "postgres"
function _M.schema(name)
  local d = dialect(name)
  return d.before .. (TABLES:gsub("%${(%w+)}", d)) .. d.after
end

--- The statements by name (? placeholders), a new table.
-- @param name "sqlite" or "postgres"
function _M.statements(name)
  local d = dialect(name)
  local out = {}
  for k, sql in pairs(STATEMENTS) do out[k] = (sql:gsub("%${(%w+)}", d)) end
  return out
end

-- the SQLite store's (sinch.batch.outcomes)
_M.SCHEMA, _M.STATEMENTS = _M.schema("sqlite"), _M.statements("sqlite")

return _M
