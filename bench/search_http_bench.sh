#!/usr/bin/env bash
# POST /v1/search end to end (not a test): ~100k chunks of real prose (NFCorpus abstracts,
# repeated under different file names) ingested through the pipeline with the local embedder,
# then wrk sends NFCorpus test queries in each mode; prints p50/p99 and requests/s.
#   bash bench/search_http_bench.sh [copies of the corpus = 6] [seconds per mode = 10]
# BASELINE=/path/to/another/betterdev (say, an earlier commit's release build) runs hybrid's
# variants with that binary too, each right after this build's, over the same data.
# VECTOR_STORE=pgvector runs the server on a PostgreSQL started here and searches inside it
# (BM25 in SQL, pgvector HNSW), timed the same way; it measures the three modes, then vector
# search from 200 connections at once (the database pool's behaviour: its size, 8 by default,
# bounds the PostgreSQL connections; the rest wait their turn), then hybrid's variants as below.
# Needs the release build, wrk, node, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-6}"
DURATION="${2:-10}"
source bench/lib.sh
bench_init

nfcorpus_files "$COPIES"
machine_line
SERVER_ARGS=()
if [ "${VECTOR_STORE:-local}" = pgvector ]; then
  start_postgres
  trap 'stop_postgres; bench_cleanup' EXIT
  SERVER_ARGS=(--database-url "$(pg_database search)")
fi
start_server --workers 2 "${SERVER_ARGS[@]}"
T0=$(now_ms)
for f in "$WORK"/files/*.txt; do upload "$f" >/dev/null; done
wait_ready
T1=$(now_ms)
CHUNKS=$(curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $TOKEN" |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.reduce((n,d)=>n+d.chunk_count,0)))")
echo "Ingested $(ls "$WORK"/files | wc -l) files, $CHUNKS chunks in $(( (T1 - T0) / 1000 )) s (2 workers)"
if [ "${VECTOR_STORE:-local}" = pgvector ]; then
  # The model's HNSW index is built in the background once the API meets the model (at start:
  # before any vector existed, so it grows with the inserts); wait until it is valid.
  until [ "$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U betterdev -d search -Atc \
    "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'chunk_vectors_hnsw%' AND i.indisvalid")" -ge 1 ]; do sleep 1; done
  echo "pgvector HNSW index valid $(( ($(now_ms) - T1) / 1000 )) s after ingestion ended"
else
  # Above --exact-search-below (20,000) the graph is built in the background; measure once it is.
  wait_graphs "$CHUNKS" 1
  echo "HNSW graph of $(graph_vectors) chunks built $(( ($(now_ms) - T1) / 1000 )) s after ingestion ended (the rest: exact tail)"
fi
echo
echo "| mode (wrk -t1 -c4, ${DURATION} s, k=10) | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
measure() {  # mode label [connections]
  echo "| $2 | $(wrk_search "$1" "${3:-4}") |"
}
for MODE in keyword vector hybrid; do measure $MODE $MODE; done
if [ "${VECTOR_STORE:-local}" = pgvector ]; then
  # 200 at once: the most PostgreSQL backends the database had meanwhile, sampled.
  backends() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U betterdev -d search -Atc \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'search' AND pid <> pg_backend_pid()"; }
  (most=0; for _ in $(seq 1 $((DURATION * 4 + 20))); do sleep 0.5; n=$(backends) || break
    [ "$n" -gt "$most" ] && most=$n; echo "$most" >"$WORK/most"; done) &
  SAMPLER=$!
  measure vector "vector, 200 connections" 200
  measure hybrid "hybrid, 200 connections" 200
  wait "$SAMPLER" 2>/dev/null || true
  echo
  echo "PostgreSQL connections of the API meanwhile (most seen): $(cat "$WORK/most")"
fi
# Hybrid's variants side by side, each on a warm restart over the same data: as configured
# (query expansion, the second stage), without the second stage, as before expansion (the vector query moved toward the keyword leg's best chunks
# instead), and with neither.
RSS=$(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 ))
variant() {  # label flags...
  local label=$1 bin=$BIN
  shift
  stop_server
  restart_server "${SERVER_ARGS[@]}" "$@"
  wait_healthy
  measure hybrid "$label"
  if [ -n "${BASELINE:-}" ]; then
    stop_server
    BIN=$BASELINE
    restart_server "${SERVER_ARGS[@]}" "$@"
    BIN=$bin
    wait_healthy
    measure hybrid "$label (baseline)"
  fi
}
variant "hybrid after a restart"
variant "hybrid, no second stage" --hybrid-rescore-depth 0
variant "hybrid, vector feedback instead of expansion" --hybrid-expansion 0 --hybrid-feedback 10 --hybrid-vector-weight 1
variant "hybrid, neither" --hybrid-expansion 0 --hybrid-feedback 0
echo
echo "API resident memory after the first three runs: $RSS MB"
