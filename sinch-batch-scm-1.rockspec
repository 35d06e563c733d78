-- `luarocks make` (Lua 5.4) and `luarocks --lua-version=5.1 make` (LuaJIT,
-- OpenResty) build it with no extra flags and offline on Debian, with the
-- -dev packages listed in docs/install.md:
--  * lua-cjson: in the checkout, .luarocks/config-5.x.lua takes Debian's
--    lua-cjson package as providing the rock for the system's interpreter;
--    everyone else gets the rock from luarocks.org (the dependency stays).
--  * curl is looked up by its library only: LuaRocks searches
--    lib/$(gcc -print-multiarch), and the compiler finds Debian's
--    /usr/include/<multiarch>/curl/curl.h by itself.  Elsewhere, set
--    CURL_DIR (or CURL_INCDIR / CURL_LIBDIR) as usual.
--  * libpq (PQ, the PostgreSQL receipts store's sinch.batch.pq): Debian
--    keeps libpq-fe.h in /usr/include/postgresql.  In the checkout,
--    .luarocks/config-5.x.lua adds include/postgresql to where LuaRocks
--    looks for headers; elsewhere, pass PQ_INCDIR=/usr/include/postgresql
--    (or PQ_DIR=… for a libpq of its own prefix).
-- The rock does not build the sandbox sinch-batch-mock (a C program, which
-- the builtin build type cannot make): `cmake --install` installs it.
rockspec_format = "3.0"
package = "sinch-batch"
version = "scm-1"
source = {
  url = "git+file:///usr/src/sinch-batch",
}
description = {
  summary = "A client for the Sinch Conversation Batch API: C core, Lua module, sandbox.",
  detailed = [[
Send one message to up to 1000 recipients per request with ${param}
substitution, cancel and look up scheduled batches, bulk-create and delete
contacts, insert consent records, and verify and parse the callbacks.  A
sans-I/O C core (libcurl, jansson, libcrypto, libcsv) with a thin Lua binding
for Lua 5.1-5.4, LuaJIT and OpenResty (cosockets, never blocks a worker).
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson",
}
external_dependencies = {
  CURL = { library = "curl" },
  JANSSON = { header = "jansson.h" },
  OPENSSL = { header = "openssl/hmac.h" },
  CSV = { header = "csv.h" },
  SQLITE = { header = "sqlite3.h" },
  PQ = { header = "libpq-fe.h", library = "pq" },
}
build = {
  type = "builtin",
  modules = {
    ["sinch.batch"] = "lua/sinch/batch/init.lua",
    ["sinch.batch.errors"] = "lua/sinch/batch/errors.lua",
    ["sinch.batch.fsync"] = "lua/sinch/batch/fsync.lua",
    ["sinch.batch.message"] = "lua/sinch/batch/message.lua",
    ["sinch.batch.recipient"] = "lua/sinch/batch/recipient.lua",
    ["sinch.batch.chunk"] = "lua/sinch/batch/chunk.lua",
    ["sinch.batch.webhook"] = "lua/sinch/batch/webhook.lua",
    ["sinch.batch.ledger"] = "lua/sinch/batch/ledger.lua",
    ["sinch.batch.client"] = "lua/sinch/batch/client.lua",
    ["sinch.batch.contacts"] = "lua/sinch/batch/contacts.lua",
    ["sinch.batch.cancel"] = "lua/sinch/batch/cancel.lua",
    ["sinch.batch.batch"] = "lua/sinch/batch/batch.lua",
    ["sinch.batch.options"] = "lua/sinch/batch/options.lua",
    ["sinch.batch.fields"] = "lua/sinch/batch/fields.lua",
    ["sinch.batch.rules"] = "lua/sinch/batch/rules.lua",
    ["sinch.batch.params"] = "lua/sinch/batch/params.lua",
    ["sinch.batch.message.schema"] = "lua/sinch/batch/message/schema.lua",
    ["sinch.batch.message.kinds"] = "lua/sinch/batch/message/kinds.lua",
    ["sinch.batch.log"] = "lua/sinch/batch/log.lua",
    ["sinch.batch.answer"] = "lua/sinch/batch/answer.lua",
    ["sinch.batch.campaign"] = "lua/sinch/batch/campaign/init.lua",
    ["sinch.batch.campaign.journal"] = "lua/sinch/batch/campaign/journal.lua",
    ["sinch.batch.campaign.sources"] = "lua/sinch/batch/campaign/sources.lua",
    ["sinch.batch.campaign.drivers"] = "lua/sinch/batch/campaign/drivers.lua",
    ["sinch.batch.campaign.pacer"] = "lua/sinch/batch/campaign/pacer.lua",
    ["sinch.batch.campaign.runner"] = "lua/sinch/batch/campaign/runner.lua",
    ["sinch.batch.campaign.answers"] = "lua/sinch/batch/campaign/answers.lua",
    ["sinch.batch.campaign.receipts"] = "lua/sinch/batch/campaign/receipts.lua",
    ["sinch.batch.outcomes.schema"] = "lua/sinch/batch/outcomes/schema.lua",
    ["sinch.batch.outcomes.join"] = "lua/sinch/batch/outcomes/join.lua",
    ["sinch.batch.outcomes.timeline"] = "lua/sinch/batch/outcomes/timeline.lua",
    ["sinch.batch.journal"] = "lua/sinch/batch/journal.lua",
    ["sinch.batch.transport.ngx"] = "lua/sinch/batch/transport/ngx.lua",
    ["sinch.batch.transport.http1"] = "lua/sinch/batch/transport/http1.lua",
    ["sinch.batch.outcomes"] = "lua/sinch/batch/outcomes.lua",
    ["sinch.batch.store"] = "lua/sinch/batch/store.lua",
    ["sinch.batch.store.postgres"] = "lua/sinch/batch/store/postgres.lua",
    ["sinch.batch.report_html"] = "lua/sinch/batch/report_html.lua",
    ["sinch.batch.report_html.text"] = "lua/sinch/batch/report_html/text.lua",
    ["sinch.batch.report_html.style"] = "lua/sinch/batch/report_html/style.lua",
    ["sinch.batch.report_html.charts"] = "lua/sinch/batch/report_html/charts.lua",
    ["sinch.batch.report_html.tables"] = "lua/sinch/batch/report_html/tables.lua",
    ["sinch.batch.cli.report"] = "lua/sinch/batch/cli/report.lua",
    ["sinch.batch.cli.contacts"] = "lua/sinch/batch/cli/contacts.lua",
    ["sinch.batch.cli"] = "lua/sinch/batch/cli/init.lua",
    ["sinch.batch.cli.common"] = "lua/sinch/batch/cli/common.lua",
    ["sinch.batch.cli.send"] = "lua/sinch/batch/cli/send.lua",
    ["sinch.batch.cli.ops"] = "lua/sinch/batch/cli/ops.lua",
    -- the receipts store's SQLite calls: a module of its own, so that only
    -- sinch.batch.outcomes loads libsqlite3
    ["sinch.batch.sqlite"] = {
      sources = { "src/lua/store/sqlite.c" },
      incdirs = { "src", "src/lua", "$(SQLITE_INCDIR)" },
      libdirs = { "$(SQLITE_LIBDIR)" },
      libraries = { "sqlite3" },
    },
    -- the PostgreSQL receipts store's libpq calls (sinch.batch.store.postgres):
    -- a module of its own too, so that only that store loads libpq
    ["sinch.batch.pq"] = {
      sources = { "src/lua/store/pq.c" },
      incdirs = { "src", "src/lua", "$(PQ_INCDIR)" },
      libdirs = { "$(PQ_LIBDIR)" },
      libraries = { "pq" },
    },
    -- two C modules (src/lua/binding.h): the core without libcurl, which is
    -- all OpenResty loads, and the libcurl driver, loaded by client:call.
    -- spec/unit/rockspec_spec.lua checks that every C file is listed once.
    ["sinch.batch.core"] = {
      sources = {
        "src/core/buf.c",
        "src/core/builder.c",
        "src/core/builder_fields.c",
        "src/core/builder_row.c",
        "src/core/call.c",
        "src/core/client.c",
        "src/core/csv.c",
        "src/core/csvrows.c",
        "src/core/error.c",
        "src/core/feed.c",
        "src/core/http.c",
        "src/core/json.c",
        "src/core/plan.c",
        "src/core/receipt.c",
        "src/core/rules.c",
        "src/core/jsonread.c",
        "src/core/webhook.c",
        "src/io/csvfile.c", -- the CSV file source: stdio, no libcurl
        "src/lua/body.c",
        "src/lua/builder.c",
        "src/lua/builder_plan.c",
        "src/lua/builder_rows.c",
        "src/lua/client.c",
        "src/lua/core.c",
        "src/lua/csv.c",
        "src/lua/journal.c",
        "src/lua/rules.c",
        "src/lua/signal.c",
        "src/lua/util.c",
        "src/lua/webhook.c",
      },
      incdirs = { "src", "src/core", "$(JANSSON_INCDIR)", "$(OPENSSL_INCDIR)", "$(CSV_INCDIR)" },
      libdirs = { "$(JANSSON_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(CSV_LIBDIR)" },
      libraries = { "jansson", "crypto", "csv" },
    },
    ["sinch.batch.curl"] = {
      sources = {
        "src/curl/easy.c",
        "src/curl/multi.c",
        "src/curl/transfer.c",
        "src/lua/curl.c",
        "src/lua/multi.c",
      },
      incdirs = { "src", "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
  },
  install = {
    bin = { ["sinch-batch"] = "bin/sinch-batch" },
  },
}
