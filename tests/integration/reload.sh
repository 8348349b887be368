#!/usr/bin/env bash
# The config file in a live lab: SIGHUP reloads it without losing sources or
# blocks, flags keep overriding the file, keys that need a restart are kept and
# named, a broken file keeps the running config, and the JSON file is reopened
# (logrotate).
source "$(dirname "$0")/lib.sh"
lab_up; start_services
CONF="$WORK/scanwatch.toml"
SOCK="$WORK/sw.sock"
sw() { "$SCANWATCH" "$@" --socket "$SOCK"; }
status() { sw status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
ttl_left() {  # seconds left on the block of $1
  sw blocks --json | python3 -c "
import json, sys
print([b['ttl_left_s'] for b in json.load(sys.stdin) if b['target'].startswith('$1/')][0])"
}
# wait_reload N: waits for the Nth reload event and prints it
wait_reload() {
  for _ in $(seq 50); do
    line=$(grep '"event":"reload"' "$EVENTS" 2>/dev/null | sed -n "$1p")
    [ -n "$line" ] && { echo "$line"; return 0; }
    sleep 0.1
  done
  cat "$WORK/agent.err" >&2; fail "no reload event #$1"
}

cat >"$CONF" <<'EOF'
[detect]
min_ports = 5000     # nothing short of a full scan is a port scan

[block]
ttl = "1h"           # overridden by --block-ttl on the command line
EOF
start_agent --config "$CONF" --block-ttl 2h

# 1. with min_ports 5000, a 300-port scan is watched but not reported
in_scan nmap -n -Pn -sS -T4 --max-rate 1000 -p 1-300 "$TGT4" >/dev/null
sleep 1
[ "$(count_scan_events)" = 0 ] || fail "reported a scan under min_ports = 5000"
sources=$(status sources)
[ "$sources" -ge 1 ] || fail "the scanner is not tracked"
sw block 198.18.0.77 >/dev/null || fail "manual block failed"
ttl=$(ttl_left 198.18.0.77)
[ "$ttl" -gt 3700 ] || fail "the --block-ttl flag did not override the file (ttl left $ttl s)"

# 2. lower the threshold and change a restart-only key: SIGHUP applies the
# first, names the second, and the scanner's kept evidence is judged again
cat >"$CONF" <<'EOF'
[agent]
sweep_ms = 100

[detect]
min_ports = 5

[block]
ttl = "1h"
EOF
kill -HUP "$AGENT_PID"
r=$(wait_reload 1)
log "reload: $r"
python3 - "$r" <<'PY' || fail "reload event wrong: $r"
import json, sys
e = json.loads(sys.argv[1])
assert e["ok"] is True, e
assert e["changed"] == ["detect.min_ports"], e
assert e["restart_needed"] == ["agent.sweep_ms"], e
PY
grep -q "needs a restart.*agent.sweep_ms" "$WORK/agent.err" || fail "no restart warning on stderr"
wait_for_kind "$SCAN4" syn 5   # no new packet: the evidence survived the reload
[ "$(status sources)" -ge "$sources" ] || fail "sources lost in the reload"
sw blocks --json | grep -q '"198.18.0.77/32"' || fail "manual block lost in the reload"
[ "$(ttl_left 198.18.0.77)" -gt 3600 ] || fail "reload changed an existing block's expiry"
sw block 198.18.0.78 >/dev/null
[ "$(ttl_left 198.18.0.78)" -gt 3700 ] || fail "after the reload the flag no longer overrides the file"

# 3. a broken file: the error names file, line and key; everything keeps running
printf '[detect]\nmin_ports = "many"\n' >"$CONF"
kill -HUP "$AGENT_PID"
r=$(wait_reload 2)
log "bad reload: $r"
grep -q "\"ok\":false" <<<"$r" || fail "bad reload reported ok"
grep -q "$CONF:2: detect.min_ports: expected an integer" <<<"$r" || fail "error does not name file:line:key: $r"
grep -q "reload failed, keeping the running configuration" "$WORK/agent.err" || fail "no stderr line for the bad reload"
kill -0 "$AGENT_PID" || fail "agent died on a bad reload"
[ "$(status blocks)" = 2 ] || fail "blocks changed after a bad reload"

# 4. logrotate: the file moved away, SIGHUP opens a new one at the same path
printf '[detect]\nmin_ports = 5\n' >"$CONF"
mv "$EVENTS" "$EVENTS.1"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ -s "$EVENTS" ] && break; sleep 0.1; done
grep -q '"event":"reload","ok":true' "$EVENTS" || fail "events not reopened after SIGHUP"
stop_agent
echo "PASS reload"
