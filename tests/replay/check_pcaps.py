#!/usr/bin/env python3
"""Replays every capture of ../shared/pcaps (read in place, never copied) and
checks the verdict its INDEX.md ground truth gives.
Usage: check_pcaps.py SCANWATCH PCAP_DIR [REPLAY_ARGS...] (e.g. --threads 2)"""
import json
import subprocess
import sys

SW, PCAPS, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3:]
PORT_SCAN = {"syn", "connect", "fin", "null", "xmas", "maimon", "ack", "custom-flags", "udp"}


def replay(name):
    out = subprocess.run([SW, "replay", f"{PCAPS}/{name}", "--json", "-", "-q", *EXTRA],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"{name}: exit {out.returncode}: {out.stderr.strip()}")
    events = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    scans = {}
    for e in events:
        if e.get("event") == "scan":  # the latest report per source wins
            scans[e["src"]] = e
    return scans


def kinds(e):
    return set(e["kinds"])


CASES = {
    "ncsa/port_scan.pcap": lambda s: (
        "192.168.2.154" in s and kinds(s["192.168.2.154"]) & PORT_SCAN and s["192.168.2.154"]["ports"] >= 9
        and len(s) == 1),
    # a sweep: named `sweep`, with the kind of its probes beside it
    "ncsa/445_scan.pcap": lambda s: (
        "176.192.150.3" in s and "sweep" in kinds(s["176.192.150.3"])
        and s["176.192.150.3"]["hosts"] >= 8 and len(s) == 1),
    "ncsa/multiport_scan.pcap": lambda s: (
        "125.27.226.209" in s and "sweep" in kinds(s["125.27.226.209"]) and len(s) == 1),
    "ncsa/scan_with_zero_windows.pcap": lambda s: (
        "10.0.0.1" in s and "sweep" in kinds(s["10.0.0.1"]) and len(s) == 1),
    "ncsa/backscatter.trace": lambda s: not s,
    "zeek/nmap-vsn.pcap": lambda s: all(kinds(e) <= {"discovery", "sweep"} for e in s.values()),
    "zeek/rpc-portmap-sadmind.pcap": lambda s: (
        "202.77.162.213" in s and "rpc" in kinds(s["202.77.162.213"]) and len(s) == 1),
    "zeek/echo-connections.pcap.gz": lambda s: not s,
    "esnet/tcp_0_1000_20190821.pcap": lambda s: (
        "172.31.15.102" in s and "syn" in kinds(s["172.31.15.102"]) and s["172.31.15.102"]["tool"] == "masscan"
        and len(s) == 1),
    "esnet/udp_0_1000_20190821.pcap": lambda s: (
        "172.31.15.102" in s and "udp" in kinds(s["172.31.15.102"]) and len(s) == 1),
    "esnet/nmap_80_vanilla.pcap": lambda s: all(not kinds(e) & PORT_SCAN for e in s.values()),
    "esnet/nmap_80_w_service_detection.pcap": lambda s: (
        len(s) == 1 and all("service-detect" in kinds(e) and not kinds(e) & PORT_SCAN for e in s.values())),
    "esnet/nmap_80_all.pcap": lambda s: (
        len(s) == 1 and all("service-detect" in kinds(e) and not kinds(e) & PORT_SCAN for e in s.values())),
}

failed = 0
for name, ok in CASES.items():
    try:
        s = replay(name)
        good = bool(ok(s))
    except Exception as exc:  # noqa: BLE001 - report and go on
        s, good = {"error": str(exc)}, False
    summary = {k: (v["kinds"], v["tool"], v["ports"], v["hosts"]) if isinstance(v, dict) else v
               for k, v in s.items()}
    print(f"{'ok  ' if good else 'FAIL'} {name}: {summary}")
    failed += not good
print(f"{len(CASES) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
