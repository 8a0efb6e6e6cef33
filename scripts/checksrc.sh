#!/usr/bin/env bash
# Style check of the C sources, in the spirit of curl's checksrc: fails (exit 1) and lists
# FILE:LINE for
#   - a clang-format difference (the checked-in .clang-format, clang-format 14 as in Debian 12);
#   - a call of a banned function: sprintf vsprintf strcpy strcat strncat strtok atoi atol atoll
#     gets (use snprintf, memcpy with a known length, strtol / strtoul with an end check, ...).
#     Calls are matched in the code only: comments, string and character literals are ignored.
#
# A line that really needs one of them says so in a comment on that line:
#     n = atoi(s); /* checksrc: allow atoi (why it is safe here) */
#
# Usage: scripts/checksrc.sh [FILE...]   (default: every .c and .h under src/ include/ tests/)
# CLANG_FORMAT may name the clang-format binary; clang-format-14 is preferred when installed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
banned='sprintf|vsprintf|strcpy|strcat|strncat|strtok|atoi|atol|atoll|gets'

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  cd "$root"
  mapfile -t files < <(find src include tests -type f \( -name '*.c' -o -name '*.h' \) | sort)
fi

cf="${CLANG_FORMAT:-}"
if [ -z "$cf" ]; then
  if command -v clang-format-14 >/dev/null 2>&1; then cf=clang-format-14; else cf=clang-format; fi
fi
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "checksrc: $cf not found (scripts/setup.sh installs clang-format)" >&2
  exit 1
fi
major="$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')"
if [ "$major" != 14 ]; then
  echo "checksrc: note: $cf is version $major; the tree is formatted with clang-format 14" >&2
fi

fail=0

# clang-format: one FILE:LINE per line that differs.
for f in "${files[@]}"; do
  out="$("$cf" --style="file:$root/.clang-format" --dry-run --Werror "$f" 2>&1)" || true
  if [ -n "$out" ]; then
    printf '%s\n' "$out" | sed -n 's/^\([^:]*:[0-9]*\):[0-9]*: error: .*/\1: not clang-formatted/p' |
      sort -u -t: -k1,1 -k2,2n
    fail=1
  fi
done

# Banned calls: comments and literals blanked first (line numbers kept), then NAME( matched.
strip='
BEGIN { sq = sprintf("%c", 39) }
{
  out = ""
  n = length($0)
  for (i = 1; i <= n; i++) {
    c = substr($0, i, 1)
    d = substr($0, i, 2)
    if (state == "comment") {
      if (d == "*/") { state = ""; i++ }
      out = out " "
      continue
    }
    if (state == "str" || state == "chr") {
      q = state == "str" ? "\"" : sq
      if (c == "\\") { i++; out = out "  "; continue }
      if (c == q) state = ""
      out = out " "
      continue
    }
    if (d == "/*") { state = "comment"; out = out "  "; i++; continue }
    if (d == "//") break
    if (c == "\"") { state = "str"; out = out " "; continue }
    if (c == sq) { state = "chr"; out = out " "; continue }
    out = out c
  }
  if (state == "str" || state == "chr") state = ""
  raw[NR] = $0
  code[NR] = out
}
END {
  for (l = 1; l <= NR; l++) {
    s = code[l]
    while (match(s, /(^|[^A-Za-z0-9_])(BANNED)[ \t]*\(/)) {
      m = substr(s, RSTART, RLENGTH)
      sub(/^[^A-Za-z_]/, "", m)
      sub(/[ \t]*\($/, "", m)
      if (index(raw[l], "checksrc: allow " m) == 0)
        printf "%s:%d: banned function %s()\n", FILENAME, l, m
      s = substr(s, RSTART + RLENGTH)
    }
  }
}'
strip="${strip//BANNED/$banned}"
for f in "${files[@]}"; do
  out="$(awk "$strip" "$f")"
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
    fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  echo "checksrc: failed (clang-format -i FILE fixes the format; see the top of $0)" >&2
fi
exit "$fail"
