#!/usr/bin/env bash
# Load test of the HTTP core with wrk (Debian package `wrk`), all on loopback.
#   bash bench/http_bench.sh [duration_seconds=10] [connections=64]
# Builds nothing: run scripts/serve.sh once (or cmake --build --preset release) first.
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
BIN=./build/release/betterdev
[ -x "$BIN" ] || { echo "build the release binary first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/setup.sh" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Start time: from exec to the first 200 from /healthz, on an empty data dir.
T0=$(date +%s%N)
"$BIN" serve --port 0 --data-dir "$WORK/data" ${BENCH_SERVE_ARGS:-} >"$WORK/out.log" 2>&1 &
PID=$!
URL=""
for _ in $(seq 1 500); do
  URL=$(grep -oE 'on http://[^ ]+' "$WORK/out.log" | head -1 | cut -c4- || true)
  [ -n "$URL" ] && curl -fs "$URL/healthz" >/dev/null 2>&1 && break
  sleep 0.005
done
T1=$(date +%s%N)
[ -n "$URL" ] || { cat "$WORK/out.log"; exit 1; }
READY_MS=$(( (T1 - T0) / 1000000 ))
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status"; }
IDLE_RSS=$(rss_mb)

J='Content-Type: application/json'
curl -fs -XPOST "$URL/v1/auth/register" -H "$J" -d '{"email":"bench@example.com","password":"benchmark-password"}' >/dev/null
TOKEN=$(curl -fs -XPOST "$URL/v1/auth/login" -H "$J" -d '{"email":"bench@example.com","password":"benchmark-password"}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')
for i in $(seq 1 100); do
  curl -fs -XPOST "$URL/v1/conversations" -H "$J" -H "Authorization: Bearer $TOKEN" \
    -d "{\"title\":\"Conversation $i\"}" >/dev/null
done

run() {  # name, wrk args...
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errs
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
  echo "| $name | $CONNS | $rps | $p50 | $p99 | ${errs:-none} |"
}

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); wrk -t2 -c$CONNS -d${DURATION}s on the same machine; access log on (written to a file)"
echo
echo "| endpoint | connections | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
run "GET /healthz" "$URL/healthz"
run "GET /v1/conversations (auth, 50 of 100 items)" -H "Authorization: Bearer $TOKEN" "$URL/v1/conversations"
echo
echo "- ready (exec → first 200 from /healthz, empty data dir): ${READY_MS} ms"
echo "- RSS idle after start: ${IDLE_RSS} MB; after the load: $(rss_mb) MB"
