#!/usr/bin/env bash
# Retrieval quality and speed through the search service, side by side in one run: this
# process's indexes over SQLite (the embedded default) and search inside PostgreSQL (BM25 in
# SQL over full-text words, pgvector's HNSW), on BEIR NFCorpus's test split.
# Usage: bash bench/retrieval_pg_bench.sh [extra eval args...]   (release build first)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_init
trap 'stop_postgres; bench_cleanup' EXIT
machine_line
start_postgres
echo "## in-process indexes (SQLite store)"
"$BIN" eval --beir "$DATA/beir/nfcorpus" --service local "$@"
echo
echo "## inside PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') with pgvector"
"$BIN" eval --beir "$DATA/beir/nfcorpus" --service pgvector --database-url "$(pg_database eval)" "$@"
