#!/usr/bin/env bash
# POST /v1/search at ~100k chunks (not a test): the embedded default's in-process indexes and
# PostgreSQL + pgvector side by side in one run. The same files (NFCorpus abstracts, repeated
# under different names) are ingested into two servers, one after the other, each with 2
# workers and the local embedder; then each mode is measured on one server and the other in
# turn (wrk, 4 connections, k=10, NFCorpus test queries), in two rounds.
#   bash bench/search_http_side_by_side.sh [copies of the corpus = 6] [seconds per measurement = 10]
# Needs the release build, wrk, node, curl and PostgreSQL with pgvector (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-6}"
DURATION="${2:-10}"
source bench/lib.sh
bench_init
nfcorpus_on_postgres "$COPIES"
ingest() {  # label: every file uploaded to the server at $URL, until none is queued or processing
  local t0
  t0=$(now_ms)
  for f in "$WORK"/files/*.txt; do upload "$f" >/dev/null; done
  wait_ready
  CHUNKS=$(curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $TOKEN" |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.reduce((n,d)=>n+d.chunk_count,0)))")
  echo "$1: $(ls "$WORK"/files | wc -l) files, $CHUNKS chunks ingested in $(( ($(now_ms) - t0) / 1000 )) s"
}

start_server --workers 2
ingest "in-process indexes (SQLite store)"
wait_graphs "$CHUNKS" 1  # above --exact-search-below the graph is built in the background
LOCAL_URL=$URL
LOCAL_TOKEN=$TOKEN

: >"$WORK/pg-server.log"
"$BIN" serve --port 0 --data-dir "$WORK/data-pg" --access-log false --workers 2 \
  --database-url "$(pg_database search)" >"$WORK/pg-server.log" 2>&1 &
EXTRA_PID=$!
wait_url "$WORK/pg-server.log" healthz
TOKEN=$(new_user bench@example.com)
ingest "PostgreSQL + pgvector"
T1=$(now_ms)
until [ "$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U betterdev -d search -Atc \
  "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'chunk_vectors_hnsw%' AND i.indisvalid")" -ge 1 ]; do
  sleep 1
done
echo "pgvector's HNSW index valid $(( ($(now_ms) - T1) / 1000 )) s after ingestion ended"
PG_URL=$URL
PG_TOKEN=$TOKEN

echo
echo "| mode (wrk -t1 -c4, ${DURATION} s, k=10) | round | in-process requests/s | p50 | p99 | pgvector requests/s | p50 | p99 |"
echo "|---|---|---|---|---|---|---|---|"
for ROUND in 1 2; do
  for MODE in keyword vector hybrid; do
    URL=$LOCAL_URL TOKEN=$LOCAL_TOKEN
    IN_PROCESS=$(wrk_search "$MODE")
    URL=$PG_URL TOKEN=$PG_TOKEN
    IN_PG=$(wrk_search "$MODE")
    echo "| $MODE | $ROUND | $IN_PROCESS | $IN_PG |"
  done
done
echo
echo "Resident memory after the runs: API in-process $(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 )) MB," \
  "API on PostgreSQL $(( $(awk '/VmRSS/ {print $2}' /proc/$EXTRA_PID/status) / 1024 )) MB"
