#!/usr/bin/env bash
# Ingestion benchmarks, side by side in one run, all on loopback (not a test):
#   1. text-PDF pages/s of the full path (upload -> ready) with 1 and 2 workers vs pdftotext
#      on the same files, with job processes sandboxed (the default) and not (--sandbox false);
#   2. POST /v1/documents and GET /v1/conversations p99 while every worker is busy vs idle, and
#      upload p99 with two API processes on one data directory vs one;
#   3. peak resident memory of a worker and of its job process on a 1,000-page PDF;
#   1b. the same full path with the jobs and events on Redis (BullMQ's layout) vs the embedded
#      queue, 1 and 2 workers, alternating;
#   1c. the same with the store on PostgreSQL, and with PostgreSQL + S3 + Redis, vs embedded;
#   4. SQLite queue throughput with no-op jobs (build/release/bench/queue_bench).
#   bash bench/ingest_bench.sh [seconds per latency run = 10]
# SECTIONS="1 1b" (say) runs only those sections.
# Needs the release build (cmake --preset release && cmake --build --preset release), wrk,
# pdftotext/pdfinfo (poppler-utils) and node (for the generated PDF). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
BIN=$PWD/build/release/betterdev
DATA=$PWD/../shared/data
[ -x "$BIN" ] || { echo "build the release binary first" >&2; exit 1; }
for t in wrk pdftotext pdfinfo node curl; do command -v $t >/dev/null || { echo "$t is missing: bash scripts/setup.sh" >&2; exit 1; }; done

WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT

