#include "packet.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace swtest {

namespace {

constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58,
                  kProtoSctp = 132, kNhHop = 0, kNhRouting = 43, kNhFrag = 44, kNhDst = 60;

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
void set16(Bytes& b, size_t off, uint16_t v) {
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}
void append(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += static_cast<uint32_t>(p[n - 1] << 8);
    return acc;
}
uint16_t fold(uint32_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
}

uint32_t crc32c(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// Returns true for IPv6; fills 16 bytes (IPv4 as ::ffff:a.b.c.d).
bool parse_addr(std::string_view text, uint8_t* out) {
    std::string s(text);
    in_addr a4{};
    if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
        std::memset(out, 0, 16);
        out[10] = out[11] = 0xff;
        std::memcpy(out + 12, &a4, 4);
        return false;
    }
    if (inet_pton(AF_INET6, s.c_str(), out) == 1)
        return true;
    throw std::invalid_argument("not an address: " + s);
}

}  // namespace

Bytes be16(uint16_t v) {
    Bytes b;
    put16(b, v);
    return b;
}
Bytes be32(uint32_t v) {
    Bytes b;
    put32(b, v);
    return b;
}
Bytes hex(std::string_view text) {
    Bytes b;
    int hi = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            b.push_back(static_cast<uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0)
        throw std::invalid_argument("odd number of hex digits");
    return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (const auto& p : parts)
        append(b, p);
    return b;
}

// ---- constructors ---------------------------------------------------------

Packet::Packet(std::string_view src, std::string_view dst, L4 l4, uint8_t proto) : l4_(l4), proto_(proto) {
    bool s6 = parse_addr(src, src_);
    bool d6 = parse_addr(dst, dst_);
    if (s6 != d6)
        throw std::invalid_argument("mixed address families");
    v6_ = s6;
    if (v6_ && proto_ == kProtoIcmp)
        proto_ = kProtoIcmp6;
}

Packet Packet::tcp(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p(s, d, L4::Tcp, kProtoTcp);
    p.sport_ = sp;
    p.dport_ = dp;
    return p;
}
Packet Packet::udp(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p(s, d, L4::Udp, kProtoUdp);
    p.sport_ = sp;
    p.dport_ = dp;
    return p;
}
Packet Packet::icmp(std::string_view s, std::string_view d, uint8_t type, uint8_t code) {
    Packet p(s, d, L4::Icmp, kProtoIcmp);
    p.icmp_type_ = type;
    p.icmp_code_ = code;
    return p;
}
Packet Packet::sctp(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p(s, d, L4::Sctp, kProtoSctp);
    p.sport_ = sp;
    p.dport_ = dp;
    return p;
}
Packet Packet::ip(std::string_view s, std::string_view d, uint8_t proto) {
    return Packet(s, d, L4::Raw, proto);
}

static Packet want(Packet p, bool v6) {
    if (p.v6() != v6)
        throw std::invalid_argument(v6 ? "IPv6 addresses expected" : "IPv4 addresses expected");
    return p;
}
Packet Packet::tcp4(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) { return want(tcp(s, d, sp, dp), false); }
Packet Packet::tcp6(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) { return want(tcp(s, d, sp, dp), true); }
Packet Packet::udp4(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) { return want(udp(s, d, sp, dp), false); }
Packet Packet::udp6(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) { return want(udp(s, d, sp, dp), true); }
Packet Packet::icmp4(std::string_view s, std::string_view d, uint8_t t, uint8_t c) { return want(icmp(s, d, t, c), false); }
Packet Packet::icmp6(std::string_view s, std::string_view d, uint8_t t, uint8_t c) { return want(icmp(s, d, t, c), true); }

// ---- setters ----------------------------------------------------------------

