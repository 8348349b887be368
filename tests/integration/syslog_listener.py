#!/usr/bin/env python3
"""A stand-in for /dev/log: binds a unix datagram socket at PATH and appends
every message it receives, one per line, to OUT (flushed at once).
Usage: syslog_listener.py PATH OUT"""
import os
import socket
import sys

path, out = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", encoding="utf-8") as f:
    f.write("ready\n")
    f.flush()
    while True:
        msg = s.recv(65536).decode("utf-8", "replace").rstrip("\n\0")
        f.write(msg + "\n")
        f.flush()
