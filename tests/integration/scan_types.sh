#!/usr/bin/env bash
# Every nmap scan type, live, in host mode: one lab, one fresh agent per case,
# and the union of the kinds of the scanner's scan events must be exactly the
# expected set, with the expected tool.
#
#   SW_CASES="syn fin"   run only these cases (names of the first column)
#   SW_EXPLORE=1         print what was seen, never fail on kinds
#   SW_TABLE=FILE        append "name|probes|ms|kinds" per case (bench/probes_to_verdict.sh)
source "$(dirname "$0")/lib.sh"

# name | scanner address | expected kinds (in DESIGN.md's order) | tool(s) | nmap arguments
# -f / --mtu 16: the first fragments hold no flags; the XDP program keeps a
# flow for each, and our SYN/ACK to the reassembled probe says it was a SYN.
# Sweeps name the kind of their probes beside `sweep`.
# Tools: connect scans use the OS's own SYNs, so nothing names nmap; nmap's
# IPv6 UDP probes carry hop limit 255 like everyone's, so only its RPC payload
# (program 12345678, when it comes before the verdict) names it.
# Ports: 80 (http) and 2222 (banner) are open, the rest closed. -Pn skips
# discovery unless the case is about it; --send-ip makes nmap send its IPv4
# discovery probes on the local link instead of ARP.
P="-p 1-200,2222"
CASES=$(cat <<EOF
syn       | $SCAN4 | syn                    | nmap | -sS $P -Pn $TGT4
connect   | $SCAN4 | connect                | unknown | -sT $P -Pn $TGT4
fin       | $SCAN4 | fin                    | nmap | -sF $P -Pn $TGT4
null      | $SCAN4 | null                   | nmap | -sN $P -Pn $TGT4
xmas      | $SCAN4 | xmas                   | nmap | -sX $P -Pn $TGT4
maimon    | $SCAN4 | maimon                 | nmap | -sM $P -Pn $TGT4
ack       | $SCAN4 | ack                    | nmap | -sA $P -Pn $TGT4
window    | $SCAN4 | ack                    | nmap | -sW $P -Pn $TGT4
flags-pf  | $SCAN4 | custom-flags           | nmap | --scanflags PSHFIN $P -Pn $TGT4
flags-sf  | $SCAN4 | custom-flags           | nmap | --scanflags SYNFIN $P -Pn $TGT4
flags-all | $SCAN4 | custom-flags           | nmap | --scanflags ALL $P -Pn $TGT4
udp       | $SCAN4 | udp                    | nmap | -sU $P -Pn $TGT4
ipproto   | $SCAN4 | ip-protocol            | nmap | -sO -Pn $TGT4
sctp-init | $SCAN4 | sctp                   | nmap | -sY $P -Pn $TGT4
sctp-echo | $SCAN4 | sctp                   | nmap | -sZ $P -Pn $TGT4
os        | $SCAN4 | syn,os-detect          | nmap | -O $P -Pn $TGT4
os-few    | $SCAN4 | os-detect              | nmap | -O -p 22,80,1 -Pn $TGT4
version   | $SCAN4 | syn,service-detect,rpc | nmap | -sV $P -Pn $TGT4
disc-scan | $SCAN4 | syn,discovery          | nmap | -sS --send-ip $P $TGT4
ping-sweep| $SCAN4 | discovery,sweep        | nmap | -sn --send-ip $SWEEP4
ping-mix  | $SCAN4 | discovery,sweep        | nmap | -sn --send-ip -PE -PS443 -PA80 -PP $SWEEP4
syn-sweep | $SCAN4 | syn,sweep              | nmap | -sS -Pn -p 80,443 $SWEEP4
syn6      | $SCAN6 | syn                    | nmap | -6 -sS $P -Pn $TGT6
fin6      | $SCAN6 | fin                    | nmap | -6 -sF $P -Pn $TGT6
ack6      | $SCAN6 | ack                    | nmap | -6 -sA $P -Pn $TGT6
udp6      | $SCAN6 | udp                    | nmap/unknown | -6 -sU $P -Pn $TGT6
connect6  | $SCAN6 | connect                | unknown | -6 -sT $P -Pn $TGT6
sweep6    | $SCAN6 | syn,sweep              | nmap | -6 -sS -Pn -p 80 $SWEEP6
frag      | $SCAN4 | syn                    | nmap | -sS -f $P -Pn $TGT4
mtu16     | $SCAN4 | syn                    | nmap | -sS --mtu 16 $P -Pn $TGT4
hping3    | $SCAN4 | syn                    | hping3 | !hping3 -q -S -p ++1 -c 40 -i u2000 $TGT4
connect-os| $SCAN4 | connect                | unknown | -sT -p 1-40 -Pn $TGT4
datalen   | $SCAN4 | syn                    | nmap | -sS --data-length 40 $P -Pn $TGT4
sport53   | $SCAN4 | syn                    | nmap | -sS -g 53 $P -Pn $TGT4
fixttl    | $SCAN4 | syn                    | nmap | -sS --ttl 64 $P -Pn $TGT4
decoy     | $SCAN4 | syn                    | nmap | -sS -D 198.18.0.70,198.18.0.71,ME $P -Pn $TGT4
slow      | $SCAN4 | syn                    | nmap | -sS --scan-delay 0.4s -p 20-31,80 -Pn $TGT4
EOF
)

lab_up; lab_tune "$NS_TGT"; add_sweep_addrs; start_services
run_cases <<<"$CASES"
# -D: the decoys end up reported as decoys (their last event has "decoy"
# evidence and a score of 0.5 at most; a decoy judged before any other sharer
# of its probes was seen may get one plain report first) and never blocked
# (they are unverified); the real scanner's last event is no decoy.
if [ -f "$WORK/decoy.json" ]; then
  python3 - "$WORK/decoy.json" "$SCAN4" <<'PY' || fail "decoys reported as scanners"
import json, sys
path, real = sys.argv[1:]
bad, seen, last = [], set(), {}
for line in open(path):
    e = json.loads(line)
    if e.get("event") != "scan":
        continue
    seen.add(e["src"])
    last[e["src"]] = e
for src, e in last.items():
    decoy = "decoy" in e.get("evidence", {})
    if src == real and decoy:
        bad.append("the real scanner is called a decoy")
    if src != real and not (decoy and e["score"] <= 0.5):
        bad.append("decoy %s reported with score %s, evidence %s" % (src, e["score"], e["evidence"]))
    if e["action"] == "block" and src != real:
        bad.append("decoy %s blocked" % src)
print("decoy check: sources reported %s" % sorted(seen), file=sys.stderr)
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
fi
# -sT: the scanner's Linux kernel built the SYNs: tool unknown, scanner_os linux
if [ -f "$WORK/connect-os.json" ]; then
  python3 - "$WORK/connect-os.json" "$SCAN4" <<'PY' || fail "connect scan: scanner_os is not linux"
import json, sys
path, src = sys.argv[1:]
ev = [json.loads(l) for l in open(path) if '"event":"scan"' in l]
ev = [e for e in ev if e["src"] == src]
print("connect-os: scanner_os %s" % [e.get("scanner_os") for e in ev], file=sys.stderr)
sys.exit(0 if ev and ev[-1].get("scanner_os") == "linux" and ev[-1]["tool"] == "unknown" else 1)
PY
fi
echo "PASS scan_types ($CASES_RUN cases${CASES_FAILED:+; explore mode, wrong: $CASES_FAILED})"
