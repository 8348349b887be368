#!/usr/bin/env bash
# After the agent exits (SIGTERM, --duration, or a failed start, also one
# halfway through attaching) nothing stays: no XDP program, no TC filter, no
# pinned map. Both XDP modes attach. Runs the agent with nsenter so
# its bpffs pins are visible from here.
source "$(dirname "$0")/lib.sh"
lab_up
PIN="/sys/fs/bpf/$ID"
agent() { nsenter --net="/run/netns/$NS_TGT" "$SCANWATCH" "$@"; }
check_clean() {
  ip -n "$NS_TGT" link show tg0 | grep -q 'xdp' && fail "$1: XDP still attached"
  [ "$(egress_progs 2>/dev/null || echo 0)" = 0 ] || fail "$1: TC egress program left (clsact filter or tcx link)"
  [ ! -e "$PIN" ] || fail "$1: pins left in $PIN"
}
# 1. --duration ends it
agent run -i tg0 --pin-dir "$PIN" --state-file "$WORK/b.json" --duration 1 --json "$WORK/d.json" 2>/dev/null
grep -q '"event":"stopped"' "$WORK/d.json" || fail "no stopped event after --duration"
check_clean duration
# 2. SIGTERM ends it; while it runs, XDP and TC are there
nsenter --net="/run/netns/$NS_TGT" "$SCANWATCH" run -i tg0 --pin-dir "$PIN" --state-file "$WORK/b.json" --json "$WORK/t.json" 2>/dev/null &
pid=$!
for _ in $(seq 50); do grep -q started "$WORK/t.json" 2>/dev/null && break; sleep 0.1; done
ip -n "$NS_TGT" link show tg0 | grep -q xdp || fail "XDP not attached while running"
[ "$(egress_progs)" = 1 ] || fail "TC egress not attached while running (clsact filters + tcx links: $(egress_progs))"
[ -e "$PIN/sources" ] || fail "maps not pinned while running"
kill -TERM $pid; wait $pid || fail "exit code $? after SIGTERM"
check_clean sigterm
# 3. a failure halfway (second interface missing) leaves nothing
set +e
out=$(agent run -i tg0 -i nosuch0 --pin-dir "$PIN" 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || fail "missing interface: exit $rc, want 2"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "missing interface: not one line: $out"
echo "$out" | grep -q "interface 'nosuch0' does not exist" || fail "unclear error: $out"
check_clean missing-iface
# 4. halfway for real: tg0 is attached (XDP, TC, pins) when the second
#    interface refuses native XDP (a bridge has no driver XDP): all undone
ip -n "$NS_TGT" link add dm0 type bridge
ip -n "$NS_TGT" link set dm0 up
set +e
out=$(agent run -i tg0 -i dm0 --xdp-mode native --pin-dir "$PIN" --state-file "$WORK/b.json" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] || fail "native XDP refused on dm0: exit $rc, want 1: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "native XDP refused: not one line: $out"
echo "$out" | grep -q "native XDP to 'dm0'" || fail "unclear error: $out"
check_clean native-refused
ip -n "$NS_TGT" link show dm0 | grep -q xdp && fail "native-refused: XDP left on dm0"
# 5. an interface that is down: one line, exit 1, nothing attached
ip -n "$NS_TGT" link set dm0 down
set +e
out=$(agent run -i tg0 -i dm0 --pin-dir "$PIN" --state-file "$WORK/b.json" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] || fail "down interface: exit $rc, want 1: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "down interface: not one line: $out"
echo "$out" | grep -q "interface 'dm0' is down" || fail "unclear error: $out"
check_clean down-iface
# 6. both XDP modes attach and are reported (started event, ip link)
for mode in native generic; do
  agent run -i tg0 --xdp-mode "$mode" --pin-dir "$PIN" --state-file "$WORK/b.json" --duration 3 \
    --json "$WORK/$mode.json" 2>/dev/null &
  pid=$!
  for _ in $(seq 50); do grep -q started "$WORK/$mode.json" 2>/dev/null && break; sleep 0.1; done
  grep -q "\"xdp_mode\":\"$mode\"" "$WORK/$mode.json" || fail "$mode: started event says $(head -1 "$WORK/$mode.json")"
  want=$([ "$mode" = native ] && echo xdp || echo xdpgeneric)
  ip -n "$NS_TGT" link show tg0 | grep -qw "$want" || fail "$mode: ip link does not show $want"
  wait $pid || fail "$mode: exit code $?"
  check_clean "$mode"
done
echo "PASS cleanup"
