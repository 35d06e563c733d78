-- sinch.batch.cli.contacts: the contact commands of `sinch-batch`
-- (create-contacts, delete-contacts, consents).  Each takes the command's
-- arguments and the CLI's context (parse, usage, die, out, client,
-- csv_columns) and returns an exit status.
local batch = require "sinch.batch"

local fmt = string.format

local M = {}

M.HELP = {
  ["create-contacts"] = "sinch-batch create-contacts --csv FILE [--channel NAME] [--language EN_US]\n"
    .. "  (a column display_name or name becomes the contact's display name)\n",
  ["delete-contacts"] = "sinch-batch delete-contacts CONTACT_ID...\n",
  consents = "sinch-batch consents TYPE IDENTIFICATION...  (TYPE: OPT_OUT_ALL, OPT_OUT_MARKETING, "
    .. "OPT_OUT_NOTIFICATION)\n",
}

M["create-contacts"] = function(argv, ctx)
  local o = ctx.parse("create-contacts", argv, { csv = "value", channel = "value", language = "value" }, 0)
  if not o.csv then ctx.usage("create-contacts needs --csv FILE") end
  local language = o.language or "EN_US"
  if not batch.LANGUAGES[language] then
    ctx.usage(fmt("--language: %q is not a contact language", language))
  end
  local cols = ctx.csv_columns(o.csv)
  local src, err = batch.chunk.csv(o.csv, { channel = o.channel or (not cols.channel and "SMS" or nil),
                                            check_e164 = true })
  if not src then ctx.die(err) end
  local c, created = ctx.client(), 0
  local ok, rerr = pcall(function()
    for ch in src do
      local list = {}
      for i, r in ipairs(ch.recipients) do
        local id = r.recipient.identified_by.channel_identities[1]
        local p = r.parameters or {}
        list[i] = { channel_identities = { { channel = id.channel, identity = id.identity } },
                    language = language, display_name = p.display_name or p.name }
      end
      local res, cerr = c:create_contacts(list)
      if not res then error(cerr, 0) end
      created = created + #list
      ctx.out(res)
    end
  end)
  for _, bad in ipairs(src.bad) do
    io.stderr:write(fmt("sinch-batch: %s line %d skipped: %s\n", o.csv, bad.line, bad.reason))
  end
  if not ok then ctx.die(rerr) end
  if created == 0 then ctx.die(o.csv .. ": no contact to create") end
  return #src.bad > 0 and 3 or 0
end

M["delete-contacts"] = function(argv, ctx)
  local _, pos = ctx.parse("delete-contacts", argv, {})
  if not pos[1] then ctx.usage("delete-contacts needs at least one CONTACT_ID") end
  local res, err = ctx.client():delete_contacts(pos)
  if not res then ctx.die(err) end
  ctx.out(res)
end

function M.consents(argv, ctx)
  local _, pos = ctx.parse("consents", argv, {})
  local kind = table.remove(pos, 1)
  if not kind or not pos[1] then ctx.usage("consents needs TYPE and at least one IDENTIFICATION") end
  local records = {}
  for i, id in ipairs(pos) do records[i] = { identification = id, consent_type = kind } end
  local res, err = ctx.client():insert_consents{ records = records }
  if not res then ctx.die(err) end
  ctx.out(res)
end

return M
