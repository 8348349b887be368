#!/usr/bin/env bash
# nmap -6 -sS: the same verdict over IPv6.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
in_scan nmap -6 -n -Pn -sS -T4 -p 1-1000 "$TGT6" >/dev/null
wait_for_kind "$SCAN6" syn 10
stop_agent
echo "PASS ipv6_syn_scan"