Packet& Packet::vlan(uint16_t vid, uint16_t tpid) {
    if (vlans_.size() >= 2)
        throw std::invalid_argument("at most two VLAN tags");
    vlans_.emplace_back(tpid, vid);
    return *this;
}
Packet& Packet::ethertype(uint16_t t) { ethertype_ = t; return *this; }
Packet& Packet::pad_to(size_t n) { pad_to_ = n; return *this; }
Packet& Packet::ttl(uint8_t v) { ttl_ = v; return *this; }
Packet& Packet::tos(uint8_t v) { tos_ = v; return *this; }
Packet& Packet::id(uint16_t v) { id_ = v; return *this; }
Packet& Packet::df(bool on) { df_ = on; return *this; }
Packet& Packet::frag(uint16_t off, bool more) {
    if (off % 8)
        throw std::invalid_argument("fragment offset must be a multiple of 8");
    frag_ = true;
    frag_off_ = off;
    more_ = more;
    return *this;
}
Packet& Packet::l4_slice(size_t begin, size_t len) { slice_ = {begin, len}; return *this; }
Packet& Packet::ip_options(Bytes o) {
    while (o.size() % 4)
        o.push_back(0);
    if (o.size() > 40)
        throw std::invalid_argument("IPv4 options longer than 40 bytes");
    ip_opts_ = std::move(o);
    return *this;
}
Packet& Packet::ihl(uint8_t v) { ihl_ = v; return *this; }
Packet& Packet::ip_len(uint16_t v) { ip_len_ = v; return *this; }
Packet& Packet::ip_version(uint8_t v) { version_ = v; return *this; }
Packet& Packet::ip_proto(uint8_t v) { proto_override_ = v; return *this; }
Packet& Packet::bad_ip_csum() { bad_ip_csum_ = true; return *this; }
Packet& Packet::hop_by_hop(size_t len) { ext_.push_back({kNhHop, len, 0, 0}); return *this; }
Packet& Packet::dest_opts(size_t len) { ext_.push_back({kNhDst, len, 0, 0}); return *this; }
Packet& Packet::routing(size_t len, uint8_t type, uint8_t sl) { ext_.push_back({kNhRouting, len, type, sl}); return *this; }

Packet& Packet::set_flag(uint8_t f) { flags_ |= f; return *this; }
Packet& Packet::flags(uint8_t f) { flags_ = f; return *this; }
Packet& Packet::ack(uint32_t a) { flags_ |= kAck; ack_ = a; return *this; }
Packet& Packet::ack_no(uint32_t a) { ack_ = a; return *this; }
Packet& Packet::reserved(uint8_t bits) { reserved_ = bits & 0x0f; return *this; }
Packet& Packet::seq(uint32_t v) { seq_ = v; return *this; }
Packet& Packet::win(uint16_t v) { win_ = v; return *this; }
Packet& Packet::urg_ptr(uint16_t v) { urg_ = v; return *this; }
Packet& Packet::doff(uint8_t w) { doff_ = w; return *this; }
Packet& Packet::mss(uint16_t v) { append(opts_, {2, 4, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}); return *this; }
Packet& Packet::sack_perm() { append(opts_, {4, 2}); return *this; }
Packet& Packet::ts(uint32_t val, uint32_t ecr) { append(opts_, cat({{8, 10}, be32(val), be32(ecr)})); return *this; }
Packet& Packet::wscale(uint8_t s) { append(opts_, {3, 3, s}); return *this; }
Packet& Packet::nop() { opts_.push_back(1); return *this; }
Packet& Packet::eol() { opts_.push_back(0); return *this; }
Packet& Packet::tcp_options(const Bytes& raw) { append(opts_, raw); return *this; }
Packet& Packet::bad_l4_csum() { bad_l4_csum_ = true; return *this; }

Packet& Packet::echo(uint16_t ident, uint16_t seqno) { icmp_rest_ = uint32_t(ident) << 16 | seqno; return *this; }
Packet& Packet::rest_of_header(uint32_t v) { icmp_rest_ = v; return *this; }
Packet& Packet::quote(const Packet& orig, size_t max_bytes) {
    Bytes q = orig.l3();
    if (max_bytes && q.size() > max_bytes)
        q.resize(max_bytes);
    payload_ = std::move(q);
    return *this;
}

