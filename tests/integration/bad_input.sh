#!/usr/bin/env bash
# Bad command lines: one clear line on stderr and exit 2.
set -u
SCANWATCH=${SCANWATCH:?}
expect() {
  local want=$1 pattern=$2; shift 2
  out=$("$SCANWATCH" "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" = "$want" ] || { echo "FAIL: '$*' exit $rc, want $want: $out"; exit 1; }
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL: '$*' printed more than one line: $out"; exit 1; }
  printf '%s' "$out" | grep -q -- "$pattern" || { echo "FAIL: '$*' said: $out"; exit 1; }
}
expect 2 "does not exist" run -i nosuch0
expect 2 "xdp-mode" run -i lo --xdp-mode turbo
expect 2 "not an IPv4 or IPv6" run -i lo --allow 300.1.2.3/8 --duration 1
expect 2 "prefix length" run -i lo --allow 198.18.0.0/33 --duration 1
expect 2 "duration" run -i lo --probe-timeout 5x
expect 2 "" frobnicate
expect 2 "at least one interface" run
expect 2 "cannot read the config file" run --config /nonexistent/sw.toml
expect 2 "unknown key" run --config <(printf "[detect]\nmin_prots = 5\n")
echo "PASS bad_input"
