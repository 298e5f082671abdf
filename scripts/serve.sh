#!/usr/bin/env bash
# Installs what is missing, builds the release binary and starts the server on the embedded
# default (SQLite + local files under ./data). Extra arguments go to `betterdev serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec ./build/release/betterdev serve "$@"
