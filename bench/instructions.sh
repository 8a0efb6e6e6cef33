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
. bench/lib.sh
[ $# -gt 0 ] || set -- build/kycgate

build/kycgate simulator --listen 127.0.0.1:0 --api-key "$key" --review-delay-ms 3600000 \
  >"$work/sim.log" 2>&1 &
pids+=($!)
sim=$(port_of "$work/sim.log")
gw_yaml "$work/gw.yaml" "$sim"

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
