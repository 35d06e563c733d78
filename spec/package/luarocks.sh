#!/usr/bin/env bash
# Installs the rock with `luarocks make` from a copy of this tree into a
# temporary tree (no network: --deps-mode=none, lua-cjson is Debian's) and
# checks that the installed modules and CLI load and work.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
lua=${1:-5.4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/tree"
(cd "$src" && git ls-files -z 2>/dev/null | xargs -0 tar -cf - 2>/dev/null || tar --exclude='./build*' -cf - .) \
  | (cd "$work/src" && tar -xf -)
cd "$work/src"
# Debian keeps curl.h under the multiarch include directory
  multi=$(gcc -print-multiarch)
  luarocks --lua-version="$lua" make --tree "$work/tree" --deps-mode=none sinch-batch-scm-1.rockspec \
    CURL_INCDIR=/usr/include/$multi >"$work/log" 2>&1 \
  || { cat "$work/log"; exit 1; }
interp=lua$lua
[ "$lua" = 5.1 ] && interp=luajit
cd "$work"
LUA_PATH="$work/tree/share/lua/$lua/?.lua;$work/tree/share/lua/$lua/?/init.lua;;" \
LUA_CPATH="$work/tree/lib/lua/$lua/?.so;;" \
"$interp" -e '
  local batch = require "sinch.batch"
  assert(batch.core._VERSION == batch._VERSION)
  assert(package.searchpath == nil or package.searchpath("sinch.batch.core", package.cpath):find("/tree/", 1, true))
  local c = assert(batch.client{ project_id = "p", region = "eu", token = "t" })
  assert(tostring(c) == "sinch.batch.Client (eu, project p)")
  assert(package.loaded["sinch.batch.curl"], "the facade did not load the libcurl driver")
  assert(require("sinch.batch.curl").version:match("^libcurl/"))
  assert(batch.message.text("x").text_message.text == "x")
  assert(batch.webhook.verify)
  print("installed rock works: " .. batch._VERSION)'
test -x "$work/tree/bin/sinch-batch"
# two C modules: the core without libcurl (all OpenResty loads), the driver with it
core_so=$work/tree/lib/lua/$lua/sinch/batch/core.so
curl_so=$work/tree/lib/lua/$lua/sinch/batch/curl.so
if readelf -d "$core_so" | grep -q 'NEEDED.*libcurl'; then echo "FAIL: $core_so links libcurl"; exit 1; fi
readelf -d "$curl_so" | grep -q 'NEEDED.*libcurl' || { echo "FAIL: $curl_so lacks libcurl"; exit 1; }
