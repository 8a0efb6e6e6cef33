#!/usr/bin/env bash
# Benchmarks (design §9, issue 12), printed as figures, never asserted: kycgate against nginx as a
# reverse proxy that adds the key, both in front of the same standalone simulator on loopback.
#   bench/run.sh [seconds]     (needs build/kycgate, wrk, nginx-light, cc and python3)
# Workloads, each run against nginx then kycgate for [seconds] (default 10):
#   fast  64 connections, a new user on every request (the simulator answers 404 at once: the
#         cost of the hop, and of one per-user entry each request); also against bench/proto.c,
#         the bare request path in kycgate's design (engine), in the per-thread loop design
#         of README "What 0.6x needs" (loop) and in loop threads taking turns on one shared curl
#         multi handle (shared): what libmicrohttpd and libcurl alone cost;
#   poll  64 connections reading the status of 8 users over and over (kycgate also with the store
#         on, as in conf/dev.yaml);
#   slow  1000 connections, the simulator answering after 200 ms.
# Then: added latency at a fixed 1000 requests/s (bench/fixedrate.c, a new user each request,
# against the simulator directly, nginx and kycgate, three rounds in turn: the median of what
# each adds to the direct call of its round); memory: idle private dirty, peak RSS,
# KG_BENCH_MEM_S (60) seconds of the fast workload on a fresh kycgate and its RSS one minute
# after; KG_BENCH_WAITERS (10000) long-poll waiters on 500 users in review (bench/waiters.py):
# kycgate's CPU and RSS while nothing changes, and how soon they are answered when the reviews
# end. KG_BENCH_ONLY=waiters runs that last step alone (it needs neither wrk nor nginx);
# KG_BENCH_ONLY=slow runs only the slow workload, nginx then kycgate, on fresh processes with the
# same configuration (about 20 s with the default 10 s). KG_BENCH_KEEP=dir keeps the processes'
# logs (kycgate's access lines among them) in dir. KG_BENCH_BIN=path runs that kycgate binary as
# the gateway (the simulator stays build/kycgate's), to compare two builds in alternating runs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
mem_secs="${KG_BENCH_MEM_S:-60}"
after_secs="${KG_BENCH_AFTER_S:-60}"
n_waiters="${KG_BENCH_WAITERS:-10000}"
. bench/lib.sh

status_kb() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status; }
dirty_kb() { awk '/^Private_Dirty/ {print $2}' /proc/"$1"/smaps_rollup; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

start_sim() { # name review_delay_ms: starts a simulator; its port in $name
  build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms "$2" \
    >"$work/$1.log" 2>&1 &
  pids+=($!)
  eval "${1}_pid=$!"
  eval "$1=$(port_of "$work/$1.log")"
}
start_gw() { # name sim_port [store]: starts kycgate (access lines on, as in production, to
  # local disk), with the store on when store is given (gw_yaml)
  gw_yaml "$work/$1.yaml" "$2" "${3:-}"
  "${KG_BENCH_BIN:-build/kycgate}" --config "$work/$1.yaml" >"$work/$1.log" 2>&1 &
  pids+=($!)
  eval "${1}_pid=$!"
  eval "${1}_port=$(port_of "$work/$1.log")"
}

waiters_step() { # the last step: long-poll waiters (bench/waiters.py)
  echo "waiters: $n_waiters long-polls on 500 users in review"
  review_s=$((40 + n_waiters / 500))
  start_sim sim2 $((review_s * 1000))
  start_gw wait "$sim2"
  # A run whose waiters did not see their reviews end says FAILED and why (bench/waiters.py):
  # its figures are no measurement, and the script's status says so too.
  python3 bench/waiters.py "$wait_port" "$wait_pid" "$token" "$n_waiters" 500 15 "$review_s" \
    "$work/wait.log" "$sim2_pid" || waiters_failed=1
}
waiters_failed=0
if [ "${KG_BENCH_ONLY:-}" = waiters ]; then # only the waiters step (about 90 s)
  echo "load before: $(uptime | sed 's/.*load/load/')"
  waiters_step
  echo "load after: $(uptime | sed 's/.*load/load/')"
  exit "$waiters_failed"
fi

start_sim sim 3600000
start_gw gw "$sim"
gw=$gw_port
sleep 0.5
idle_dirty=$(dirty_kb "$gw_pid")

ng=$(free_port 20000)
nginx_conf "$work/nginx.conf" "$work" "$ng" "$sim" "$key"
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
cc -O2 -o "$work/fixedrate" bench/fixedrate.c
cc -O2 -o "$work/proto" bench/proto.c -lmicrohttpd -lcurl -lpthread
pl=$(free_port $((ng + 1)))
"$work/proto" "$pl" "http://127.0.0.1:$sim" "$key" "$token" 2 loop >"$work/proto-loop.log" 2>&1 &
pids+=($!)
pe=$(free_port $((pl + 1)))
"$work/proto" "$pe" "http://127.0.0.1:$sim" "$key" "$token" 2 engine >"$work/proto-engine.log" 2>&1 &
pids+=($!)
psh=$(free_port $((pe + 1)))
"$work/proto" "$psh" "http://127.0.0.1:$sim" "$key" "$token" 2 shared >"$work/proto-shared.log" 2>&1 &
pids+=($!)
sleep 0.5

# 8 users with consent, so their status exists.
for i in $(seq 1 8); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -X PUT "http://127.0.0.1:$gw/v1/users/userId:poll-$i/consent" \
    -d '{"type":"privacy-policy","acceptedAt":"2025-06-01T12:00:00Z"}'
done
cat >"$work/poll.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/users/userId:poll-" .. (n % 8 + 1) .. "/verification")
end
LUA

