#include "replay/partition.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace scanwatch {

namespace {

struct End {
    std::array<uint8_t, 18> b{};  // 16 bytes of address, 2 of port
    bool operator<(const End& o) const { return b < o.b; }
};

uint32_t mix(uint32_t h, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) {  // FNV-1a
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t finish(End a, End b, uint8_t proto) {
    if (b < a)
        std::swap(a, b);
    uint32_t h = mix(2166136261u, a.b.data(), a.b.size());
    h = mix(h, b.b.data(), b.b.size());
    h = mix(h, &proto, 1);
    h ^= h >> 15;  // murmur3 finaliser: spread the low bits
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

bool is_ported(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

// One IP packet at p[0..n): fills the two ends; returns false when it is not IP.
// depth: an ICMP error's quoted packet is read once, not recursively.
bool ends(const uint8_t* p, size_t n, bool v6, End& s, End& d, uint8_t& proto, int depth) {
    const uint8_t* l4 = nullptr;
    size_t l4n = 0;
    bool first_frag = true;
    if (!v6) {
        if (n < 20)
            return false;
        size_t ihl = (p[0] & 0x0f) * 4u;
        s.b[10] = s.b[11] = d.b[10] = d.b[11] = 0xff;  // ::ffff:a.b.c.d, as the program keys them
        std::memcpy(&s.b[12], p + 12, 4);
        std::memcpy(&d.b[12], p + 16, 4);
        proto = p[9];
        first_frag = ((p[6] & 0x1f) << 8 | p[7]) == 0;
        if (ihl >= 20 && ihl <= n) {
            l4 = p + ihl;
            l4n = n - ihl;
        }
    } else {
        if (n < 40)
            return false;
        std::memcpy(&s.b[0], p + 8, 16);
        std::memcpy(&d.b[0], p + 24, 16);
        proto = p[6];
        size_t off = 40;
        for (int i = 0; i < 6 && off + 8 <= n; i++) {  // extension headers
            if (proto == 0 || proto == 43 || proto == 60) {
                uint8_t next = p[off];
                off += (p[off + 1] + 1u) * 8u;
                proto = next;
            } else if (proto == 44) {
                first_frag = ((p[off + 2] << 8 | p[off + 3]) & 0xfff8) == 0;
                proto = p[off];
                off += 8;
            } else {
                break;
            }
        }
        if (off <= n) {
            l4 = p + off;
            l4n = n - off;
        }
    }
    if (!l4 || !first_frag)
        return true;  // the address pair
    if (is_ported(proto) && l4n >= 4) {
        std::memcpy(&s.b[16], l4, 2);
        std::memcpy(&d.b[16], l4 + 2, 2);
        return true;
    }
    // ICMP (3 unreachable, 11 time exceeded, 12 parameter problem) and ICMPv6
    // (1-4) errors: the conversation of the packet they quote.
    bool err = (!v6 && proto == 1 && l4n >= 8 && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)) ||
               (v6 && proto == 58 && l4n >= 8 && l4[0] >= 1 && l4[0] <= 4);
    if (err && depth == 0) {
        const uint8_t* q = l4 + 8;
        size_t qn = l4n - 8;
        End qs, qd;
        uint8_t qp = 0;
        if (qn >= 1 && ((q[0] >> 4) == (v6 ? 6 : 4)) && ends(q, qn, v6, qs, qd, qp, 1)) {
            s = qs;
            d = qd;
            proto = qp;
        }
    }
    return true;
}

}  // namespace

uint32_t conversation_hash(std::span<const uint8_t> f) {
    size_t off = 12;
    if (f.size() < 14)
        return 0;
    uint16_t et = static_cast<uint16_t>(f[12] << 8 | f[13]);
    for (int i = 0; i < 2 && (et == 0x8100 || et == 0x88a8) && f.size() >= off + 6; i++) {
        off += 4;
        et = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
    }
    off += 2;
    End s, d;
    uint8_t proto = 0;
    if ((et != 0x0800 && et != 0x86dd) || off > f.size() ||
        !ends(f.data() + off, f.size() - off, et == 0x86dd, s, d, proto, 0))
        return 0;  // not IP: all in one conversation
    return finish(s, d, proto);
}

}  // namespace scanwatch
