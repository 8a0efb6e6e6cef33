#!/usr/bin/env bash
# Benchmarks (design §9), printed as figures, never asserted: kycgate against nginx as a reverse
# proxy that adds the key, both in front of the same standalone simulator on loopback.
#   bench/run.sh [seconds]     (needs build/kycgate, wrk and nginx-light: apt-get install wrk nginx-light)
# Workloads: "fast" = 64 connections reading an unknown user (the simulator answers 404 at once:
# the cost of the hop); "poll" = 64 connections reading the status of 8 users over and over;
# "slow" = 1000 connections, the simulator answering after 200 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
work=$(mktemp -d)
key=sk_staging_bench0123456789abcdef
token=bench-token-0123456789abcdef-0123456
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
pids=()
trap cleanup EXIT

port_of() { # waits for a listening line in $1 and prints its port
  for _ in $(seq 100); do
    p=$(grep -o '"port":"[0-9]*\|127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "no listening line in $1" >&2; exit 1
}

build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms 3600000 >"$work/sim.log" 2>&1 &
pids+=($!)
sim=$(port_of "$work/sim.log")

cat >"$work/gw.yaml" <<YAML
server: {listen: "127.0.0.1:0", drain_delay_s: 0}
crossmint:
  environment: staging
  base_url: "http://127.0.0.1:$sim"
  api_key: "$key"
  max_connections: 64             # as many idle connections as nginx keeps
  rate_limit: {reads_per_minute: 0, writes_per_minute: 0}
auth:
  clients:
    - {name: bench, token: "$token", scopes: [users.create, users.read]}
YAML
# Access lines on (as in production) into a file on local disk.
build/kycgate --config "$work/gw.yaml" >"$work/gw.log" 2>&1 &
pids+=($!)
gw=$(port_of "$work/gw.log")

ng=20000
while (exec 3<>"/dev/tcp/127.0.0.1/$ng") 2>/dev/null; do ng=$((ng + 1)); done
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
      rewrite ^/v1/users/(.*)/verification\$ /2025-06-09/users/\$1/identity-verification break;
      rewrite ^/v1/users/(.*)\$ /2025-06-09/users/\$1 break;
      proxy_pass http://sim;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
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

run() { # name port path [script]
  local extra=()
  [ -n "${4:-}" ] && extra=(-s "$4")
  wrk -t2 -c64 -d"${secs}s" --latency -H "Authorization: Bearer $token" "${extra[@]}" \
    "http://127.0.0.1:$2$3" >"$work/$1.txt"
  printf '%-14s %10s req/s   p50 %8s   p99 %8s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")" \
    "$(awk '$1 == "50%" {print $2}' "$work/$1.txt")" "$(awk '$1 == "99%" {print $2}' "$work/$1.txt")"
}
upstream_reads() { curl -s "http://127.0.0.1:$sim/_simulator/requests" | grep -o '"method":"GET"' | wc -l; }

echo "fast upstream, 64 connections, ${secs}s each (unknown user: the simulator's 404)"
run nginx-fast "$ng" /v1/users/userId:nobody
run kycgate-fast "$gw" /v1/users/userId:nobody
echo "polling, 64 connections, 8 users"
curl -s -X DELETE "http://127.0.0.1:$sim/_simulator/requests" >/dev/null
run nginx-poll "$ng" /v1/users/ "$work/poll.lua"
echo "  upstream reads (last 1024 recorded): $(upstream_reads)"
curl -s -X DELETE "http://127.0.0.1:$sim/_simulator/requests" >/dev/null
run kycgate-poll "$gw" /v1/users/ "$work/poll.lua"
echo "  upstream reads (last 1024 recorded): $(upstream_reads)"
echo "slow upstream (200 ms), 1000 connections"
ulimit -n "$(ulimit -Hn)"
run_slow() { # name port
  wrk -t2 -c1000 -d"${secs}s" --timeout 5s --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$2/v1/users/userId:sim-latency-200" >"$work/$1.txt"
  printf '%-14s %10s req/s   p50 %8s   p99 %8s   errors: %s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")" \
    "$(awk '$1 == "50%" {print $2}' "$work/$1.txt")" "$(awk '$1 == "99%" {print $2}' "$work/$1.txt")" \
    "$(grep -E 'Socket errors|Non-2xx' "$work/$1.txt" | tr -s ' ' | tr '\n' ';' || true)"
}
run_slow nginx-slow "$ng"
run_slow kycgate-slow "$gw"
echo "kycgate peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/"${pids[1]}"/status)"
echo "(the slow user does not exist: every answer is the simulator's 404, so Non-2xx counts all)"
