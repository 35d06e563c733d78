#!/usr/bin/env bash
# launcher.sh BUILD_DIR: bin/sinch-batch from a checkout, run as a program
# from elsewhere: through a symlink it runs under the best interpreter that
# can load the build (LuaJIT; a `luajit` on the PATH that records its runs
# shows it was chosen), or the one SINCH_BATCH_LUA names; from a checkout
# that is not built it says how to build it (no stack trace).
set -Eeuo pipefail
trap 'echo "$(basename "$0"): failed at line $LINENO: $BASH_COMMAND" >&2' ERR
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$src/build}")
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-launcher.XXXXXX")
. "$src/spec/package/lib.sh"
trap 'rm -rf "$work"' EXIT
mkdir "$work/links" "$work/spy" "$work/elsewhere"
cd "$work/elsewhere"
ln -s "$src/bin/sinch-batch" "$work/links/sinch-batch"
run() { env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 SINCH_BATCH_BUILD="$build" "$@"; }

real=$(command -v luajit)
printf '#!/bin/sh\necho run >>"%s"\nexec %s "$@"\n' "$work/spy/luajit.log" "$real" >"$work/spy/luajit"
chmod +x "$work/spy/luajit"
v=$(PATH="$work/spy:$PATH" run "$work/links/sinch-batch" --version)
case $v in *LuaJIT*) ;; *) echo "through a symlink: $v" >&2; exit 1 ;; esac
[ -s "$work/spy/luajit.log" ]
echo "through a symlink: $v"
for interp in lua5.4 lua5.3 lua5.2 lua5.1; do
  v=$(SINCH_BATCH_LUA=$interp run "$work/links/sinch-batch" --version)
  case $v in *"Lua ${interp#lua}"*) ;; *) echo "SINCH_BATCH_LUA=$interp: $v" >&2; exit 1 ;; esac
done
# no LuaJIT on the PATH: Lua 5.4 is next
mkdir "$work/bin"
for t in sh env readlink dirname ls lua5.4 lua5.3; do ln -s "$(command -v $t)" "$work/bin/$t"; done
v=$(PATH="$work/bin" run "$work/links/sinch-batch" --version)
case $v in *"Lua 5.4"*) ;; *) echo "without luajit: $v" >&2; exit 1 ;; esac
echo "without luajit on the PATH: $v"

# a checkout that is not built: one message saying how to build, exit 2
mkdir "$work/fresh"
copy_tree "$work/fresh"
ln -s "$work/fresh/bin/sinch-batch" "$work/links/fresh"
rc=0
env -u SINCH_BATCH_BUILD "$work/links/fresh" status X >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 2 ] || { echo "unbuilt checkout: exit $rc" >&2; cat "$work/err" >&2; exit 1; }
grep -q "not built yet" "$work/err"
grep -qF "cmake -S $work/fresh -B $work/fresh/build && cmake --build $work/fresh/build" "$work/err"
if grep -q "traceback" "$work/err" || [ "$(wc -l <"$work/err")" -gt 3 ]; then
  echo "unbuilt checkout said:" >&2; cat "$work/err" >&2; exit 1
fi
echo "unbuilt checkout: $(head -n1 "$work/err")"