field() { awk -v k="$2" '$1 == k {print $2}' "$work/$1.txt"; }
rps() { awk '/Requests\/sec/ {print $2}' "$work/$1.txt"; }
sock_errors() { grep -o 'Socket errors:.*' "$work/$1.txt" || echo "no socket errors"; }
run() { # name port path conns [script]
  local extra=()
  [ -n "${5:-}" ] && extra=(-s "$5")
  wrk -t2 -c"$4" -d"${secs}s" --timeout 5s --latency -H "Authorization: Bearer $token" "${extra[@]}" \
    "http://127.0.0.1:$2$3" >"$work/$1.txt"
  printf '  %-14s %10s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$(rps "$1")" \
    "$(field "$1" 50%)" "$(field "$1" 99%)" "$(sock_errors "$1")"
}
ratio() { awk -v a="$(rps "$1")" -v b="$(rps "$2")" 'BEGIN {printf "%.2fx", a / b}'; }
sim_reads() { curl -s "http://127.0.0.1:$sim/_simulator/requests" | grep -o '"method":"GET"' | wc -l; }
kg_metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k {s += $2} END {print s + 0}'; }
kg_5xx() { curl -s "http://127.0.0.1:$1/metrics" | grep '^kycgate_http_requests_total{' | grep 'code="5' | awk '{s += $2} END {print s + 0}'; }

echo "load before: $(uptime | sed 's/.*load/load/')"
if [ "${KG_BENCH_ONLY:-}" != slow ]; then
echo "fast: 64 connections, a new user on every request, ${secs}s each"
run nginx-fast "$ng" / 64 bench/new-user.lua
run kycgate-fast "$gw" / 64 bench/new-user.lua
echo "  kycgate/nginx $(ratio kycgate-fast nginx-fast); kycgate 5xx so far: $(kg_5xx "$gw")"
run proto-engine "$pe" / 64 bench/new-user.lua
run proto-loop "$pl" / 64 bench/new-user.lua
run proto-shared "$psh" / 64 bench/new-user.lua
echo "  bare path (bench/proto.c) / nginx: engine design $(ratio proto-engine nginx-fast)," \
  "loop design $(ratio proto-loop nginx-fast), shared design $(ratio proto-shared nginx-fast)"

echo "poll: 64 connections, 8 users"
curl -s -X DELETE "http://127.0.0.1:$sim/_simulator/requests" >/dev/null
run nginx-poll "$ng" /v1/users/ 64 "$work/poll.lua"
echo "  nginx upstream reads (last 1024 recorded): $(sim_reads)"
curl -s -X DELETE "http://127.0.0.1:$sim/_simulator/requests" >/dev/null
run kycgate-poll "$gw" /v1/users/ 64 "$work/poll.lua"
echo "  kycgate upstream reads (last 1024 recorded): $(sim_reads); kycgate/nginx $(ratio kycgate-poll nginx-poll)"
# The same with the store (and so events) on, as in conf/dev.yaml: each verification read then
# needs the user's remembered country (README "Performance", seventh pass).
start_gw gws "$sim" store
for i in $(seq 1 8); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -X PUT "http://127.0.0.1:$gws_port/v1/users/userId:poll-$i/consent" \
    -d '{"type":"privacy-policy","acceptedAt":"2025-06-01T12:00:00Z"}'
