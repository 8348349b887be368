#!/usr/bin/env bash
# nmap -sT: handshake then RST without data on open ports, RSTs on closed ones.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
in_scan nmap -n -Pn -sT -T4 -p 1-1000 "$TGT4" >/dev/null
wait_for_kind "$SCAN4" connect 10
kinds=$(first_scan kinds "$SCAN4")
case ",$kinds," in *,syn,*) fail "connect scan named syn too: $kinds" ;; esac
probes=$(first_scan probes "$SCAN4")
stop_agent
echo "PASS connect_scan (kinds $kinds, verdict after $probes probes)"
