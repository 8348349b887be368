#!/usr/bin/env bash
# The capabilities of scanwatch.service are enough: the agent runs as the unit
# runs it (uid 0 with only CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_SYS_RESOURCE
# in its bounding, inheritable and ambient sets, no new privileges, bpffs
# already mounted on /sys/fs/bpf as systemd does at boot) in a namespace lab:
# it attaches, pins, answers its socket, detects and blocks an nmap scan,
# stops cleanly on SIGTERM (systemctl stop), and a restart under the same
# capabilities puts the block back from the state file.
# Negative controls: without CAP_BPF, CAP_NET_ADMIN or CAP_PERFMON it fails;
# where bpffs must be mounted first (ip netns exec) it fails, naming the
# mount: that needs CAP_SYS_ADMIN, which the unit does not grant.
source "$(dirname "$0")/../integration/lib.sh"

UNIT="$(dirname "$0")/../../packaging/scanwatch.service"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ "$caps" = "$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")" ] || fail "unit: bounding and ambient sets differ"
# A capability this test itself lacks (a container's bounding set) cannot be
# granted: the agent runs with the rest, and the log says so.
own=$(awk '/^CapBnd:/{print $2}' /proc/self/status)
have=""
for c in $caps; do
  n=$(python3 -c "import sys; print({'CAP_NET_ADMIN': 12, 'CAP_SYS_RESOURCE': 24, 'CAP_PERFMON': 38, 'CAP_BPF': 39}[sys.argv[1]])" "$c")
  if (( (0x$own >> n) & 1 )); then have="$have $c"; else log "this test runs without $c itself: not granted"; fi