Packet& Packet::vtag(uint32_t v) { vtag_ = v; return *this; }
Packet& Packet::sctp_chunk(uint8_t type, uint8_t fl, const Bytes& value) {
    size_t len = 4 + value.size();
    chunks_.push_back(type);
    chunks_.push_back(fl);
    put16(chunks_, static_cast<uint16_t>(len));
    append(chunks_, value);
    while (chunks_.size() % 4)
        chunks_.push_back(0);
    return *this;
}
Packet& Packet::sctp_init(uint32_t init_tag, uint32_t tsn) {
    // initiate tag, a_rwnd 32768, 10 outbound / 2048 inbound streams, initial TSN
    return sctp_chunk(1, 0, cat({be32(init_tag), be32(32768), be16(10), be16(2048), be32(tsn)}));
}
Packet& Packet::sctp_cookie_echo(const Bytes& cookie) { return sctp_chunk(10, 0, cookie); }

Packet& Packet::payload(const Bytes& b) { payload_ = b; return *this; }
Packet& Packet::payload(std::string_view s) { payload_.assign(s.begin(), s.end()); return *this; }
Packet& Packet::payload(size_t n, uint8_t fill) { payload_.assign(n, fill); return *this; }
Packet& Packet::udp_len(uint16_t v) { udp_len_ = v; return *this; }

// ---- output ------------------------------------------------------------------

Bytes Packet::tcp_opts_padded() const {
    Bytes o = opts_;
    while (o.size() % 4)
        o.push_back(0);
    return o;
}

size_t Packet::l4_header_len() const {
    switch (l4_) {
    case L4::Tcp: return 20 + tcp_opts_padded().size();
    case L4::Udp: return 8;
    case L4::Icmp: return 8;
    case L4::Sctp: return chunks_.empty() ? 12 : 16;
    case L4::Raw: return 0;
    }
    return 0;
}

Bytes Packet::l4() const {
    Bytes b;
    uint8_t proto = proto_override_.value_or(proto_);
    size_t csum_off = SIZE_MAX;
    switch (l4_) {
    case L4::Tcp: {
        Bytes o = tcp_opts_padded();
        put16(b, sport_);
        put16(b, dport_);
        put32(b, seq_);
        put32(b, ack_);
        uint8_t words = doff_.value_or(static_cast<uint8_t>((20 + o.size()) / 4));
        b.push_back(static_cast<uint8_t>(words << 4 | reserved_));
        b.push_back(flags_);
        put16(b, win_);
        put16(b, 0);
        put16(b, urg_);
        append(b, o);
        append(b, payload_);
        csum_off = 16;
        break;
    }
    case L4::Udp:
        put16(b, sport_);
        put16(b, dport_);
        put16(b, udp_len_.value_or(static_cast<uint16_t>(8 + payload_.size())));
        put16(b, 0);
        append(b, payload_);
        csum_off = 6;
        break;
    case L4::Icmp:
        b.push_back(icmp_type_);
        b.push_back(icmp_code_);
        put16(b, 0);
        put32(b, icmp_rest_);
        append(b, payload_);
        csum_off = 2;
        break;
    case L4::Sctp:
        put16(b, sport_);
        put16(b, dport_);
        put32(b, vtag_);
        put32(b, 0);
        append(b, chunks_);
        append(b, payload_);
        break;
    case L4::Raw:
        return payload_;
    }

    if (l4_ == L4::Sctp) {
        uint32_t c = crc32c(b.data(), b.size());
        if (bad_l4_csum_)
            c ^= 0xffff;
        // CRC32c goes on the wire in little-endian byte order
        b[8] = static_cast<uint8_t>(c);
        b[9] = static_cast<uint8_t>(c >> 8);
        b[10] = static_cast<uint8_t>(c >> 16);
        b[11] = static_cast<uint8_t>(c >> 24);
        return b;
    }
    uint32_t acc = 0;
    bool pseudo = !(l4_ == L4::Icmp && !v6_);
    if (pseudo) {
        Bytes ph;
        if (v6_) {
            ph.insert(ph.end(), src_, src_ + 16);
            ph.insert(ph.end(), dst_, dst_ + 16);
            put32(ph, static_cast<uint32_t>(b.size()));
            append(ph, {0, 0, 0, proto});
        } else {
            ph.insert(ph.end(), src_ + 12, src_ + 16);
            ph.insert(ph.end(), dst_ + 12, dst_ + 16);
            append(ph, {0, proto});
            put16(ph, static_cast<uint16_t>(b.size()));
        }
        acc = sum16(ph.data(), ph.size());
    }
    uint16_t c = fold(sum16(b.data(), b.size(), acc));
    if (l4_ == L4::Udp && c == 0)
        c = 0xffff;
    if (bad_l4_csum_)
        c ^= 0x5a5a;
    set16(b, csum_off, c);
    return b;
}

