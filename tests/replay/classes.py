#!/usr/bin/env python3
"""Every probe class named on its own, in replay: crafted captures (one-way
unless the case needs our answers) of nmap -O against three ports, a one-way
ACK scan at one probe per second, nmap -sS -f with our answers, flag sets no
connection uses, a masscan sweep of five ports, hping3's defaults, a Linux
connect scan, unicornscan's defaults and an OpenBSD connect scan with the same
SYN layout; each must get exactly its kinds, tool and scanner_os.
Usage: classes.py SCANWATCH"""
import json
import os
import struct
import subprocess
import sys
import tempfile

from inet_csum import csum  # tests/replay/inet_csum.py

SW = sys.argv[1]
SCAN, TGT = "198.18.0.2", "198.18.0.1"
FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32
OS_OPTS = bytes.fromhex("03030a01020401090" "80affffffff000000000402")  # -O's T2-T7: WS MSS TS SACK
LINUX_OPTS = bytes.fromhex("020405b40402080a0001e2400000000001030307")  # MSS SACK TS NOP WS


def ip4(a):
    return bytes(int(x) for x in a.split("."))



def ipv4(src, dst, proto, l4, ip_id=0x1234, ttl=50, df=False, frag_off=0, mf=False, tos=0):
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), ip_id, flags, ttl, proto, 0, ip4(src), ip4(dst))
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + l4


def tcp(src, dst, sport, dport, flags, seq=0, ack=0, win=1024, opts=b"", urp=0, **ip):
    opts += b"\0" * (-len(opts) % 4)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (5 + len(opts) // 4) << 4, flags, win, 0, urp) + opts
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(h))
    h = h[:16] + struct.pack("!H", csum(pseudo + h)) + h[18:]
    return ipv4(src, dst, 6, h, **ip)


def udp(src, dst, sport, dport, payload=b"", **ip):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ipv4(src, dst, 17, h, **ip)


def icmp_echo(src, dst, code=0, seq=1, payload=b"", **ip):
    h = struct.pack("!BBHHH", 8, code, 0, 0x77, seq) + payload
    h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
    return ipv4(src, dst, 1, h, **ip)


def fragments(pkt, first_len):
    """The IPv4 packet cut after first_len bytes of its L4 header (-f: 8)."""
    l4, hdr = pkt[20:], pkt[:20]
    ip_id = struct.unpack("!H", hdr[4:6])[0]
    src, dst = ".".join(map(str, hdr[12:16])), ".".join(map(str, hdr[16:20]))
    return [ipv4(src, dst, 6, l4[:first_len], ip_id=ip_id, mf=True),
            ipv4(src, dst, 6, l4[first_len:], ip_id=ip_id, frag_off=first_len)]


def write_pcap(path, pkts):
    """pkts: (seconds, raw IPv4 packet); link type raw IPv4 (228)."""
    data = struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228)
    for t, p in pkts:
        sec = 1700000000 + int(t)
        data += struct.pack("=IIII", sec, int((t % 1) * 1e6), len(p), len(p)) + p
    with open(path, "wb") as f:
        f.write(data)


def every(pkts, gap):
    return [(i * gap, p) for i, p in enumerate(pkts)]


# ---- the cases -------------------------------------------------------------

