#!/usr/bin/env bash
# Chat benchmarks (not tests; bench/chat_bench.mjs says what is measured): ~100k chunks of
# NFCorpus, the e2e tests' stand-in OpenAI-compatible streaming server, the release binary.
#   bash bench/chat_bench.sh [copies of the corpus = 6] [concurrent streams = 500] [questions = 200]
# Needs the release build, node, and the e2e tests' npm packages (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/build/release/betterdev
[ -x "$BIN" ] || { echo "build the release binary first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
command -v node >/dev/null || { echo "node is missing: bash scripts/setup.sh" >&2; exit 1; }
# Every stream is a client socket here and a server socket plus a provider socket in the API.
ulimit -n "$(ulimit -Hn)"
exec node bench/chat_bench.mjs "$BIN" "$PWD/../shared/data" "${1:-6}" "${2:-500}" "${3:-200}"
