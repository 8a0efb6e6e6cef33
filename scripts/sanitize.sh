#!/usr/bin/env bash
# The whole test suite again, in a second build tree (build-san) compiled with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer (KG_SANITIZE=ON), warnings as errors. A sanitizer
# report fails the test that triggered it: in a unit test directly, in an integration test through
# the exit status of the gateway or the simulator it started (LeakSanitizer exits 23 at exit).
# Run by .ci/run after scripts/test.sh; about 1.5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Leak detection is on by default on Linux x86_64; it is named last (the last setting wins) so
# that an inherited ASAN_OPTIONS cannot turn it off.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1"
cmake -S . -B build-san -DKG_SANITIZE=ON -DKG_WERROR=ON >/dev/null
cmake --build build-san -j "$(nproc)"
cd build-san
# The soak runs here too (leaks over minutes of mixed traffic), shortened: .ci/run runs the full
# one in the normal build, where its RSS bound applies.
KG_SOAK_SECONDS="${KG_SOAK_SECONDS:-60}" ctest --output-on-failure --timeout 600 -j "$(nproc)"
