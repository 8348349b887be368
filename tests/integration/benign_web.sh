#!/usr/bin/env bash
# A busy web client: 1,000 HTTP requests, each on its own connection. Never a scanner.
source "$(dirname "$0")/lib.sh"
lab_up; start_services; start_agent
in_scan curl -s -o /dev/null -H 'Connection: close' "http://$TGT4/page?n=[1-1000]"
ok=$(grep -c . "$WORK/events.json")
sleep 1
stop_agent
n=$(count_scan_events)
[ "$n" = 0 ] || { cat "$WORK/events.json" >&2; fail "benign web client flagged ($n scan events)"; }
echo "PASS benign_web"