Bytes Packet::ip6_ext_chain(uint8_t& first_nh, uint8_t last_nh) const {
    std::vector<Ext> chain = ext_;
    if (frag_)
        chain.push_back({kNhFrag, 8, 0, 0});
    Bytes out;
    first_nh = chain.empty() ? last_nh : chain.front().type;
    for (size_t i = 0; i < chain.size(); i++) {
        const Ext& e = chain[i];
        uint8_t nh = i + 1 < chain.size() ? chain[i + 1].type : last_nh;
        if (e.type == kNhFrag) {
            out.push_back(nh);
            out.push_back(0);
            put16(out, static_cast<uint16_t>(frag_off_ | (more_ ? 1 : 0)));
            put32(out, 0x10000000u | id_);
            continue;
        }
        if (e.len < 8 || e.len % 8)
            throw std::invalid_argument("IPv6 extension header length must be a multiple of 8");
        out.push_back(nh);
        out.push_back(static_cast<uint8_t>(e.len / 8 - 1));
        if (e.type == kNhRouting) {
            out.push_back(e.rtype);
            out.push_back(e.segleft);
            out.insert(out.end(), e.len - 4, 0);
        } else {
            out.push_back(1);  // PadN over the rest
            out.push_back(static_cast<uint8_t>(e.len - 4));
            out.insert(out.end(), e.len - 4, 0);
        }
    }
    return out;
}

Bytes Packet::l3() const {
    Bytes seg = l4();
    if (slice_) {
        size_t b = std::min(slice_->first, seg.size());
        size_t e = std::min(seg.size(), b + slice_->second);
        seg = Bytes(seg.begin() + static_cast<long>(b), seg.begin() + static_cast<long>(e));
    }
    uint8_t proto = proto_override_.value_or(proto_);
    Bytes ip;
    if (!v6_) {
        size_t hl = 20 + ip_opts_.size();
        ip.push_back(static_cast<uint8_t>(version_.value_or(4) << 4 | ihl_.value_or(static_cast<uint8_t>(hl / 4))));
        ip.push_back(tos_);
        put16(ip, ip_len_.value_or(static_cast<uint16_t>(hl + seg.size())));
        put16(ip, id_);
        uint16_t fo = static_cast<uint16_t>((df_ ? 0x4000 : 0) | (frag_ && more_ ? 0x2000 : 0) | (frag_off_ / 8));
        put16(ip, fo);
        ip.push_back(ttl_);
        ip.push_back(proto);
        put16(ip, 0);
        ip.insert(ip.end(), src_ + 12, src_ + 16);
        ip.insert(ip.end(), dst_ + 12, dst_ + 16);
        append(ip, ip_opts_);
        uint16_t c = fold(sum16(ip.data(), ip.size()));
        if (bad_ip_csum_)
            c ^= 0x1111;
        set16(ip, 10, c);
    } else {
        uint8_t first;
        Bytes ext = ip6_ext_chain(first, proto);
        uint32_t vtf = uint32_t(version_.value_or(6)) << 28 | uint32_t(tos_) << 20;
        put32(ip, vtf);
        put16(ip, ip_len_.value_or(static_cast<uint16_t>(ext.size() + seg.size())));
        ip.push_back(first);
        ip.push_back(ttl_);
        ip.insert(ip.end(), src_, src_ + 16);
        ip.insert(ip.end(), dst_, dst_ + 16);
        append(ip, ext);
    }
    append(ip, seg);
    return ip;
}

size_t Packet::l3_offset() const { return 14 + 4 * vlans_.size(); }

size_t Packet::l4_offset() const {
    if (!v6_)
        return l3_offset() + 20 + ip_opts_.size();
    uint8_t first;
    return l3_offset() + 40 + ip6_ext_chain(first, 0).size();
}

Bytes Packet::build() const {
    Bytes f = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
    uint16_t et = ethertype_.value_or(v6_ ? 0x86dd : 0x0800);
    for (auto [tpid, vid] : vlans_) {
        put16(f, tpid);
        put16(f, vid);
    }
    put16(f, et);
    append(f, l3());
    if (f.size() < pad_to_)
        f.resize(pad_to_, 0);
    return f;
}