# The corpus: 20 NTSB reports, a 117-page LaTeX book, and a generated 1,000-page text PDF.
mkdir -p "$WORK/corpus"
cp "$DATA"/pdf/ntsb-reports/data/*/*.pdf "$WORK/corpus/" 2>/dev/null || find "$DATA/pdf/ntsb-reports" -name '*.pdf' -exec cp {} "$WORK/corpus/" \;
cp "$DATA"/pdf/py-pdf-sample-files/009-pdflatex-geotopo/*.pdf "$WORK/corpus/"
node --input-type=module -e "
  import { markerPdf } from '$PWD/tests/e2e/pdfgen.mjs';
  import fs from 'node:fs';
  fs.writeFileSync('$WORK/big.pdf', markerPdf(1000, 40));"
cp "$WORK/big.pdf" "$WORK/corpus/big-1000.pdf"
FILES=("$WORK"/corpus/*.pdf)
PAGES=0
for f in "${FILES[@]}"; do PAGES=$((PAGES + $(pdfinfo "$f" | awk '/^Pages:/ {print $2}'))); done
BYTES=$(cat "${FILES[@]}" | wc -c)

source bench/lib.sh
want() { [ -z "${SECTIONS:-}" ] || [[ " $SECTIONS " == *" $1 "* ]]; }

machine_line
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); corpus: ${#FILES[@]} PDFs, $PAGES pages, $((BYTES / 1024)) KiB (20 NTSB reports, 009-pdflatex-geotopo, a generated 1,000-page text PDF)"
echo

# 1. Throughput: pdftotext (one process per file, sequential) vs the full path.
T0=$(now_ms)
for f in "${FILES[@]}"; do pdftotext "$f" /dev/null; done
T1=$(now_ms)
PDFTOTEXT_PPS=$(awk -v p=$PAGES -v ms=$((T1 - T0)) 'BEGIN {printf "%.0f", p * 1000 / ms}')
echo "| path | workers | seconds | pages/s | per worker vs pdftotext |"
echo "|---|---|---|---|---|"
echo "| pdftotext (sequential, one process per file) | 1 | $(awk -v ms=$((T1 - T0)) 'BEGIN {printf "%.2f", ms / 1000}') | $PDFTOTEXT_PPS | 1.00× |"
throughput_row() {  # label, workers, server args... -> one table row: the corpus uploaded, until all ready
  local label=$1 w=$2
  shift 2
  start_server --workers "$w" "$@"
  T0=$(now_ms)
  for f in "${FILES[@]}"; do upload "$f" >/dev/null; done
  wait_ready
  T1=$(now_ms)
  FAILED=$(curl -fs "$URL/v1/documents?status=failed" -H "Authorization: Bearer $TOKEN" | { grep -o '"id"' || true; } | wc -l)
  PPS=$(awk -v p=$PAGES -v ms=$((T1 - T0)) 'BEGIN {printf "%.0f", p * 1000 / ms}')
  RATIO=$(awk -v a=$PPS -v b=$PDFTOTEXT_PPS -v w=$w 'BEGIN {printf "%.2f", a / w / b}')
  echo "| $label | $w | $(awk -v ms=$((T1 - T0)) 'BEGIN {printf "%.2f", ms / 1000}') | $PPS | ${RATIO}× ($FAILED failed) |"
  stop_server
}
if want 1; then
  for RUN in "1 true" "1 false" "2 true" "2 false"; do
    read -r W SANDBOX <<<"$RUN"
    LABEL="upload → ready (betterdev serve), sandbox"
    [ "$SANDBOX" = false ] && LABEL="upload → ready (betterdev serve), no sandbox"
    throughput_row "$LABEL" "$W" --sandbox "$SANDBOX"
  done
fi

# 1b. The same with the jobs and events on Redis (a redis-server here, append-only as a real
# deployment would run it), alternating with the embedded queue.
if want 1b; then
  REDIS_PORT=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
  mkdir -p "$WORK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --save '' \
    --logfile "$WORK/redis/redis.log" --daemonize no &
  REDIS_PID=$!
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  for W in 1 2; do
    throughput_row "upload → ready, embedded queue" "$W"
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    throughput_row "upload → ready, jobs and events on Redis" "$W" --redis-url "redis://127.0.0.1:$REDIS_PORT"
  done
  kill "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
fi

# 1c. The same with the store on PostgreSQL (a fresh database per run), then with every
# scale-out engine at once (PostgreSQL, uploads on S3, jobs and events on Redis), alternating
# with the embedded default. Servers started here on loopback; PostgreSQL without fsync (as
# the embedded SQLite store's own synchronous setting is not changed either, the comparison
# is of the paths, not of durability settings).
if want 1c; then
  start_postgres
  REDIS_PORT=$(free_port)
  mkdir -p "$WORK/redis1c"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis1c" --appendonly yes --save '' \
    --logfile "$WORK/redis1c/redis.log" --daemonize no &
  REDIS_PID=$!
  mkdir -p "$WORK/s3"
  node src/blob/s3/testdata/s3rver.cjs "$PWD/tests/s3rver" "$WORK/s3" bench >"$WORK/s3.out" 2>&1 &
  S3_PID=$!
  for _ in $(seq 1 200); do grep -q port "$WORK/s3.out" 2>/dev/null && break; sleep 0.05; done
  S3_PORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' "$WORK/s3.out" | head -n1)
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  DB=0
  for W in 1 2; do
    throughput_row "upload → ready, embedded (SQLite, files)" "$W"
    DB=$((DB + 1))
    throughput_row "upload → ready, store on PostgreSQL" "$W" --database-url "$(pg_database "bench$DB")"
    DB=$((DB + 1))
    DB_URL=$(pg_database "bench$DB")
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    export BETTERDEV_S3_SECRET_KEY=S3RVER
    throughput_row "upload → ready, PostgreSQL + S3 + Redis" "$W" \
      --database-url "$DB_URL" --redis-url "redis://127.0.0.1:$REDIS_PORT" \
      --s3-endpoint "http://127.0.0.1:$S3_PORT" --s3-bucket bench --s3-force-path-style true --s3-access-key S3RVER
    unset BETTERDEV_S3_SECRET_KEY
  done
  kill "$S3_PID" "$REDIS_PID" 2>/dev/null || true
  wait "$S3_PID" "$REDIS_PID" 2>/dev/null || true
  stop_postgres
fi
echo

# 2. Latency while every worker is busy vs idle. Busy = a backlog of unique 1,000-page PDFs.
cat >"$WORK/upload.lua" <<'LUA'
local counter = 0
request = function()
  counter = counter + 1
  local body = "benchmark upload " .. counter .. " " .. os.time() .. " " .. math.random() .. "\n"
  return wrk.format("POST", "/v1/documents", {["Authorization"] = "Bearer " .. TOKEN,
    ["Content-Type"] = "application/octet-stream", ["X-Filename"] = "note-" .. counter .. ".txt"}, body)
end
LUA
row() {  # name, wrk output -> "| name | rps | p50 | p99 |"
  echo "| $1 | $(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$2") | $(awk '$1=="50%" {print $2}' <<<"$2") | $(awk '$1=="99%" {print $2}' <<<"$2") |"
}
latency() {  # name, wrk args... -> "| name | rps | p50 | p99 |"
  local name=$1; shift
  row "$name" "$(wrk -t1 -c8 -d"${DURATION}s" --latency "$@")"
}
if want 2; then
start_server --workers 2
for i in $(seq 1 100); do
  curl -fs -XPOST "$URL/v1/conversations" -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -d "{\"title\":\"Conversation $i\"}" >/dev/null
done
sed -i "1i TOKEN = \"$TOKEN\"" "$WORK/upload.lua"
echo "| request (wrk -t1 -c8, ${DURATION} s) | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
latency "GET /v1/conversations, workers idle" -H "Authorization: Bearer $TOKEN" "$URL/v1/conversations"
latency "POST /v1/documents (small text), workers idle" -s "$WORK/upload.lua" "$URL"
for i in $(seq 1 8); do
  cp "$WORK/big.pdf" "$WORK/big-$i.pdf"
  printf '%% unique %s\n' "$i" >>"$WORK/big-$i.pdf"
  upload "$WORK/big-$i.pdf" >/dev/null
done
sleep 1
BUSY_BEFORE=$(curl -fs "$URL/metrics" | awk '/^betterdev_queue_jobs\{state="active"\}/ {print $2}')
latency "GET /v1/conversations, 2 workers busy" -H "Authorization: Bearer $TOKEN" "$URL/v1/conversations"
latency "POST /v1/documents (small text), 2 workers busy" -s "$WORK/upload.lua" "$URL"
BUSY_AFTER=$(curl -fs "$URL/metrics" | awk '/^betterdev_queue_jobs\{state="active"\}/ {print $2}')
echo
echo "Active jobs at the start and end of the busy runs: $BUSY_BEFORE and $BUSY_AFTER."
stop_server
echo
fi

# 2b. Two API processes on one data directory (the README allows it; uploads stay queued, no
# workers): upload latency with one process taking 8 connections vs two taking 4 each, the same
# total load, side by side. Both write the same database, queue and blob directory.
start_api() {  # log -> sets the URL of a `betterdev api` on "$WORK/data"
  "$BIN" api --port 0 --data-dir "$WORK/data" --access-log false >"$1" 2>&1 &
  API_PIDS+=($!)
  wait_url "$1" healthz
}
if want 2b; then
rm -rf "$WORK/data"
API_PIDS=()
start_api "$WORK/api1.log"; URL1=$URL
start_api "$WORK/api2.log"; URL2=$URL
J='Content-Type: application/json'
curl -fs -XPOST "$URL1/v1/auth/register" -H "$J" -d '{"email":"bench2@example.com","password":"benchmark-password"}' >/dev/null
TOKEN2=$(curl -fs -XPOST "$URL2/v1/auth/login" -H "$J" -d '{"email":"bench2@example.com","password":"benchmark-password"}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')
sed "1s/.*/TOKEN = \"$TOKEN2\"/" "$WORK/upload.lua" >"$WORK/upload2.lua"
echo "| POST /v1/documents (small text), ${DURATION} s | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
row "one API process, 8 connections (the other idle)" "$(wrk -t1 -c8 -d"${DURATION}s" --latency -s "$WORK/upload2.lua" "$URL1")"
wrk -t1 -c4 -d"${DURATION}s" --latency -s "$WORK/upload2.lua" "$URL1" >"$WORK/wrk1.out" &
W1=$!
wrk -t1 -c4 -d"${DURATION}s" --latency -s "$WORK/upload2.lua" "$URL2" >"$WORK/wrk2.out"
wait $W1
row "two API processes, 4 connections each: process 1" "$(cat "$WORK/wrk1.out")"
row "two API processes, 4 connections each: process 2" "$(cat "$WORK/wrk2.out")"
for p in "${API_PIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
echo "Documents stored: $(sqlite3 "$WORK/data/betterdev.db" 'SELECT count(*) FROM documents') (every upload of both processes)."
echo
fi

