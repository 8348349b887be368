"""The Internet checksum (RFC 1071) of the crafted captures' IP, TCP and UDP
headers: one copy for crafted.py and classes.py."""
import struct


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF
