--- sinch.batch.store: opens the receipts store (sinch.batch.outcomes) named
-- by a URL, so that receivers and `sinch-batch report` take the same
-- argument whichever database holds the receipts.
--
--   local store = require "sinch.batch.store"
--   local s = assert(store.open("spring.receipts"))             -- SQLite
--   local s = assert(store.open("sqlite:/var/lib/sinch/r.db"))  -- SQLite
--   local s = assert(store.open("postgresql://sinch@db1:5432/receipts"))
--   -- report: never create an empty SQLite file for a mistyped path
--   local s, err = store.open(arg, { must_exist = true })
--
-- SQLite (one host: every receiver and the CLI share one WAL file) and
-- PostgreSQL (receivers on several hosts) hold the same tables and take
-- the same idempotent upserts: a retried callback counts once in either.
-- @module sinch.batch.store
local errors = require "sinch.batch.errors"

local type, tostring, format = type, tostring, string.format

local _M = { _VERSION = "0.1.0" }

--- The password of a URL, hidden (for errors and tostring).
function _M.redact(url)
  return (tostring(url):gsub("^(%a[%w+.-]*://[^:/@]*):[^@/]*@", "%1:***@")
    :gsub("([?&]password=)[^&]*", "%1***"))
end

--- Splits a store URL: "sqlite", path | "postgresql", url | nil, err.
-- A bare path is SQLite; `sqlite:PATH` too; `postgresql://…` and
-- `postgres://…` are PostgreSQL (libpq's connection URI); any other
-- scheme is refused.
function _M.parse(url)
  if type(url) ~= "string" or url == "" then
    return nil, errors.new("invalid", "store: expected a file name or a URL, got " .. tostring(url))
  end
  if url:find("^postgres[%a]*://") then
    if not url:find("^postgresql://") and not url:find("^postgres://") then
      return nil, errors.new("invalid", format("store %s: unknown scheme (postgresql://… or sqlite:PATH)",
        _M.redact(url)))
    end
    return "postgresql", url
  end
  local path = url:match("^sqlite:(.*)$")
  if path then
    path = path:gsub("^//", "") -- sqlite:///abs/path reads as /abs/path
    if path == "" then return nil, errors.new("invalid", "store sqlite:: expected sqlite:PATH") end
    return "sqlite", path
  end
  local scheme = url:match("^(%a[%w+.-]*)://")
  if scheme then
    return nil, errors.new("invalid", format("store %s: unknown scheme %q (postgresql://… or sqlite:PATH)",
      _M.redact(url), scheme))
  end
  return "sqlite", url
end

--- Opens the store named by `url`.
-- @tparam string url a file name, sqlite:PATH or postgresql://…
-- @tparam[opt] table opts `must_exist` (refuse a SQLite file that is not
--   there, instead of creating an empty one), `synchronous` ("NORMAL", the
--   default: a receipt survives the process being killed, or "FULL": it
--   survives a power loss; SQLite only, PostgreSQL commits durably),
--   `busy_timeout` (ms, SQLite)
-- @return the store (see sinch.batch.outcomes), or nil and an error whose
--   `kind` is "invalid" for a URL or path that cannot be right
function _M.open(url, opts)
  opts = opts or {}
  local kind, target = _M.parse(url)
  if not kind then return nil, target end
  local outcomes = require "sinch.batch.outcomes"
  if kind == "postgresql" then
    return require("sinch.batch.store.postgres").open(target, opts)
  end
  if opts.must_exist then
    local f = io.open(target, "rb")
    if not f then
      return nil, errors.new("invalid", format("store %s: no such file (give an existing receipts store)",
        target))
    end
    f:close()
  end
  return outcomes.open(target, { busy_timeout = opts.busy_timeout, synchronous = opts.synchronous })
end

return _M
