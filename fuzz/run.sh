#!/usr/bin/env bash
# run.sh HARNESS SEED_DIR RUNS [libFuzzer options...]
# Runs a harness RUNS times from the seed corpus without writing to it: the
# seeds are copied to a temporary directory (where new inputs go too) that
# is removed afterwards; a crashing input is kept next to the harness
# (HARNESS-crash-*) and its path printed.
set -euo pipefail
harness=$1 seeds=$2 runs=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -d "$seeds" ]; then cp -R "$seeds"/. "$work"/; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$harness" -runs="$runs" -seed=1 -timeout=10 -rss_limit_mb=1024 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$harness-" "$@" "$work"
