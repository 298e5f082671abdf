# Shared by the benchmark scripts (sourced, not run): a server on loopback in $WORK, uploads,
# waiting for the queue to drain. Needs BIN and WORK set; sets PID, URL and TOKEN.

bench_init() {  # BIN (the release build), DATA, WORK (removed at exit, with the server PID runs)
  BIN=$PWD/build/release/betterdev
  DATA=$PWD/../shared/data
  [ -x "$BIN" ] || { echo "build the release binary first" >&2; exit 1; }
  WORK=$(mktemp -d)
  PID=""
  trap 'bench_cleanup' EXIT
}
bench_cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }

machine_line() {
  echo "Machine: $(nproc --all) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

now_ms() { date +%s%3N; }
wait_url() {  # log [healthz] [poll seconds]: sets URL once the server's log names it (and, given
  # "healthz", once /healthz answers); up to 1,000 polls
  URL=""
  for _ in $(seq 1 1000); do
    URL=$(grep -oE 'on http://[^ ]+' "$1" | head -1 | cut -c4- || true)
    [ -n "$URL" ] && { [ -z "${2:-}" ] || curl -fs "$URL/healthz" >/dev/null 2>&1; } && break
    sleep "${3:-0.01}"
  done
}
start_server() {  # args...
  rm -rf "$WORK/data"
  "$BIN" serve --port 0 --data-dir "$WORK/data" --access-log false "$@" >"$WORK/out.log" 2>&1 &
  PID=$!
  wait_url "$WORK/out.log" healthz
  J='Content-Type: application/json'
  curl -fs -XPOST "$URL/v1/auth/register" -H "$J" -d '{"email":"bench@example.com","password":"benchmark-password"}' >/dev/null
  TOKEN=$(curl -fs -XPOST "$URL/v1/auth/login" -H "$J" -d '{"email":"bench@example.com","password":"benchmark-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
}
stop_server() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
restart_server() {  # args... : the same data dir, the same users (tokens stay valid)
  "$BIN" serve --port 0 --data-dir "$WORK/data" --access-log false "$@" >"$WORK/out.log" 2>&1 &
  PID=$!
  wait_url "$WORK/out.log" "" 0.005
}
wait_healthy() { for _ in $(seq 1 2000); do curl -fs "$URL/healthz" >/dev/null 2>&1 && return 0; sleep 0.01; done; return 1; }
graph_vectors() {  # the vectors in every user's latest HNSW graph, from the server's log
  node -e "
    const last = {};
    for (const l of require('fs').readFileSync('$WORK/out.log', 'utf8').split('\n')) {
      if (!l.includes('\"search: vector index built\"')) continue;
      const j = JSON.parse(l);
      last[j.user_id] = j.vectors;
    }
    console.log(Object.values(last).reduce((a, b) => a + b, 0));"
}
wait_graphs() {  # chunks users: until graphs hold all but what the build policy leaves to the exact
  # tail (under a quarter of --exact-search-below, 20,000, per user) and no build ran for 5 s
  local want=$(( $1 - $2 * 5000 )) seen
  until [ "$(graph_vectors)" -ge "$want" ]; do sleep 1; done
  seen=$(grep -c '"search: vector index built"' "$WORK/out.log" || true)
  while sleep 5; do
    local now
    now=$(grep -c '"search: vector index built"' "$WORK/out.log" || true)
    [ "$now" = "$seen" ] && break
    seen=$now
  done
}
new_user() {  # email -> a bearer token
  local j='Content-Type: application/json'
  curl -fs -XPOST "$URL/v1/auth/register" -H "$j" -d "{\"email\":\"$1\",\"password\":\"benchmark-password\"}" >/dev/null
  curl -fs -XPOST "$URL/v1/auth/login" -H "$j" -d "{\"email\":\"$1\",\"password\":\"benchmark-password\"}" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
upload() {  # file [name] -> document id
  curl -fs -XPOST "$URL/v1/documents" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
    -H "X-Filename: ${2:-$(basename "$1")}" --data-binary @"$1" | sed -E 's/.*"document_id":"([^"]+)".*/\1/'
}
wait_ready() {  # until no document is queued or processing
  while curl -fs "$URL/v1/documents?limit=1000" -H "Authorization: Bearer $TOKEN" | grep -qE '"status":"(queued|processing)"'; do
    sleep 0.05
  done
}

nfcorpus_files() {  # copies: $WORK/files/f*.txt of ~50 NFCorpus abstracts each (title + text),
  # the corpus `copies` times over; $WORK/queries.lua: the first 300 test queries for wrk. Needs DATA.
  node -e "
    const fs = require('fs');
    const docs = fs.readFileSync('$DATA/beir/nfcorpus/corpus.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
    fs.mkdirSync('$WORK/files');
    let n = 0;
    for (let c = 0; c < $1; c++)
      for (let i = 0; i < docs.length; i += 50) {
        const text = docs.slice(i, i + 50).map((d) => d.title + '\n\n' + d.text).join('\n\n') + '\n\ncopy ' + c + '\n';
        fs.writeFileSync('$WORK/files/f' + (n++) + '.txt', text);
      }
    const queries = fs.readFileSync('$DATA/beir/nfcorpus/queries.jsonl', 'utf8').trim().split('\n').map(JSON.parse)
      .slice(0, 300).map((q) => q.text.replace(/[\\\\\"]/g, ' '));
    fs.writeFileSync('$WORK/queries.lua', 'queries = {' + queries.map((q) => JSON.stringify(q)).join(',') + '}\n');
  "
}

free_port() { node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
start_postgres() {  # PostgreSQL 15 (+ pgvector, scripts/setup.sh) on loopback without fsync, in a
  # directory beside $WORK (under root the server runs as postgres); sets PG_BIN, PG_PORT, PG_PID, PGDIR
  PG_BIN=/usr/lib/postgresql/15/bin
  PG_PORT=$(free_port)
  PGDIR=$(mktemp -d)
  local as_pg=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGDIR"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U betterdev -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  "${as_pg[@]}" "$PG_BIN/postgres" -D "$PGDIR/data" -p "$PG_PORT" -h 127.0.0.1 -k "$PGDIR" -F \
    -c synchronous_commit=off "$@" >"$WORK/pg.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 1 200); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.05; done
}
stop_postgres() {  # the server itself (under root, PG_PID is runuser, which does not pass SIGINT on)
  local server
  server=$(head -1 "$PGDIR/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$server" ] && kill -INT "$server" 2>/dev/null || true
  kill -INT "$PG_PID" 2>/dev/null || true
  wait "$PG_PID" 2>/dev/null || true
  rm -rf "$PGDIR"
}
nfcorpus_on_postgres() {  # copies: nfcorpus_files, the machine's line and PostgreSQL started;
  # at exit, the process $EXTRA_PID (when set: another server, a sampler), PostgreSQL, $WORK
  EXTRA_PID=""
  trap 'stop_nfcorpus_on_postgres' EXIT
  nfcorpus_files "$1"
  machine_line
  start_postgres
}
stop_nfcorpus_on_postgres() {  # (set -e holds in a trap too: nothing here may fail)
  if [ -n "$EXTRA_PID" ]; then kill "$EXTRA_PID" 2>/dev/null || true; wait "$EXTRA_PID" 2>/dev/null || true; fi
  stop_postgres || true
  bench_cleanup || true
}
pg_database() {  # name: creates it; prints its URL
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U betterdev "$1"
  echo "postgresql://betterdev@127.0.0.1:$PG_PORT/$1"
}

wrk_search() {  # mode [connections = 4]: "requests/s | p50 | p99" of POST /v1/search (k=10) at $URL as
  # $TOKEN for $DURATION seconds, NFCorpus test queries in turn ($WORK/queries.lua); the first
  # search (it loads the index) before measuring; non-2xx answers and socket errors noted after p99
  local mode=$1 conns=${2:-4} out
  cat "$WORK/queries.lua" >"$WORK/search.lua"
  cat >>"$WORK/search.lua" <<LUA
local i = 0
request = function()
  i = i % #queries + 1
  return wrk.format("POST", "/v1/search", {["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json"},
    '{"query":"' .. queries[i] .. '","mode":"$mode","k":10}')
end
LUA
  curl -fs -XPOST "$URL/v1/search" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"query\":\"warm up\",\"mode\":\"$mode\"}" >/dev/null
  out=$(wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 30s --latency -s "$WORK/search.lua" "$URL")
  echo -n "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") | $(awk '$1=="50%" {print $2}' <<<"$out") | $(awk '$1=="99%" {print $2}' <<<"$out")"
  grep -q "Non-2xx" <<<"$out" && echo -n " ($(grep Non-2xx <<<"$out" | sed 's/^ *//'))"
  grep -q "Socket errors" <<<"$out" && echo -n " ($(grep 'Socket errors' <<<"$out" | sed 's/^ *//'))"
  echo
}
