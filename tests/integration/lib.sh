# Shared helpers for the namespace integration tests. Source it, then call
# lab_up. Everything is torn down on exit, also when a test fails.
# Addresses: 198.18.0.0/15 and 2001:2::/48 only, inside namespaces we create.
set -euo pipefail

SCANWATCH=${SCANWATCH:?set SCANWATCH to the scanwatch binary}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ID=${LAB_ID:-sw$$}
NS_SCAN="${ID}-scan"   # the scanner: 198.18.0.2, 2001:2::2
NS_TGT="${ID}-tgt"     # the watched host: 198.18.0.1, 2001:2::1
NS_BY="${ID}-by"       # a bystander (optional): 198.18.0.3
NS_GW="${ID}-gw"       # a gateway between scanner and target (gateway.sh)
TGT4=198.18.0.1 SCAN4=198.18.0.2 BY4=198.18.0.3
TGT6=2001:2::1 SCAN6=2001:2::2
WORK=$(mktemp -d "/tmp/${ID}.XXXX")
EVENTS="$WORK/events.json"   # where start_agent writes; the readers below read it
AGENT_PID=""
SERVICES_PID=""

log() { echo "[$(date +%T)] $*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

lab_down() {
  set +e
  [ -n "$AGENT_PID" ] && kill -INT "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  [ -n "$SERVICES_PID" ] && kill "$SERVICES_PID" 2>/dev/null
  for ns in "$NS_SCAN" "$NS_TGT" "$NS_BY" "${NS_GW:-}" "${NS_SW:-}"; do
    [ -n "$ns" ] || continue
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}

# lab_up [bystander]: scanner and target joined by a veth pair. With
# "bystander", the target side of the link is a bridge in a switch namespace
# so a third host (198.18.0.3) shares the same segment and interface tg0.
# Namespaces of earlier runs whose test process is gone (killed by a timeout
# before its trap could run) are removed first.
sweep_stale_labs() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case "$ns" in sw[0-9]*-*|swb[0-9]*-*) ;; *) continue ;; esac
    pid=${ns%%-*}; pid=${pid#swb}; pid=${pid#sw}
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null || continue
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  # and the bpffs pins of their agents (run with nsenter, in the root bpffs)
  for ns in /sys/fs/bpf/sw[0-9]*; do
    [ -d "$ns" ] || continue
    pid=${ns##*/sw}
    kill -0 "$pid" 2>/dev/null || rm -rf "$ns"
  done
}

lab_up() {
  trap lab_down EXIT
  trap 'exit 1' TERM HUP
  sweep_stale_labs
  ip netns add "$NS_SCAN"
  ip netns add "$NS_TGT"
  if [ "${1:-}" = bystander ]; then
    NS_SW="${ID}-sw"
    ip netns add "$NS_SW"; ip netns add "$NS_BY"
    ip -n "$NS_SW" link add br0 type bridge
    ip link add sc0 netns "$NS_SCAN" type veth peer name p1 netns "$NS_SW"
    ip link add by0 netns "$NS_BY" type veth peer name p3 netns "$NS_SW"
    ip link add tg0 netns "$NS_TGT" type veth peer name p2 netns "$NS_SW"
    for p in p1 p2 p3; do ip -n "$NS_SW" link set "$p" master br0 up; done
    ip -n "$NS_SW" link set br0 up
    ip -n "$NS_BY" addr add "$BY4/24" dev by0
    ip -n "$NS_BY" link set by0 up; ip -n "$NS_BY" link set lo up
  else
    ip link add sc0 netns "$NS_SCAN" type veth peer name tg0 netns "$NS_TGT"
  fi
  ip -n "$NS_SCAN" addr add "$SCAN4/24" dev sc0
  ip -n "$NS_TGT" addr add "$TGT4/24" dev tg0
  ip -n "$NS_SCAN" -6 addr add "$SCAN6/64" dev sc0 nodad
  ip -n "$NS_TGT" -6 addr add "$TGT6/64" dev tg0 nodad
  for ns in "$NS_SCAN" "$NS_TGT"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_SCAN" link set sc0 up
  ip -n "$NS_TGT" link set tg0 up
  # veth native XDP needs GRO on the peer... not for correctness: generic mode works too.
  ip netns exec "$NS_SCAN" ping -c1 -W2 "$TGT4" >/dev/null || fail "lab: no IPv4 connectivity"
}

start_services() {
  ip netns exec "$NS_TGT" python3 "$HERE/services.py" --http 80 --banner 2222 &
  SERVICES_PID=$!
  for _ in $(seq 50); do
    ip netns exec "$NS_TGT" bash -c "exec 3<>/dev/tcp/127.0.0.1/80" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "services did not start"
}

# start_agent [extra args...]: scanwatch on $AGENT_IFACES (tg0) in $AGENT_NS
# (the target), JSON to $EVENTS.
AGENT_NS=""
AGENT_IFACES="-i tg0"
start_agent() {
  # shellcheck disable=SC2086
  ip netns exec "${AGENT_NS:-$NS_TGT}" "$SCANWATCH" run $AGENT_IFACES --json "$EVENTS" \
    --socket "$WORK/sw.sock" --pin-dir "/sys/fs/bpf/$ID" --state-file "$WORK/blocks.json" "$@" 2>"$WORK/agent.err" &
  AGENT_PID=$!
  wait_started
}

# wait_started [COUNT] [WHAT]: waits until $EVENTS holds COUNT "started" events
# (default 1: restarts append to the same file) from the agent $AGENT_PID;
# fails with the agent's stderr if it exits first or takes over 10 s.
wait_started() {
  local want=${1:-1} what=${2:-agent} n
  for _ in $(seq 100); do
    n=$(grep -c '"event":"started"' "$EVENTS" 2>/dev/null || true)
    [ "${n:-0}" -ge "$want" ] && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.err" >&2; fail "$what exited at start"; }
    sleep 0.1
  done
  cat "$WORK/agent.err" >&2
  fail "$what did not start"
}

stop_agent() {
  kill -INT "$AGENT_PID"
  local rc=0
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=""
  [ "$rc" = 0 ] || { cat "$WORK/agent.err" >&2; fail "agent exit code $rc"; }
  grep -q '"event":"stopped"' "$EVENTS" || fail "no stopped event"
}

in_scan() { ip netns exec "$NS_SCAN" "$@"; }

# xdp_tx_mode: the --xdp-mode under which the program's own answers (XDP_TX:
# the shield's SYN cookies) leave tg0. A veth in native mode hands such a
# frame to its peer, which processes it only when the peer runs an XDP
# program itself (the kernel kicks the peer's NAPI for XDP frames only then;
# GRO on the peer is not enough: the frame waits for the next ordinary one).
# So a pass-everything program ($SW_XDP_PASS, built by CMake) goes on tg0's
# peer and the answer is "native"; without it, "generic", which needs nothing.
xdp_tx_mode() {
  local ns=$NS_SCAN peer=sc0
  [ -n "${NS_SW:-}" ] && ns=$NS_SW peer=p2
  if [ -f "${SW_XDP_PASS:-}" ] && ip -n "$ns" link set "$peer" xdpdrv obj "$SW_XDP_PASS" sec xdp 2>/dev/null; then
    echo native
  else
    echo generic
  fi
}

# wait_for_kind SRC KIND [seconds]: waits for a scan event naming KIND for SRC.
wait_for_kind() {
  local src=$1 kind=$2 secs=${3:-10}
  for _ in $(seq $((secs * 10))); do
    if python3 - "$EVENTS" "$src" "$kind" <<'PY'
import json, sys
path, src, kind = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    if e.get("event") == "scan" and e.get("src") == src and kind in e.get("kinds", []):
        sys.exit(0)
sys.exit(1)
PY
    then return 0; fi
    sleep 0.1
  done
  echo "--- events:" >&2; cat "$EVENTS" >&2
  echo "--- agent stderr:" >&2; cat "$WORK/agent.err" >&2
  fail "no scan event with kind '$kind' for $src within ${secs}s"
}

# first_scan FIELD SRC: a field of the first scan event for SRC
first_scan() {
  python3 - "$EVENTS" "$2" "$1" <<'PY'
import json, sys
path, src, field = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    if e.get("event") == "scan" and e.get("src") == src:
        v = e.get(field)
        print(",".join(v) if isinstance(v, list) else v)
        break
PY
}

count_scan_events() {
  grep -c '"event":"scan"' "$EVENTS" || true
}

# ---- helpers for the table-driven scan tests ----------------------------

# lab_tune NS: answer every closed UDP port / unknown protocol at once (the
# kernel rate-limits ICMP errors to about one a second otherwise, and nmap
# slows down to match).
lab_tune() {
  ip netns exec "$1" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 \
    net.ipv4.icmp_msgs_burst=100000 net.ipv6.icmp.ratelimit=0 >/dev/null
}

# add_sweep_addrs: extra target addresses 198.18.0.10-40 and 2001:2::10-40 on tg0,
# so one namespace answers a sweep of many hosts.
SWEEP4=198.18.0.10-40
SWEEP6=$(for i in $(seq 10 40); do printf '2001:2::%x ' "$i"; done)
add_sweep_addrs() {
  for i in $(seq 10 40); do
    ip -n "$NS_TGT" addr add "198.18.0.$i/24" dev tg0
    ip -n "$NS_TGT" -6 addr add "$(printf '2001:2::%x' "$i")/64" dev tg0 nodad
  done
}

# scan_summary SRC [T0]: one line about SRC's scan events: the union of their
# kinds, the last event's tool and score, the first event's probes, its delay from T0 (epoch
# seconds) in ms, the number of events and the last event's evidence.
scan_summary() {
  python3 - "$EVENTS" "$1" "${2:-0}" <<'PY'
import json, sys, datetime
path, src, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
kinds, first, last, n = [], None, None, 0
for line in open(path):
    e = json.loads(line)
    if e.get("event") != "scan" or e.get("src") != src:
        continue
    n += 1
    first = first or e
    last = e
    for k in e.get("kinds", []):
        if k not in kinds:
            kinds.append(k)
if not first:
    print("kinds=- tool=- probes=- ms=- events=0 action=- score=- evidence={}")
    sys.exit(0)
ts = datetime.datetime.strptime(first["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
    tzinfo=datetime.timezone.utc).timestamp()
ms = round((ts - t0) * 1000) if t0 else "-"
actions = sorted({e["action"] for e in [first, last]})
print("kinds=%s tool=%s probes=%s ms=%s events=%d score=%s evidence=%s" % (
    ",".join(kinds), last["tool"], first["probes"], ms, n, last["score"],
    json.dumps(last.get("evidence", {}), separators=(",", ":"))))
PY
}

# field NAME LINE: a name=value field of a scan_summary line
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# run_cases < TABLE: one live scan per line "name | src | kinds | tools | nmap
# arguments, or !PROGRAM ARGS for another scanner" (kinds: the exact union over the source's scan events, in
# DESIGN.md's order, "none" for a verdict without kinds; tools: accepted tools
# separated by /). A fresh agent per
# case (start_agent with $AGENT_NS/$AGENT_IFACES), nmap run in the scanner
# namespace with -n -T5 --max-retries 1. SW_CASES="a b" runs only those cases,
# SW_EXPLORE=1 reports without failing, SW_TABLE=FILE appends
# "name|probes|ms|kinds|args" per case (the probes and delay of the first event).
CASES_RUN=0
CASES_FAILED=""
run_cases() {
  local name src want tool args s got secs t0 t1
  while IFS='|' read -r name src want tool args; do
    name=$(echo $name) src=$(echo $src) want=$(echo $want) tool=$(echo $tool)
    [ -z "$name" ] && continue
    [ "$want" = none ] && want=""
    if [ -n "${SW_CASES:-}" ] && [[ " $SW_CASES " != *" $name "* ]]; then continue; fi
    CASES_RUN=$((CASES_RUN + 1))
    EVENTS="$WORK/$name.json"
    start_agent
    t0=$(date +%s.%N)
    # "!prog args": another scanner (hping3, masscan, zmap) instead of nmap
    # shellcheck disable=SC2086
    if [[ "$args" =~ ^[[:space:]]*!(.*)$ ]]; then
      in_scan ${BASH_REMATCH[1]} >"$WORK/$name.nmap" 2>&1 || log "$name: ${BASH_REMATCH[1]} failed"
    else
      in_scan nmap -n -T5 --max-retries 1 $args >"$WORK/$name.nmap" 2>&1 || log "$name: nmap failed"
    fi
    t1=$(date +%s.%N)
    # the verdict comes within a sweep or two (250 ms); kinds may still grow
    # once unanswered probes time out (3 s): wait for the expected set, then a
    # little longer for anything beyond it
    sleep 0.5
    for _ in $(seq 12); do
      s=$(scan_summary "$src" "$t0")
      [ "$(field kinds "$s")" = "$want" ] && break
      sleep 0.25
    done
    sleep 0.7
    # SW_SNAPSHOT=1: what the agent holds at the end (top --once --json), as
    # $WORK/NAME.once.json: the counts as of the last probe, which the last
    # scan event (at most one update per 5 s) may not have reached
    if [ -n "${SW_SNAPSHOT:-}" ]; then
      "$SCANWATCH" top --once --json --socket "$WORK/sw.sock" >"$WORK/$name.once.json" ||
        log "$name: top --once failed"
    fi
    stop_agent
    s=$(scan_summary "$src" "$t0")
    got=$(field kinds "$s")
    secs=$(python3 -c "print(round($t1-$t0,1))")
    if [ "$got" = "$want" ] && [[ "/$tool/" == */"$(field tool "$s")"/* ]]; then
      log "ok   $name (nmap ${secs}s): $s"
    else
      log "FAIL $name (nmap ${secs}s): want kinds=$want tool=$tool; $s"
      CASES_FAILED="$CASES_FAILED $name"
    fi
    if [ -n "${SW_TABLE:-}" ]; then
      echo "$name|$(field probes "$s")|$(field ms "$s")|$got|$(field tool "$s")|$args" >>"$SW_TABLE"
    fi
  done
  [ "$CASES_RUN" -gt 0 ] || fail "no case matched SW_CASES='${SW_CASES:-}'"
  if [ -n "$CASES_FAILED" ] && [ -z "${SW_EXPLORE:-}" ]; then
    fail "scans named wrongly:$CASES_FAILED"
  fi
  return 0
}

# check_counts NAME PORTS HOSTS [SRC]: the scanner's row (default $SCAN4) in
# the agent's last snapshot (SW_SNAPSHOT) counts the ports and hosts sent, within the
# bitmaps' error (below)
check_counts() {
  [ -f "$WORK/$1.json" ] || return 0   # the case did not run (SW_CASES)
  [ -s "$WORK/$1.once.json" ] || fail "$1: no snapshot of the agent (SW_SNAPSHOT=1 before run_cases)"
  python3 - "$WORK/$1.once.json" "${4:-$SCAN4}" "$2" "$3" "$1" <<'PY' || fail "$1: counts off"
import json, sys
path, src, want_ports, want_hosts, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [r for r in json.load(open(path))["sources"] if r["src"] == src]
row = rows[0] if rows else {"ports": 0, "hosts": 0, "probes": 0}
print("%s: ports %d (sent %d), hosts %d (sent %d), probes %d" % (
    name, row["ports"], want_ports, row["hosts"], want_hosts, row["probes"]), file=sys.stderr)
# The counts are estimates from the record's bitmaps (linear counting over
# SW_PORT_BITS = 512 and SW_HOST_BITS = 256 bits, abi.h): their standard error
# for n items in m bits is sqrt(m (e^t - t - 1)) with t = n / m (31 hosts:
# 1.4, 4.5 %). Allowed: 10 %, or three standard errors and one when larger.
import math
def tolerance(w, m):
    t = w / m
    return max(0.1 * w, 3 * math.sqrt(m * (math.exp(t) - t - 1)) + 1)
sys.exit(0 if all(abs(row[k] - w) <= tolerance(w, m)
                  for k, w, m in (("ports", want_ports, 512), ("hosts", want_hosts, 256))) else 1)
PY
}

# egress_progs [NS] [IFACE]: TC egress programs on IFACE (default tg0 in
# $NS_TGT): clsact filters (tc filter show) plus tcx links, which tc and
# Debian 12's bpftool do not list (BPF_PROG_QUERY on BPF_TCX_EGRESS, kernel 6.6+).
egress_progs() {
  local ns=${1:-$NS_TGT} ifc=${2:-tg0} filters tcx
  filters=$(tc -n "$ns" filter show dev "$ifc" egress | grep -c 'direct-action' || true)
  tcx=$(ip netns exec "$ns" python3 - "$ifc" <<'PY'
import ctypes, os, platform, socket, struct, sys
nr = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(struct.pack("<IIII", socket.if_nametoindex(sys.argv[1]), 47, 0, 0) + bytes(48))
rc = libc.syscall(nr, 16, attr, len(attr)) if nr else -1   # BPF_PROG_QUERY, BPF_TCX_EGRESS
print(struct.unpack_from("<I", attr.raw, 24)[0] if rc == 0 else 0)   # query.prog_cnt (none: no tcx)
PY
)
  echo $((filters + tcx))
}
