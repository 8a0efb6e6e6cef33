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
. bench/lib.sh

build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms 3600000 \
  >"$work/sim.log" 2>&1 &
pids+=($!)
sim=$(port_of "$work/sim.log")

gw_yaml "$work/gw.yaml" "$sim"
"${KG_BENCH_BIN:-build/kycgate}" --config "$work/gw.yaml" >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
gw=$(port_of "$work/gw.log")

ng=$(free_port 20000)
nginx_conf "$work/nginx.conf" "$work" "$ng" "$sim" "$key"
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
