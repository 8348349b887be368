#!/usr/bin/env python3
"""Sends IPv4 packets from many spoofed sources with a raw socket (run it in
the scanner namespace). Sources count up from --base (keep it inside
198.18.0.0/15). Kinds:
  osudp  UDP, IP ID 0x1042, 300 bytes: nmap -O's U1 probe; every new source
         makes the XDP program emit an event at once (ring-buffer pressure)
  syn    one plain SYN per source to --port (map pressure)
Usage: spoof.py --dst 198.18.0.1 --base 198.19.0.0 --count 6000 --kind osudp"""
import argparse
import ipaddress
import socket
import struct

from benign_traffic import csum  # the Internet checksum (RFC 1071)


def ip_header(src, dst, proto, payload_len, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--base", default="198.19.0.0")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--kind", choices=["osudp", "syn"], default="osudp")
    ap.add_argument("--port", type=int, default=9)
    # A source's first packet only fills an admission slot (bpf/admit.bpf.h):
    # records, and so events and a full map, need at least two per source.
    ap.add_argument("--per-source", type=int, default=1)
    a = ap.parse_args()
    base = ipaddress.IPv4Address(a.base)
    net = ipaddress.ip_network("198.18.0.0/15")
    dst = socket.inet_aton(a.dst)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(a.count):
        src_ip = base + i
        assert src_ip in net, "sources must stay in 198.18.0.0/15"
        src = src_ip.packed
        if a.kind == "osudp":
            body = b"C" * 300
            udp = struct.pack("!HHHH", 40000 + i % 20000, 40125, 8 + len(body), 0) + body
            pkt = ip_header(src, dst, 17, len(udp), 0x1042) + udp
        else:
            tcp = struct.pack("!HHIIBBHHH", 40000 + i % 20000, a.port, i * 7919, 0, 5 << 4, 0x02, 64240, 0, 0)
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
            pkt = ip_header(src, dst, 6, len(tcp), i & 0xFFFF) + tcp
        for _ in range(a.per_source):
            s.sendto(pkt, (a.dst, 0))
    print(a.count)


if __name__ == "__main__":
    main()
