#!/usr/bin/env bash
# Quickstart 1: installs what is missing, builds, and starts the gateway on conf/dev.yaml with the
# built-in Crossmint simulator (no Crossmint account needed), listening on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/kycgate --config conf/dev.yaml