def os_detect():
    # nmap -Pn -O -p22,80,1: three raw SYNs, then the OS probes, one-way
    p = [tcp(SCAN, TGT, 40000, d, SYN, seq=0x5000, opts=bytes.fromhex("020405b4")) for d in (22, 80, 1)]
    wins = [1, 63, 4, 4, 16, 512]
    p += [tcp(SCAN, TGT, 41000 + i, 22, SYN, seq=0x1000 + i, win=w, opts=OS_OPTS) for i, w in enumerate(wins)]
    p.append(tcp(SCAN, TGT, 41010, 22, SYN | 0xC0, seq=7, win=3, urp=0xF7F5,
                 opts=bytes.fromhex("03030a01020405b404020101")))                  # ECN
    p.append(tcp(SCAN, TGT, 41011, 22, 0, seq=8, win=128, opts=OS_OPTS, df=True))  # T2
    p.append(tcp(SCAN, TGT, 41012, 22, SYN | FIN | PSH | URG, seq=9, win=256, opts=OS_OPTS))  # T3
    p.append(tcp(SCAN, TGT, 41013, 22, ACK, seq=10, ack=3, win=1024, opts=OS_OPTS, df=True))  # T4
    p.append(tcp(SCAN, TGT, 41014, 1, SYN, seq=11, win=31337, opts=OS_OPTS))       # T5
    p.append(tcp(SCAN, TGT, 41015, 1, ACK, seq=12, ack=3, win=32768, opts=OS_OPTS, df=True))  # T6
    p.append(tcp(SCAN, TGT, 41016, 1, FIN | PSH | URG, seq=13, win=65535, opts=OS_OPTS))       # T7
    p.append(udp(SCAN, TGT, 41017, 40125, b"C" * 300, ip_id=0x1042))               # U1
    p.append(icmp_echo(SCAN, TGT, code=9, seq=295, payload=bytes(120), df=True))   # IE1
    p.append(icmp_echo(SCAN, TGT, code=0, seq=296, payload=bytes(150), tos=4))     # IE2
    return every(p, 0.01)


def slow_ack():
    # nmap -sA --scan-delay 1s, one-way: one ACK (seq 0, one ack value) a second
    return every([tcp(SCAN, TGT, 50000, 1 + i, ACK, seq=0, ack=0x6b8b4567, win=1024) for i in range(30)], 1.0)


def frag_syn():
    # nmap -sS -f: 8-byte first fragments; ports 22 and 80 open
    out, t = [], 0.0
    for port in range(1, 31):
        seq = 0xABCD0000
        for f in fragments(tcp(SCAN, TGT, 40000, port, SYN, seq=seq, opts=bytes.fromhex("020405b4")), 8):
            out.append((t, f))
        t += 0.001
        if port in (22, 80):
            out.append((t, tcp(TGT, SCAN, port, 40000, SYN | ACK, seq=777, ack=seq + 1, win=64240, ttl=64)))
            out.append((t + 0.0001, tcp(SCAN, TGT, 40000, port, RST, seq=seq + 1, win=0, ttl=64, df=True)))
        else:
            out.append((t, tcp(TGT, SCAN, port, 40000, RST | ACK, seq=0, ack=seq + 1, win=0, ttl=64)))
        t += 0.001
    return out


def all_flags():
    # --scanflags ALL (0x3f), one-way
    return every([tcp(SCAN, TGT, 40001, 1 + i, 0x3F, seq=0x1111, win=1024) for i in range(20)], 0.01)


def masscan_sweep():
    # masscan -p21,22,23,80,8000 over 60 hosts: one source port, IP ID from the target
    out = []
    for h in range(60):
        dst = f"198.18.{1 + h // 200}.{10 + h % 200}"
        d = struct.unpack("!I", ip4(dst))[0]
        for port in (21, 22, 23, 80, 8000):
            seq = (d * 2654435761 + port) & 0xFFFFFFFF
            out.append(tcp(SCAN, dst, 61000, port, SYN, seq=seq, win=1024, ttl=255,
                           ip_id=(d ^ port ^ seq) & 0xFFFF))
    return every(out, 0.001)


def hping3():
    # hping3 -S -p ++1: window 64, no options, source port +1 a probe
    return every([tcp(SCAN, TGT, 2000 + i, 1 + i, SYN, seq=0x2222 + i * 77, win=64, ttl=64)
                  for i in range(20)], 0.01)


def linux_connect():
    # nmap -sT from Linux: the kernel's SYNs; closed ports answer RST/ACK
    out, t = [], 0.0
    for i in range(20):
        seq = 0x30000000 + i * 99991
        out.append((t, tcp(SCAN, TGT, 45000 + i, 1 + i, SYN, seq=seq, win=64240, opts=LINUX_OPTS, ttl=64, df=True)))
        out.append((t + 0.0002, tcp(TGT, SCAN, 1 + i, 45000 + i, RST | ACK, ack=seq + 1, win=0, ttl=64)))
        t += 0.01
    return out


# unicornscan -mT's SYN (its default -W 1, init_packet.c): MSS 1436, NOP, NOP,
# SACK, NOP, WS 0, NOP, NOP, TS (one TSval per scan, 0); OpenBSD 7's with WS 6
UNICORN_OPTS = bytes.fromhex("0204059c01010402010303000101080a2f6b1a0900000000")


