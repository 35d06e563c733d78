-- The receipts store's one definition of its tables and statements, in
-- both dialects: the SQLite and the PostgreSQL store create the same
-- tables with the same columns and prepare the same statements; only the
-- dialect's words differ (a column's type, BEGIN).
local schema = require "sinch.batch.outcomes.schema"

-- { table = { column, … } } of a script's CREATE TABLEs
local function tables(sql)
  local out = {}
  for name, body in sql:gmatch("CREATE TABLE IF NOT EXISTS ([%w_]+) (%b())") do
    local cols = {}
    for line in body:sub(2, -2):gmatch("[^\n]+") do
      local col = line:match("^%s*([%w_]+) ")
      if col and col ~= "PRIMARY" then cols[#cols + 1] = col end
    end
    out[name] = cols
  end
  return out
end

describe("sinch.batch.outcomes.schema", function()
  local lite, pg = schema.schema("sqlite"), schema.schema("postgres")

  it("gives both stores the same tables and columns, every placeholder filled", function()
    local t = tables(lite)
    assert.same({ "key", "batch_id", "msg_index", "message_id", "status", "reason", "description",
                  "event_time", "received" }, t.receipts)
    assert.same(t, tables(pg))
    assert.is_nil(lite:find("${", 1, true))
    assert.is_nil(pg:find("${", 1, true))
    assert.matches("msg_index BIGINT", pg)
    assert.matches("msg_index INTEGER", lite)
    assert.matches("PRAGMA journal_mode = WAL", lite)
    assert.is_nil(pg:find("PRAGMA", 1, true))
  end)

  it("gives both stores the same statements, but for the dialect's BEGIN", function()
    local a, b = schema.statements("sqlite"), schema.statements("postgres")
    assert.equal("BEGIN IMMEDIATE", a.begin)
    assert.equal("BEGIN", b.begin)
    a.begin, b.begin = nil, nil
    assert.same(a, b)
    assert.same(schema.statements("sqlite").receipt, schema.STATEMENTS.receipt)
    assert.equal(schema.schema("sqlite"), schema.SCHEMA)
  end)

  it("refuses a dialect it does not know, naming it", function()
    assert.has_error(function() schema.schema("mysql") end,
      "sinch.batch.outcomes.schema: no such dialect: mysql")
  end)
end)
