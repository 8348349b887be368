#!/usr/bin/env bash
# nmap -sS -sV together: both `syn` and `rpc` for the same source.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
in_scan nmap -n -Pn -sS -sV -T4 -p 1-100,2222 "$TGT4" >/dev/null
wait_for_kind "$SCAN4" syn 10
wait_for_kind "$SCAN4" rpc 10
stop_agent
echo "PASS syn_version_scan"
