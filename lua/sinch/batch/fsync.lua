--- sinch.batch.fsync: the journal's fsync, run by OpenResty in a worker
-- thread (ngx.run_worker_thread) so that a campaign's journal never blocks
-- the nginx worker on the disk.  Loaded by that thread's own Lua state;
-- it answers plain values.
-- @module sinch.batch.fsync
local _M = { _VERSION = "0.1.0" }

--- fsync(2) the descriptor `fd`: true, or nil and a message.
function _M.fsync(fd)
  return require("sinch.batch.core").fsync(fd)
end

return _M
