#!/usr/bin/env bash
# Flood benchmark (issue 7): a million distinct sources through the live,
# attached XDP program while a real `nmap -sS` runs from the lab's scanner.
# Reports whether the scan is still named, agent RSS (VmHWM), sources-map fill,
# the time of a full sweep (agent's own "last_sweep_ms" and an outside batch
# read, sw_mapstat), ring-buffer drops (events_lost) and agent CPU.
#
#   bench/flood.sh [--sources N] [--passes P] [--max-sources M] [--ports SPEC]
#                  [--nmap-extra "ARGS"] [--label TEXT] [--block] [--hot-ports N] [--delay S] [--smoke]
#
# --hot-ports N sends every source's SYN to N ports (9, 10, ...): with 4 or more
# each spoofed source turns hot (its first ring-buffer event), a forger's
# attempt to fill the agent's mirror and the ring (README "How it works").
# --delay S starts nmap S seconds into the flood (1 by default): e.g. after a
# forger's hot sources have their verdicts and fill the mirror.
# --block runs the agent with --block: the spoofed sources must get no block
# (blocks_created counts every block the run made).
#
# Needs root, nmap and the built tree (SCANWATCH, SW_BENCH_BIN override the
# paths). Namespaces and addresses as in tests/integration/lib.sh; all torn
# down on exit. Prints one JSON line with the results.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
export SCANWATCH=${SCANWATCH:-$ROOT/build/scanwatch}
BIN=${SW_BENCH_BIN:-$ROOT/build/bench}

SOURCES=1000000 PASSES=2 MAX_SOURCES="" PORTS=1-1000 NMAP_EXTRA="-T4" LABEL="" DELAY=1 BLOCK="" HOT_PORTS=1
while [ $# -gt 0 ]; do
  case $1 in
    --sources) SOURCES=$2; shift 2 ;;
    --passes) PASSES=$2; shift 2 ;;
    --max-sources) MAX_SOURCES=$2; shift 2 ;;
    --ports) PORTS=$2; shift 2 ;;
    --nmap-extra) NMAP_EXTRA=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --block) BLOCK=1; shift ;;
    --hot-ports) HOT_PORTS=$2; shift 2 ;;
    --delay) DELAY=$2; shift 2 ;;
    --smoke) SOURCES=20000 PASSES=1 PORTS=1-100 DELAY=0.2; shift ;;
    *) echo "flood.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for t in nmap ip python3; do command -v $t >/dev/null || { echo "flood.sh: $t is missing" >&2; exit 1; }; done
[ -x "$SCANWATCH" ] && [ -x "$BIN/sw_flood" ] && [ -x "$BIN/sw_mapstat" ] ||
  { echo "flood.sh: build first (ninja -C build)" >&2; exit 1; }

LAB_ID=swb$$
# shellcheck source=../tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

lab_up
agent_args=(-q)
[ -n "$MAX_SOURCES" ] && agent_args+=(--max-sources "$MAX_SOURCES")
[ -n "$BLOCK" ] && agent_args+=(--block)
start_agent "${agent_args[@]}"
HZ=$(getconf CLK_TCK)
MAC=$(ip netns exec "$NS_TGT" cat /sys/class/net/tg0/address)
c0=$(cpu_ticks "$AGENT_PID"); w0=$(date +%s.%N)

in_scan "$BIN/sw_flood" --iface sc0 --dst-mac "$MAC" --sources "$SOURCES" \
  --ports "$HOT_PORTS" --packets $((SOURCES * HOT_PORTS * PASSES)) >"$WORK/flood.json" &
FLOOD_PID=$!
sleep "$DELAY"  # the flood is churning the map when the scan starts
t0=$(date +%s.%N)
# shellcheck disable=SC2086
in_scan nmap -n -sS $NMAP_EXTRA -v -p "$PORTS" "$TGT4" >"$WORK/nmap.out" 2>&1 || log "nmap failed"
t1=$(date +%s.%N)
scan_during=$(kill -0 $FLOOD_PID 2>/dev/null && echo true || echo false)  # flood still running when nmap ended?
ms_mid=$("$BIN/sw_mapstat" --pid "$AGENT_PID" --sweeps 1 --addr "$SCAN4")  # the scanner's record right after its scan
wait $FLOOD_PID
sleep 1  # a few sweeps after the flood
c1=$(cpu_ticks "$AGENT_PID"); w1=$(date +%s.%N)
status='{}'  # the agent can be too busy to answer within the client's 3 s: a few tries
for _ in 1 2 3 4 5; do
  if s=$("$SCANWATCH" status --json --socket "$WORK/sw.sock" 2>/dev/null); then status=$s; break; fi
done
ms_end=$("$BIN/sw_mapstat" --pid "$AGENT_PID" --sweeps 3 --addr "$SCAN4")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
summary=$(scan_summary "$SCAN4" "$t0")
nmap_sent=$(sed -n 's/.*Raw packets sent: \([0-9]*\).*/\1/p' "$WORK/nmap.out" | head -1)
stop_agent

python3 - "$WORK/flood.json" "$status" "$ms_mid" "$ms_end" "$hwm_kb" "$c0" "$c1" "$w0" "$w1" "$HZ" \
  "$summary" "$t0" "$t1" "${nmap_sent:-0}" "$scan_during" "$LABEL" "${MAX_SOURCES:-65536}" <<'PY'
import json, sys
(flood_f, status, ms_mid, ms_end, hwm, c0, c1, w0, w1, hz, summary, t0, t1, nmap_sent,
 during, label, max_src) = sys.argv[1:]
flood = json.loads(open(flood_f).read())
st, mid, end = json.loads(status), json.loads(ms_mid), json.loads(ms_end)
f = dict(kv.split("=", 1) for kv in summary.split(" ") if "=" in kv)
rec = mid["addrs"].get("198.18.0.2") or {}
out = {
  "label": label, "max_sources": int(max_src),
  "flood_sources": flood["sources"], "flood_sent": flood["sent"], "flood_pps": flood["pps"],
  "xdp_packets": st.get("packets"),
  "scan_named": "syn" in f.get("kinds", "").split(","), "scan_kinds": f.get("kinds"),
  "scan_first_event_ms": f.get("ms"), "scan_reports": int(f.get("events", 0)),
  "nmap_s": round(float(t1) - float(t0), 2),
  "scan_within_flood": during == "true",
  "nmap_raw_packets": int(nmap_sent), "scanner_record_probes": rec.get("probes"),
  "scanner_record_age_s": rec.get("age_s"),
  "agent_vmhwm_mib": round(int(hwm) / 1024, 1),
  "map_entries": end["entries"], "map_max_entries": end["max_entries"],
  "sweep_ms_outside": end["sweep_ms"], "agent_last_sweep_ms": st.get("last_sweep_ms"),
  "events_lost": st.get("events_lost"), "events": st.get("events"),
  "agent_sources_tracked": st.get("sources"),
  "blocks_created": st.get("blocks_created"), "mirror": st.get("mirror"),
  "load_average": open("/proc/loadavg").read().split()[:3],
  "agent_cpu_s": round((int(c1) - int(c0)) / int(hz), 2),
  "wall_s": round(float(w1) - float(w0), 2),
}
out["agent_cpu_pct"] = round(100 * out["agent_cpu_s"] / out["wall_s"], 1)
print(json.dumps(out))
sys.exit(0 if out["scan_named"] else 3)  # 3: the scan was not named
PY
