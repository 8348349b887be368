#!/usr/bin/env bash
# kill -9, under `ip netns exec` and beside it (issue 17). Under ip netns exec
# /sys/fs/bpf is not mounted: the agent mounts a bpffs of its own that dies
# with it. Enforcement must behave the same in both places, XDP (ingress) and
# TC (egress: nothing of ours reaches a blocked source):
# - under ip netns exec, kill -9 takes both along: no XDP program (ip link),
#   no TC program (tc filter show, BPF_PROG_QUERY for tcx), and a blocked source gets its answers again
#   (neither drops); the restart restores the block from the state file;
# - a second agent with the same --pin-dir gets the pin-directory lock
#   message, not EBUSY from the XDP attach;
# - with a shared bpffs (nsenter --net), kill -9 leaves both pinned and
#   enforcing (the blocked source stays cut off), and the restart says it took
#   over both;
# - a clean stop leaves nothing behind.
source "$(dirname "$0")/lib.sh"
lab_up
trap 'lab_down; rm -rf "/sys/fs/bpf/$ID-n"' EXIT   # case 2 pins in the host's bpffs
xdp_count() { ip -n "$NS_TGT" -d link show tg0 | grep -c 'prog/xdp' || true; }
tc_count() { egress_progs; }  # our TC egress programs: clsact filters and tcx links
# answered: the scanner's ping gets an answer (neither XDP nor TC drops it)
answered() { in_scan ping -c1 -W1 "$TGT4" >/dev/null 2>&1; }
cut_off() { for _ in 1 2 3; do answered && return 1; done; return 0; }

start_agent
grep -q "pins in a bpffs of this process.s own (ip netns exec?): killed with -9, its XDP and TC egress programs go with it" \
  "$WORK/agent.err" || fail "the start does not say the pins die with the process: $(cat "$WORK/agent.err")"

rc=0; ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --duration 2 --pin-dir "/sys/fs/bpf/$ID" \
  --socket "$WORK/second.sock" --state-file "$WORK/second.json" 2>"$WORK/second.err" || rc=$?
[ "$rc" = 1 ] || fail "second agent on the same pin dir: exit $rc, want 1: $(cat "$WORK/second.err")"
grep -q "another scanwatch agent is running with pin directory /sys/fs/bpf/$ID" "$WORK/second.err" ||
  fail "second agent on the same pin dir: $(cat "$WORK/second.err")"
[ "$(xdp_count)" = 1 ] || fail "the second agent's failure disturbed the first one's XDP"

answered || fail "no baseline: the scanner gets no answer before any block"
"$SCANWATCH" block "$SCAN4" --socket "$WORK/sw.sock" >/dev/null
cut_off || fail "the block is not enforced"
sleep 1.2  # the state file is written at most once a second

# 1. kill -9 under ip netns exec: XDP and TC go together
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
sleep 0.5
log "after kill -9 under ip netns exec: XDP programs $(xdp_count), TC egress filters $(tc_count)"
[ "$(xdp_count)" = 0 ] || fail "the XDP program outlived the agent's private bpffs"
[ "$(tc_count)" = 0 ] || fail "a TC egress program of ours is left behind ($(tc_count))"
answered || fail "the blocked source gets no answer after kill -9: a TC egress program of ours still drops (XDP is gone)"

: >"$EVENTS"
start_agent
[ "$(xdp_count)" = 1 ] && [ "$(tc_count)" = 1 ] || fail "after restart: XDP $(xdp_count), TC $(tc_count)"
cut_off || fail "the restart did not restore the block from the state file"
! grep -q "took over" "$WORK/agent.err" || fail "took over something that should be gone: $(cat "$WORK/agent.err")"
stop_agent
[ "$(xdp_count)" = 0 ] && [ "$(tc_count)" = 0 ] || fail "after a clean stop: XDP $(xdp_count), TC $(tc_count)"
answered || fail "after a clean stop the blocked source still gets no answer"

# 2. kill -9 with a shared bpffs (nsenter --net keeps the host's /sys/fs/bpf):
# both links stay pinned and enforcing; the restart takes both over
nsagent() {
  : >"$EVENTS"
  nsenter --net="/run/netns/$NS_TGT" "$SCANWATCH" run -i tg0 --json "$EVENTS" --socket "$WORK/sw.sock" \
    --pin-dir "/sys/fs/bpf/$ID-n" --state-file "$WORK/blocks.json" 2>"$WORK/agent.err" &
  AGENT_PID=$!
  wait_started 1 "agent under nsenter"
}
nsagent
! grep -q "pins in a bpffs of this process" "$WORK/agent.err" || fail "warned about a private bpffs under nsenter"
cut_off || fail "under nsenter: the block restored from the state file is not enforced"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
sleep 0.5
[ "$(xdp_count)" = 1 ] && [ "$(tc_count)" = 1 ] ||
  fail "with a shared bpffs the pinned links did not outlive kill -9: XDP $(xdp_count), TC $(tc_count)"
cut_off || fail "with a shared bpffs the block stopped being enforced after kill -9"
nsagent
grep -q "took over the XDP program left attached to 'tg0'" "$WORK/agent.err" &&
  grep -q "took over the TC egress program left attached to 'tg0'" "$WORK/agent.err" ||
  fail "the restart did not say it took over both: $(cat "$WORK/agent.err")"
[ "$(xdp_count)" = 1 ] && [ "$(tc_count)" = 1 ] || fail "after the take-over: XDP $(xdp_count), TC $(tc_count)"
cut_off || fail "after the take-over the block is not enforced"
"$SCANWATCH" unblock "$SCAN4" --socket "$WORK/sw.sock" >/dev/null
answered || fail "unblocked after the take-over, yet no answer (a second copy of a program still drops?)"
"$SCANWATCH" block "$SCAN4" --socket "$WORK/sw.sock" >/dev/null
stop_agent
[ "$(xdp_count)" = 0 ] && [ "$(tc_count)" = 0 ] || fail "after a clean stop under nsenter: XDP $(xdp_count), TC $(tc_count)"
[ ! -e "/sys/fs/bpf/$ID-n" ] || fail "pins left in /sys/fs/bpf/$ID-n after a clean stop"
answered || fail "after a clean stop under nsenter the blocked source still gets no answer"
echo "PASS netns_restart"
