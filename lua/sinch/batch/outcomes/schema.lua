--- sinch.batch.outcomes.schema: the receipts store's SQLite tables and the
-- statements it prepares once (sinch.batch.outcomes).
local _M = {}

_M.SCHEMA = [[
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS receipts (
  key TEXT PRIMARY KEY,
  batch_id TEXT NOT NULL,
  msg_index INTEGER,
  message_id TEXT,
  status TEXT,
  reason TEXT,
  description TEXT,
  event_time TEXT,
  received REAL
);
CREATE INDEX IF NOT EXISTS receipts_batch ON receipts (batch_id, msg_index);
CREATE TABLE IF NOT EXISTS outcomes (
  batch_id TEXT NOT NULL,
  msg_index INTEGER NOT NULL,
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
  size INTEGER,
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


_M.STATEMENTS = {
  receipt = "INSERT OR IGNORE INTO receipts (key, batch_id, msg_index, message_id, status, " ..
    "reason, description, event_time, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
  begin = "BEGIN IMMEDIATE",
  commit = "COMMIT",
  rollback = "ROLLBACK",
}

return _M
