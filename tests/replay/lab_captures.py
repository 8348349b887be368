#!/usr/bin/env python3
"""Replays the lab recordings of tests/replay/captures (made by
record_lab.sh with real nmap, hping3, masscan and zmap) and checks each verdict: the kinds
of the scanner's last scan event, its tool and, for -sT, scanner_os.
Usage: lab_captures.py SCANWATCH"""
import json
import os
import subprocess
import sys

SW = sys.argv[1]
DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures")
WANT = {  # name: (kinds, tool, scanner_os or None)
    "os-few": (["os-detect"], "nmap", None),
    "frag": (["syn"], "nmap", None),
    "mtu16": (["syn"], "nmap", None),
    "flags-all": (["custom-flags"], "nmap", None),
    "ack-slow": (["ack"], "nmap", None),
    "syn-sweep": (["syn", "sweep"], "nmap", None),
    "hping3": (["syn"], "hping3", None),
    "connect": (["connect"], "unknown", "linux"),
    "masscan": (["syn"], "masscan", None),
    "zmap": (["syn", "sweep"], "zmap", None),
    "syn": (["syn"], "nmap", None),
    "fin": (["fin"], "nmap", None),
    "null": (["null"], "nmap", None),
    "xmas": (["xmas"], "nmap", None),
    "maimon": (["maimon"], "nmap", None),
    "ack": (["ack"], "nmap", None),
    "window": (["ack"], "nmap", None),
    "udp": (["udp"], "nmap", None),
    "ipproto": (["ip-protocol"], "nmap", None),
    "sctp": (["sctp"], "nmap", None),
    "version": (["syn", "service-detect", "rpc"], "nmap", None),
    "syn6": (["syn"], "nmap", None),
}
failed = 0
for name, (kinds, tool, os_family) in WANT.items():
    path = [f for f in os.listdir(DIR) if f.startswith(name + "@")]
    if not path:
        print(f"FAIL {name}: no capture")
        failed += 1
        continue
    src = path[0][len(name) + 1:-5]
    out = subprocess.run([SW, "replay", os.path.join(DIR, path[0]), "--json", "-", "-q"],
                         capture_output=True, text=True, timeout=120)
    ev = [json.loads(l) for l in out.stdout.splitlines() if '"event":"scan"' in l]
    mine = [e for e in ev if e["src"] == src]
    ok = out.returncode == 0 and bool(mine) and all(e["src"] == src for e in ev)
    if ok:
        last = mine[-1]
        ok = last["kinds"] == kinds and last["tool"] == tool and (os_family is None or last["scanner_os"] == os_family)
    got = [(e["kinds"], e["tool"], e.get("scanner_os"), e["probes"]) for e in mine] or out.stderr.strip()
    print(f"{'ok  ' if ok else 'FAIL'} {name}: want {kinds} {tool}; got {got}")
    failed += not ok
print(f"{len(WANT) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