done
caps=${have# }
# "CAP_BPF CAP_NET_ADMIN" -> "-all,+bpf,+net_admin"
setpriv_caps() { echo "-all$(for c in "$@"; do c=${c#CAP_}; printf ',+%s' "${c,,}"; done)"; }
CAPS=$(setpriv_caps $caps)
# the kernel's mask of those capabilities, as /proc/PID/status shows it
mask=$(python3 -c "
import sys
nums = {'CAP_NET_ADMIN': 12, 'CAP_SYS_ADMIN': 21, 'CAP_SYS_RESOURCE': 24, 'CAP_PERFMON': 38, 'CAP_BPF': 39}
print('%016x' % sum(1 << nums[c] for c in sys.argv[1:]))" $caps)

PIN="/sys/fs/bpf/$ID"
STATE="$WORK/state/blocks.json"
AGENT_ARGS=(run -i tg0 --json "$EVENTS" --socket "$WORK/sw.sock" --pin-dir "$PIN" --state-file "$STATE" --block --block-unverified --no-fast-block)  # the agent blocks (unverified: plain --block shields an nmap -sS)

# capped SETPRIV_CAPS CMD...: in the target's network namespace, the host's
# mount namespace (so /sys/fs/bpf is the host's bpffs), only those capabilities
capped() {
  local c=$1
  shift
  nsenter --net="/run/netns/$NS_TGT" setpriv --bounding-set="$c" --inh-caps="$c" --ambient-caps="$c" \
    --no-new-privs "$@"
}

start_capped() {
  : >"$EVENTS"
  # nsenter and setpriv exec, so $! is the agent itself
  nsenter --net="/run/netns/$NS_TGT" setpriv --bounding-set="$CAPS" --inh-caps="$CAPS" --ambient-caps="$CAPS" \
    --no-new-privs "$SCANWATCH" "${AGENT_ARGS[@]}" 2>"$WORK/agent.err" &
  AGENT_PID=$!
  wait_started 1 "capped agent"
}

stop_capped() {  # systemctl stop: SIGTERM
  kill -TERM "$AGENT_PID"
  local rc=0
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=""
  [ "$rc" = 0 ] || { cat "$WORK/agent.err" >&2; fail "agent exit code $rc after SIGTERM"; }
  grep -q '"event":"stopped","reason":"SIGTERM"' "$EVENTS" || fail "no stopped event for SIGTERM"
}

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

lab_up
lab_tune "$NS_TGT"
start_services

log "agent with only: $caps"
start_capped
eff=$(awk '/^CapEff:/{print $2}' "/proc/$AGENT_PID/status")
bnd=$(awk '/^CapBnd:/{print $2}' "/proc/$AGENT_PID/status")
nnp=$(awk '/^NoNewPrivs:/{print $2}' "/proc/$AGENT_PID/status")
[ "$eff" = "$mask" ] && [ "$bnd" = "$mask" ] && [ "$nnp" = 1 ] ||
  fail "agent runs with CapEff $eff CapBnd $bnd NoNewPrivs $nnp, want $mask/$mask/1"
started=$(grep '"event":"started"' "$EVENTS")
log "started: $started"
for m in sources flows blocks allow config ifstats xdp_link_tg0; do
  [ -e "$PIN/$m" ] || fail "nothing pinned at $PIN/$m"
done
status=$("$SCANWATCH" status --json --socket "$WORK/sw.sock") || fail "status over the socket"
[ "$(json_field "$status" block_enabled)" = True ] || fail "status: $status"

# (once blocked, nmap only waits for its timeouts: cut it short)
in_scan timeout 10 nmap -n -Pn -sS -T5 --max-retries 1 -p 1-100,2222 "$TGT4" >"$WORK/nmap1" 2>&1 || true
for _ in $(seq 50); do
  grep -q "\"event\":\"block\",\"src\":\"$SCAN4\"" "$EVENTS" && break
  sleep 0.1
done
grep -q "\"event\":\"block\",\"src\":\"$SCAN4\"" "$EVENTS" || { cat "$EVENTS" >&2; fail "no block of $SCAN4"; }
wait_for_kind "$SCAN4" syn
in_scan ping -c 1 -W 1 "$TGT4" >/dev/null 2>&1 && fail "the blocked scanner still gets answers"
[ "$("$SCANWATCH" status --json --socket "$WORK/sw.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dropped"] > 0)')" = True ] ||
  fail "no packet dropped for the block"
log "scan detected and blocked under the unit's capabilities"

stop_capped
[ ! -e "$PIN" ] || fail "pins left in $PIN after a clean stop"
[ ! -e "$WORK/sw.sock" ] || fail "socket left after a clean stop"
grep -q "\"$SCAN4/32\"" "$STATE" || { cat "$STATE" >&2; fail "the block is not in the state file"; }
in_scan ping -c 1 -W 1 "$TGT4" >/dev/null 2>&1 || fail "stopped: nothing should be filtered any more"

log "restart (systemctl restart: SIGTERM, then a new agent)"
start_capped
restored=$(json_field "$(grep '"event":"started"' "$EVENTS")" blocks_restored)
[ "$restored" -ge 1 ] || fail "restart restored $restored blocks"
in_scan ping -c 1 -W 1 "$TGT4" >/dev/null 2>&1 && fail "after the restart the scanner is not blocked again"
blocks=$("$SCANWATCH" blocks --json --socket "$WORK/sw.sock")
grep -q "\"$SCAN4/32\"" <<<"$blocks" || fail "restarted agent does not list the block: $blocks"
stop_capped

# negative controls: each of these capabilities is needed
for drop in CAP_BPF CAP_NET_ADMIN CAP_PERFMON; do
  fewer=$(setpriv_caps $(tr ' ' '\n' <<<"$caps" | grep -vx "$drop"))
  rc=0
  capped "$fewer" "$SCANWATCH" "${AGENT_ARGS[@]}" --duration 2 >/dev/null 2>"$WORK/neg.err" || rc=$?
  [ "$rc" = 1 ] || fail "without $drop the agent exited $rc (want 1): $(cat "$WORK/neg.err")"
  [ "$(wc -l <"$WORK/neg.err")" = 1 ] || fail "without $drop: not one line: $(cat "$WORK/neg.err")"
  # (a failed start leaves the empty pin directory it made; nothing in it)
  [ -z "$(ls -A "$PIN" 2>/dev/null)" ] || fail "without $drop: pins left behind: $(ls "$PIN")"
  rmdir "$PIN" 2>/dev/null || true
  log "without $drop: $(cat "$WORK/neg.err")"
done
# under ip netns exec /sys/fs/bpf is a fresh sysfs without bpffs: mounting it
# needs CAP_SYS_ADMIN
rc=0
ip netns exec "$NS_TGT" setpriv --bounding-set="$CAPS" --inh-caps="$CAPS" --ambient-caps="$CAPS" --no-new-privs \
  "$SCANWATCH" "${AGENT_ARGS[@]}" --duration 2 >/dev/null 2>"$WORK/neg.err" || rc=$?
[ "$rc" = 1 ] && grep -q 'mounting bpffs' "$WORK/neg.err" ||
  fail "without bpffs mounted: exit $rc, $(cat "$WORK/neg.err")"
log "without bpffs mounted: $(cat "$WORK/neg.err")"
log "PASS"
