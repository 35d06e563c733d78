#!/usr/bin/env bash
# cmake-install.sh BUILD_DIR: installs the build with `cmake --install` into
# a temporary prefix (and once more through DESTDIR), then uses it from
# outside the checkout with nothing but the prefix: require "sinch.batch"
# and a send to the installed sandbox under lua5.1-5.4 and LuaJIT, the CLI
# on the PATH and through a symlink under each of them, and the C example
# built with pkg-config alone and run (no LD_LIBRARY_PATH) against the sandbox.
set -Eeuo pipefail
trap 'echo "$(basename "$0"): failed at line $LINENO: $BASH_COMMAND" >&2' ERR
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$src/build}")
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-install.XXXXXX")
. "$src/spec/package/lib.sh"
trap 'stop_mock; rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/log" || { cat "$work/log"; exit 1; }

# DESTDIR stages the same files under DESTDIR/<prefix>
DESTDIR=$work/stage cmake --install "$build" --prefix /opt/sinch-batch >/dev/null
diff <(cd "$prefix" && find . | sort) <(cd "$work/stage/opt/sinch-batch" && find . | sort)

# the libraries carry their SONAME, the header and pkg-config files are there
pcdir=$(dirname "$(find "$prefix" -name sinch-batch.pc)")
libdir=$(dirname "$pcdir")
for lib in sinchbatch sinchbatch_curl; do
  grep -q "SONAME.*\[lib$lib\.so\.0\]" <<<"$(readelf -d "$libdir/lib$lib.so")"
  [ -e "$libdir/lib$lib.so.0" ]
done
[ -f "$prefix/include/sinch_batch.h" ] && [ -f "$prefix/include/sinch_batch_curl.h" ]
[ -x "$prefix/bin/sinch-batch" ] && [ -x "$prefix/bin/sinch-batch-mock" ]

# the LDoc reference is installed beside the other docs
[ -f "$prefix/share/doc/sinch-batch/reference/index.html" ] \
  || { echo "no LDoc reference under $prefix/share/doc/sinch-batch/reference" >&2; exit 1; }

# Lua: every interpreter, from the prefix only, sends through the installed
# sandbox (5.1's modules load under both PUC Lua 5.1 and LuaJIT)
cd "$work"
export PATH=$prefix/bin:$PATH
[ "$(command -v sinch-batch-mock)" = "$prefix/bin/sinch-batch-mock" ]
start_mock sinch-batch-mock
for interp in lua5.1 lua5.2 lua5.3 lua5.4 luajit; do
  v=${interp#lua}; [ "$interp" = luajit ] && v=5.1
  [ -d "$prefix/lib/lua/$v" ] || { echo "no Lua $v modules installed (for $interp)" >&2; exit 1; }
  check_require "$interp" "$prefix/share/lua/$v" "$prefix/lib/lua/$v"
done

# the installed CLI: from the PATH, and through a symlink under each interpreter
check_cli "$prefix/bin"
check_cli_symlinks "$prefix/bin" lua5.1 lua5.2 lua5.3 lua5.4 luajit

# the C example, as its header says: cc send_batch.c $(pkg-config ... sinch-batch-curl),
# run with no LD_LIBRARY_PATH (the libraries carry an rpath)
cp "$src/examples/c/send_batch.c" "$work/outside/"
cd "$work/outside"
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags --libs sinch-batch-curl)
cc -Wall -Wextra -Werror send_batch.c $cflags -o send_batch
out=$(env -u LD_LIBRARY_PATH SINCH_BATCH_BASE_URL=$mock_url SINCH_BATCH_AUTH_URL=$mock_url ./send_batch)
case $out in *batch_id=*recipients=3*status=*) ;; *) echo "send_batch printed: $out" >&2; exit 1 ;; esac
# (ldd's whole output first: grep -q ending the pipe early would make pipefail flaky)
libs=$(env -u LD_LIBRARY_PATH ldd ./send_batch)
grep -q "libsinchbatch_curl.so.0 => $libdir/" <<<"$libs"
grep -q "libsinchbatch.so.0 => $libdir/" <<<"$libs"
echo "send_batch built with \`pkg-config --cflags --libs sinch-batch-curl\` ($cflags) ran, no LD_LIBRARY_PATH: $(echo $out)"
