#!/usr/bin/env bash
# Search memory with many active users (not a test): `users` users each upload `files` files of
# NFCorpus abstracts (~230 chunks per file: 173 files ≈ 40k chunks, so 10 × 173 ≈ 400k
# chunks in all); then
#   1. ingestion time, and the API's resident memory once every user's graph is built (the
#      follower loads each user's indexes while they upload),
#   2. every user searches (hybrid, NFCorpus test queries): latency, and memory after,
#   3. restart (saved indexes): each user's first search, and memory once all ten are back.
#   bash bench/search_memory_bench.sh [users = 10] [files per user = 173] [extra serve flags...]
# Needs the release build, node, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS="${1:-10}"
FILES="${2:-173}"
shift $(($# < 2 ? $# : 2))
EXTRA=("$@")
source bench/lib.sh
bench_init

COPIES=$(( (FILES + 72) / 73 ))  # 73 files per copy of the corpus
nfcorpus_files "$COPIES"
QUERIES=$(node -e "
  const fs = require('fs');
  const q = fs.readFileSync('$DATA/beir/nfcorpus/queries.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
  console.log(q.slice(0, 40).map((x) => x.text.replace(/[^A-Za-z0-9 ]/g, ' ')).join('\n'));")
rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 )); }
built() { grep -c '"search: vector index built"' "$WORK/out.log" || true; }
search_once() {  # token query -> milliseconds (fails when the answer holds no hit)
  local t0 t1
  t0=$(date +%s%N)
  curl -fs -XPOST "$URL/v1/search" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"query\":\"$2\",\"mode\":\"hybrid\",\"k\":10}" | grep -q '"document_id"'
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}
percentiles() {  # microseconds on stdin -> "p50 X ms, p99 Y ms"
  sort -n | awk '{a[NR]=$1} END {h=int(NR*0.5); if (h<1) h=1; t=int(NR*0.99); if (t<1) t=1; printf "p50 %.1f ms, p99 %.1f ms", a[h]/1000, a[t]/1000}'
}

machine_line
echo "serve flags: --workers 2 ${EXTRA[*]:-}"
start_server --workers 2 "${EXTRA[@]}"
TOKENS=()
T0=$(now_ms)
for u in $(seq 1 "$USERS"); do
  TOKEN=$(new_user "user$u@example.com")
  TOKENS+=("$TOKEN")
  for f in $(ls "$WORK"/files/*.txt | sort -V | head -"$FILES"); do upload "$f" >/dev/null; done
done
for TOKEN in "${TOKENS[@]}"; do wait_ready; done
T1=$(now_ms)
CHUNKS=0
for TOKEN in "${TOKENS[@]}"; do
  n=$(curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $TOKEN" |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.reduce((n,d)=>n+d.chunk_count,0)))")
  CHUNKS=$((CHUNKS + n))
done
echo "$USERS users × $FILES files: $CHUNKS chunks, ingested in $(( (T1 - T0) / 1000 )) s; RSS then $(rss_mb) MB"
wait_graphs "$CHUNKS" "$USERS"  # every vector in a graph but the exact tails the build policy leaves
echo "graphs built: $(built) builds, holding $(graph_vectors) of the $CHUNKS chunks $(( ($(now_ms) - T1) / 1000 )) s after ingestion ended; RSS $(rss_mb) MB (all $USERS users loaded, nobody has searched)"
ALL=()
for TOKEN in "${TOKENS[@]}"; do
  while IFS= read -r q; do ALL+=("$(search_once "$TOKEN" "$q")"); done <<<"$QUERIES"
done
echo "every user searches 40 queries in turn (hybrid, k 10): $(printf '%s\n' "${ALL[@]}" | percentiles); RSS $(rss_mb) MB"
echo "saved indexes: graphs $(cat "$WORK"/data/search/*.hnsw | wc -c | awk '{printf "%.0f", $1/1048576}') MB, keyword indexes $(cat "$WORK"/data/search/*.kw | wc -c | awk '{printf "%.0f", $1/1048576}') MB ($(ls "$WORK/data/search" | wc -l) files); database $(du -sm "$WORK/data" | cut -f1) MB in all"
stop_server

T0=$(now_ms)
restart_server --workers 1 "${EXTRA[@]}"
FIRST=()
for TOKEN in "${TOKENS[@]}"; do
  until curl -fs "$URL/healthz" >/dev/null 2>&1; do sleep 0.01; done
  FIRST+=("$(search_once "$TOKEN" "vitamin D and bone density")")
done
T1=$(now_ms)
echo "restart: every user's first search (loads their saved indexes): $(printf '%s\n' "${FIRST[@]}" | percentiles); all $USERS answered $((T1 - T0)) ms after exec; RSS $(rss_mb) MB"
echo "the loads (ms): $(grep '"search: user indexes loaded"' "$WORK/out.log" |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(s.trim().split('\n').map(l=>{const j=JSON.parse(l);
    return (j.keywords_saved&&j.graph_saved?'':'NOT SAVED ')+'keywords '+j.keywords_ms+' graph '+j.graph_ms+' live '+j.live_ms+' all '+j.ms}).join('; ')))")"
grep -E '"level":"(warn|error)"' "$WORK/out.log" | head -5 || true
ALL=()
for TOKEN in "${TOKENS[@]}"; do
  while IFS= read -r q; do ALL+=("$(search_once "$TOKEN" "$q")"); done <<<"$QUERIES"
done
echo "then 40 queries each: $(printf '%s\n' "${ALL[@]}" | percentiles); RSS $(rss_mb) MB"
stop_server
