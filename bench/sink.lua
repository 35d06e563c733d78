-- bench/sink.lua -- a fixed-answer nginx on a free 127.0.0.1 port for the
-- end-to-end benchmarks: every send answers 200 {"batch_id":"x"}, the
-- token endpoint a token, and /count how many sends it answered (from
-- the access log's line count is too slow: a shared counter instead).
--
--   local sink = require "sink"
--   local s = sink.start()   -- s.url, s:count(), s:stop()
local nginx = require "support.nginx"

local _M = {}

local Sink = {}
Sink.__index = Sink

function _M.start()
  local n = nginx.start{
    http = "lua_shared_dict sink 1m;",
    server = [[
      client_max_body_size 8m;
      location = /oauth2/token {
        default_type application/json;
        return 200 '{"access_token":"sink-token","expires_in":3600,"token_type":"bearer"}';
      }
      location = /count {
        content_by_lua_block { ngx.print(ngx.shared.sink:get("sends") or 0) }
      }
      location / {
        default_type application/json;
        log_by_lua_block { ngx.shared.sink:incr("sends", 1, 0) }
        return 200 '{"batch_id":"x"}';
      }
    ]],
  }
  return setmetatable({ nginx = n, url = n.url }, Sink)
end

function Sink:count()
  local status, body = self.nginx:request("GET", "/count")
  assert(status == 200, "sink: /count answered " .. tostring(status))
  return tonumber(body)
end

function Sink:stop() return self.nginx:stop() end

return _M
