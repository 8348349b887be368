#!/usr/bin/env bash
# Local users against the agent's listeners (issue 18, item 5):
# - uid nobody holding many idle and trickling connections to --metrics-listen
#   starves neither /metrics nor the control socket, and the agent's open
#   files stay bounded;
# - the control socket checks every client's credentials (SO_PEERCRED): even
#   when its mode is opened up, a foreign uid is refused; --socket-group lets
#   that group in;
# - a control socket directory others can write is refused at start.
source "$(dirname "$0")/lib.sh"
lab_up
PORT=9478
URL="http://127.0.0.1:$PORT/metrics"
chmod 0711 "$WORK"  # nobody may reach $WORK/ctl/ (the socket's own directory decides the rest)
# (a plain PATH: root's may hold directories nobody cannot read)
as_nobody() { ip netns exec "$NS_TGT" setpriv --reuid nobody --regid nogroup --clear-groups env PATH=/usr/bin:/bin "$@"; }
as_stranger() { ip netns exec "$NS_TGT" setpriv --reuid 4242 --regid 4242 --clear-groups env PATH=/usr/bin:/bin "$@"; }

# a group-writable directory for the socket is refused, before anything is attached
mkdir -m 0777 "$WORK/open"
rc=0; ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --duration 2 --socket "$WORK/open/sw.sock" \
  --pin-dir "/sys/fs/bpf/$ID" --state-file "$WORK/blocks.json" 2>"$WORK/open.err" || rc=$?
[ "$rc" = 1 ] || fail "socket in a world-writable directory: exit $rc, want 1 ($(cat "$WORK/open.err"))"
grep -q "the control socket directory $WORK/open is writable by others" "$WORK/open.err" ||
  fail "socket in a world-writable directory: $(cat "$WORK/open.err")"
ip -n "$NS_TGT" link show tg0 | grep -q xdp && fail "XDP left attached after refusing the socket directory"

ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --json "$EVENTS" --socket "$WORK/ctl/sw.sock" \
  --socket-group nogroup --metrics-listen "127.0.0.1:$PORT" --pin-dir "/sys/fs/bpf/$ID" \
  --state-file "$WORK/blocks.json" 2>"$WORK/agent.err" &
AGENT_PID=$!
wait_started
SOCK="$WORK/ctl/sw.sock"
[ "$(stat -c '%a %G' "$WORK/ctl")" = "750 nogroup" ] || fail "socket directory: $(stat -c '%a %G' "$WORK/ctl")"
[ "$(stat -c '%a %G' "$SOCK")" = "660 nogroup" ] || fail "socket: $(stat -c '%a %G' "$SOCK")"

# the group may use it; a stranger is refused by the mode, and by SO_PEERCRED
# once the mode is opened up (a mistake the agent must survive)
as_nobody "$SCANWATCH" status --socket "$SOCK" >/dev/null || fail "a member of --socket-group could not use the socket"
chmod 0755 "$WORK/ctl"; chmod 0666 "$SOCK"
rc=0; out=$(as_stranger "$SCANWATCH" status --socket "$SOCK" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "permission denied: the control socket is for root and its group" <<<"$out" ||
  fail "a stranger with the mode opened up: exit $rc: $out"
chmod 0750 "$WORK/ctl"; chmod 0660 "$SOCK"

# uid nobody: 1000 idle connections (reopened as soon as they are closed) and
# 8 that trickle a byte a second, against the metrics port
as_nobody python3 - "$PORT" >"$WORK/abuse.out" 2>&1 <<'PY' &
import resource, socket, sys, time, os
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def conn():
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    except OSError: return None
    return s
idle = [conn() for _ in range(1000)]
trickle = [conn() for _ in range(8)]
print("ready", flush=True)
end = time.time() + 40
while time.time() < end:
    for i, s in enumerate(trickle):
        try: s.send(b"G")
        except OSError: trickle[i] = conn()
    for i, s in enumerate(idle):  # reopen what the agent closed
        if s is None: idle[i] = conn(); continue
        try:
            if s.recv(1, socket.MSG_DONTWAIT) == b"": s.close(); idle[i] = conn()
        except BlockingIOError: pass
        except OSError: s.close(); idle[i] = conn()
    time.sleep(1)
PY
ABUSE=$!
for _ in $(seq 100); do grep -q ready "$WORK/abuse.out" && break; sleep 0.1; done
grep -q ready "$WORK/abuse.out" || fail "the abusing client did not start: $(cat "$WORK/abuse.out")"
sleep 4  # past the first deadline: the agent has evicted and closed some
ok=0 worst=0
for i in $(seq 10); do
  t0=$(date +%s%N)
  ip netns exec "$NS_TGT" curl -fsS --max-time 3 "$URL" -o "$WORK/m.txt" || fail "scrape $i failed under the abuse"
  grep -q '^scanwatch_agent_info' "$WORK/m.txt" || fail "scrape $i: no metrics"
  "$SCANWATCH" status --socket "$SOCK" >/dev/null || fail "status $i failed under the abuse"
  ms=$((($(date +%s%N) - t0) / 1000000)); [ "$ms" -gt "$worst" ] && worst=$ms
  ok=$((ok + 1))
  sleep 0.3
done
fds=$(ls "/proc/$AGENT_PID/fd" | wc -l)
[ "$fds" -lt 300 ] || fail "the agent holds $fds open files under the abuse"
kill "$ABUSE" 2>/dev/null; wait "$ABUSE" 2>/dev/null || true
stop_agent
grep -q "Too many open files" "$WORK/agent.err" && fail "the agent ran out of file descriptors"
log "under 1000 idle + 8 trickling connections: $ok scrapes + status, slowest pair ${worst} ms, agent fds $fds"
echo "PASS local_abuse"