// ---- nmap probes ---------------------------------------------------------------

namespace nmap {

Bytes rpc_call(uint32_t xid, uint32_t prog, uint32_t vers, bool record_mark) {
    Bytes body = cat({be32(xid), be32(0), be32(2), be32(prog), be32(vers), be32(0), Bytes(16, 0)});
    if (!record_mark)
        return body;
    return cat({be32(0x80000000u | static_cast<uint32_t>(body.size())), body});
}
Bytes rpc_check_tcp() {
    return hex("80000028 72FE1D13 00000000 00000002 000186A0 0001977C 00000000"
               "00000000 00000000 00000000 00000000");
}
Bytes rpc_check_udp() {
    Bytes b = rpc_check_tcp();
    return Bytes(b.begin() + 4, b.end());
}

Packet syn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.syn().win(1024).mss(1460).seq(seq).ttl(47).id(static_cast<uint16_t>(seq * 7 + dp));
    return p;
}
Packet ack_probe(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t a) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.ack(a).seq(0).win(1024).ttl(51).id(static_cast<uint16_t>(a + dp));
    return p;
}
Packet fin(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.fin().seq(seq).win(1024).ttl(39);
    return p;
}
Packet null(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.flags(0).seq(seq).win(1024).ttl(42);
    return p;
}
Packet xmas(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.fin().psh().urg().urg_ptr(0).seq(seq).win(1024).ttl(55);
    return p;
}
Packet maimon(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t a) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.fin().ack(a).seq(0).win(1024).ttl(44);
    return p;
}
Packet kernel_rst(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.rst().seq(seq).win(0).df().id(0).ttl(64);
    return p;
}
Packet os_syn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.syn().seq(seq).win(64240).mss(1460).sack_perm().ts(0x12345678, 0).nop().wscale(7).df().ttl(64);
    return p;
}
Packet masscan_syn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.syn().seq(seq).win(1024).ttl(255);
    return p;
}
Packet os_seq(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, int n) {
    static const uint16_t wins[6] = {1, 63, 4, 4, 16, 512};
    Packet p = Packet::tcp(s, d, static_cast<uint16_t>(sp + n), dp);
    p.syn().seq(0x1000u + static_cast<uint32_t>(n)).win(wins[n % 6]);
    p.wscale(10).nop().mss(1460).ts(0xffffffffu, 0).sack_perm();
    return p;
}
Packet os_ecn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p = Packet::tcp(s, d, sp, dp);
    p.syn().ece().cwr().reserved(0x8).win(3).urg_ptr(0xF7F5).seq(0x2000);
    p.wscale(10).nop().mss(1460).sack_perm().nop().nop();
    return p;
}
Packet os_ie1(std::string_view s, std::string_view d) {
    Packet p = Packet::icmp(s, d, 8, 9);
    if (p.v6())
        p = Packet::icmp(s, d, 128, 9);
    p.echo(0xabcd, 295).payload(120, 0).df();
    return p;
}
Packet os_u1(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p = Packet::udp(s, d, sp, dp);
    p.id(0x1042).payload(300, 'C');
    return p;
}
Packet echo_empty(std::string_view s, std::string_view d) {
    Packet p = Packet::icmp(s, d, 8, 0);
    if (p.v6())
        p = Packet::icmp(s, d, 128, 0);
    p.echo(0x1234, 0);
    return p;
}
Packet timestamp_zero(std::string_view s, std::string_view d) {
    Packet p = Packet::icmp(s, d, 13, 0);
    p.echo(0x4321, 0).payload(Bytes(12, 0));
    return p;
}
Packet bare_ip(std::string_view s, std::string_view d, uint8_t proto) { return Packet::ip(s, d, proto); }
Packet sctp_init(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p = Packet::sctp(s, d, sp, dp);
    p.vtag(0).sctp_init();
    return p;
}
Packet sctp_cookie_echo(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp) {
    Packet p = Packet::sctp(s, d, sp, dp);
    p.vtag(0x01020304).sctp_cookie_echo({0xde, 0xad, 0xbe, 0xef});
    return p;
}

}  // namespace nmap

}  // namespace swtest
