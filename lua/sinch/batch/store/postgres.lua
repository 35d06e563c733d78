--- sinch.batch.store.postgres: the receipts store (sinch.batch.outcomes) on
-- PostgreSQL, for receivers on several hosts writing one store.  Same
-- tables, same idempotent upserts, same reports as the SQLite store: a
-- store opened here is a sinch.batch.outcomes store.
--
--   local store = require "sinch.batch.store"
--   local s = assert(store.open("postgresql://sinch@db1:5432/receipts"))
--   s:add_many(events)   -- one statement: every receipt of the group, or none
--   s:report("c1")
--
-- The connection is libpq's (sinch.batch.pq, a small C module): any libpq
-- URL or option works (sslmode, passfile, connect_timeout — 10 s unless the
-- URL says otherwise).  Statements time out after 60 s on the server.  A
-- group of receipts goes in as one statement over arrays (unnest), so a
-- receiver pays one round trip per group, not two per receipt; it is
-- committed (durable, PostgreSQL's synchronous_commit) when add_many
-- returns.
-- @module sinch.batch.store.postgres
local errors = require "sinch.batch.errors"
local outcomes = require "sinch.batch.outcomes"
local schema = require "sinch.batch.outcomes.schema"
local redact = require("sinch.batch.store").redact

local type, tostring, ipairs, format, concat = type, tostring, ipairs, string.format, table.concat
local os_time, os_date = os.time, os.date

local _M = { _VERSION = "0.1.0" }

-- The store's tables and statements, in PostgreSQL's dialect
-- (sinch.batch.outcomes.schema: the SQLite store's, from one definition; ?
-- becomes $n in statement()).  Created under an advisory lock: two
-- receivers starting at once would race on CREATE.
local SCHEMA = schema.schema("postgres")
local SCHEMA_LOCK = 0x5b1c4e21 -- pg_advisory_xact_lock key of the schema's creation
local STATEMENTS = schema.statements("postgres")

-- A group of receipts in one statement: the new ones (by key) go into
-- receipts, and each new one's outcome moves up as outcomes.lua's add does
-- (rows sorted by key, so two receivers lock in the same order).
local ADD_MANY = format([[
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
    $6::text[], $7::text[], $8::text[], $9::float8[], $10::int[], $11::int[])
    AS t(key, batch_id, msg_index, message_id, status, reason, description, at, received,
         rank, ord)
), new AS (
  INSERT INTO receipts (key, batch_id, msg_index, message_id, status, reason, description,
    event_time, received)
  SELECT DISTINCT ON (key) key, batch_id, msg_index, message_id, status, reason, description,
    at, received FROM i ORDER BY key, ord
  ON CONFLICT (key) DO NOTHING RETURNING key
), o AS (
  INSERT INTO outcomes (batch_id, msg_index, rank, status, reason, description, at)
  SELECT DISTINCT ON (i.batch_id, i.msg_index) i.batch_id, i.msg_index, i.rank, i.status,
    CASE WHEN i.rank = %d THEN i.reason END, CASE WHEN i.rank = %d THEN i.description END, i.at
  FROM i JOIN new ON new.key = i.key
  WHERE i.msg_index IS NOT NULL
  ORDER BY i.batch_id, i.msg_index, i.rank DESC, i.ord
  ON CONFLICT (batch_id, msg_index) DO UPDATE SET rank = excluded.rank,
    status = excluded.status, reason = excluded.reason, description = excluded.description,
    at = excluded.at WHERE excluded.rank > outcomes.rank
)
SELECT count(*) FROM new]], outcomes.FAILED, outcomes.FAILED)

local function pq()
  local ok, m = pcall(require, "sinch.batch.pq")
  if not ok then
    error("sinch.batch.store.postgres: the PostgreSQL module (sinch.batch.pq, libpq) is not " ..
      "installed: " .. tostring(m), 3)
  end
  return m
end

local function store_error(what, msg)
  return errors.new("internal", format("outcomes: %s: %s", what, tostring(msg)))
end

local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+ or 5.1

-- ? placeholders as $1, $2, … (the queries have no ? in a literal), and
-- how many there are
local function dollars(sql)
  local n = 0
  return (sql:gsub("%?", function()
    n = n + 1
    return "$" .. n
  end)), n
end

-- A statement as outcomes.lua uses SQLite's: run (the rows changed), rows.
-- Values past the statement's parameters are nils (as SQLite takes them).
local function statement(conn, sql)
  local n
  sql, n = dollars(sql)
  local function query(...)
    return conn:query(sql, unpack({ ... }, 1, n))
  end
  return {
    run = function(_, ...)
      local rows, changed = query(...)
      if not rows then return nil, changed end
      return changed
    end,
    rows = function(_, ...) return query(...) end,
    close = function() end,
  }
end

