#!/usr/bin/env bash
# Quickstart 2: installs what is missing, builds with warnings as errors, and runs the whole test
# suite (unit and integration) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
KG_WERROR=ON scripts/build.sh
cd build
# The soak (label soak, minutes long) is left out here; .ci/run runs it.
ctest --output-on-failure --timeout 600 -j "$(nproc)" -LE soak
# Every allocation of one request per route failing in turn, in a sanitizer build of its own.
cd ..
KG_WERROR=ON scripts/torture.sh
