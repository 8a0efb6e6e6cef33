#!/usr/bin/env bash
# Quickstart 1: installs what is missing, builds, and starts the gateway on conf/dev.yaml with the
# built-in Crossmint simulator (no Crossmint account needed), listening on 127.0.0.1:8080
# (KYCGATE_LISTEN=127.0.0.1:9000 scripts/run.sh moves it). Arguments go to build/kycgate instead
# of the default `--config conf/dev.yaml` (scripts/run.sh --config my.yaml, scripts/run.sh --help; paths are relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ "$#" -eq 0 ]; then
  set -- --config conf/dev.yaml
fi
exec build/kycgate "$@"
