#!/usr/bin/env bash
# Real scanners against --block: a half-open scanner (nmap -sS) cannot prove
# its address, so it is shielded, never blocked: XDP answers its SYNs with SYN
# cookies and every port looks open. It learns the state of the few ports it
# probed before the shield went up, no more. Scanners that complete handshakes
# (nmap -sT, -sV) prove themselves on the cookies and are blocked within their
# first probes. A bystander keeps its web access throughout. Shields are
# counted in status and metrics.
source "$(dirname "$0")/lib.sh"
lab_up bystander; start_services
MODE=$(xdp_tx_mode)
SOCK="$WORK/sw.sock"
by_http() { ip netns exec "$NS_BY" curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$TGT4/" || true; }
scan_http() { in_scan curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$TGT4/" || true; }
blocked() { "$SCANWATCH" blocks --json --socket "$SOCK" | grep -q "\"$SCAN4/32\""; }
# states NAME: "closed open real-open" as nmap reported them (gnmap); real-open:
# of the ports it says are open, those that are (80 and 2222)
states() {
  local g="$WORK/$1.gnmap"
  echo "$(grep -o '[0-9]*/closed/' "$g" | wc -l) $(grep -o '[0-9]*/open/' "$g" | wc -l)" \
       "$(grep -o '\b\(80\|2222\)/open/' "$g" | wc -l)"
}
fresh_agent() {
  [ -n "$AGENT_PID" ] && stop_agent
  rm -f "$WORK/blocks.json"  # each scanner starts unblocked
  EVENTS="$WORK/$1.json"
  start_agent --xdp-mode "$MODE" --block --block-ttl 10m --metrics-listen 127.0.0.1:9469 "${@:2}"
  [ "$(by_http)" = 200 ] || fail "$1: bystander cannot reach the web server"
}

# 1. nmap -sS -T4 (block.sh's run): shielded, not blocked, learns little
fresh_agent syn
in_scan timeout 120 nmap -n -Pn -sS -T4 --max-retries 2 --min-rate 300 "$TGT4" -oG "$WORK/syn.gnmap" >/dev/null
read -r closed open real <<<"$(states syn)"
log "-sS under the shield: nmap reports $closed closed, $open open ($real of them really open)"
grep -q '"event":"shield"\|"action":"shield"' "$WORK/syn.json" || \
  [ "$("$SCANWATCH" status --json --socket "$SOCK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["syn_cookies"])')" -gt 0 ] || \
  fail "-sS: no shield"
if blocked; then fail "-sS: the half-open scanner was blocked though it proved nothing"; fi
[ "$closed" -le 40 ] || fail "-sS: nmap learned $closed closed ports (bound 40, as block.sh)"
[ "$open" -ge 900 ] || fail "-sS: only $open ports look open: the shield did not answer"
[ "$(by_http)" = 200 ] || fail "-sS: bystander lost access"
echo "$closed $open $real" >"$WORK/syn.states"
# shields_counted NAME: one scanner, one shield in force, whoever made it (the
# agent says so with a shield event each); status and metrics agree
shields_counted() {
  local name=$1 shields fast created made
  read -r shields fast created <<<"$("$SCANWATCH" status --json --socket "$SOCK" |
    python3 -c 'import json,sys; j = json.load(sys.stdin); print(j["shields"], j["shields_fast_path"], j["shields_created"])')"
  made=$(grep -c '"event":"shield"' "$WORK/$name.json" || true)
  log "$name: shields in force $shields ($fast by the fast path), made by the agent $created, shield events $made"
  [ "$shields" = 1 ] || fail "$name: status counts $shields shields in force, want 1 (one scanner)"
  [ "$created" = "$made" ] && [ $((shields - fast)) = "$created" ] ||
    fail "$name: status shields_created $created, shield events $made, agent's in force $((shields - fast))"
  metrics_agree() {
    ip netns exec "$NS_TGT" curl -s -m 2 http://127.0.0.1:9469/metrics | python3 -c '
import sys
m = {}
for l in sys.stdin:
    if l.startswith("scanwatch_shields_"):
        k, v = l.rsplit(" ", 1); m[k] = float(v)
ok = (m.get("scanwatch_shields_active{made_by=\"agent\"}", -1) == int(sys.argv[1]) - int(sys.argv[2])
      and m.get("scanwatch_shields_active{made_by=\"fast_path\"}", -1) == int(sys.argv[2])
      and m.get("scanwatch_shields_created_total", -1) == int(sys.argv[3]))
sys.exit(0 if ok else 1)' "$shields" "$fast" "$created"
  }
  for _ in $(seq 40); do metrics_agree && return 0; sleep 0.25; done  # the gauge is read every 5 s
  fail "$name: the shield metrics do not match status: $(ip netns exec "$NS_TGT" curl -s -m 2 \
    http://127.0.0.1:9469/metrics | grep scanwatch_shields_)"
}
shields_counted syn

# 1b. the same with --no-fast-block: the agent makes the shield, and counts it
fresh_agent agent --no-fast-block
in_scan timeout 60 nmap -n -Pn -sS -T4 --max-retries 1 -p 1-300 "$TGT4" >/dev/null
for _ in $(seq 20); do grep -q '"event":"shield"' "$WORK/agent.json" && break; sleep 0.25; done
grep -q '"event":"shield".*"by":"detector"' "$WORK/agent.json" || fail "--no-fast-block: the agent made no shield"
if blocked; then fail "--no-fast-block: the half-open scanner was blocked"; fi
shields_counted agent

# 2. nmap -sT: its handshakes with our cookies prove it; blocked within its first probes
fresh_agent connect
in_scan timeout 120 nmap -n -Pn -sT -T4 --max-retries 0 -p 1-100,2222 "$TGT4" -oG "$WORK/connect.gnmap" >/dev/null || true
read -r closed open real <<<"$(states connect)"
log "-sT: nmap reports $closed closed, $open open ($real really open)"
blocked || fail "-sT: the connect scanner was not blocked"
[ $((closed + open)) -le 40 ] || fail "-sT: nmap got answers for $((closed + open)) ports before the block (bound 40)"
[ "$(scan_http)" != 200 ] || fail "-sT: the scanner still reaches the web server"
[ "$(by_http)" = 200 ] || fail "-sT: bystander lost access"

# 3. nmap -sV: the same once it connects to what looks open
fresh_agent version
in_scan timeout 150 nmap -n -Pn -sV -T4 --max-retries 1 --version-intensity 0 -p 1-60,80,2222 "$TGT4" \
  -oG "$WORK/version.gnmap" >/dev/null || true
read -r closed open real <<<"$(states version)"
log "-sV: nmap reports $closed closed, $open open ($real really open)"
blocked || fail "-sV: the version scanner was not blocked"
# it learned no service: the cookie handshakes were reset, then it was dropped
named=$(grep -o '/open/tcp//[^/]*' "$WORK/version.gnmap" | grep -v '//tcpwrapped$' | grep -c '//[a-z]' || true)
[ "$named" = 0 ] || fail "-sV: nmap named $named services"
[ "$(by_http)" = 200 ] || fail "-sV: bystander lost access"
stop_agent
echo "PASS shield (-sS: $(cat "$WORK/syn.states") closed/open/really-open)"
