#!/usr/bin/env python3
"""Writes the seed corpus of each fuzzer under corpus/<name>/ (deterministic).

Run it again after changing it; fuzzing finds the rest. Regression inputs
for bugs the fuzzers found are committed next to these by hand (named
crash-*/bug-*), and this script never touches them.
"""
import gzip
import io
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(fuzzer, name, data):
    d = os.path.join(HERE, "corpus", fuzzer)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- addresses / CIDRs -------------------------------------------------------
for i, t in enumerate(["198.18.0.2", "198.18.0.0/15", "2001:2::/48", "2001:2::1", "::ffff:198.18.0.2/24",
                       "0.0.0.0/0", "::/0", "1.2.3.4/32", "fe80::1%eth0", "2001:2::1/129"]):
    put("addr", f"seed-{i:02d}", t)

# --- durations ---------------------------------------------------------------
for i, t in enumerate(["90", "30s", "10m", "1h30m", "2d", "1.5h", "250ms", "0", "1h30", "99999999999d"]):
    put("duration", f"seed-{i:02d}", t)

# --- control requests --------------------------------------------------------
# FuzzedDataProvider reads its numbers from the tail: the last byte (odd)
# picks the real 64 KiB limit, the ones before it the chunk sizes (33 bytes).
reqs = [
    '{"cmd":"status"}\n',
    '{"cmd":"sources","limit":20}\n',
    '{"cmd":"blocks"}\n',
    '{"cmd":"block","target":"198.18.0.9/32","ttl_s":3600}\n',
    '{"cmd":"unblock","target":"2001:2::/48"}\n',
    '{"cmd":"block","target":"198.18.0.1","ttl_s":-1}\n',
    '{"cmd":"nope"}\n',
    '[1,2,3]\n',
    '{"cmd":"status"',
]
for i, t in enumerate(reqs):
    put("control", f"seed-{i:02d}", t.encode() + b"\x20\x20\x20\x01")

# --- captures ----------------------------------------------------------------
ETH = bytes(6) + bytes([2, 0, 0, 0, 0, 1])
IP4_SYN = bytes.fromhex(
    "45000028000100004006" "0000" "c6120002c6120001"  # 198.18.0.2 -> 198.18.0.1
    "d4310050000000000000000050020400" "00000000")
IP6_SYN = bytes.fromhex(
    "6000000000140640" "20010002000000000000000000000002" "20010002000000000000000000000001"
    "d4310050000000000000000050020400" "00000000")


def pcap(linktype, packets, magic=0xA1B23C4D):
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, p in enumerate(packets):
        out += struct.pack("<IIII", 1700000000 + i, 500, len(p), len(p)) + p
    return out


def pcapng(linktype, packets):
    def block(btype, body):
        body += bytes(-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for i, p in enumerate(packets):
        ts = (1700000000 + i) * 1000000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(p), len(p)) + p)
    return out


def gz(data):
    b = io.BytesIO()
    with gzip.GzipFile(fileobj=b, mode="wb", mtime=0) as f:
        f.write(data)
    return b.getvalue()


eth4 = ETH + b"\x08\x00" + IP4_SYN
eth6 = ETH + b"\x86\xdd" + IP6_SYN
sll = struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x0800) + IP4_SYN
sll2 = struct.pack(">HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, bytes(8)) + IP6_SYN
put("capture", "pcap-ethernet", pcap(1, [eth4, eth6]))
put("capture", "pcap-usec-ethernet", pcap(1, [eth4], magic=0xA1B2C3D4))
put("capture", "pcapng-ethernet", pcapng(1, [eth4, eth6]))
put("capture", "pcap-ethernet.gz", gz(pcap(1, [eth4])))
put("capture", "pcapng-raw.gz", gz(pcapng(101, [IP4_SYN, IP6_SYN])))
put("capture", "pcap-sll", pcap(113, [sll]))
put("capture", "pcap-sll2", pcap(276, [sll2]))
put("capture", "pcap-raw", pcap(101, [IP4_SYN, IP6_SYN]))
put("capture", "pcap-null", pcap(0, [struct.pack("<I", 2) + IP4_SYN]))
put("capture", "pcap-loop", pcap(108, [struct.pack(">I", 24) + IP6_SYN]))
put("capture", "pcap-ipv4", pcap(228, [IP4_SYN]))
put("capture", "pcap-cut-off", pcap(1, [eth4])[:-10])
