#!/usr/bin/env bash
# luarocks.sh VERSION MOCK: installs the rock with a plain `luarocks make`
# (no flags but the Lua version and a temporary tree) from a copy of this
# tree, offline, and uses it from outside the checkout: require "sinch.batch"
# and a send to the sandbox MOCK with a plain interpreter (LuaJIT and PUC for
# 5.1), the PostgreSQL store's libpq module (Debian's header directory comes
# from .luarocks/config-5.x.lua), and the CLI on the PATH and through a
# symlink sending to it (the rock does not install the sandbox).
set -Eeuo pipefail
trap 'echo "$(basename "$0"): failed at line $LINENO: $BASH_COMMAND" >&2' ERR
src=$(cd "$(dirname "$0")/../.." && pwd)
lua=${1:-5.4}
mock=$(realpath "${2:-$src/build/sinch-batch-mock}")
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-rock.XXXXXX")
. "$src/spec/package/lib.sh"
trap 'stop_mock; rm -rf "$work"' EXIT
mkdir "$work/src" "$work/tree"
copy_tree "$work/src"
cd "$work/src"
luarocks --lua-version="$lua" make --tree "$work/tree" >"$work/log" 2>&1 \
  || { cat "$work/log"; exit 1; }
# offline: nothing was looked up on a server (lua-cjson is Debian's)
if grep -Eq 'Failed (downloading|searching)|manifest-' "$work/log"; then
  cat "$work/log"; echo "luarocks make went looking for rocks on the network" >&2; exit 1
fi
grep -q 'lua-cjson (2.1.0-1 provided by VM)' "$work/log"
# the claim is the checkout's, for the system's interpreter only, and can be turned off
[ "$(SINCH_BATCH_CJSON=rock luarocks --lua-version="$lua" config rocks_provided 2>/dev/null || true)" = "" ]
cd "$work"
[ "$(luarocks --lua-version="$lua" config rocks_provided 2>/dev/null || true)" = "" ]

start_mock "$mock"
interps=("lua$lua")
[ "$lua" = 5.1 ] && interps=(luajit lua5.1)
for interp in "${interps[@]}"; do
  command -v "$interp" >/dev/null || { echo "$interp: not installed" >&2; exit 1; }
  check_require "$interp" "$work/tree/share/lua/$lua" "$work/tree/lib/lua/$lua"
  check_pq "$interp" "$work/tree/share/lua/$lua" "$work/tree/lib/lua/$lua"
done
check_cli "$work/tree/bin"
# LuaRocks' wrapper through a symlink (it runs the Lua $lua interpreter
# LuaRocks knows, with the tree's paths)
mkdir "$work/links"
ln -s "$work/tree/bin/sinch-batch" "$work/links/sinch-batch"
check_cli "$work/links"
if [ "$lua" = 5.1 ]; then
  # the wrapper runs PUC lua5.1; the CLI goes on under LuaJIT (same modules),
  # unless SINCH_BATCH_LUA says otherwise
  v=$(env -u SINCH_BATCH_LUA "$work/links/sinch-batch" --version)
  case $v in *LuaJIT*) ;; *) echo "the 5.1 rock's CLI runs under: $v" >&2; exit 1 ;; esac
  v=$(SINCH_BATCH_LUA=lua5.1 "$work/links/sinch-batch" --version)
  case $v in *"Lua 5.1"*) ;; *) echo "SINCH_BATCH_LUA=lua5.1: $v" >&2; exit 1 ;; esac
  SINCH_BATCH_LUA=lua5.1 check_cli "$work/links"
  echo "the 5.1 rock's CLI: LuaJIT by default, PUC 5.1 with SINCH_BATCH_LUA=lua5.1"
fi
# two C modules: the core without libcurl (all OpenResty loads), the driver with it
core_so=$work/tree/lib/lua/$lua/sinch/batch/core.so
curl_so=$work/tree/lib/lua/$lua/sinch/batch/curl.so
if grep -q 'NEEDED.*libcurl' <<<"$(readelf -d "$core_so")"; then echo "FAIL: $core_so links libcurl"; exit 1; fi
grep -q 'NEEDED.*libcurl' <<<"$(readelf -d "$curl_so")" || { echo "FAIL: $curl_so lacks libcurl"; exit 1; }
# the stores' own modules: only sinch.batch.pq loads libpq
pq_so=$work/tree/lib/lua/$lua/sinch/batch/pq.so
grep -q 'NEEDED.*libpq' <<<"$(readelf -d "$pq_so")" || { echo "FAIL: $pq_so lacks libpq"; exit 1; }
if grep -q 'NEEDED.*libpq' <<<"$(readelf -d "$core_so")"; then echo "FAIL: $core_so links libpq"; exit 1; fi
