#!/usr/bin/env bash
# Installs what kycgate needs to build and test on Debian 12 (bookworm), as root or through sudo.
# Used by the README quickstart, by .ci/run and by the Dockerfile's builder stage: one list, one place.
# KYCGATE_SETUP_RUNTIME_ONLY=1 installs only the runtime libraries (the container's final stage).
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcurl4-openssl-dev
            libjson-c-dev libyaml-dev check ca-certificates curl)
runtime_pkgs=(libmicrohttpd12 libcurl4 libjson-c5 libyaml-0-2 ca-certificates)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

if [ "${KYCGATE_SETUP_RUNTIME_ONLY:-0}" = 1 ]; then
  want=("${runtime_pkgs[@]}")
else
  want=("${build_pkgs[@]}")
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
