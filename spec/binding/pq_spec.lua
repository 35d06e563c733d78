-- sinch.batch.pq, the PostgreSQL connection of the receipts store: the C
-- contract without a server (a refused connection, misuse) and
-- sinch.batch.store's URLs.  A connection's contract (close, misuse once
-- closed, failed queries) needs a server: spec/integration/pg_store_spec.lua.
local socket = require "socket"
local store = require "sinch.batch.store"

local ok_pq, pq = pcall(require, "sinch.batch.pq")

-- a port of 127.0.0.1 where nothing listens
local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("sinch.batch.pq", function()
  it("is built (libpq-dev, .ci/setup)", function()
    assert.is_true(ok_pq, tostring(pq))
  end)

  it("returns nil and libpq's message when it cannot connect, without the password", function()
    local db, err = pq.open(("postgresql://u:s3cret@127.0.0.1:%d/db"):format(closed_port()), 5)
    assert.is_nil(db)
    assert.matches("^postgresql: connect: ", err)
    assert.is_nil(err:find("s3cret", 1, true))
  end)

  it("raises on misuse: a timeout out of range, a non-string URL", function()
    assert.has_error(function() pq.open("postgresql://x", 0) end)
    assert.has_error(function() pq.open({}) end)
  end)
  it("has libpq's version", function() assert.matches("^%d+%.%d+$", pq.libpq_version) end)
end)

describe("sinch.batch.store URLs", function()
  it("takes a bare path or sqlite:PATH as SQLite, postgres(ql):// as PostgreSQL", function()
    assert.same({ "sqlite", "a/b.db" }, { store.parse("a/b.db") })
    assert.same({ "sqlite", "/x/y.db" }, { store.parse("sqlite:/x/y.db") })
    assert.same({ "sqlite", "/x/y.db" }, { store.parse("sqlite:///x/y.db") })
    assert.same({ "postgresql", "postgresql://h/db" }, { store.parse("postgresql://h/db") })
    assert.same({ "postgresql", "postgres://h/db" }, { store.parse("postgres://h/db") })
  end)

  it("refuses another scheme, an empty path and a missing file with must_exist, naming it", function()
    local _, err = store.parse("mysql://u:pw@h/db")
    assert.equal("invalid", err.kind)
    assert.matches("unknown scheme \"mysql\"", err.message, 1, true)
    assert.is_nil(err.message:find("pw@", 1, true))
    _, err = store.parse("postgresqlx://h/db")
    assert.equal("invalid", err.kind)
    _, err = store.parse("sqlite:")
    assert.equal("invalid", err.kind)
    local missing = os.tmpname()
    os.remove(missing)
    _, err = store.open(missing, { must_exist = true })
    assert.equal("invalid", err.kind)
    assert.matches("no such file", err.message, 1, true)
    assert.is_nil(io.open(missing, "rb")) -- nothing created
  end)

  it("hides a URL's password", function()
    assert.equal("postgresql://u:***@h/db", store.redact("postgresql://u:pw@h/db"))
    assert.equal("postgresql://h/db?password=***&x=1", store.redact("postgresql://h/db?password=pw&x=1"))
    assert.equal("postgresql://u@h/db", store.redact("postgresql://u@h/db"))
  end)

  it("refuses a PostgreSQL store that cannot be reached, with an error and no password", function()
    local s, err = store.open(("postgresql://u:s3cret@127.0.0.1:%d/db"):format(closed_port()))
    assert.is_nil(s)
    assert.equal("internal", err.kind)
    assert.is_nil(tostring(err):find("s3cret", 1, true))
    assert.matches("u:***@", tostring(err), 1, true)
  end)
end)
