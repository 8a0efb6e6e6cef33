#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang into build-fuzz (-fsanitize=fuzzer,
# address, undefined) and runs each for a bounded time on a copy of its seed corpus (the
# repository's corpus does not grow), with its dictionary. Fails on any crash, leak, timeout or
# out-of-memory, naming the target and the reproducer, which stays in the run's directory.
# Run by .ci/run after scripts/test.sh; about 2 minutes (5 targets x KG_FUZZ_SECONDS).
#
# Usage: scripts/fuzz.sh [TARGET...]   (default: every tests/fuzz/fuzz_*.c; TARGET is e.g. json)
#   KG_FUZZ_SECONDS  time per target (default 20)
#   KG_FUZZ_OUT      where the runs go (default: a new directory under ${TMPDIR:-/tmp})
# To reproduce a crash:  build-fuzz/fuzz_<target> <reproducer>
# To keep it as a regression, add the reproducer to tests/fuzz/corpus/<target>/ (replayed by the
# CTest fuzz_<target>_corpus in every build) and a unit test to tests/test_<module>.c.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
scripts/setup.sh
secs="${KG_FUZZ_SECONDS:-20}"
# Warnings are not errors here: gcc's -Werror build of scripts/test.sh is the gate, and clang 14
# warns about some things gcc accepts (a {NULL} terminator row, a missing final newline).
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKG_FUZZ=ON -DKG_TESTS=OFF -DKG_WERROR=OFF \
  >/dev/null
cmake --build build-fuzz -j "$(nproc)"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    t="${f##*/fuzz_}"
    targets+=("${t%.c}")
  done
fi
out="${KG_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/kycgate-fuzz.XXXXXX")}"
mkdir -p "$out"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1"

fail=0
for t in "${targets[@]}"; do
  bin="$root/build-fuzz/fuzz_$t"
  dir="$out/$t"
  mkdir -p "$dir/corpus"
  cp -r "tests/fuzz/corpus/$t/." "$dir/corpus/"
  dict=()
  if [ -f "tests/fuzz/dict/$t.dict" ]; then
    dict=("-dict=$root/tests/fuzz/dict/$t.dict")
  fi
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: over 2 GiB is a leak.
  if (cd "$dir" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${dict[@]}" -artifact_prefix="$dir/" corpus \
        </dev/null >"$dir/log" 2>&1); then
    echo "fuzz: $t: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" |
      grep -o '[0-9]*$') runs in ${secs} s)"
  else
    fail=1
    echo "fuzz: $t: FAILED; log $dir/log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property failed|artifact_prefix|Test unit written)' \
      "$dir/log" >&2 || tail -n 30 "$dir/log" >&2
    for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
      [ -e "$a" ] && echo "fuzz: $t: reproducer $a (run: $bin $a)" >&2
    done
  fi
done
exit "$fail"
