#!/bin/sh
# run_example.sh MOCK EXAMPLE [WRAPPER...]
# Starts the sandbox (MOCK) on a free 127.0.0.1 port, runs the C example
# against it (optionally under WRAPPER, e.g. valgrind ...), checks what the
# example printed and that the sandbox accepted exactly one 3-recipient batch,
# then stops the sandbox.  Exit status 0 when all of that holds.
set -u
mock=$1
example=$2
shift 2

dir=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-example.XXXXXX") || exit 1
fifo=$dir/out
mkfifo "$fifo" || exit 1
"$mock" --port 0 --lifetime 120 --quiet >"$fifo" &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# the first line is port=N; keep reading the rest so the sandbox never blocks
exec 3<"$fifo"
IFS= read -r line <&3 || { echo "run_example: the sandbox printed nothing" >&2; exit 1; }
cat <&3 >/dev/null &
port=${line#port=}
case $port in
    ''|*[!0-9]*) echo "run_example: unexpected first line: $line" >&2; exit 1 ;;
esac
url=http://127.0.0.1:$port

SINCH_BATCH_BASE_URL=$url SINCH_BATCH_AUTH_URL=$url "$@" "$example" >"$dir/stdout"
rc=$?
cat "$dir/stdout"
if [ "$rc" -ne 0 ]; then
    echo "run_example: the example exited with $rc" >&2
    exit 1
fi
grep -Eq '^batch_id=[0-9A-Z]{26} recipients=3$' "$dir/stdout" ||
    { echo "run_example: no batch_id line" >&2; exit 1; }
grep -Eq '^status=(READY|PROCESSED)$' "$dir/stdout" ||
    { echo "run_example: no status line" >&2; exit 1; }

# the sandbox's own count (when the curl tool is there to ask it)
if command -v curl >/dev/null 2>&1; then
    stats=$(curl -s "$url/_mock/stats" | tr -d ' \n')
    case $stats in
        *'"batches_accepted":1,'*) ;;
        *) echo "run_example: unexpected sandbox stats: $stats" >&2; exit 1 ;;
    esac
    case $stats in
        *'"recipients_accepted":3,'*|*'"recipients_accepted":3}'*) ;;
        *) echo "run_example: unexpected sandbox stats: $stats" >&2; exit 1 ;;
    esac
fi
exit 0
