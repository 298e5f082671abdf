#!/usr/bin/env bash
# Real-time benchmarks (not tests; bench/realtime_bench.mjs says what is measured), then the
# hub's own delivery rate (bench/hub_bench.cpp).
#   bash bench/realtime_bench.sh [connections = 1000] [documents = 20]
# Needs the release build with benchmarks (cmake --preset release -DBETTERDEV_BENCH=ON) and the
# e2e tests' npm packages (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/build/release/betterdev
[ -x "$BIN" ] || { echo "build the release binary first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
node bench/realtime_bench.mjs "$BIN" "${1:-1000}" "${2:-20}"
[ -x build/release/bench/hub_bench ] && build/release/bench/hub_bench 20000 100 10
