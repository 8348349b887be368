#!/usr/bin/env bash
# Records the lab captures under tests/replay/captures (NAME@SCANNER.pcap):
# one small scan per probe class, taken with tcpdump on the target's side of
# the lab link (both directions). Root; needs nmap, hping3, masscan and zmap.
# Rerun it to refresh them (SW_RECORD="name ..." records only those);
# tests/replay/lab_captures.py checks their verdicts.
#   SCANWATCH=build/scanwatch bash tests/replay/record_lab.sh
source "$(dirname "$0")/../integration/lib.sh"
OUT=$(cd "$(dirname "$0")" && pwd)/captures
mkdir -p "$OUT"
lab_up; lab_tune "$NS_TGT"; add_sweep_addrs; start_services
in_scan hping3 --version >/dev/null 2>&1 || fail "hping3 is missing (scripts/install-deps.sh)"

record() {  # record NAME COMMAND... (run in the scanner namespace; SRC= for IPv6)
  local name=$1 src=${SRC:-$SCAN4}; shift
  if [ -n "${SW_RECORD:-}" ] && [[ " $SW_RECORD " != *" $name "* ]]; then return 0; fi
  ip netns exec "$NS_TGT" tcpdump -U -n -s 200 -i tg0 -w "$WORK/$name.pcap" 'ip or ip6' 2>/dev/null &
  local pid=$!
  sleep 1
  in_scan "$@" >/dev/null 2>&1 || log "$name: $1 failed"
  sleep 1
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  cp "$WORK/$name.pcap" "$OUT/$name@$src.pcap"
  log "recorded $name: $(stat -c %s "$OUT/$name@$src.pcap") bytes"
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
# the everyday scan types, so that probes to verdict (bench/probes_to_name.py)
# is measured over what users run, not only over the unusual classes above
record syn         $N -sS -p 1-30,80 "$TGT4"
record fin         $N -sF -p 1-30 "$TGT4"
record null        $N -sN -p 1-30 "$TGT4"
record xmas        $N -sX -p 1-30 "$TGT4"
record maimon      $N -sM -p 1-30 "$TGT4"
record ack         $N -sA -p 1-30 "$TGT4"
record window      $N -sW -p 1-30 "$TGT4"
record udp         $N -sU -p 1-30,53 "$TGT4"
record ipproto     $N -sO -p 1-30 "$TGT4"
record sctp        $N -sY -p 1-30 "$TGT4"
record version     $N -sV -p 1-20,80,2222 "$TGT4"
SRC=$SCAN6 record syn6 $N -6 -sS -p 1-30,80 "$TGT6"
# masscan and zmap build their own frames (tests/integration/masscan.sh and
# zmap.sh explain the options); masscan 1.3 lingers until a packet arrives
# after its scan, so timeout ends it (its probes are all sent by then)
MAC=$(ip -n "$NS_TGT" -j link show tg0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')
record masscan     timeout 6 masscan --router-mac "$MAC" --adapter-ip "$SCAN4" -e sc0 --wait 1 --rate 400 -p 1-30,80 "$TGT4"
: >"$WORK/blacklist"
printf '198.18.0.16/28\n198.18.0.32/29\n' >"$WORK/targets"
record zmap        zmap -q -i sc0 -G "$MAC" -S "$SCAN4" -b "$WORK/blacklist" -w "$WORK/targets" -c 1 -r 200 -o /dev/null -p 80
