#!/usr/bin/env bash
# nmap -sS from the scanner namespace: a `syn` scan by nmap, named quickly.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
# --max-rate keeps the count about the detector, not about how fast a busy
# machine schedules the agent (at full speed nmap sends ~40 probes per ms).
in_scan nmap -n -Pn -sS -T4 --max-rate 500 -p 1-1000 "$TGT4" -oG "$WORK/nmap.gnmap" >/dev/null
wait_for_kind "$SCAN4" syn 10
[ "$(first_scan tool "$SCAN4")" = nmap ] || fail "tool is not nmap: $(first_scan tool "$SCAN4")"
probes=$(first_scan probes "$SCAN4")
log "first verdict after $probes probes"
[ "$probes" -le 60 ] || fail "verdict came only after $probes probes"
stop_agent
echo "PASS syn_scan (verdict after $probes probes)"
