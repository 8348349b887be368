#!/usr/bin/env bash
# Probes to verdict: for every scan type of tests/integration/scan_types.sh,
# the `probes` field of the first scan event and the time from the start of
# nmap to that event, live in the namespace lab (root; nmap 7.93; -T5
# --max-retries 1; target with http on 80 and a banner service on 2222).
#   SCANWATCH=build/scanwatch bash bench/probes_to_verdict.sh [case ...]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${SCANWATCH:?set SCANWATCH to the scanwatch binary}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
SW_EXPLORE=1 SW_TABLE="$out" SW_CASES="$*" bash "$HERE/../tests/integration/scan_types.sh" >/dev/null 2>"$out.log" ||
  { tail -5 "$out.log" >&2; echo "scan_types.sh failed (log above)" >&2; }
rm -f "$out.log"
echo "| scan | nmap arguments | probes at first event | ms to first event | kinds | tool |"
echo "|---|---|---:|---:|---|---|"
while IFS='|' read -r name probes ms kinds tool args; do
  echo "| $name | \`${args% 198.18*}\` | $probes | $ms | $kinds | $tool |" | sed 's/ 2001:2::[0-9a-f:]*//g'
done <"$out"
