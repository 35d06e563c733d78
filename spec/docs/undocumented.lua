-- undocumented.lua ROOT [DOC_DIR]: every public function of the modules the LDoc
-- reference covers (lua/**/*.lua less config.ld's exclude list) has a doc
-- comment (a `---` block right above it), so the reference leaves none out.
-- A public function: `function T.name(` or `function T:name(` or
-- `T.name = function(` at the start of a line, whose name does not begin
-- with `_` (metamethods and private helpers).  Also checks that LDoc renders
-- markdown (backticks become <code>), i.e. that a markdown module is there.
local root = arg[1] or "."

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local config = read(root .. "/config.ld")
local excluded = {}
for f in (config:match("exclude%s*=%s*(%b{})") or ""):gmatch('"([^"]+)"') do excluded[f] = true end

local p = assert(io.popen("cd '" .. root .. "' && find lua -name '*.lua' | sort"))
local missing, checked, files = {}, 0, 0
for file in p:lines() do
  if not excluded[file] then
    files = files + 1
    local prev = "" -- the last non-blank line
    local n = 0
    for line in (read(root .. "/" .. file) .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      local name = line:match("^function%s+[%w_]+[.:]([%w_]+)%s*%(")
        or line:match("^[%w_]+%.([%w_]+)%s*=%s*function%s*%(")
      if name and name:sub(1, 1) ~= "_" then
        checked = checked + 1
        if not prev:match("^%s*%-%-") then
          missing[#missing + 1] = ("%s:%d: %s"):format(file, n, line)
        end
      end
      if line:match("%S") then prev = line end
    end
  end
end
p:close()

-- the reference itself: each module's page names every function its table
-- holds (re-exports such as message.check included) and every method defined
-- above; markdown is rendered
local doc = arg[2]
local pages = 0
if doc then
  local build = doc:match("^(.*)/doc$") or (root .. "/build")
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = build .. "/lua54/?.so;" .. package.cpath
  local q = assert(io.popen("cd '" .. root .. "' && find lua -name '*.lua' | sort"))
  for file in q:lines() do
    if not excluded[file] then
      local mod = file:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      local h = io.open(doc .. "/modules/" .. mod .. ".html", "rb")
      local html = h and h:read("*a") or ""
      if h then h:close(); pages = pages + 1 else missing[#missing + 1] = mod .. ": no reference page" end
      local anchors = {}
      for a in html:gmatch('<a name = "([^"]+)"') do anchors[a] = true end
      local ok_req, m = pcall(require, mod)
      if not ok_req then
        missing[#missing + 1] = mod .. ": does not load: " .. tostring(m)
      elseif type(m) == "table" then
        for k, v in pairs(m) do
          if type(v) == "function" and type(k) == "string" and k:sub(1, 1) ~= "_"
             and not anchors[k] then
            missing[#missing + 1] = ("%s.%s: not in %s/modules/%s.html"):format(mod, k, doc, mod)
          end
        end
      end
      for line in read(root .. "/" .. file):gmatch("[^\n]+") do
        local t, sep, name = line:match("^function%s+([%w_]+)([.:])([%w_]+)%s*%(")
        if t and name:sub(1, 1) ~= "_" and not (anchors[name] or anchors[t .. sep .. name]
            or anchors[t .. "." .. name]) then
          missing[#missing + 1] = ("%s: %s%s%s not in the reference"):format(file, t, sep, name)
        end
      end
      if html:find("`[%w_.:]+`") then
        missing[#missing + 1] = mod .. ".html: backticks shown as they are (no markdown module for LDoc?)"
      end
    end
  end
  q:close()
  -- the C module's builder (docs/reference/core.luadoc): core.builder and
  -- every method of a real Builder
  local h = io.open(doc .. "/modules/sinch.batch.core.html", "rb")
  if not h then
    missing[#missing + 1] = "sinch.batch.core: no reference page"
  else
    local html = h:read("*a")
    h:close()
    pages = pages + 1
    if html:find("`", 1, true) then
      missing[#missing + 1] = "sinch.batch.core.html: a backtick shown as it is (an unrendered code span)"
    end
    local anchors = {}
    for a in html:gmatch('<a name = "([^"]+)"') do anchors[a] = true end
    local core = require "sinch.batch.core"
    if not anchors.builder then missing[#missing + 1] = "sinch.batch.core.builder: not in the reference" end
    local b = assert(core.builder("01APP", '{"text_message":{"text":"x"}}'))
    local methods = debug.getmetatable(b).__index -- (getmetatable says "locked")
    for k, v in pairs(methods) do
      if type(v) == "function" and k:sub(1, 1) ~= "_" and k ~= "add_entries" -- the client's own
         and not anchors["Builder:" .. k] then
        missing[#missing + 1] = "sinch.batch.core Builder:" .. k .. ": not in the reference"
      end
    end
    b:close()
  end
end

local ok = true
if #missing > 0 then
  io.stderr:write(#missing, " public function(s) without a doc comment:\n  ",
    table.concat(missing, "\n  "), "\n")
  ok = false
end
if checked == 0 then io.stderr:write("no public function found: the pattern is wrong\n"); ok = false end
print(("%d public functions in %d modules, %d reference pages read; %d problems")
  :format(checked, files, pages, #missing))
os.exit(ok and 0 or 1)
