#!/usr/bin/env bash
# clone_0700.sh BUILD_DIR: the project cloned into a directory only its
# owner may enter (`mktemp -d`: 0700; as root that is what /root/… is too),
# and the OpenResty example run from there with examples/openresty/run.sh
# against the sandbox: a batch sent, looked up, and a CSV campaign sent.
# Under root nginx's workers run as `nobody`, who cannot enter the clone;
# run.sh must give them what they read, or every request gets a 500.
set -Eeuo pipefail
trap 'echo "$(basename "$0"): failed at line $LINENO: $BASH_COMMAND" >&2' ERR
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$src/build}")
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-clone.XXXXXX")
. "$src/spec/package/lib.sh"
example=
stop_example() {
  if [ -n "$example" ]; then
    kill -TERM "$example" 2>/dev/null || true
    wait "$example" 2>/dev/null || true
    example=
  fi
}
trap 'stop_example; stop_mock; rm -rf "$work"' EXIT
[ "$(stat -c %a "$work")" = 700 ] || { echo "mktemp -d did not make a 0700 directory" >&2; exit 1; }
clone=$work/sinch-batch
mkdir "$clone"
copy_tree "$clone"
# the build output the example reads: the LuaJIT modules (building all of
# it again here would take minutes)
mkdir -p "$clone/build"
cp -R "$build/luajit" "$clone/build/luajit"
chmod -R go-rwx "$clone"

start_mock "$build/sinch-batch-mock"
out=$work/example.out
(cd "$clone" && exec env -u SINCH_BATCH_BUILD -u SINCH_BATCH_CSV -u SINCH_BATCH_LEDGER \
   -u SINCH_BATCH_PREFIX -u SINCH_BATCH_PORT SINCH_BATCH_BASE_URL="$mock_url" \
   SINCH_PROJECT_ID=demo-project SINCH_KEY_ID=demo-key SINCH_KEY_SECRET=demo-secret \
   SINCH_WEBHOOK_SECRET=demo-webhook timeout -k 5 300 sh examples/openresty/run.sh) >"$out" 2>&1 &
example=$!
for _ in $(seq 600); do
  grep -q '^prefix ' "$out" && break
  kill -0 "$example" 2>/dev/null || { cat "$out" >&2; echo "run.sh stopped" >&2; exit 1; }
  sleep 0.05
done
url=$(sed -n 's/^url //p' "$out")
prefix=$(sed -n 's/^prefix //p' "$out")
[ -n "$url" ] || { cat "$out" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then # the workers are not root, and nobody cannot enter the clone
  master=$(cat "$prefix/logs/nginx.pid")
  users=$(ps -o user= --ppid "$master" | sort -u | tr '\n' ' ')
  [ "$users" = "nobody " ] || { echo "nginx workers run as: $users" >&2; exit 1; }
  if command -v setpriv >/dev/null; then
    if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$clone/lua/sinch/batch/init.lua"; then
      echo "nobody can read the clone: the test proves nothing" >&2; exit 1
    fi
  fi
fi

fail() { echo "$1" >&2; echo "--- error.log:" >&2; cat "$prefix/logs/error.log" >&2 || true; exit 1; }
body=$(curl -s -w '\n%{http_code}' -X POST "$url/send" \
  -d '{"to":["+46700000001"],"text":"Hi ${name}","name":"Ann"}')
[ "${body##*$'\n'}" = 200 ] || fail "POST /send: $body"
id=$(printf '%s' "$body" | sed -n 's/.*"batch_id":"\([0-9A-Z]*\)".*/\1/p')
[ ${#id} -eq 26 ] || fail "POST /send: no batch_id in $body"
body=$(curl -s -w '\n%{http_code}' "$url/status/$id")
[ "${body##*$'\n'}" = 200 ] || fail "GET /status/$id: $body"
body=$(curl -s -w '\n%{http_code}' -X POST "$url/send_csv?text=Hi%20%24%7Bname%7D")
[ "${body##*$'\n'}" = 200 ] || fail "POST /send_csv: $body"
stats=$(curl -sf "$mock_url/_mock/stats" | tr -d ' \n')
case $stats in *'"batches_accepted":0,'*) fail "the sandbox accepted nothing: $stats" ;; esac
echo "examples/openresty from a 0700 clone ($(id -un)): /send $id, /status, /send_csv: all 200"
