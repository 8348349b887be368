#!/usr/bin/env bash
# nmap -sV against a service with a banner nmap does not know: its RPCCheck
# probe (an ONC RPC CALL) reaches a port that is not an RPC service.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
in_scan nmap -n -Pn -sV -p 2222 "$TGT4" >/dev/null
wait_for_kind "$SCAN4" rpc 10
stop_agent
echo "PASS version_scan ($(first_scan kinds "$SCAN4"))"
