#!/usr/bin/env bash
# Runs one official conformance suite of ../shared/conformance/socket.io/ (engine.io-v4 or
# socket.io-v5) against our fixture server, as that folder's README says: the suite is copied to
# a temporary directory, its hard-coded URL replaced by the fixture's address, and run with mocha
# (its dependencies, at the versions of its lock file, installed by scripts/setup.sh here).
# Usage: run.sh SUITE FIXTURE_BINARY
set -euo pipefail
suite="$1"
fixture="$2"
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../../shared/conformance/socket.io/$suite"
[ -f "$src/test-suite.js" ] || { echo "conformance suite not found: $src" >&2; exit 1; }
[ -x "$here/node_modules/.bin/mocha" ] || { echo "run scripts/setup.sh first (tests/conformance/node_modules is missing)" >&2; exit 1; }

work="$(mktemp -d /tmp/betterdev-conformance-XXXXXX)"
fixture_pid=""
cleanup() {
  [ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null && wait "$fixture_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$fixture" --port 0 > "$work/fixture.out" 2> "$work/fixture.err" &
fixture_pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$work/fixture.out")"
  [ -n "$port" ] && break
  kill -0 "$fixture_pid" 2>/dev/null || { cat "$work/fixture.err" >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "the fixture did not start" >&2; exit 1; }

cp "$src/test-suite.js" "$src/node-imports.js" "$src/package.json" "$work/"
sed -i "s#const URL = \"http://localhost:3000\";#const URL = \"http://127.0.0.1:$port\";#" "$work/test-suite.js"
grep -q "127.0.0.1:$port" "$work/test-suite.js" || { echo "the suite's URL line was not found" >&2; exit 1; }
ln -s "$here/node_modules" "$work/node_modules"
cd "$work"
status=0
"$here/node_modules/.bin/mocha" --reporter dot test-suite.js || status=$?
if [ -s "$work/fixture.err" ]; then
  echo "--- fixture stderr" >&2
  cat "$work/fixture.err" >&2
fi
exit "$status"
