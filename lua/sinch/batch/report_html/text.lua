--- sinch.batch.report_html.text: what the report page's charts and tables
-- share: HTML escaping, the number formats (thousands separated, shares in
-- per cent), the series colours and the names of a timeline's units.
local tostring, tonumber = tostring, tonumber
local format, floor = string.format, math.floor

local _M = {}

-- Okabe & Ito's palette: told apart with any colour vision, and in grey
-- (delivered dark, failed light, pending mid)
_M.BLUE, _M.ORANGE, _M.GREEN = "#0072B2", "#E69F00", "#009E73"

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
--- Text made safe in HTML (`& < > " '` as entities).
function _M.esc(s) return (tostring(s):gsub("[&<>\"']", ESC)) end

--- A whole number (0 for what is not a number).
local function int(n) return floor(tonumber(n) or 0) end
_M.int = int

--- 1234567 -> "1,234,567"
function _M.num(n)
  local s = format("%d", int(n))
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

--- n as a share of `of`, "12.5 %" ("–" when `of` is 0 or nil).
function _M.pct(n, of)
  if not of or of == 0 then return "–" end
  return format("%.1f %%", 100 * n / of)
end

-- a timeline's unit, as the charts' axis and the table's caption say it
_M.UNIT_LABEL = { ["tenth of a second"] = "per tenth of a second", second = "per second",
                  minute = "per minute", hour = "per hour" }

return _M
