#!/usr/bin/env bash
# Ingestion of many small text files (not a test): the embedded default and PostgreSQL +
# pgvector (this build, and another build given as OLD_BINARY, each on a fresh database), one
# after the other in two rounds, so a change to the store's write path is compared in one run.
# NFCorpus abstracts, the corpus `copies` times over (73 files and ~16.9k chunks a copy), 2
# workers, the local embedder (1,024 dimensions); after each PostgreSQL run, the share of
# samples (pg_stat_activity, every 50 ms) in which a connection waited on a lock.
#   bash bench/ingest_pg_bench.sh [copies = 2] [OLD_BINARY]
# Needs the release build, node, curl and PostgreSQL with pgvector (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-2}"
OLD="${2:-}"
source bench/lib.sh
bench_init
NEW=$BIN
nfcorpus_on_postgres "$COPIES"
RUN=0
run() {  # label binary [database]: uploads every file, prints a table row once all are ready
  local label=$1 db=${3:-} t0 secs chunks waits samples
  BIN=$2
  RUN=$((RUN + 1))
  if [ -n "$db" ]; then
    start_server --workers 2 --database-url "$(pg_database "$db$RUN")"
    : >"$WORK/samples"
    (while sleep 0.05; do
      "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U betterdev -d "$db$RUN" -Atc "SELECT coalesce(wait_event_type, 'CPU') \
        FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database() \
        AND backend_type = 'client backend'" >>"$WORK/samples" 2>/dev/null || true
    done) &
    EXTRA_PID=$!
  else
    start_server --workers 2
  fi
  t0=$(now_ms)
  for f in "$WORK"/files/*.txt; do upload "$f" >/dev/null; done
  wait_ready
  secs=$(( $(now_ms) - t0 ))
  chunks=$(curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $TOKEN" |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.reduce((n,d)=>n+d.chunk_count,0)))")
  waits=""
  if [ -n "$EXTRA_PID" ]; then
    kill "$EXTRA_PID" 2>/dev/null || true
    wait "$EXTRA_PID" 2>/dev/null || true
    EXTRA_PID=""
    samples=$(wc -l <"$WORK/samples")
    waits=$(grep -c '^Lock$' "$WORK/samples" || true)
    waits="$(( samples > 0 ? 100 * waits / samples : 0 ))% of $samples"
  fi
  stop_server
  echo "| $label | $(ls "$WORK"/files | wc -l) | $chunks | $(awk "BEGIN {printf \"%.1f\", $secs / 1000}") | $(( chunks * 1000 / secs )) | $waits |"
}

echo
echo "| path (2 workers) | files | chunks | seconds | chunks/s | connections waiting on a lock (samples) |"
echo "|---|---:|---:|---:|---:|---|"
for round in 1 2; do
  run "embedded (SQLite, in-process indexes), round $round" "$NEW"
  if [ -n "$OLD" ]; then run "PostgreSQL + pgvector, OLD_BINARY, round $round" "$OLD" ingest; fi
  run "PostgreSQL + pgvector, this build, round $round" "$NEW" ingest
done
