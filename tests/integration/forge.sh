#!/usr/bin/env bash
# An attacker aims --block at bystanders by forging probes in their names
# (raw sockets in the scanner namespace, forge.py). The bystanders are live:
# 198.18.0.3 and 198.19.0.0/17 (AnyIP in the bystander namespace), so their
# kernels answer our SYN/ACKs with RSTs, the "proof" that was forgeable.
# In every case: nothing forged is blocked, the bystander loses at most one
# connection attempt, the agent answers `status` within a second and loses no
# ring-buffer event. Then the caps: with --block-unverified the fast path
# blocks forged sources, and the kernel budget (--max-blocks, --max-new-blocks)
# holds; refusals are reported.
source "$(dirname "$0")/lib.sh"
lab_up bystander; start_services
FLOOD=198.19.0.0
ip -n "$NS_BY" route add local 198.19.0.0/17 dev lo
ip -n "$NS_TGT" route add 198.19.0.0/17 via "$BY4"
SOCK="$WORK/sw.sock"
sw() { "$SCANWATCH" "$@" --socket "$SOCK"; }
forge() { in_scan python3 "$HERE/forge.py" --dst "$TGT4" "$@"; }
status_json() { timeout 1 "$SCANWATCH" status --json --socket "$SOCK"; }
stat_field() { status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
n_blocks() { sw blocks --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
blocked() { sw blocks --json | grep -q "\"$1/32\""; }

# attempts: three HTTP requests from the bystander, one second apart at most;
# prints how many failed. At most the first may fail (its SYN met the shield).
attempts() {
  local failed=0 i code
  for i in 1 2 3; do
    code=$(ip netns exec "$NS_BY" curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$TGT4/" || true)
    [ "$code" = 200 ] || failed=$((failed + 1))
    [ "$code" = 200 ] && [ "$i" -ge 2 ] && break
  done
  echo "$failed"
}

check_case() {
  local name=$1 lost
  sleep 0.6  # two sweeps: the agent has judged the forged probes
  if blocked "$BY4"; then fail "$name: the forged bystander $BY4 was blocked"; fi
  lost=$(attempts)
  log "$name: bystander lost $lost connection attempt(s); $(stat_field syn_cookies) cookies, $(stat_field cookie_proofs) proofs so far"
  [ "$lost" -le 1 ] || fail "$name: the bystander lost $lost connection attempts"
  [ "$(n_blocks)" = 0 ] || fail "$name: $(n_blocks) blocks after forged probes only"
}

MODE=$(xdp_tx_mode)
log "XDP mode $MODE"
start_agent --xdp-mode "$MODE" --block --max-blocks 20 --max-new-blocks 5
[ "$(attempts)" = 0 ] || fail "bystander cannot reach the web server before any forging"

# 1. SYN only: our SYN/ACK reaches the bystander, its kernel answers with a RST
forge --kind syn --src "$BY4" --ports 80,1,2,3,4,5,6,7,8,9 >/dev/null
check_case "SYN only"
# 2. SYN plus the forged bare RST (seq ISN+1) nmap would send
forge --kind synrst --src "$BY4" --ports 80,11,12,13,14,15,16,17 >/dev/null
check_case "SYN + forged RST"
# 3. a forged RST|ACK "handshake": seq ISN+1, the ack guessed
forge --kind rstack --src "$BY4" --ports 80,21,22,23,24,25 --ack 0x12345678 >/dev/null
check_case "forged RST|ACK"
# 4. a live decoy of a real nmap -sS -D
in_scan nmap -n -Pn -sS -T4 --max-retries 1 -D "$BY4,ME" -p 1-300 "$TGT4" >/dev/null
check_case "nmap -D decoy"
if blocked "$SCAN4"; then fail "the -sS scanner was blocked: it never proved its address"; fi

# 5. 20,000 forged live bystanders in 2 s; status polled meanwhile
forge --kind flood --src "$FLOOD" --count 20000 --seconds 2 --ports 80,1,2,3 >"$WORK/flood.out" &
FPID=$!
slow=0 polls=0
while kill -0 "$FPID" 2>/dev/null; do
  t0=$(date +%s%N)
  status_json >/dev/null || slow=$((slow + 1))
  t1=$(date +%s%N)
  polls=$((polls + 1))
  [ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || slow=$((slow + 1))
  sleep 0.2
done
wait "$FPID" || fail "forge.py flood failed"
log "flood: $(cat "$WORK/flood.out") (sources, packets, seconds); status polls $polls, slow $slow"
[ "$slow" = 0 ] || fail "status did not answer within 1 s during the flood ($slow of $polls)"
for _ in 1 2 3 4 5; do status_json >/dev/null || fail "status does not answer after the flood"; sleep 0.2; done
lost=$(stat_field events_lost)
[ "$lost" = 0 ] || fail "$lost ring-buffer events lost during the flood"
check_case "20,000 forged bystanders"
stop_agent

# 6. the caps the kernel keeps: with --block-unverified the fast path blocks
# unproven sources; 150 forged ones meet --max-blocks 20 --max-new-blocks 5
EVENTS="$WORK/caps.json"
start_agent --xdp-mode "$MODE" --block --block-unverified --max-blocks 20 --max-new-blocks 5
forge --kind flood --src 198.19.8.0 --count 150 --seconds 1 --ports 80,1,2,3,4 >/dev/null
sleep 1.5
nb=$(n_blocks)
refused_k=$(stat_field blocks_refused_kernel)
refused_ev=$(grep -c '"event":"block_refused"' "$EVENTS" || true)
log "caps: $nb blocks, kernel refused $refused_k, $refused_ev block_refused events"
[ "$nb" -le 20 ] || fail "$nb blocks with --max-blocks 20"
[ "$nb" -ge 1 ] || fail "no fast-path block at all with --block-unverified: the caps test tested nothing"
[ "$refused_k" -gt 0 ] || fail "the kernel budget refused nothing"
[ "$refused_ev" -gt 0 ] || fail "no block_refused event"
stop_agent
echo "PASS forge"
