#!/usr/bin/env bash
# Runs the end-to-end tests: TAP on stdout as before, and, when some fail, their errors again at
# the very end (a long log is often seen only by its head and tail).
# Usage: run.sh NODE TEST_DIR
set -uo pipefail
node="$1"
dir="$2"
summary="$(mktemp /tmp/betterdev-e2e-summary-XXXXXX)"
"$node" --test --test-concurrency=1 --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=spec --test-reporter-destination="$summary" "$dir"
status=$?
if [ "$status" -ne 0 ]; then
  echo "=== the failing tests again:"
  sed -n '/failing tests:/,$p' "$summary"
fi
rm -f "$summary"
exit "$status"
