#!/usr/bin/env bash
# --syslog: the agent runs in a private mount namespace whose /dev/log is a
# datagram socket owned by a small Python listener; a live nmap -sS with
# --block must produce the detection line and the block line there. No fast
# path: it may block the scanner before the detector ever names the scan;
# --block-unverified: the first verdict blocks, whether or not the scanner has
# yet proved it receives our answers.
source "$(dirname "$0")/lib.sh"
lab_up; start_services
python3 "$HERE/syslog_listener.py" "$WORK/log.sock" "$WORK/syslog.txt" &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; lab_down' EXIT
for _ in $(seq 50); do grep -q ready "$WORK/syslog.txt" 2>/dev/null && break; sleep 0.1; done
[ -S "$WORK/log.sock" ] || fail "listener did not start"

# /dev/log in the agent's own mount namespace only: a tmpfs over /dev keeps
# /dev/null, and an empty file there is the mount point for our socket. The
# host's /dev is never touched. exec keeps one PID for stop_agent.
ip netns exec "$NS_TGT" unshare -m --propagation private bash -c '
  set -e
  keep=$(mktemp -d "$1/dev.XXXX")
  mount --bind /dev "$keep"
  mount -t tmpfs -o mode=0755 tmpfs /dev
  for n in null zero urandom random; do touch "/dev/$n"; mount --bind "$keep/$n" "/dev/$n"; done
  touch /dev/log
  mount --bind "$1/log.sock" /dev/log
  shift
  exec "$@"' _ "$WORK" "$SCANWATCH" run -i tg0 --json "$EVENTS" --syslog --block --no-fast-block --block-unverified \
  --socket "$WORK/sw.sock" --pin-dir "/sys/fs/bpf/$ID" --state-file "$WORK/blocks.json" 2>"$WORK/agent.err" &
AGENT_PID=$!
for _ in $(seq 100); do
  grep -q '"event":"started"' "$EVENTS" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.err" >&2; fail "agent exited at start"; }
  sleep 0.1
done

# blocked mid-scan, nmap only waits for lost ports: keep that short
in_scan nmap -n -Pn -sS -T4 --max-retries 1 --min-rate 300 --host-timeout 30s -p 1-300 "$TGT4" >/dev/null || true
wait_for_kind "$SCAN4" syn 10
# a manual unblock gives the third kind of line
"$SCANWATCH" unblock "$SCAN4" --socket "$WORK/sw.sock" >/dev/null || { cat "$EVENTS" "$WORK/agent.err" >&2; fail "unblock failed"; }
for _ in $(seq 30); do grep -q "unblocked $SCAN4" "$WORK/syslog.txt" && break; sleep 0.1; done
stop_agent
echo "--- syslog lines:" >&2; grep scanwatch "$WORK/syslog.txt" >&2 || true

# RFC 3164 as glibc sends it: <PRI>TIMESTAMP ident[pid]: text; LOG_DAEMON is facility 3.
line=$(grep -m1 "scan from $SCAN4: " "$WORK/syslog.txt") || fail "no detection line in syslog"
[[ "$line" =~ ^\<(2[4-9]|3[01])\>.*scanwatch\[[0-9]+\]:\ scan\ from\ $SCAN4:\ [a-z,-]*syn[a-z,-]*\ by\ nmap,\ [0-9]+\ ports?\ on\ 1\ host,\ score\ [0-9.]+,\ action\ block$ ]] \
  || fail "detection line not as expected: $line"
grep -Eq "scanwatch\[[0-9]+\]: blocked $SCAN4 for 1h \(detector: [a-z,-]*syn[a-z,-]* score [0-9.]+\)$" "$WORK/syslog.txt" \
  || fail "no block line in syslog"
grep -q "scanwatch\[[0-9]*\]: unblocked $SCAN4 (manual)" "$WORK/syslog.txt" || fail "no unblock line in syslog"
# one line per event, not per packet
n=$(grep -c "scan from $SCAN4" "$WORK/syslog.txt")
e=$(grep -c '"event":"scan"' "$EVENTS")
[ "$n" = "$e" ] || fail "$n syslog detection lines for $e scan events"
echo "PASS syslog ($n detection lines)"
