#!/usr/bin/env python3
"""Crafted captures for replay: every link type we read (Ethernet, Linux
cooked SLL and SLL2, raw IP, BSD loopback), pcapng, gzip, a capture cut off
mid-packet, a file that is no capture, and a missing file.
Usage: crafted.py SCANWATCH"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

from inet_csum import csum  # tests/replay/inet_csum.py

SW = sys.argv[1]
SRC, DST = bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1])



def nmap_syn(dport, ip_id):
    tcp = struct.pack("!HHIIBBHHH", 40000, dport, 0x12345678, 0, 6 << 4, 0x02, 1024, 0, 0) + b"\x02\x04\x05\xb4"
    pseudo = SRC + DST + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0, 50, 6, 0, SRC, DST)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def link_header(dlt, l3):
    if dlt == 1:  # Ethernet
        return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    if dlt == 113:  # Linux cooked v1
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800)
    if dlt == 276:  # Linux cooked v2
        return struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\x02" * 8)
    if dlt == 0:  # BSD loopback, host-order family
        return struct.pack("=I", 2)
    return b""  # raw IP (101, 228)


def packets(n=30):
    return [nmap_syn(1 + i * 7, 1000 + i) for i in range(n)]


def write_pcap(path, dlt, pkts, cut=0):
    data = struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, dlt)
    for i, p in enumerate(pkts):
        frame = link_header(dlt, p) + p
        data += struct.pack("=IIII", 1700000000, i * 1000, len(frame), len(frame)) + frame
    with open(path, "wb") as f:
        f.write(data[:-cut] if cut else data)


def write_pcapng(path, pkts):
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("=II", t, len(body) + 12) + body + struct.pack("=I", len(body) + 12)
    data = block(0x0A0D0D0A, struct.pack("=IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += block(1, struct.pack("=HHI", 1, 0, 65535))
    for i, p in enumerate(pkts):
        frame = link_header(1, p) + p
        ts = (1700000000 * 1000000) + i * 1000
        data += block(6, struct.pack("=IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    with open(path, "wb") as f:
        f.write(data)


def run(path):
    return subprocess.run([SW, "replay", path, "--json", "-", "-q"], capture_output=True, text=True, timeout=60)


def scanners(out):
    return {json.loads(l)["src"] for l in out.stdout.splitlines() if '"event":"scan"' in l}


failed = 0
CHECKS = 13


def check(name, cond, detail=""):
    global failed
    print(f"{'ok  ' if cond else 'FAIL'} {name} {detail}")
    failed += not cond


with tempfile.TemporaryDirectory() as d:
    for dlt, name in [(1, "ethernet"), (113, "sll"), (276, "sll2"), (101, "raw"), (228, "ipv4"), (0, "null")]:
        p = os.path.join(d, f"{name}.pcap")
        write_pcap(p, dlt, packets())
        r = run(p)
        check(f"link type {name}", r.returncode == 0 and "198.18.0.2" in scanners(r), r.stderr.strip())
    p = os.path.join(d, "ng.pcapng")
    write_pcapng(p, packets())
    r = run(p)
    check("pcapng", r.returncode == 0 and "198.18.0.2" in scanners(r), r.stderr.strip())
    p = os.path.join(d, "c.pcap.gz")
    write_pcap(os.path.join(d, "c.pcap"), 1, packets())
    with open(os.path.join(d, "c.pcap"), "rb") as f, gzip.open(p, "wb") as g:
        g.write(f.read())
    r = run(p)
    check("gzip", r.returncode == 0 and "198.18.0.2" in scanners(r), r.stderr.strip())
    p = os.path.join(d, "cut.pcap")
    write_pcap(p, 1, packets(), cut=20)
    r = run(p)
    check("cut off mid-packet: exit 0 with a warning, packets before the damage read",
          r.returncode == 0 and "warning" in r.stderr and '"packets":29' in r.stdout, r.stderr.strip())
    p = os.path.join(d, "notes.txt")
    with open(p, "w") as f:
        f.write("this is not a capture\n" * 10)
    r = run(p)
    check("not a capture: exit 1, one line", r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
          and "not a pcap or pcapng" in r.stderr, r.stderr.strip())
    r = run(os.path.join(d, "missing.pcap"))
    check("missing file: exit 1, one line", r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
          and "cannot open" in r.stderr, r.stderr.strip())
    p = os.path.join(d, "empty.pcap")
    write_pcap(p, 1, [])
    r = run(p)
    check("empty capture: exit 0, nothing found", r.returncode == 0 and not scanners(r), r.stderr.strip())

print(f"{CHECKS - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
