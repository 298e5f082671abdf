#!/usr/bin/env bash
# Search that never waits on an index build (not a test): ~100k chunks of NFCorpus abstracts
# (repeated under different file names) for one user, a small library for another; then
#   1. the big user's first search after ingestion (the graph is built in the background),
#   2. the small user's search latency while that build runs, and after it,
#   3. login latency while 16 clients search,
#   4. restart → first correct hybrid search, with the saved indexes (warm) and without (cold),
#   5. the API's resident memory.
#   bash bench/search_restart_bench.sh [copies of the corpus = 6] [seconds per wrk run = 10]
# Needs the release build, wrk, node, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-6}"
DURATION="${2:-10}"
source bench/lib.sh
bench_init

nfcorpus_files "$COPIES"
search_ms() {  # token mode query -> milliseconds of one search (and its hit count on stderr)
  local t0 t1 n
  t0=$(now_ms)
  n=$(curl -fs -XPOST "$URL/v1/search" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"query\":\"$3\",\"mode\":\"$2\",\"k\":10}" | grep -o '"chunk_id"\|"document_id"' | wc -l)
  t1=$(now_ms)
  echo "$((t1 - t0)) ms ($n fields)"
}
logins() {  # n -> "p50 p99" of n logins in a row
  local times=() t0 t1
  for _ in $(seq 1 "$1"); do
    t0=$(date +%s%N)
    curl -fs -XPOST "$URL/v1/auth/login" -H 'Content-Type: application/json' \
      -d '{"email":"small@example.com","password":"benchmark-password"}' >/dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n |
    awk '{a[NR]=$1} END {h=int(NR*0.5); if (h<1) h=1; t=int(NR*0.99); if (t<1) t=1; printf "p50 %.1f ms, p99 %.1f ms", a[h]/1000, a[t]/1000}'
}
built() { grep -c '"search: vector index built"' "$WORK/out.log" || true; }
rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 )); }

machine_line
start_server --workers 2
BIG=$TOKEN
T0=$(now_ms)
for f in "$WORK"/files/*.txt; do upload "$f" >/dev/null; done
wait_ready
T1=$(now_ms)
CHUNKS=$(curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $BIG" |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.reduce((n,d)=>n+d.chunk_count,0)))")
echo "Big user: $(ls "$WORK"/files | wc -l) files, $CHUNKS chunks, ingested in $(( (T1 - T0) / 1000 )) s (2 workers)"
SMALL=$(new_user small@example.com)
TOKEN=$SMALL
for f in $(ls "$WORK"/files/*.txt | head -5); do upload "$f" "small-$(basename "$f")" >/dev/null; done
wait_ready
echo "Small user: 5 files"
echo
echo "First searches after ingestion (the big user's indexes load, the graph build starts in the background):"
echo "- big user, first hybrid search: $(search_ms "$BIG" hybrid 'vitamin D and bone density')"
echo "- big user, second hybrid search: $(search_ms "$BIG" hybrid 'statins and breast cancer')"
echo "- small user, first hybrid search: $(search_ms "$SMALL" hybrid 'vitamin D and bone density')"
echo
echo "| hybrid search, wrk -t1 -c4 ${DURATION} s | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
if [ "$(built)" = 0 ]; then
  m=$(TOKEN=$SMALL wrk_search hybrid)
  echo "| small user, while the big user's graph builds$([ "$(built)" = 0 ] || echo ' (it finished during the run)') | $m |"
fi
if [ "$(built)" = 0 ]; then
  m=$(TOKEN=$BIG wrk_search hybrid)
  echo "| big user (exact scan of the vectors), while their graph builds$([ "$(built)" = 0 ] || echo ' (it finished during the run)') | $m |"
fi
T2=$(now_ms)
while [ "$(built)" = 0 ]; do sleep 0.5; done
echo "(the big user's graph: built $(( ($(now_ms) - T1) / 1000 )) s after ingestion ended; $(grep '"search: vector index built"' "$WORK/out.log" | head -1 | grep -oE '"ms":[0-9]+'))"
echo "| small user, no build running | $(TOKEN=$SMALL wrk_search hybrid) |"
echo "| big user, their graph | $(TOKEN=$BIG wrk_search hybrid) |"
echo
echo "Login (argon2id) latency, 40 in a row: idle $(logins 40); while 16 clients search (big user, hybrid): \\"
TOKEN=$BIG DURATION=$((DURATION + 5)) wrk_search hybrid 16 >"$WORK/wrk16" &
WRK=$!
sleep 2
L=$(logins 40)
wait $WRK
echo "$L (searches meanwhile, requests/s | p50 | p99: $(cat "$WORK/wrk16"))"
echo
echo "API resident memory: $(rss_mb) MB"
stop_server
echo
echo "| restart, then the big user's first hybrid search | exec → first correct answer | that search | RSS after |"
echo "|---|---|---|---|"
for kind in warm cold; do
  [ "$kind" = cold ] && rm -rf "$WORK/data/search"
  T0=$(now_ms)
  restart_server --workers 1
  S0=$(now_ms)
  until curl -fs -XPOST "$URL/v1/search" -H "Authorization: Bearer $BIG" -H 'Content-Type: application/json' \
      -d '{"query":"vitamin D and bone density","mode":"hybrid","k":10}' 2>/dev/null | grep -q '"document_id"'; do
    sleep 0.01
  done
  T1=$(now_ms)
  LOADED=$(grep -o '"search: user indexes loaded".*' "$WORK/out.log" | grep -oE '"ms":[0-9]+' | head -1 | cut -d: -f2)
  echo "| $kind ($( [ "$kind" = warm ] && echo 'saved graph and keyword index' || echo 'no saved files: exact until the background build')) | $((T1 - T0)) ms | $((T1 - S0)) ms (loading: ${LOADED:-?} ms) | $(rss_mb) MB |"
  stop_server
done
