-- Shared modules stay in the Lua 5.1 / 5.4 / LuaJIT subset.
std = "min"
max_line_length = 110
codes = true
exclude_files = { "build*/**" }
files["spec/**/*_spec.lua"] = { std = "+busted" }
files["spec/support/**"] = { std = "+busted" }
files["lua/sinch/batch/transport/**"] = { globals = { "ngx" } }
files["examples/openresty/**"] = { globals = { "ngx" } }
files["spec/integration/nginx/**"] = { globals = { "ngx" } }
