-- Helpers shared by the integration specs that look at what the sandbox
-- received (client_spec, cli_spec, ...).
local _M = {}

--- A copy of `h` with lower-cased header names.
function _M.lower_headers(h)
  local t = {}
  for k, v in pairs(h or {}) do t[k:lower()] = v end
  return t
end

--- The API requests the sandbox logged, token fetches left out.
function _M.api_requests(m)
  local out = {}
  for _, r in ipairs(m:requests()) do
    if r.path ~= "/oauth2/token" then out[#out + 1] = r end
  end
  return out
end

--- The last API request the sandbox logged (token fetches left out).
function _M.last_api_request(m)
  local reqs = _M.api_requests(m)
  return reqs[#reqs]
end

--- A RecipientAndParam for an SMS number, as a hand-made table.
function _M.sms(number, params)
  local ids = { { channel = "SMS", identity = number } }
  return { recipient = { identified_by = { channel_identities = ids } }, parameters = params }
end

--- A string quoted for sh.
function _M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

return _M
