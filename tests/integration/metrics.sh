#!/usr/bin/env bash
# --metrics-listen: scrape /metrics with curl during and after a live nmap -sS
# and check the scan is counted and the text is valid exposition format.
# Also: a bad address is a usage error (2), a port in use a runtime error (1).
source "$(dirname "$0")/lib.sh"
lab_up; start_services
# 127.0.0.1 inside the target namespace is the lab's own: a fixed port is safe.
PORT=9477
URL="http://127.0.0.1:$PORT/metrics"
scrape() { ip netns exec "$NS_TGT" curl -fsS --max-time 3 "$URL" -o "$1"; }

# usage error: exit 2, one line naming the option
rc=0; "$SCANWATCH" run -i lo --metrics-listen 127.0.0.1 --duration 1 2>"$WORK/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "--metrics-listen without a port: exit $rc, want 2"
grep -q -- '--metrics-listen' "$WORK/bad.err" || fail "usage error does not name the option: $(cat "$WORK/bad.err")"
[ "$(wc -l <"$WORK/bad.err")" = 1 ] || fail "usage error is not one line: $(cat "$WORK/bad.err")"

# port in use: exit 1, one line, nothing left attached
ip netns exec "$NS_TGT" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$PORT" &
BUSY=$!
sleep 0.5
rc=0; ip netns exec "$NS_TGT" "$SCANWATCH" run -i tg0 --metrics-listen "127.0.0.1:$PORT" --duration 1 \
  --socket "$WORK/busy.sock" --pin-dir "/sys/fs/bpf/$ID" --state-file "$WORK/blocks.json" 2>"$WORK/busy.err" || rc=$?
kill "$BUSY"; wait "$BUSY" 2>/dev/null || true
[ "$rc" = 1 ] || fail "port in use: exit $rc, want 1 ($(cat "$WORK/busy.err"))"
grep -q "cannot listen on 127.0.0.1:$PORT" "$WORK/busy.err" || fail "port in use: $(cat "$WORK/busy.err")"
[ "$(wc -l <"$WORK/busy.err")" = 1 ] || fail "port in use is not one line: $(cat "$WORK/busy.err")"
ip -n "$NS_TGT" link show tg0 | grep -q xdp && fail "XDP left attached after the failed start"

start_agent --metrics-listen "127.0.0.1:$PORT"
scrape "$WORK/m0.txt" || fail "no /metrics right after start"
python3 "$HERE/check_metrics.py" "$WORK/m0.txt" 'scanwatch_agent_info==1' || fail "bad exposition at start"

# a second agent on the same address (another interface, pin dir and socket):
# the address is the first agent's alone (no SO_REUSEPORT), exit 1, nothing attached
ip -n "$NS_TGT" link add sw2a type veth peer name sw2b
ip -n "$NS_TGT" link set sw2a up; ip -n "$NS_TGT" link set sw2b up
rc=0; ip netns exec "$NS_TGT" "$SCANWATCH" run -i sw2a --metrics-listen "127.0.0.1:$PORT" --duration 2 \
  --socket "$WORK/second.sock" --pin-dir "/sys/fs/bpf/${ID}b" --state-file "$WORK/b2.json" 2>"$WORK/second.err" || rc=$?
[ "$rc" = 1 ] || fail "second agent on the same metrics address: exit $rc, want 1 ($(cat "$WORK/second.err"))"
grep -q "cannot listen on 127.0.0.1:$PORT for --metrics-listen: Address already in use" "$WORK/second.err" \
  || fail "second agent: $(cat "$WORK/second.err")"
ip -n "$NS_TGT" link show sw2a | grep -q xdp && fail "the second agent attached XDP before failing"
for _ in 1 2 3 4; do scrape "$WORK/m1.txt" || fail "a scrape failed after the second agent's try"; done

in_scan nmap -n -Pn -sS -T4 --max-rate 500 -p 1-1000 "$TGT4" >/dev/null &
NMAP=$!
during=0
while kill -0 "$NMAP" 2>/dev/null; do
  if scrape "$WORK/during.txt"; then
    python3 "$HERE/check_metrics.py" "$WORK/during.txt" || fail "bad exposition during the scan"
    during=$((during + 1))
  fi
  sleep 0.5
done
wait "$NMAP" || fail "nmap failed"
[ "$during" -ge 1 ] || fail "no scrape succeeded while nmap ran"
wait_for_kind "$SCAN4" syn 10
sleep 0.6  # the next sweep publishes the counts
scrape "$WORK/after.txt" || fail "no /metrics after the scan"
python3 "$HERE/check_metrics.py" "$WORK/after.txt" \
  'scanwatch_scans_total{kind="syn"}>=1' \
  'scanwatch_scanners_total>=1' \
  'scanwatch_packets_total{interface="tg0",direction="ingress"}>1000' \
  'scanwatch_packets_total{interface="tg0",direction="egress"}>0' \
  'scanwatch_probes_total{interface="tg0"}>=1000' \
  'scanwatch_sources_tracked>0' \
  'scanwatch_map_entries{map="sources"}>0' \
  'scanwatch_map_capacity{map="sources"}==65536' \
  'scanwatch_sweep_duration_seconds_count>0' \
  'scanwatch_ringbuf_events_total>0' \
  || { cat "$WORK/after.txt" >&2; fail "the scan is not counted in /metrics"; }
grep -q "^scanwatch_agent_info{version=\"0.1.0\",xdp_mode=\"\(native\|generic\)\"} 1$" "$WORK/after.txt" \
  || fail "no agent info line"
log "scrapes during the scan: $during; $(grep '^scanwatch_scans_total' "$WORK/after.txt" | tr '\n' ' ')"
stop_agent
# run says where the metrics are at start, and sums up in one line at stop
grep -qx "scanwatch: metrics at http://127.0.0.1:$PORT/metrics" "$WORK/agent.err" || fail "no metrics URL at start"
grep -qE '^scanwatch: stopped \(SIGINT\) after [0-9]+s: [0-9]+ packets, [0-9]+ scanners?, ' "$WORK/agent.err" ||
  fail "no summary line at stop: $(tail -3 "$WORK/agent.err")"
grep '^scanwatch_sweep_last_seconds ' "$WORK/after.txt" | grep -qE ' [0-9]+(\.[0-9]{1,6})?$' ||
  fail "sweep_last_seconds not rounded to microseconds: $(grep '^scanwatch_sweep_last_seconds ' "$WORK/after.txt")"

# [IPv6]:PORT
: >"$EVENTS"
start_agent --metrics-listen "[::1]:$PORT"
ip netns exec "$NS_TGT" curl -fsS --max-time 3 -g "http://[::1]:$PORT/metrics" -o "$WORK/v6.txt" \
  || fail "no /metrics on [::1]:$PORT"
python3 "$HERE/check_metrics.py" "$WORK/v6.txt" 'scanwatch_agent_info==1' || fail "bad exposition over IPv6"
stop_agent
echo "PASS metrics ($during scrapes during the scan)"
