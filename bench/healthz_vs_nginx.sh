#!/usr/bin/env bash
# GET /healthz of betterdev beside nginx returning the same fixed body, one run, same machine,
# same wrk (-t2 -c64), alternating so that both see the same noise:
#   bash bench/healthz_vs_nginx.sh [duration_seconds=10] [rounds=3]
# betterdev keeps what it always does per request: metrics, a request id, the access log
# (written to a file). nginx logs each request to a file too. Needs the release build, wrk and
# nginx (Debian package nginx-light; scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${2:-3}"
BIN=$PWD/build/release/betterdev
[ -x "$BIN" ] || { echo "build the release binary first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
for t in wrk nginx; do command -v $t >/dev/null || { echo "$t is missing: bash scripts/setup.sh" >&2; exit 1; }; done
NGINX=$(command -v nginx)
WORK=$(mktemp -d)
PID=""
NPID=""
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [ -n "$NPID" ] && { kill "$NPID" 2>/dev/null || true; wait "$NPID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/lib.sh

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
NPORT=$(free_port)
NPORT_QUIET=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx/access.log;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
  }
  server {
    listen 127.0.0.1:$NPORT_QUIET;
    access_log off;
    location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NPID=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$NPORT/healthz" >/dev/null 2>&1 && break; sleep 0.02; done

rm -rf "$WORK/data"
"$BIN" serve --port 0 --data-dir "$WORK/data" --workers 1 >"$WORK/betterdev.log" 2>&1 &
PID=$!
wait_url "$WORK/betterdev.log" healthz

rps() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
machine_line
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); wrk -t2 -c64 -d${DURATION}s, alternating, $ROUNDS rounds"
echo
echo "| round | nginx, access log to a file | nginx, access log off | betterdev (metrics, request id, access log to a file) | ratio to nginx with log | ratio to nginx without |"
echo "|---|---|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  n=$(rps "http://127.0.0.1:$NPORT/healthz")
  q=$(rps "http://127.0.0.1:$NPORT_QUIET/healthz")
  b=$(rps "$URL/healthz")
  echo "| $r | $n | $q | $b | $(awk -v b="$b" -v n="$n" 'BEGIN {printf "%.2f", b / n}') | $(awk -v b="$b" -v n="$q" 'BEGIN {printf "%.2f", b / n}') |"
done
grep -c '"msg":"request"' "$WORK/betterdev.log" >/dev/null && echo && echo "(betterdev wrote $(grep -c '"msg":"request"' "$WORK/betterdev.log") access log lines)"
