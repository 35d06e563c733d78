-- The layers of the Lua modules: none requires a module above it.  Each
-- module is loaded alone in a fresh interpreter, and the modules it pulled
-- in are checked against the order below (the client never loads the
-- campaign package, the campaign package never loads the facade, the log
-- and the answer decoder load neither, the client's and the report page's
-- parts never load the module they are parts of).
local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local FLAVOUR = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:gsub("%D", ""))

-- what each module may never load
local ABOVE = {
  ["sinch.batch.log"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign",
                          "sinch.batch.campaign.journal", "sinch.batch.ledger" },
  ["sinch.batch.answer"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign" },
  ["sinch.batch.ledger"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign",
                             "sinch.batch.campaign.journal" },
  ["sinch.batch.client"] = { "sinch.batch", "sinch.batch.campaign", "sinch.batch.campaign.runner",
                             "sinch.batch.cli" },
  ["sinch.batch.campaign.journal"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign" },
  ["sinch.batch.campaign.runner"] = { "sinch.batch", "sinch.batch.campaign", "sinch.batch.cli" },
  ["sinch.batch.campaign.answers"] = { "sinch.batch", "sinch.batch.campaign", "sinch.batch.campaign.runner",
                                       "sinch.batch.client", "sinch.batch.cli" },
  ["sinch.batch.campaign"] = { "sinch.batch", "sinch.batch.cli", "sinch.batch.outcomes" },
  ["sinch.batch.outcomes"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign" },
  -- the client's parts load neither the client nor anything above it
  ["sinch.batch.contacts"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign" },
  ["sinch.batch.cancel"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.campaign" },
  -- the report page: its parts never load the page module above them, and
  -- none of it loads the store (it is handed one) or the client
  ["sinch.batch.report_html"] = { "sinch.batch", "sinch.batch.client", "sinch.batch.outcomes",
                                  "sinch.batch.cli" },
  ["sinch.batch.report_html.charts"] = { "sinch.batch.report_html", "sinch.batch.report_html.tables" },
  ["sinch.batch.report_html.tables"] = { "sinch.batch.report_html", "sinch.batch.report_html.charts" },
  ["sinch.batch.report_html.text"] = { "sinch.batch.report_html", "sinch.batch.report_html.charts",
                                       "sinch.batch.report_html.tables" },
}

describe("module layers", function()
  for name, never in pairs(ABOVE) do
    it(name .. " loads nothing above it", function()
      local build = os.getenv("SINCH_BATCH_BUILD") or "build"
      local code = ("package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path; "
        .. "package.cpath = %q .. '/?.so;' .. package.cpath; require %q; "
        .. "for k in pairs(package.loaded) do if k:find('^sinch') then print(k) end end")
        :format(build .. "/" .. FLAVOUR, name)
      local p = assert(io.popen(LUA .. " -e " .. ("%q"):format(code):gsub("\\\n", "\\n") .. " 2>&1"))
      local out = p:read("*a")
      p:close()
      local loaded = {}
      for line in out:gmatch("[^\n]+") do loaded[line] = true end
      assert.is_true(loaded[name], out)
      for _, other in ipairs(never) do
        assert.is_nil(loaded[other], name .. " loaded " .. other)
      end
    end)
  end
end)
