#!/usr/bin/env python3
"""Probes to verdict, in probes: for each capture and scanner address, the
fewest of the scanner's own packets after which the capture, cut there (every
packet up to and including that one, whoever sent it), is named by
`scanwatch replay` (a scan event for that address). Bisects on the cut, so a
capture costs about log2(its scanner packets) replays.

  probes_to_name.py SCANWATCH CAPTURE=ADDR [CAPTURE=ADDR ...]
  probes_to_name.py SCANWATCH --shared PCAP_DIR [--lab DIR]

--shared takes the scanners of ../shared/pcaps/INDEX.md's ground truth; --lab
every DIR/*.pcap named NAME@ADDR.pcap. Prints one row per capture, then the
median and 90th percentile. Classic pcap (also gzip), link types Ethernet
(VLAN too), raw IP, Linux cooked v1 and loopback. Note: replay times out
unanswered probes when the capture ends, as live after --probe-timeout.
"""
import glob
import gzip
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

SHARED = {  # INDEX.md: the scanner each capture should name
    "ncsa/port_scan.pcap": "192.168.2.154",
    "ncsa/445_scan.pcap": "176.192.150.3",
    "ncsa/multiport_scan.pcap": "125.27.226.209",
    "ncsa/scan_with_zero_windows.pcap": "10.0.0.1",
    "zeek/rpc-portmap-sadmind.pcap": "202.77.162.213",
    "esnet/tcp_0_1000_20190821.pcap": "172.31.15.102",
    "esnet/udp_0_1000_20190821.pcap": "172.31.15.102",
    "esnet/nmap_80_w_service_detection.pcap": "10.87.1.10",
    "esnet/nmap_80_all.pcap": "10.87.1.10",
}


def read_pcap(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit(f"probes_to_name: {path}: not a classic pcap")
    link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    head, recs, off = data[:24], [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        end = off + 16 + incl
        if end > len(data):
            break
        recs.append((data[off:end], data[off + 16:end]))
        off = end
    return head, link, recs


def src_of(link, frame):
    """The IPv4/IPv6 source address of a frame, as text (None if not IP)."""
    if link == 1:
        off, et = 14, struct.unpack("!H", frame[12:14])[0]
        while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
            et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    elif link == 113:
        off, et = 16, struct.unpack("!H", frame[14:16])[0]
    elif link == 0:
        off, et = 4, None
    else:  # raw IP (101, 228, 229)
        off, et = 0, None
    ip = frame[off:]
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        return ".".join(map(str, ip[12:16]))
    if v == 6 and len(ip) >= 40:
        import ipaddress
        return str(ipaddress.IPv6Address(ip[8:24]))
    return None


def named(sw, head, recs, upto, addr, tmp):
    with open(tmp, "wb") as f:
        f.write(head)
        for whole, _ in recs[:upto]:
            f.write(whole)
    out = subprocess.run([sw, "replay", tmp, "--json", "-", "-q"], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"probes_to_name: replay failed: {out.stderr.strip()}")
    for line in out.stdout.splitlines():
        if '"event":"scan"' in line and json.loads(line)["src"] == addr:
            return True
    return False


def probes_to_name(sw, path, addr):
    head, link, recs = read_pcap(path)
    mine = [i for i, (_, fr) in enumerate(recs) if src_of(link, fr) == addr]
    if not mine:
        return None, 0
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "cut.pcap")
        if not named(sw, head, recs, len(recs), addr, tmp):
            return None, len(mine)
        lo, hi = 1, len(mine)  # named after hi of its packets; find the fewest
        while lo < hi:
            mid = (lo + hi) // 2
            if named(sw, head, recs, mine[mid - 1] + 1, addr, tmp):
                hi = mid
            else:
                lo = mid + 1
    return lo, len(mine)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sw, args, jobs = sys.argv[1], sys.argv[2:], []
    i = 0
    while i < len(args):
        if args[i] == "--shared":
            jobs += [(os.path.join(args[i + 1], k), v) for k, v in SHARED.items()]
            i += 2
        elif args[i] == "--lab":
            for p in sorted(glob.glob(os.path.join(args[i + 1], "*@*.pcap"))):
                jobs.append((p, os.path.basename(p)[:-5].split("@", 1)[1]))
            i += 2
        else:
            path, _, addr = args[i].rpartition("=")
            jobs.append((path, addr))
            i += 1
    print("| capture | scanner | its packets | probes to verdict |")
    print("|---|---|---:|---:|")
    found = []
    for path, addr in jobs:
        n, total = probes_to_name(sw, path, addr)
        print(f"| {os.path.relpath(path)} | {addr} | {total} | {n if n else 'never'} |", flush=True)
        if n:
            found.append(n)
    if found:
        found.sort()
        p90 = found[min(len(found) - 1, max(0, -(-9 * len(found) // 10) - 1))]
        print(f"\n{len(found)} of {len(jobs)} named; median {statistics.median(found):g}, 90th percentile {p90}")


if __name__ == "__main__":
    main()
