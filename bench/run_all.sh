#!/usr/bin/env bash
# Runs every benchmark of issue 7 at full size and prints their results.
# Needs root, a built tree (cmake -S . -B build -G Ninja && ninja -C build),
# nmap, and xdp-tools for the xdp-filter column (skipped, with a note, when
# missing). Other load on the machine skews every figure: check `uptime` first.
#
#   bench/run_all.sh [--quick]     # --quick: the ctest smoke sizes
set -uo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
BIN=${SW_BENCH_BIN:-$ROOT/build/bench}
export SCANWATCH=${SCANWATCH:-$ROOT/build/scanwatch} SW_BENCH_BIN=$BIN
OUT=${SW_BENCH_OUT:-$(mktemp -d /tmp/swbench.XXXX)}

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
if [ "${1:-}" = --quick ]; then
  "$BIN/sw_prog_bench" --repeat 2000 --new 200 --trials 1 || rc=1
  "$BENCH/flood.sh" --smoke || rc=1
  "$BENCH/cpu.sh" --smoke || rc=1
  "$BENCH/replay.sh" --smoke || rc=1
  exit $rc
fi
echo "## 1. per-packet cost (BPF_PROG_TEST_RUN)"
"$BIN/sw_prog_bench" --repeat 1000000 --new 50000 --trials 5 --json "$OUT/prog.json" || rc=1
echo "## 2. flood: 1M sources + nmap -sS, default sources map (65,536)"
"$BENCH/flood.sh" --label default-map | tee "$OUT/flood_default.json" || rc=1
echo "## 2b. flood: 1M sources + nmap -sS, --max-sources 1048576"
"$BENCH/flood.sh" --label map-1M --max-sources 1048576 | tee "$OUT/flood_1m.json" || rc=1
echo "## 3. agent CPU: idle 30 s, then 100,000 packets/s for 15 s"
"$BENCH/cpu.sh" --idle 30 --load 15 --pps 100000 | tee "$OUT/cpu.json" || rc=1
echo "## 4. replay speed (zeek/echo-connections)"
"$BENCH/replay.sh" --runs 9 | tee "$OUT/replay.txt" || rc=1
"$BIN/sw_replay_bench" "$BENCH/../../shared/pcaps/zeek/echo-connections.pcap.gz" --trials 7 | tee -a "$OUT/replay.txt" || rc=1
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
exit $rc
