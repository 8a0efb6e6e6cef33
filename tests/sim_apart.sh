#!/usr/bin/env bash
# The simulator stands apart from the gateway it is used to check (design: "a test double stands
# apart"; issue 8). Fails, naming what is wrong, when
#   1. a file of src/sim/ includes anything but its own sim_internal.h, a public "kycgate/*.h" or
#      a system header, or any path with "..";
#   2. a file of src/base/ (the plumbing both sides share) includes a private header;
#   3. libkgsim.a uses a symbol that libkgcore.a defines (a gateway function reached through a
#      public header: the simulator may use kgbase and system libraries only);
#   4. libkgbase.a uses a symbol of libkgsim.a or libkgcore.a (it sits below both).
# Usage: sim_apart.sh SRC_DIR LIBKGBASE LIBKGSIM LIBKGCORE
set -euo pipefail

src="$1" base_lib="$2" sim_lib="$3" core_lib="$4"
fail=0
inc='^[[:space:]]*#[[:space:]]*include[[:space:]]*'

check_includes() { # DIR ALLOWED_QUOTED_REGEX
  local bad
  # grep -Hn prefixes FILE:LINE:, so the second pattern anchors after it.
  bad="$(grep -HnE "$inc" "$1"/*.[ch] |
    grep -vE ":[0-9]+:${inc#^}(\"$2\"|<[A-Za-z0-9_/.+-]+>)[[:space:]]*(/\*.*)?$" || true)"
  bad="$(printf '%s\n%s\n' "$bad" "$(grep -HnE "$inc.*\.\." "$1"/*.[ch] || true)" |
    sed '/^$/d' | sort -u)"
  if [ -n "$bad" ]; then
    printf '%s\n' "$bad" | sed 's/$/   <- not allowed here/'
    fail=1
  fi
}

check_includes "$src/sim" '(sim_internal\.h|kycgate/[a-z0-9_]+\.h)'
check_includes "$src/base" 'kycgate/[a-z0-9_]+\.h'

defined() { nm --defined-only "$1" | awk 'NF == 3 && $2 ~ /[TDRBCV]/ { print $3 }' | sort -u; }

uses_of() { # LIB OTHER_LIB: the symbols LIB needs that OTHER_LIB defines
  local own needed
  own="$(defined "$1")"
  needed="$(nm -u "$1" | awk 'NF == 2 { print $2 }' | sort -u | comm -23 - <(printf '%s\n' "$own"))"
  if [ -z "$own" ]; then
    echo "sim_apart: no symbols read from $1" >&2
    fail=1
  fi
  comm -12 <(printf '%s\n' "$needed") <(defined "$2")
}

report() { # WHAT SYMBOLS
  if [ -n "$2" ]; then
    printf '%s\n' "$2" | sed "s/^/$1 /"
    fail=1
  fi
}

report "libkgsim uses a symbol of libkgcore:" "$(uses_of "$sim_lib" "$core_lib")"
report "libkgbase uses a symbol of libkgcore:" "$(uses_of "$base_lib" "$core_lib")"
report "libkgbase uses a symbol of libkgsim:" "$(uses_of "$base_lib" "$sim_lib")"
exit "$fail"
