#!/usr/bin/env bash
# The tree stands alone: no tracked file may refer to a folder beside the
# checkout (a user's clone has nothing there).  Fails listing each reference.
set -u
cd "$(dirname "$0")/../.."
pattern='\.\./(shared|sinch-test-vectors)|/work/|\$\{CMAKE_CURRENT_SOURCE_DIR\}/\.\./|SHARED[_]DIR' # ([_]: the pattern does not match itself)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  hits=$(git grep -n -I -E "$pattern" -- . ':!spec/tree/standalone.sh' || true)
else
  hits=$(grep -rn -I -E "$pattern" --exclude=standalone.sh --exclude-dir=build . || true)
fi
if [ -n "$hits" ]; then
  echo "the tree refers to paths outside itself:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "no reference outside the tree"
