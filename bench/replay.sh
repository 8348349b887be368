#!/bin/bash
# Replay speed (issue 6): `scanwatch replay` end to end on one capture, several
# runs per thread count; prints min / median / max packets/s (the replay's own
# figure: capture opened to last sweep, program load excluded) and the load.
# Usage: bench/replay.sh [--runs N] [--threads "1 2"] [FILE]
#        (default FILE: ../shared/pcaps/zeek/echo-connections.pcap.gz)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SW=${SCANWATCH:-$here/../build/scanwatch}
runs=7 threads="1 2" file=$here/../../shared/pcaps/zeek/echo-connections.pcap.gz
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --smoke) runs=1; shift ;;
    *) file=$1; shift ;;
  esac
done
[ -r "$file" ] || { echo "replay.sh: cannot read $file" >&2; exit 1; }
echo "file $file, $runs runs per row, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %10s %10s\n' threads min median max
for t in $threads; do
  vals=()
  for ((i = 0; i < runs; i++)); do
    v=$("$SW" replay "$file" -q --threads "$t" --json - 2>/dev/null |
        python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin][-1]["packets_per_second"])')
    vals+=("$v")
  done
  sorted=$(printf '%s\n' "${vals[@]}" | sort -n)
  printf '%-8s %10s %10s %10s   (%s)\n' "$t" "$(echo "$sorted" | head -1)" \
    "$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")" "$(echo "$sorted" | tail -1)" "${vals[*]}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
