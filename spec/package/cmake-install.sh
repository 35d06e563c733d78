#!/usr/bin/env bash
# cmake-install.sh BUILD_DIR: installs the build with `cmake --install` into
# a temporary prefix (and once more through DESTDIR), then uses it from
# outside the checkout with nothing but the prefix: require "sinch.batch"
# under every interpreter installed, the CLI and the sandbox on the PATH,
# and the C example built with pkg-config and run against that sandbox.
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
[ -f "$prefix/include/sinch_batch.h" ]
[ -x "$prefix/bin/sinch-batch" ] && [ -x "$prefix/bin/sinch-batch-mock" ]

# Lua: every version installed, from the prefix only
n=0
for v in 5.4 5.3 5.2 5.1; do
  [ -d "$prefix/lib/lua/$v" ] || continue
  interp=lua$v
  [ "$v" = 5.1 ] && command -v luajit >/dev/null && interp=luajit
  check_require "$interp" "$prefix/share/lua/$v" "$prefix/lib/lua/$v"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no Lua modules installed" >&2; exit 1; }

# the installed sandbox and CLI, from the PATH
cd "$work"
export PATH=$prefix/bin:$PATH
[ "$(command -v sinch-batch-mock)" = "$prefix/bin/sinch-batch-mock" ]
start_mock sinch-batch-mock
check_cli "$prefix/bin"

# the C example, as its header says: cc send_batch.c $(pkg-config ... sinch-batch-curl)
cp "$src/examples/c/send_batch.c" "$work/outside/"
cd "$work/outside"
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags --libs sinch-batch-curl)
cc -Wall -Wextra -Werror send_batch.c $cflags -o send_batch
out=$(LD_LIBRARY_PATH=$libdir SINCH_BATCH_BASE_URL=$mock_url SINCH_BATCH_AUTH_URL=$mock_url ./send_batch)
case $out in *batch_id=*recipients=3*status=*) ;; *) echo "send_batch printed: $out" >&2; exit 1 ;; esac
# (ldd's whole output first: grep -q ending the pipe early would make pipefail flaky)
libs=$(LD_LIBRARY_PATH=$libdir ldd ./send_batch)
grep -q "libsinchbatch_curl.so.0 => $libdir/" <<<"$libs"
echo "send_batch built with \`pkg-config --cflags --libs sinch-batch-curl\` ($cflags) ran: $(echo $out)"
