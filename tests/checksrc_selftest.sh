#!/usr/bin/env bash
# The style check must not pass silently: scripts/checksrc.sh run on small files must fail on a
# banned call and on a clang-format difference (naming FILE:LINE), and pass on clean code that
# only mentions banned names in comments, strings and allowed lines.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
check="$root/scripts/checksrc.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cf=clang-format
command -v clang-format-14 >/dev/null 2>&1 && cf=clang-format-14

fail() {
  echo "checksrc_selftest: $*" >&2
  exit 1
}

# Formats a file as the tree is, so only what a case is about can fail.
formatted() {
  cat >"$dir/$1"
  "$cf" --style="file:$root/.clang-format" -i "$dir/$1"
}

formatted clean.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>

/* strcpy(a, b) and gets(s) in a comment, also
 * over lines: sprintf(x) */
int f(char *buf, size_t n, const char *s)
{
	const char *t = "atoi(s) strcat(a, b)"; // strtok(s, " ")
	char c = '(';
	int v = atoi(s); /* checksrc: allow atoi (a selftest case) */

	snprintf(buf, n, "%s%c%d", t, c, v);
	return my_atoi(s) + vsnprintf_like(s);
}
EOF
formatted banned.c <<'EOF'
#include <string.h>

void f(char *a, const char *b)
{
	strcpy(a, b);
	(void)strcat (a, b);
}
EOF
printf 'int  f(void){return 0;}\n' >"$dir/unformatted.c"

out="$("$check" "$dir/clean.c" 2>&1)" || fail "clean code refused: $out"

if out="$("$check" "$dir/banned.c" 2>&1)"; then
  fail "banned calls passed"
fi
grep -q "banned.c:5: banned function strcpy()" <<<"$out" || fail "strcpy not named: $out"
grep -q "banned.c:6: banned function strcat()" <<<"$out" || fail "strcat not named: $out"

if out="$("$check" "$dir/unformatted.c" 2>&1)"; then
  fail "a clang-format difference passed"
fi
grep -q "unformatted.c:1: not clang-formatted" <<<"$out" || fail "format not named: $out"
echo "checksrc_selftest: ok"