def openbsd_opts(tsval):
    return bytes.fromhex("020405b401010402010303060101080a") + struct.pack("!II", tsval, 0)


def closed_port_answers(syns):
    # every SYN answered by the target's RST/ACK, as a closed port does
    out, t = [], 0.0
    for pkt in syns:
        sport, dport, seq = struct.unpack("!HHI", pkt[20:28])
        out.append((t, pkt))
        out.append((t + 0.0002, tcp(TGT, SCAN, dport, sport, RST | ACK, ack=(seq + 1) & 0xFFFFFFFF, win=0, ttl=64)))
        t += 0.01
    return out


def unicornscan():
    # seq = key ^ daddr (in memory, little-endian) ^ (dport << 16 | sport), random source ports
    key, d = 0x6A09E667, struct.unpack("<I", ip4(TGT))[0]
    syns = []
    for i in range(20):
        sport = 1024 + (i * 7919) % 60000
        dport = 1 + i
        syns.append(tcp(SCAN, TGT, sport, dport, SYN, seq=key ^ d ^ (dport << 16 | sport), win=16384,
                        opts=UNICORN_OPTS, ttl=64, df=True, ip_id=(i * 40503) & 0xFFFF))
    return closed_port_answers(syns)


def openbsd_connect():
    # connect() from OpenBSD: the same window, TTL, DF and option order, its own ISNs
    syns, isn = [], 0x1B7F02C4
    for i in range(20):
        isn = (isn * 1103515245 + 12345) & 0xFFFFFFFF
        syns.append(tcp(SCAN, TGT, 30000 + i * 13, 1 + i, SYN, seq=isn, win=16384, opts=openbsd_opts(isn >> 5),
                        ttl=64, df=True, ip_id=(i * 40503) & 0xFFFF))
    return closed_port_answers(syns)


CASES = [
    # name, packets, kinds, tool, scanner_os, extra check
    ("os-detect against 3 ports", os_detect, ["os-detect"], "nmap", None, None),
    ("one-way ACK scan at 1/s", slow_ack, ["ack"], "nmap", None, lambda first, last: first["probes"] <= 6),
    ("-sS -f", frag_syn, ["syn"], "nmap", None, lambda first, last: last["evidence"].get("frag_syn", 0) >= 1),
    ("flags 0x3f one-way", all_flags, ["custom-flags"], "nmap", None, None),
    ("masscan sweep of 5 ports", masscan_sweep, ["syn", "sweep"], "masscan", None, lambda f, l: l["hosts"] >= 20),
    ("hping3 defaults", hping3, ["syn"], "hping3", None, None),
    ("Linux connect scan", linux_connect, ["connect"], "unknown", "linux", None),
    ("unicornscan defaults", unicornscan, ["syn"], "unicornscan", "unknown",
     lambda f, l: l["evidence"].get("unicorn_seq", 0) == 19),
    ("OpenBSD connect scan", openbsd_connect, ["connect"], "unknown", "bsd-macos",
     lambda f, l: "unicorn_seq" not in l["evidence"]),
]

failed = 0
with tempfile.TemporaryDirectory() as d:
    for name, make, kinds, tool, os_family, extra in CASES:
        path = os.path.join(d, "c.pcap")
        write_pcap(path, make())
        out = subprocess.run([SW, "replay", path, "--json", "-", "-q"], capture_output=True, text=True, timeout=60)
        scans = [json.loads(l) for l in out.stdout.splitlines() if '"event":"scan"' in l]
        mine = [e for e in scans if e["src"] == SCAN]
        ok = out.returncode == 0 and mine and len({e["src"] for e in scans}) == 1
        if ok:
            first, last = mine[0], mine[-1]
            ok = last["kinds"] == kinds and last["tool"] == tool
            ok = ok and (os_family is None or last.get("scanner_os") == os_family)
            ok = ok and (extra is None or extra(first, last))
        got = [(e["kinds"], e["tool"], e.get("scanner_os"), e["probes"]) for e in mine] or out.stderr.strip()
        print(f"{'ok  ' if ok else 'FAIL'} {name}: want {kinds} {tool}, got {got}")
        failed += not ok
print(f"{len(CASES) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
