#!/usr/bin/env python3
"""Ordinary traffic for benign.sh, one subcommand per kind of peer. Standard
library only; raw sockets for the backscatter."""
import argparse
import random
import socket
import struct
import threading
import time

# What a real client sends (curl); a bare "GET / HTTP/1.0" is nmap -sV's probe.
HTTP_GET = (b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: curl/7.88.1\r\n"
            b"Accept: */*\r\nConnection: close\r\n\r\n")


def dns_server(a):
    """A resolver: answers every query (A 198.18.0.99), plus a late duplicate
    of every tenth answer (the client's port is closed by then)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, 53))
    late = []
    while True:
        data, peer = s.recvfrom(512)
        if len(data) < 12:
            continue
        qid = data[:2]
        q = data[12:]
        ans = (qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q +
               b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([198, 18, 0, 99]))
        s.sendto(ans, peer)
        late.append((ans, peer))
        if len(late) >= 10:
            ans, peer = late[0]
            late.clear()
            threading.Timer(0.5, s.sendto, (ans, peer)).start()


def dns_client(a):
    """A busy host resolving names: each query from a fresh ephemeral port."""
    for i in range(a.count):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(1)
        name = b"".join(bytes([len(p)]) + p for p in [b"host%d" % i, b"example", b"test"]) + b"\x00"
        c.sendto(struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01",
                 (a.server, 53))
        try:
            c.recv(512)
        except OSError:
            pass
        c.close()


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def backscatter(a):
    """SYN/ACKs from servers whose clients' addresses someone spoofed: ours."""
    for src in a.src:
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        r.bind((src, 0))
        for _ in range(a.count):
            sport = random.choice([80, 443, 22, 25, 8080])
            dport = random.randint(1024, 65535)
            hdr = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32),
                              random.getrandbits(32), 5 << 4, 0x12, 64240, 0, 0)
            pseudo = socket.inet_aton(src) + socket.inet_aton(a.dst) + struct.pack("!BBH", 0, 6, len(hdr))
            hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
            r.sendto(hdr, (a.dst, 0))
            time.sleep(0.001)


def connect(dst, port, src=None, send=b"", timeout=1.0):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        if src:
            c.bind((src, 0))
        c.connect((dst, port))
        if send:
            c.sendall(send)
        c.recv(4096)
        return True
    except OSError:
        return False
    finally:
        c.close()


def nat(a):
    """Many clients behind one address: web and the banner service, in parallel."""
    def worker(n):
        for i in range(n):
            if i % 3:
                connect(a.dst, 80, a.bind, HTTP_GET)
            else:
                connect(a.dst, 2222, a.bind)
    ts = [threading.Thread(target=worker, args=(a.count // 10,)) for _ in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def retry(a):
    """A client retrying one dead service."""
    for _ in range(a.count):
        connect(a.dst, a.port, a.bind)
        time.sleep(0.02)


def admin(a):
    """An administrator: ping, then a handful of services (one of them down), a few times each."""
    for _ in range(3):
        for port in a.ports:
            connect(a.dst, port, a.bind, HTTP_GET if port in (80, 443) else b"")
        time.sleep(0.1)


def listen(a):
    """Plain TCP services that greet and close (the admin's ssh, https, mysql)."""
    def serve(port):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
        s.listen(64)
        while True:
            c, _ = s.accept()
            try:
                c.sendall(b"hello\r\n")
            except OSError:
                pass
            c.close()
    for p in a.ports:
        threading.Thread(target=serve, args=(p,), daemon=True).start()
    threading.Event().wait()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dns-server"); p.add_argument("--bind", default="0.0.0.0")
    p = sub.add_parser("dns-client"); p.add_argument("server"); p.add_argument("--count", type=int, default=300)
    p = sub.add_parser("backscatter"); p.add_argument("dst"); p.add_argument("--src", nargs="+", required=True)
    p.add_argument("--count", type=int, default=200)
    p = sub.add_parser("nat"); p.add_argument("dst"); p.add_argument("--bind"); p.add_argument("--count", type=int, default=300)
    p = sub.add_parser("retry"); p.add_argument("dst"); p.add_argument("--bind"); p.add_argument("--port", type=int, default=8080)
    p.add_argument("--count", type=int, default=60)
    p = sub.add_parser("admin"); p.add_argument("dst"); p.add_argument("--bind")
    p.add_argument("--ports", type=int, nargs="+", default=[22, 80, 443, 2222, 3306])
    p = sub.add_parser("listen"); p.add_argument("--ports", type=int, nargs="+", required=True)
    a = ap.parse_args()
    {"dns-server": dns_server, "dns-client": dns_client, "backscatter": backscatter, "nat": nat,
     "retry": retry, "admin": admin, "listen": listen}[a.cmd](a)


if __name__ == "__main__":
    main()
