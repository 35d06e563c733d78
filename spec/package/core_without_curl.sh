#!/usr/bin/env bash
# sinch.batch.core (every interpreter's build) must not need libcurl, so
# OpenResty, which loads only that module, never loads libcurl; the driver
# is sinch.batch.curl, which does.  Then a process that loads only the core
# runs a sans-I/O call with no libcurl mapped, and requiring the driver
# maps it.
set -euo pipefail
build=${1:?usage: core_without_curl.sh BUILD_DIR}
found=0
for so in "$build"/*/sinch/batch/core.so; do
  found=1
  if grep -q 'NEEDED.*libcurl' <<<"$(readelf -d "$so")"; then
    echo "FAIL: $so needs libcurl:"; readelf -d "$so" | grep NEEDED; exit 1
  fi
  curl_so=$(dirname "$so")/curl.so
  grep -q 'NEEDED.*libcurl' <<<"$(readelf -d "$curl_so")" || { echo "FAIL: $curl_so lacks libcurl"; exit 1; }
  echo "ok: $so does not link libcurl; $curl_so does"
done
[ "$found" = 1 ] || { echo "FAIL: no core.so under $build"; exit 1; }
# loading the core alone maps no libcurl into the process
out=$(LUA_CPATH="$build/lua54/?.so;;" lua5.4 -e '
  local core = require "sinch.batch.core"
  local c = assert(core.client{ project_id = "p", region = "eu", token = "t" })
  local call = assert(c:start("status", nil, "b1", nil, 1000))
  assert(call:next(1000) == "perform")
  for l in io.lines("/proc/self/maps") do
    if l:find("libcurl", 1, true) then error("libcurl mapped by sinch.batch.core alone") end
  end
  require "sinch.batch.curl"
  local mapped = false
  for l in io.lines("/proc/self/maps") do
    if l:find("libcurl", 1, true) then mapped = true end
  end
  assert(mapped, "sinch.batch.curl did not load libcurl")
  print("core alone: no libcurl mapped; sinch.batch.curl: libcurl mapped")')
echo "$out"
# the builds for the 5.1 API (PUC 5.1's headers and LuaJIT's) call only the
# 5.1 API, so either loads under PUC lua5.1 and under LuaJIT alike
for flavour in lua51 luajit; do
  [ -e "$build/$flavour/sinch/batch/core.so" ] || continue
  for interp in lua5.1 luajit; do
    command -v "$interp" >/dev/null || continue
    LUA_PATH="$(dirname "$0")/../../lua/?.lua;$(dirname "$0")/../../lua/?/init.lua;;" \
    LUA_CPATH="$build/$flavour/?.so;;" "$interp" -e '
      local b = require "sinch.batch"
      for _, m in ipairs{ "sinch.batch.curl", "sinch.batch.sqlite" } do require(m) end
      assert(b.client{ project_id = "p", region = "eu", token = "t" })' \
      || { echo "FAIL: the $flavour build does not load under $interp"; exit 1; }
    echo "ok: the $flavour build loads under $interp"
  done
done
# the core library does no I/O (DESIGN: sans-I/O): no file or socket call
lib=$(ls "$build"/libsinchbatch.so.* 2>/dev/null | head -1)
if [ -n "$lib" ]; then
  io=$(nm -D --undefined-only "$lib" | awk '{print $2}' | sed 's/@.*//' \
       | grep -xE 'fopen|fopen64|fread|fwrite|fclose|open|open64|read|write|socket|connect|send|recv' || true)
  [ -z "$io" ] || { echo "FAIL: $lib calls I/O functions: $io"; exit 1; }
  echo "ok: $lib calls no file or socket function"
fi