# 3. Peak resident memory on the 1,000-page PDF: the job process, and the worker around it.
if want 3; then
start_server --workers 1
WPID=$(grep -oE '"msg":"worker started"[^}]*"pid":[0-9]+' "$WORK/out.log" | grep -oE '[0-9]+$' | head -1)
upload "$WORK/big.pdf" >/dev/null
CHILD_HWM=0
while curl -fs "$URL/v1/documents" -H "Authorization: Bearer $TOKEN" | grep -qE '"status":"(queued|processing)"'; do
  # The worker's child is its job server; the job processes are the server's children.
  for c in $(for s in $(pgrep -P "$WPID" || true); do pgrep -P "$s" || true; done); do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$c/status" 2>/dev/null || echo 0)
    [ "${h:-0}" -gt "$CHILD_HWM" ] && CHILD_HWM=$h
  done
  sleep 0.02
done
WORKER_HWM=$(awk '/VmHWM/ {print $2}' "/proc/$WPID/status")
API_HWM=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo "| process (1,000-page PDF, $(($(wc -c <"$WORK/big.pdf") / 1024)) KiB) | peak RSS |"
echo "|---|---|"
echo "| job process (forked from the job server, sandboxed) | $((CHILD_HWM / 1024)) MB (sampled every 20 ms) |"
echo "| worker | $((WORKER_HWM / 1024)) MB |"
echo "| API (serve) | $((API_HWM / 1024)) MB |"
stop_server
echo
fi

# 4. Queue throughput.
if want 4 && [ -x build/release/bench/queue_bench ]; then
  echo '```'
  build/release/bench/queue_bench --benchmark_min_time=2 2>/dev/null | grep -E '^(BM_|Benchmark)' || true
  echo '```'
fi
