#!/usr/bin/env bash
# Records the lab captures under tests/replay/captures (NAME@SCANNER.pcap):
# one small scan per probe class, taken with tcpdump on the target's side of
# the lab link (both directions). Root; needs nmap and hping3. Rerun it to
# refresh them; tests/replay/lab_captures.py checks their verdicts.
#   SCANWATCH=build/scanwatch bash tests/replay/record_lab.sh
source "$(dirname "$0")/../integration/lib.sh"
OUT=$(cd "$(dirname "$0")" && pwd)/captures
mkdir -p "$OUT"
lab_up; lab_tune "$NS_TGT"; add_sweep_addrs; start_services
in_scan hping3 --version >/dev/null 2>&1 || fail "hping3 is missing (scripts/install-deps.sh)"

record() {  # record NAME COMMAND... (run in the scanner namespace)
  local name=$1; shift
  ip netns exec "$NS_TGT" tcpdump -U -n -s 200 -i tg0 -w "$WORK/$name.pcap" 'ip or ip6' 2>/dev/null &
  local pid=$!
  sleep 1
  in_scan "$@" >/dev/null 2>&1 || log "$name: $1 failed"
  sleep 1
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  cp "$WORK/$name.pcap" "$OUT/$name@$SCAN4.pcap"
  log "recorded $name: $(stat -c %s "$OUT/$name@$SCAN4.pcap") bytes"
}

N="nmap -n -T5 --max-retries 1 -Pn"
record os-few      $N -O -p 22,80,1 "$TGT4"
record frag        $N -sS -f -p 1-30,80 "$TGT4"
record mtu16       $N -sS --mtu 16 -p 1-30,80 "$TGT4"
record flags-all   $N --scanflags ALL -p 1-30 "$TGT4"
record ack-slow    $N -sA --scan-delay 1s -p 1-12 "$TGT4"
record syn-sweep   $N -sS -p 80,443 198.18.0.10-40
record hping3      hping3 -q -S -p ++1 -c 30 -i u5000 "$TGT4"
record connect     $N -sT -p 1-30,80 "$TGT4"
