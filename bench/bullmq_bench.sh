#!/usr/bin/env bash
# betterdev's Redis queue beside BullMQ's own Node workers on one redis-server (no-op jobs):
# jobs/s at concurrency 1 and 8, and add → start latency (bench/bullmq_bench.mjs).
#   bash bench/bullmq_bench.sh [jobs = 20000]
# Needs the release build with benchmarks (cmake --preset release -DBETTERDEV_BENCH=ON) and
# deps/bullmq (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
B=$PWD/build/release/bench/redis_queue_bench
[ -x "$B" ] || { echo "build the benchmarks first: cmake --preset release -DBETTERDEV_BENCH=ON && cmake --build --preset release" >&2; exit 1; }
machine_line
node bench/bullmq_bench.mjs "$B" "${1:-20000}"
