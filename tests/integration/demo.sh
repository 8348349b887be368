#!/usr/bin/env bash
# scripts/demo.sh (README's first command) as a user runs it, minus the build:
# it must succeed, print no shell error, and finish in under 90 s (issue 17).
set -uo pipefail
SCANWATCH=${SCANWATCH:?}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp /tmp/sw-demo.XXXX)
trap 'rm -f "$out"' EXIT
t0=$SECONDS
SCANWATCH=$SCANWATCH bash "$HERE/../../scripts/demo.sh" >"$out" 2>&1; rc=$?
secs=$((SECONDS - t0))
fail() { cat "$out" >&2; echo "FAIL: $*" >&2; exit 1; }
[ "$rc" = 0 ] || fail "demo.sh exit $rc"
# bash's own errors name the script and a line: "demo.sh: line 45: [: : integer expression expected"
! grep -E 'line [0-9]+: |command not found|integer expression|unbound variable' "$out" || fail "a shell error"
[ "$secs" -lt 90 ] || fail "demo took ${secs} s (want < 90 s after the build)"
grep -q 'told to give up early' "$out" || fail "the demo does not say nmap's patience was bounded"
grep -q "the scanner's HTTP request now gets: nothing" "$out" || fail "the blocked scanner was still answered"
echo "PASS demo in ${secs} s"
