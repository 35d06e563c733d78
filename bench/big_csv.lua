-- The campaign benches' contacts: a CSV of n rows (phone, name, code),
-- written a thousand lines at a time.
--   require("big_csv").write(path, n)   (package.path holds bench/?.lua)
local fmt, concat = string.format, table.concat

local _M = {}

function _M.write(path, n)
  local f = assert(io.open(path, "w"))
  f:write("phone,name,code\n")
  local lines = {}
  for i = 1, n do
    lines[#lines + 1] = fmt("+4670%07d,Name %d,%04d\n", i, i, i % 10000)
    if #lines == 1000 then
      f:write(concat(lines))
      lines = {}
    end
  end
  f:write(concat(lines))
  f:close()
end

return _M
