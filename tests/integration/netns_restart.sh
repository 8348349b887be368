#!/usr/bin/env bash
# The agent under `ip netns exec` (issue 17): there /sys/fs/bpf is not mounted,
# the agent mounts a bpffs of its own that dies with it, so a kill -9 takes its
# pins and XDP link along while the TC egress filter stays.
# - the start says so (warning);
# - a second agent with the same --pin-dir gets the pin-directory lock
#   message (each has its own bpffs, so the flock alone did not meet), not
#   EBUSY from the XDP attach;
# - after kill -9 the restart says it took over the TC filter left behind,
#   and a clean stop leaves neither XDP nor TC behind.
source "$(dirname "$0")/lib.sh"
lab_up
xdp_count() { ip -n "$NS_TGT" -d link show tg0 | grep -c 'prog/xdp' || true; }
tc_count() { tc -n "$NS_TGT" filter show dev tg0 egress | grep -c 'direct-action' || true; }

start_agent --block
grep -q "pins in a bpffs of this process.s own (ip netns exec?)" "$WORK/agent.err" ||
  fail "no warning that the pins die with the process: $(cat "$WORK/agent.err")"

rc=0; ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --duration 2 --pin-dir "/sys/fs/bpf/$ID" \
  --socket "$WORK/second.sock" --state-file "$WORK/second.json" 2>"$WORK/second.err" || rc=$?
[ "$rc" = 1 ] || fail "second agent on the same pin dir: exit $rc, want 1: $(cat "$WORK/second.err")"
grep -q "another scanwatch agent is running with pin directory /sys/fs/bpf/$ID" "$WORK/second.err" ||
  fail "second agent on the same pin dir: $(cat "$WORK/second.err")"
[ "$(xdp_count)" = 1 ] || fail "the second agent's failure disturbed the first one's XDP"

kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
sleep 0.5
log "after kill -9: XDP programs $(xdp_count), TC egress filters $(tc_count)"
[ "$(tc_count)" = 1 ] || fail "expected the TC filter to be left behind (the case the warning describes)"

: >"$EVENTS"
start_agent --block
grep -q "took over the TC egress filter left on 'tg0'" "$WORK/agent.err" ||
  fail "the restart did not say it took over: $(cat "$WORK/agent.err")"
[ "$(xdp_count)" = 1 ] && [ "$(tc_count)" = 1 ] || fail "after restart: XDP $(xdp_count), TC $(tc_count)"
stop_agent
[ "$(xdp_count)" = 0 ] && [ "$(tc_count)" = 0 ] || fail "after a clean stop: XDP $(xdp_count), TC $(tc_count)"
echo "PASS netns_restart"
