-- Checks the documentation tree: README.md stays short (at most 250 lines),
-- and every relative link in README.md and docs/*.md points at a file or
-- directory that exists (anchors and absolute URLs are not followed), and no
-- line suggests retrying a send (`--retry` next to `/send`): a retried POST
-- can create the same batch twice.
-- Usage: lua spec/docs/links.lua [ROOT]   (ROOT defaults to the working directory)
local root = arg[1] or "."
local MAX_README_LINES = 250

local failures = {}
local function fail(fmt, ...) failures[#failures + 1] = string.format(fmt, ...) end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  -- a directory: io.open fails on some platforms, so ask for "path/."
  f = io.open(path .. "/.", "rb")
  if f then f:close() return true end
  return os.rename(path, path) ~= nil
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- the markdown files: README.md and docs/*.md (listed with ls, no lfs needed)
local files = { "README.md" }
local ls = io.popen('ls "' .. root .. '/docs" 2>/dev/null')
for name in ls:lines() do
  if name:match("%.md$") then files[#files + 1] = "docs/" .. name end
end
ls:close()
if #files == 1 then fail("docs/: no markdown files found under %s/docs", root) end

local readme = read(root .. "/README.md")
if not readme then
  fail("README.md: not found under %s", root)
else
  local n = select(2, readme:gsub("\n", "\n"))
  if n > MAX_README_LINES then
    fail("README.md: %d lines; the README holds at most %d (move the rest to docs/)",
      n, MAX_README_LINES)
  end
end

local checked = 0
for _, file in ipairs(files) do
  local text = read(root .. "/" .. file)
  local fenced = false
  local ln = 0
  for line in (text or ""):gmatch("([^\n]*)\n?") do
    ln = ln + 1
    if line:find("--retry", 1, true) and line:find("/send", 1, true) then
      fail("%s:%d: retries a send (a batch may be created twice): %s", file, ln, line)
    end
    if line:match("^%s*```") then
      fenced = not fenced   -- a snippet's brackets are not links
    elseif not fenced then
      for target in line:gmatch("%]%(([^)%s]+)[^)]*%)") do
        local path = target:gsub("#.*$", "")
        if not target:match("^%a[%w+.-]*:") and path ~= "" then
          checked = checked + 1
          if not exists(root .. "/" .. dirname(file) .. "/" .. path) then
            fail("%s:%d: link to %s, which does not exist", file, ln, target)
          end
        end
      end
    end
  end
end

if #failures > 0 then
  for _, f in ipairs(failures) do io.stderr:write(f, "\n") end
  os.exit(1)
end
print(string.format("docs: README.md within %d lines; %d relative links in %d files all resolve",
  MAX_README_LINES, checked, #files))
