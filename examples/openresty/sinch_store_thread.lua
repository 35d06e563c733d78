--- Runs in nginx's thread pool (ngx.run_worker_thread), never in a worker:
-- writes a group of receipts, and the batches the ledger learnt, to the
-- receipts store in one transaction, and answers only once it is committed.
-- Each pool thread has a Lua state of its own, kept between calls, so each
-- keeps its store open.  Arguments and answers are plain values (strings,
-- numbers, tables of them).
local store_url = require "sinch.batch.store"

local _M = {}

local stores = {} -- this thread's open stores, by URL

--- write(url, sync, events, batches): the number of new receipts, or nil
-- and a message.  `sync` is SQLite's synchronous (NORMAL or FULL).
function _M.write(url, sync, events, batches)
  local s = stores[url]
  if not s then
    local err
    for _ = 1, 100 do -- workers opening a new file at once: its creation is locked a moment
      s, err = store_url.open(url, { synchronous = sync })
      if s or not tostring(err):find("locked", 1, true) then break end
      require("sinch.batch.core").sleep_ms(10)
    end
    if not s then return nil, tostring(err) end
    if store_url.parse(url) == "sqlite" then
      -- the workers' connections take turns writing, so each transaction
      -- finds its page cache stale: read the file through the OS's cache
      s.db:exec("PRAGMA mmap_size = 268435456")
    end
    stores[url] = s
  end
  for _, b in ipairs(batches or {}) do
    local ok, err = s:add_batch(b)
    if not ok then return nil, tostring(err) end
  end
  if not events or #events == 0 then return 0 end
  local n, err = s:add_many(events)
  if not n then -- a connection broken (PostgreSQL restarted): open it again next time
    s:close()
    stores[url] = nil
    return nil, tostring(err)
  end
  return n
end

return _M