done
curl -s -X DELETE "http://127.0.0.1:$sim/_simulator/requests" >/dev/null
run kycgate-poll-st "$gws_port" /v1/users/ 64 "$work/poll.lua"
echo "  with the store on: upstream reads (last 1024 recorded): $(sim_reads); kycgate/nginx $(ratio kycgate-poll-st nginx-poll)"
kill "$gws_pid"
fi

echo "slow: upstream 200 ms, 1000 connections"
opened0=$(kg_metric "$gw" kycgate_upstream_connections_opened_total)
run nginx-slow "$ng" /v1/users/userId:sim-latency-200 1000
run kycgate-slow "$gw" /v1/users/userId:sim-latency-200 1000
echo "  kycgate/nginx $(ratio kycgate-slow nginx-slow); kycgate 5xx so far: $(kg_5xx "$gw");" \
  "connections opened to the simulator: $(($(kg_metric "$gw" kycgate_upstream_connections_opened_total) - opened0))"
echo "  (every answer is the simulator's 404 for nginx and kycgate alike: wrk's Non-2xx counts all)"
echo "kycgate memory: idle private dirty $(mib "$idle_dirty") at start; peak RSS after the three" \
  "workloads $(mib "$(status_kb "$gw_pid" VmHWM)")"
if [ "${KG_BENCH_ONLY:-}" = slow ]; then
  echo "load after: $(uptime | sed 's/.*load/load/')"
  exit 0
fi

echo "added latency at 1000 requests/s, a new user each request, ${secs}s each (fixedrate, 16 connections)," \
  "three rounds of direct, nginx, kycgate in turn"
fr() { # name port template [header]
  local out
  out=$("$work/fixedrate" "$2" 1000 "$secs" 16 "$3" "${4:-}")
  echo "$out" >"$work/$1.fr"
  printf '  %-10s %s\n' "$1" "$out"
}
for r in 1 2 3; do
  fr direct$r "$sim" "/2025-06-09/users/userId:fr-d${r}x%d/identity-verification" "X-API-KEY: $key"
  fr nginx$r "$ng" "/v1/users/userId:fr-n${r}x%d/verification" "Authorization: Bearer $token"
  fr kycgate$r "$gw" "/v1/users/userId:fr-k${r}x%d/verification" "Authorization: Bearer $token"
done
frv() { awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$work/$1.fr"; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# What a proxy adds, round by round against the direct call of the same round, then the median
# of the three: one round whose direct call had a bad tail no longer decides the figure.
for p in nginx kycgate; do
  add50=() add99=()
  for r in 1 2 3; do
    add50+=($(($(frv $p$r p50_us) - $(frv direct$r p50_us))))
    add99+=($(($(frv $p$r p99_us) - $(frv direct$r p99_us))))
  done
  echo "  $p adds p50 $(median3 "${add50[@]}") us, p99 $(median3 "${add99[@]}") us to the direct call" \
    "(median of the rounds; each round: p50 ${add50[*]} us, p99 ${add99[*]} us)"
done

echo "memory: ${mem_secs}s of the fast workload on a fresh kycgate"
start_gw mem "$sim"
sleep 0.5
echo "  idle: RSS $(mib "$(status_kb "$mem_pid" VmRSS)"), private dirty $(mib "$(dirty_kb "$mem_pid")")"
wrk -t2 -c64 -d"${mem_secs}s" -H "Authorization: Bearer $token" -s bench/new-user.lua \
  "http://127.0.0.1:$mem_port/" >"$work/mem.txt"
echo "  $(rps mem) req/s; peak RSS $(mib "$(status_kb "$mem_pid" VmHWM)"), RSS at the end $(mib "$(status_kb "$mem_pid" VmRSS)")"
sleep "$after_secs"
echo "  ${after_secs}s later: RSS $(mib "$(status_kb "$mem_pid" VmRSS)"), private dirty $(mib "$(dirty_kb "$mem_pid")")"
kill "$mem_pid"

waiters_step
echo "load after: $(uptime | sed 's/.*load/load/')"
exit "$waiters_failed"
