#!/usr/bin/env bash
# Installs what is missing, builds everything with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs the whole suite: unit tests (GoogleTest) and end-to-end tests against the real binary;
# then the tests of the concurrent modules (index, search, queue, ingest) built with
# ThreadSanitizer; then the fuzz targets, 20 seconds each (scripts/fuzz.sh); last, the release
# binary scripts/serve.sh builds (GCC warns differently at -O3: it must build warning-free too).
# Extra arguments go to the first ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset asan >/dev/null
cmake --build --preset asan
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build/asan --output-on-failure -j 2 "$@"
cmake --preset tsan >/dev/null
cmake --build --preset tsan
TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:detect_deadlocks=0:suppressions=$PWD/scripts/tsan.supp}" ctest --preset tsan -j 2
bash scripts/fuzz.sh 20
cmake --preset release >/dev/null
cmake --build --preset release --target betterdev
