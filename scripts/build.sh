#!/usr/bin/env bash
# Configures and builds kycgate into build/ (Release-with-debug-info, warnings as errors when
# KG_WERROR=ON). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DKG_WERROR="${KG_WERROR:-OFF}" "$@" >/dev/null
cmake --build build -j "$(nproc)"
