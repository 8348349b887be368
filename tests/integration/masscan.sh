#!/usr/bin/env bash
# masscan, live (Debian's masscan 1.3): a port scan of one host (IPv4 and
# IPv6) and a sweep of five ports over 31 hosts, each at a modest rate, against the watched
# namespace. masscan builds its own frames, so it is told the target side's
# MAC (--router-mac, --router-mac-ipv6), its own address (--adapter-ip) and the interface (-e);
# --wait 1 cuts its 10 s wait for late answers. The verdict must name
# masscan, the kind (syn; the sweep as sweep beside syn) and count ports and
# hosts within 10 %.
#
#   SW_CASES="ports"   run one case;  SW_EXPLORE=1   report without failing
source "$(dirname "$0")/lib.sh"
{ masscan --version || true; } 2>&1 | grep "Masscan version" >/dev/null || fail "masscan is not installed (scripts/install-deps.sh)"

SW_SNAPSHOT=1
lab_up; add_sweep_addrs; start_services
# masscan 1.3's receive thread notices the end of the scan only when a
# packet arrives on sc0 (libpcap's read has no timeout there), which on a
# quiet link took 5 to 14 s: the target pings the scanner meanwhile (echo
# requests *to* the scanner: nothing the agent counts against it).
ip netns exec "$NS_TGT" ping -q -i 0.2 "$SCAN4" >/dev/null 2>&1 &
PINGER=$!
MAC=$(ip -n "$NS_TGT" -j link show tg0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')
M="masscan --router-mac $MAC --adapter-ip $SCAN4 -e sc0 --wait 1 --rate 400"
M6="masscan --router-mac-ipv6 $MAC --adapter-ip $SCAN6 -e sc0 --wait 1 --rate 400"

# name | scanner | kinds | tool | !program arguments
run_cases <<EOF
ports | $SCAN4 | syn       | masscan | !$M -p 1-200,2222 $TGT4
sweep | $SCAN4 | syn,sweep | masscan | !$M -p 21,22,23,80,8000 198.18.0.10-198.18.0.40
ports6 | $SCAN6 | syn      | masscan | !$M6 -p 1-200,2222 $TGT6
EOF

kill "$PINGER"; wait "$PINGER" 2>/dev/null || true
check_counts ports 201 1
check_counts sweep 5 31
check_counts ports6 201 1 "$SCAN6"
echo "PASS masscan ($CASES_RUN cases)"