local function adapter(conn)
  return {
    prepare = function(_, sql) return statement(conn, sql) end,
    exec = function(_, sql) return conn:exec(sql) end,
    close = function() conn:close() end,
  }
end

-- One element of a PostgreSQL array literal.
local function elem(v)
  if v == nil then return "NULL" end
  if type(v) == "number" then return format("%.17g", v) end
  return '"' .. tostring(v):gsub('[\\"]', "\\%0") .. '"'
end

local function array(t, n)
  local parts = {}
  for i = 1, n do parts[i] = elem(t[i]) end
  return "{" .. concat(parts, ",") .. "}"
end

-- The arrays of a group of receipts (ADD_MANY's parameters), or nil when
-- none of the events is a batch's delivery receipt.
local function group_args(events)
  if type(events) ~= "table" then
    error("outcomes: add_many: expected an array of events, got " .. type(events), 4)
  end
  local cols = { {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} }
  local n, now = 0, os_time()
  local now_iso = os_date("!%Y-%m-%dT%H:%M:%SZ", now)
  for _, ev in ipairs(events) do
    if type(ev) ~= "table" then
      error("outcomes: add: expected an event from webhook.parse, got " .. type(ev), 4)
    end
    if ev.type == "message_delivery" and ev.batch_id then
      n = n + 1
      -- the values SQLite's store keeps, text cleaned the same way (outcomes.receipt_row)
      local key, batch_id, index, message_id, status, code, desc, at, rank =
        outcomes.receipt_row(ev, now_iso)
      cols[1][n], cols[2][n], cols[3][n], cols[4][n], cols[5][n] = key, batch_id, index, message_id,
        status
      cols[6][n], cols[7][n], cols[8][n], cols[9][n], cols[10][n] = code, desc, at, now, rank
      cols[11][n] = n
    end
  end
  if n == 0 then return nil end
  local args = {}
  for i = 1, 11 do args[i] = array(cols[i], n) end
  return args
end

-- Store:add_many on PostgreSQL: one statement, one round trip.
local function add_many(self, events)
  local args = group_args(events)
  if not args then return 0 end
  local rows, err = self.db.conn:run("add_many", unpack(args, 1, 11))
  if not rows then return nil, store_error("add receipts", err) end
  return rows[1][1]
end

local backend = { add_many = add_many }

--- store:send_many(events): add_many without waiting for the commit, for a
-- receiver that keeps reading requests meanwhile (PostgreSQL's commit waits
-- for its disk).  Returns true (sent: watch `store.pollable` with
-- socket.select, then call store:poll_many()), a number (nothing needed
-- sending: that many new receipts), or nil and an error.  No other call
-- may use the store until poll_many has answered.
local function send_many(self, events)
  local args = group_args(events)
  if not args then return 0 end
  local ok, err = self.db.conn:send_prepared("add_many", unpack(args, 1, 11))
  if not ok then return nil, store_error("add receipts", err) end
  return true
end

--- store:poll_many(): false while the group sent is not committed yet; then
-- the number of new receipts, or nil and an error.
local function poll_many(self)
  local conn = self.db.conn
  local ready, err = conn:ready()
  if ready == nil then return nil, store_error("add receipts", err) end
  if not ready then return false end
  local rows
  rows, err = conn:result()
  if not rows then return nil, store_error("add receipts", err) end
  return rows[1][1]
end

--- Opens (creating its tables) the store at a PostgreSQL URL.
-- @tparam string url postgresql://user[:password]@host:port/db[?options]
-- @tparam[opt] table opts `connect_timeout` (s, default 10)
-- @return a sinch.batch.outcomes store, or nil and an error (never holding
--   the password)
function _M.open(url, opts)
  opts = opts or {}
  local shown = redact(url)
  local conn, err = pq().open(url, opts.connect_timeout)
  if not conn then return nil, store_error("open " .. shown, err) end
  local ok, serr = conn:exec("SET statement_timeout = '60s'; SET client_min_messages = warning; " ..
    "BEGIN; SELECT pg_advisory_xact_lock(" .. SCHEMA_LOCK .. "); " .. SCHEMA .. " COMMIT")
  if not ok then
    conn:close()
    return nil, store_error("schema of " .. shown, serr)
  end
  ok, serr = conn:prepare("add_many", ADD_MANY) -- parsed and planned once per connection
  if not ok then
    conn:close()
    return nil, store_error("prepare of " .. shown, serr)
  end
  local db = adapter(conn)
  db.conn = conn
  local st = {}
  for name, sql in pairs(STATEMENTS) do st[name] = statement(conn, sql) end
  local s = outcomes._new(db, st, shown, backend)
  s.send_many, s.poll_many = send_many, poll_many
  s.pollable = { getfd = function() return conn:fd() end, dirty = function() return false end }
  return s
end

return _M
