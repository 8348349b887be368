#!/usr/bin/env bash
# Ordinary traffic is never a scan. One agent on the target watches, side by
# side, each peer from its own address:
#   198.18.0.2      a DNS resolver answering 300 queries of the target, each to
#                   a new client port (plus late duplicates to closed ports)
#   198.18.0.50-54  servers sending SYN/ACK backscatter (someone spoofed us)
#   198.18.0.60     many clients behind one NAT address using http and 2222
#   198.18.0.61     a client retrying one dead service (8080) 60 times
#   198.18.0.62     an administrator: ping, then ssh, http, https, 2222 and a
#                   down mysql, three rounds
# (The busy web client has its own test, benign_web.sh.) No scan event may
# appear, also after every probe has timed out.
source "$(dirname "$0")/lib.sh"
TRAFFIC="$HERE/benign_traffic.py"

lab_up; lab_tune "$NS_TGT"; start_services
for i in 50 51 52 53 54 60 61 62; do ip -n "$NS_SCAN" addr add "198.18.0.$i/24" dev sc0; done
ip netns exec "$NS_TGT" python3 "$TRAFFIC" listen --ports 22 443 &
LISTEN_PID=$!
ip netns exec "$NS_SCAN" python3 "$TRAFFIC" dns-server --bind "$SCAN4" &
DNS_PID=$!
trap 'kill $LISTEN_PID $DNS_PID 2>/dev/null; lab_down' EXIT
start_agent
sleep 0.3

ip netns exec "$NS_TGT" python3 "$TRAFFIC" dns-client "$SCAN4" --count 300 &
p1=$!
in_scan python3 "$TRAFFIC" backscatter "$TGT4" --src 198.18.0.5{0,1,2,3,4} --count 200 &
p2=$!
in_scan python3 "$TRAFFIC" nat "$TGT4" --bind 198.18.0.60 --count 300 &
p3=$!
in_scan python3 "$TRAFFIC" retry "$TGT4" --bind 198.18.0.61 --port 8080 --count 60 &
p4=$!
in_scan ping -c 2 -i 0.2 -I 198.18.0.62 "$TGT4" >/dev/null
in_scan python3 "$TRAFFIC" admin "$TGT4" --bind 198.18.0.62 --ports 22 80 443 2222 3306
wait $p1 $p2 $p3 $p4
# every probe past its timeout (3 s), and a few sweeps after that
sleep 4
stop_agent

n=$(count_scan_events)
if [ "$n" != 0 ]; then
  grep '"event":"scan"' "$EVENTS" >&2
  fail "benign traffic flagged ($n scan events)"
fi
read -r packets sources < <(python3 - "$EVENTS" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "stopped":
        print(e["packets"], e["sources"])
PY
)
[ "$packets" -ge 2000 ] || fail "the agent saw only $packets packets: the traffic did not flow"
echo "PASS benign ($packets packets, $sources sources judged, none a scanner)"
