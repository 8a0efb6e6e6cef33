#!/usr/bin/env bash
# System calls per request in the fast workload (a new user on every request, 64 connections),
# counted by strace for nginx, the bare request path of bench/proto.c (engine and loop designs)
# and kycgate, each in front of the same simulator: a figure the machine's load does not move,
# and the one that decides throughput where a system call is dear (README "Performance").
#   bench/syscalls.sh [seconds]      (default 2; needs strace, wrk, nginx-light, cc)
# For each server, wrk runs for seconds + 4 s; after 2 s of warm-up strace follows every thread
# of the server for [seconds]. Requests are counted in the same trace: each one is exactly one
# request sent upstream (a call whose first bytes are "GET /2025-06-09"), so the figures stay
# right although strace slows the server down. KG_BENCH_BIN=path traces that kycgate binary.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-2}"
work=$(mktemp -d)
key=sk_staging_bench0123456789abcdef
token=bench-token-0123456789abcdef-0123456
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

port_of() { # waits for a listening line in $1 and prints its port
  for _ in $(seq 100); do
    p=$(grep -o '"port":"[0-9]*\|127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "no listening line in $1" >&2
  exit 1
}
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }

build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms 3600000 \
  >"$work/sim.log" 2>&1 &
pids+=($!)
sim=$(port_of "$work/sim.log")

cat >"$work/gw.yaml" <<YAML
server: {listen: "127.0.0.1:0", drain_delay_s: 0, max_connections: 12000}
crossmint:
  environment: staging
  base_url: "http://127.0.0.1:$sim"
  api_key: "$key"
  max_connections: 64
  rate_limit: {reads_per_minute: 0, writes_per_minute: 0}
auth:
  clients:
    - {name: bench, token: "$token", scopes: [users.create, users.read]}
store: {driver: none}
YAML
"${KG_BENCH_BIN:-build/kycgate}" --config "$work/gw.yaml" >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
gw=$(port_of "$work/gw.log")

ng=$(free_port 20000)
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  upstream sim { server 127.0.0.1:$sim; keepalive 64; }
  server {
    listen 127.0.0.1:$ng;
    location /v1/users/ {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-API-KEY $key;
      rewrite ^/v1/users/(.*)\$ /2025-06-09/users/\$1 break;
      proxy_pass http://sim;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
ng_pid=$!
pids+=($ng_pid)
cc -O2 -o "$work/proto" bench/proto.c -lmicrohttpd -lcurl -lpthread
pe=$(free_port $((ng + 1)))
"$work/proto" "$pe" "http://127.0.0.1:$sim" "$key" "$token" 2 engine >"$work/pe.log" 2>&1 &
pe_pid=$!
pids+=($pe_pid)
pl=$(free_port $((pe + 1)))
"$work/proto" "$pl" "http://127.0.0.1:$sim" "$key" "$token" 2 loop >"$work/pl.log" 2>&1 &
pl_pid=$!
pids+=($pl_pid)
sleep 1

trace() { # name port pid...: traces those processes under the fast workload, prints the counts
  local name=$1 port=$2 args=() p
  shift 2
  for p in "$@"; do args+=(-p "$p"); done
  wrk -t2 -c64 -d"$((secs + 4))s" -H "Authorization: Bearer $token" -s bench/new-user.lua \
    "http://127.0.0.1:$port/" >"$work/$name.wrk" &
  sleep 2
  timeout -s INT "$secs" strace -f -qq "${args[@]}" -o "$work/$name.st" 2>/dev/null || true
  wait %?wrk 2>/dev/null || true
  # "pid name(args" or "pid <... name resumed>": counted once, at the call's start.
  awk -v name="$name" '
    $2 ~ /^<\.\.\./ { next }
    { n = $2; sub(/\(.*/, "", n); if (n == "" || n ~ /^[+-]/) next; c[n]++; t++ }
    /GET \/2025-06-09/ { req++ }
    END {
      if (req == 0) { printf "  %-14s no request seen\n", name; exit }
      line = ""
      for (k in c) if (c[k] / req >= 0.05) line = line sprintf(" %s %.2f", k, c[k] / req)
      printf "  %-14s %5.2f a request (%d requests traced):%s\n", name, t / req, req, line
    }' "$work/$name.st"
}

echo "system calls a request, fast workload (64 connections, a new user each), ${secs}s traced each"
trace nginx "$ng" $(pgrep -P "$ng_pid" | tr '\n' ' ')
trace proto-engine "$pe" "$pe_pid"
trace proto-loop "$pl" "$pl_pid"
trace kycgate "$gw" "$gw_pid"
