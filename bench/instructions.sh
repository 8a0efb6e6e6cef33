#!/usr/bin/env bash
# User-space instructions per request of kycgate in the fast workload (a new user on every
# request), counted by callgrind: a figure that does not move with the machine's load, for
# comparing two builds when a change is too small for bench/run.sh's timings to show.
#   bench/instructions.sh [binary...]      (default build/kycgate; needs valgrind and wrk)
# Each binary runs under callgrind in front of build/kycgate's simulator; after 2 s of warm-up
# the counters are zeroed, wrk sends KG_INSTR_S (8) seconds of requests on 8 connections, and the
# instructions counted in that window are divided by the requests wrk completed.
# KG_INSTR_KEEP=dir keeps each run's callgrind file there (callgrind_annotate reads it).
# Two caveats when reading a profile: valgrind counts each byte of a `rep stosb` (glibc's memset
# of a large block) as an instruction, so big memsets look far dearer than they run; and it has
# no SHA extensions, so hashing takes nettle's plain code path.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${KG_INSTR_S:-8}"
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
[ $# -gt 0 ] || set -- build/kycgate

port_of() { # waits for a listening line in $1 and prints its port
  for _ in $(seq 300); do
    p=$(grep -o '"port":"[0-9]*\|127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "no listening line in $1" >&2; exit 1
}

build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms 3600000 \
  >"$work/sim.log" 2>&1 &
pids+=($!)
sim=$(port_of "$work/sim.log")
cat >"$work/gw.yaml" <<YAML
server: {listen: "127.0.0.1:0", drain_delay_s: 0}
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

i=0
for bin in "$@"; do
  i=$((i + 1))
  valgrind --tool=callgrind --callgrind-out-file="$work/cg$i.out" "$bin" --config "$work/gw.yaml" \
    >"$work/gw$i.log" 2>"$work/vg$i.log" &
  gw_pid=$!
  gw=$(port_of "$work/gw$i.log")
  wrk -t1 -c8 -d2s -H "Authorization: Bearer $token" -s bench/new-user.lua "http://127.0.0.1:$gw/" \
    >/dev/null
  callgrind_control -z "$gw_pid" >/dev/null 2>&1
  out=$(wrk -t1 -c8 -d"${secs}s" -H "Authorization: Bearer $token" -s bench/new-user.lua \
    "http://127.0.0.1:$gw/")
  callgrind_control -d "$gw_pid" >/dev/null 2>&1
  kill "$gw_pid"
  wait "$gw_pid" 2>/dev/null || true
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  # The dump taken at the end of the window is the file with a ".1" suffix.
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$work/cg$i.out.1")
  awk -v b="$bin" -v t="$total" -v n="$n" \
    'BEGIN {printf "%s: %d requests, %.0f instructions a request\n", b, n, t / n}'
  if [ -n "${KG_INSTR_KEEP:-}" ]; then
    mkdir -p "$KG_INSTR_KEEP"
    cp "$work/cg$i.out.1" "$KG_INSTR_KEEP/callgrind.$i.out"
  fi
done
