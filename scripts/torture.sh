#!/usr/bin/env bash
# The allocation-failure walk (tests/test_it_torture.c): a second build tree, build-torture/, with
# KG_TORTURE=ON and the sanitizers (so a failure path that leaks or reads freed memory fails the
# test), only the program and that test built, then that one test run. scripts/test.sh runs it
# after the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-torture -DKG_TORTURE=ON -DKG_SANITIZE=ON -DKG_WERROR="${KG_WERROR:-OFF}" \
  >/dev/null
cmake --build build-torture -j "$(nproc)" --target kycgate test_it_torture
cd build-torture
ctest --output-on-failure --timeout 1200 -R '^test_it_torture$'
