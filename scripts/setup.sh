#!/usr/bin/env bash
# Installs what kycgate needs to build and test on Debian 12 (bookworm), as root or through sudo.
# Used by the README quickstart, by .ci/run and by the Dockerfile's stages: one list, one place.
# By default it installs everything the build and the whole test suite need:
#   - build_pkgs and test_pkgs;
#   - Node.js (Debian's nodejs and npm, only when `node` or `npm` is missing from PATH);
#   - the spec tools of tools/spec (npm ci, when node_modules is missing or older than the lock
#     file).
# KYCGATE_SETUP_BUILD_ONLY=1 installs only build_pkgs (the container's builder stage: no tests).
# KYCGATE_SETUP_RUNTIME_ONLY=1 installs only runtime_pkgs (the container's final stage).
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcurl4-openssl-dev
            libjson-c-dev libyaml-dev libgnutls28-dev libsqlite3-dev)
# The tests: Check, promtool (metrics page), openssl (TLS certificates), curl (the quickstart),
# clang-format (scripts/checksrc.sh), clang and its runtime libraries with libFuzzer and the
# sanitizers (scripts/fuzz.sh; libclang-rt-dev is only a recommendation of clang, which
# --no-install-recommends skips).
test_pkgs=(check ca-certificates curl prometheus openssl clang-format clang libclang-rt-dev)
runtime_pkgs=(libmicrohttpd12 libcurl4 libjson-c5 libyaml-0-2 libgnutls30 libsqlite3-0 ca-certificates)
node_pkgs=(nodejs npm)

build_only=${KYCGATE_SETUP_BUILD_ONLY:-0}
runtime_only=${KYCGATE_SETUP_RUNTIME_ONLY:-0}
if [ "$build_only" = 1 ] && [ "$runtime_only" = 1 ]; then
  echo "setup: KYCGATE_SETUP_BUILD_ONLY and KYCGATE_SETUP_RUNTIME_ONLY exclude each other" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

if [ "$runtime_only" = 1 ]; then
  want=("${runtime_pkgs[@]}")
elif [ "$build_only" = 1 ]; then
  want=("${build_pkgs[@]}")
else
  want=("${build_pkgs[@]}" "${test_pkgs[@]}")
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    want+=("${node_pkgs[@]}")
  fi
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The spec lint and the answer checks (tests only), at the exact versions of the lock file.
spec="$(cd "$(dirname "$0")/.." && pwd)/tools/spec"
if [ "$runtime_only" != 1 ] && [ "$build_only" != 1 ] && [ -f "$spec/package-lock.json" ]; then
  if [ ! -d "$spec/node_modules" ] || [ "$spec/package-lock.json" -nt "$spec/node_modules" ]; then
    echo "setup: npm ci in tools/spec" >&2
    npm ci --prefix "$spec" --no-audit --no-fund
  fi
fi
