#!/usr/bin/env bash
# zmap, live (Debian's zmap 2.1): one port over 24 hosts, the way zmap scans,
# once to an open port (80: the scanner's kernel resets our SYN/ACKs) and once
# to a closed one (8000: only RSTs come back). zmap builds its own frames:
# -i the interface, -G the target side's MAC as its gateway, -S its address;
# -b an empty blacklist (Debian's default one excludes all reserved space,
# 198.18.0.0/15 too), -c 1 a 1 s cool-down instead of 8. The verdict must name
# zmap (IP ID 54321 before 4.1), syn and sweep, and count 24 hosts and 1 port.
#
#   SW_CASES="open"   run one case;  SW_EXPLORE=1   report without failing
source "$(dirname "$0")/lib.sh"
zmap --version >/dev/null 2>&1 || fail "zmap is not installed (scripts/install-deps.sh)"

SW_SNAPSHOT=1
lab_up; add_sweep_addrs; start_services
MAC=$(ip -n "$NS_TGT" -j link show tg0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')
: >"$WORK/blacklist"
# 198.18.0.16-39, inside add_sweep_addrs' 198.18.0.10-40, as a whitelist file
# (zmap 2.1 scans only the last subnet given on its command line)
printf '198.18.0.16/28\n198.18.0.32/29\n' >"$WORK/targets"
Z="zmap -q -i sc0 -G $MAC -S $SCAN4 -b $WORK/blacklist -w $WORK/targets -c 1 -r 200 -o /dev/null"

# name | scanner | kinds | tool | !program arguments
run_cases <<EOF
open   | $SCAN4 | syn,sweep | zmap | !$Z -p 80
closed | $SCAN4 | syn,sweep | zmap | !$Z -p 8000
EOF

check_counts open 1 24
check_counts closed 1 24
echo "PASS zmap ($CASES_RUN cases)"
