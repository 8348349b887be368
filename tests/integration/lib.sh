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
TGT4=198.18.0.1 SCAN4=198.18.0.2 BY4=198.18.0.3
TGT6=2001:2::1 SCAN6=2001:2::2
WORK=$(mktemp -d "/tmp/${ID}.XXXX")
AGENT_PID=""
SERVICES_PID=""

log() { echo "[$(date +%T)] $*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

lab_down() {
  set +e
  [ -n "$AGENT_PID" ] && kill -INT "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  [ -n "$SERVICES_PID" ] && kill "$SERVICES_PID" 2>/dev/null
  for ns in "$NS_SCAN" "$NS_TGT" "$NS_BY"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}

# lab_up [bystander]: scanner and target joined by a veth pair (and a bystander
# on a bridge in the target namespace when asked).
lab_up() {
  trap lab_down EXIT
  ip netns add "$NS_SCAN"
  ip netns add "$NS_TGT"
  ip link add sc0 netns "$NS_SCAN" type veth peer name tg0 netns "$NS_TGT"
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

# start_agent [extra args...]: scanwatch on tg0, JSON to $WORK/events.json
start_agent() {
  ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --json "$WORK/events.json" \
    --socket "$WORK/sw.sock" --pin-dir "/sys/fs/bpf/$ID" "$@" 2>"$WORK/agent.err" &
  AGENT_PID=$!
  for _ in $(seq 100); do
    grep -q '"event":"started"' "$WORK/events.json" 2>/dev/null && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.err" >&2; fail "agent exited at start"; }
    sleep 0.1
  done
  cat "$WORK/agent.err" >&2
  fail "agent did not start"
}

stop_agent() {
  kill -INT "$AGENT_PID"
  local rc=0
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=""
  [ "$rc" = 0 ] || { cat "$WORK/agent.err" >&2; fail "agent exit code $rc"; }
  grep -q '"event":"stopped"' "$WORK/events.json" || fail "no stopped event"
}

in_scan() { ip netns exec "$NS_SCAN" "$@"; }

# wait_for_kind SRC KIND [seconds]: waits for a scan event naming KIND for SRC.
wait_for_kind() {
  local src=$1 kind=$2 secs=${3:-10}
  for _ in $(seq $((secs * 10))); do
    if python3 - "$WORK/events.json" "$src" "$kind" <<'PY'
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
  echo "--- events:" >&2; cat "$WORK/events.json" >&2
  echo "--- agent stderr:" >&2; cat "$WORK/agent.err" >&2
  fail "no scan event with kind '$kind' for $src within ${secs}s"
}

# first_scan FIELD SRC: a field of the first scan event for SRC
first_scan() {
  python3 - "$WORK/events.json" "$2" "$1" <<'PY'
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
  grep -c '"event":"scan"' "$WORK/events.json" || true
}
