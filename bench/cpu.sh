#!/usr/bin/env bash
# Agent CPU benchmark (issue 7): the live agent's CPU (utime+stime from
# /proc/PID/stat) while idle, then while ordinary traffic flows at a fixed
# rate (established-TCP-like packets from a few sources, sw_flood --pps).
#
#   bench/cpu.sh [--idle SECONDS] [--load SECONDS] [--pps N] [--smoke]
#
# Needs root and the built tree; the lab is tests/integration/lib.sh's (all
# torn down on exit). Prints one JSON line.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
export SCANWATCH=${SCANWATCH:-$ROOT/build/scanwatch}
BIN=${SW_BENCH_BIN:-$ROOT/build/bench}

IDLE=30 LOAD=15 PPS=100000 SOURCES=4
while [ $# -gt 0 ]; do
  case $1 in
    --idle) IDLE=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --pps) PPS=$2; shift 2 ;;
    --smoke) IDLE=2 LOAD=2 PPS=20000; shift ;;
    *) echo "cpu.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$SCANWATCH" ] && [ -x "$BIN/sw_flood" ] || { echo "cpu.sh: build first (ninja -C build)" >&2; exit 1; }

LAB_ID=swc$$
# shellcheck source=../tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

lab_up
start_agent -q
HZ=$(getconf CLK_TCK)
MAC=$(ip netns exec "$NS_TGT" cat /sys/class/net/tg0/address)
sleep 1  # past start-up

c0=$(cpu_ticks "$AGENT_PID"); w0=$(date +%s.%N)
sleep "$IDLE"
c1=$(cpu_ticks "$AGENT_PID"); w1=$(date +%s.%N)
p0=$("$SCANWATCH" status --json --socket "$WORK/sw.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
in_scan "$BIN/sw_flood" --iface sc0 --dst-mac "$MAC" --kind established --sources "$SOURCES" \
  --pps "$PPS" --seconds "$LOAD" >"$WORK/load.json"
c2=$(cpu_ticks "$AGENT_PID"); w2=$(date +%s.%N)
p1=$("$SCANWATCH" status --json --socket "$WORK/sw.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
stop_agent

python3 - "$WORK/load.json" "$c0" "$c1" "$c2" "$w0" "$w1" "$w2" "$HZ" "$p0" "$p1" "$hwm_kb" <<'PY'
import json, sys
load = json.loads(open(sys.argv[1]).read())
c0, c1, c2 = (int(x) for x in sys.argv[2:5])
w0, w1, w2 = (float(x) for x in sys.argv[5:8])
hz, p0, p1, hwm = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
idle = 100 * (c1 - c0) / hz / (w1 - w0)
busy = 100 * (c2 - c1) / hz / (w2 - w1)
print(json.dumps({
  "idle_s": round(w1 - w0, 1), "idle_cpu_pct": round(idle, 2),
  "load_s": round(w2 - w1, 1), "load_pps_sent": round(load["pps"]), "load_xdp_pps": round((p1 - p0) / load["seconds"]),
  "load_cpu_pct": round(busy, 2), "agent_vmhwm_mib": round(hwm / 1024, 1),
  "note": "percent of one core; CLK_TCK=%d so resolution is %.2f%% over the idle window" % (hz, 100 / hz / (w1 - w0)),
}))
PY
