// A small, fluent packet builder for tests: Ethernet (0-2 VLAN tags), IPv4
// (options, fragments) or IPv6 (extension headers), then TCP, UDP, ICMP,
// ICMPv6, SCTP or raw bytes. Checksums are computed unless overridden.
//
//   auto f = Packet::tcp4("198.18.0.2", "198.18.0.1", 40000, 80)
//                .syn().win(1024).mss(1460).seq(0x1234).build();
//
// Addresses are text ("198.18.0.2", "2001:2::1"); tcp()/udp()/... pick the
// family from the address. Every setter returns *this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace swtest {

using Bytes = std::vector<uint8_t>;

// TCP flag bits.
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                         kUrg = 0x20, kEce = 0x40, kCwr = 0x80;

class Packet {
public:
    enum class L4 : uint8_t { Tcp, Udp, Icmp, Sctp, Raw };

    // ---- constructors (family from the address text) -------------------
    static Packet tcp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport);
    static Packet udp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport);
    // ICMP for IPv4 sources, ICMPv6 for IPv6 ones.
    static Packet icmp(std::string_view src, std::string_view dst, uint8_t type, uint8_t code = 0);
    static Packet sctp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport);
    // An IP header carrying protocol proto and whatever payload() adds.
    static Packet ip(std::string_view src, std::string_view dst, uint8_t proto);

    // Family-checked spellings: throw std::invalid_argument on the wrong family.
    static Packet tcp4(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
    static Packet tcp6(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
    static Packet udp4(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
    static Packet udp6(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
    static Packet icmp4(std::string_view s, std::string_view d, uint8_t type, uint8_t code = 0);
    static Packet icmp6(std::string_view s, std::string_view d, uint8_t type, uint8_t code = 0);

    // ---- Ethernet ------------------------------------------------------
    Packet& vlan(uint16_t vid, uint16_t tpid = 0x8100);  // outermost first, at most 2
    Packet& ethertype(uint16_t type);                    // override the (inner) EtherType
    Packet& pad_to(size_t frame_len);  // zero padding after the IP packet (Ethernet minimum 60)

    // ---- IP (both families where it makes sense) ------------------------
    Packet& ttl(uint8_t v);            // IPv4 TTL / IPv6 hop limit
    Packet& tos(uint8_t v);            // IPv4 TOS / IPv6 traffic class
    Packet& id(uint16_t v);            // IPv4 identification (IPv6: fragment header id)
    Packet& df(bool on = true);
    // Fragment: offset in bytes (multiple of 8), more-fragments flag. IPv4 sets the
    // header fields; IPv6 adds a fragment header (after the other extension headers).
    Packet& frag(uint16_t offset_bytes, bool more);
    Packet& mf() { return frag(frag_off_, true); }
    // Only bytes [begin, begin+len) of the finished L4 segment go into the packet
    // (checksum computed over the whole segment first, as a fragmenter does).
    Packet& l4_slice(size_t begin, size_t len);
    Packet& ip_options(Bytes opts);    // IPv4 options (padded to 4 bytes with EOL)
    Packet& ihl(uint8_t v);            // override IPv4 IHL (words)
    Packet& ip_len(uint16_t v);        // override IPv4 total length / IPv6 payload length
    Packet& ip_version(uint8_t v);     // override the version nibble
    Packet& ip_proto(uint8_t v);       // override the IPv4 protocol / last IPv6 next header
    Packet& bad_ip_csum();
    // IPv6 extension headers, in the order called. len_bytes is the whole header
    // (multiple of 8, >= 8); padded with PadN.
    Packet& hop_by_hop(size_t len_bytes = 8);
    Packet& dest_opts(size_t len_bytes = 8);
    Packet& routing(size_t len_bytes = 8, uint8_t type = 4, uint8_t segments_left = 0);

    // ---- TCP -----------------------------------------------------------
    Packet& flags(uint8_t f);          // replace all flags
    Packet& syn() { return set_flag(kSyn); }
    Packet& fin() { return set_flag(kFin); }
    Packet& rst() { return set_flag(kRst); }
    Packet& psh() { return set_flag(kPsh); }
    Packet& urg() { return set_flag(kUrg); }
    Packet& ece() { return set_flag(kEce); }
    Packet& cwr() { return set_flag(kCwr); }
    Packet& ack() { return set_flag(kAck); }
    Packet& ack(uint32_t ackno);       // ACK flag and acknowledgment number
    Packet& ack_no(uint32_t ackno);    // acknowledgment number only
    Packet& reserved(uint8_t bits);    // the 4 reserved bits before the data offset low nibble
    Packet& seq(uint32_t v);
    Packet& win(uint16_t v);
    Packet& urg_ptr(uint16_t v);
    Packet& doff(uint8_t words);       // override the data offset
    // TCP options, appended in call order; padded with EOL to 4 bytes.
    Packet& mss(uint16_t v);
    Packet& sack_perm();
    Packet& ts(uint32_t val, uint32_t ecr = 0);
    Packet& wscale(uint8_t shift);
    Packet& nop();
    Packet& eol();
    Packet& tcp_options(const Bytes& raw);
    Packet& bad_l4_csum();

    // ---- ICMP / ICMPv6 -------------------------------------------------
    Packet& echo(uint16_t ident, uint16_t seqno);  // the 4 bytes after type/code/checksum
    Packet& rest_of_header(uint32_t v);            // same 4 bytes, raw
    // Unreachables: quote the original packet's IP header and first bytes (all by default).
    Packet& quote(const Packet& original, size_t max_bytes = 0);

    // ---- SCTP ------------------------------------------------------------
    Packet& vtag(uint32_t v);
    // An INIT chunk (nmap -sY shape: a_rwnd 32768, 10 out / 2048 in streams).
    Packet& sctp_init(uint32_t init_tag = 0x11223344, uint32_t tsn = 1);
    Packet& sctp_cookie_echo(const Bytes& cookie);
    Packet& sctp_chunk(uint8_t type, uint8_t chunk_flags, const Bytes& value);

    // ---- payload (any L4; for Raw it is the IP payload) ---------------
    Packet& payload(const Bytes& b);
    Packet& payload(std::string_view s);
    Packet& payload(size_t n, uint8_t fill);
    Packet& udp_len(uint16_t v);       // override the UDP length field

    // ---- output ------------------------------------------------------------
    Bytes build() const;               // the Ethernet frame
    Bytes l3() const;                  // the IP packet alone
    Bytes l4() const;                  // the finished L4 segment (before any slice)
    size_t l3_offset() const;          // bytes of Ethernet + VLAN before the IP header
    size_t l4_offset() const;          // offset of the L4 header in build()
    size_t l4_header_len() const;      // TCP 20+options, UDP 8, ICMP 8, SCTP 12 (+16 with a chunk)
    bool v6() const { return v6_; }

    const uint8_t* src_addr() const { return src_; }
    const uint8_t* dst_addr() const { return dst_; }
    uint16_t sport() const { return sport_; }
    uint16_t dport() const { return dport_; }
    uint32_t seq_value() const { return seq_; }

private:
    Packet(std::string_view src, std::string_view dst, L4 l4, uint8_t proto);
    Packet& set_flag(uint8_t f);
    Bytes tcp_opts_padded() const;
    Bytes ip6_ext_chain(uint8_t& first_nh, uint8_t last_nh) const;

    struct Ext { uint8_t type; size_t len; uint8_t rtype; uint8_t segleft; };

    bool v6_ = false;
    uint8_t src_[16]{}, dst_[16]{};
    L4 l4_;
    uint8_t proto_;
    // L2
    std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, vid)
    std::optional<uint16_t> ethertype_;
    size_t pad_to_ = 0;
    // IP
    uint8_t ttl_ = 64, tos_ = 0;
    uint16_t id_ = 0x4d2;
    bool df_ = false, frag_ = false, more_ = false;
    uint16_t frag_off_ = 0;
    std::optional<std::pair<size_t, size_t>> slice_;
    Bytes ip_opts_;
    std::optional<uint8_t> ihl_, version_, proto_override_;
    std::optional<uint16_t> ip_len_;
    bool bad_ip_csum_ = false;
    std::vector<Ext> ext_;
    // L4
    uint16_t sport_ = 0, dport_ = 0;
    uint8_t flags_ = 0, reserved_ = 0;
    uint32_t seq_ = 0, ack_ = 0;
    uint16_t win_ = 65535, urg_ = 0;
    std::optional<uint8_t> doff_;
    Bytes opts_;
    bool bad_l4_csum_ = false;
    uint8_t icmp_type_ = 0, icmp_code_ = 0;
    uint32_t icmp_rest_ = 0;
    uint32_t vtag_ = 0;
    Bytes chunks_;
    Bytes payload_;
    std::optional<uint16_t> udp_len_;
};

// Byte helpers.
Bytes be16(uint16_t v);
Bytes be32(uint32_t v);
Bytes hex(std::string_view text);  // "80000028 72FE1D13 ..." (spaces ignored)
Bytes cat(std::initializer_list<Bytes> parts);

// ---- nmap-shaped probes (NMAP-WIRE.md) ----------------------------------
namespace nmap {

// The 44-byte RPCCheck service probe (TCP, with the record mark) and its UDP form.
Bytes rpc_check_tcp();
Bytes rpc_check_udp();
// An ONC RPC CALL to prog/vers, NULL procedure, AUTH_NULL.
Bytes rpc_call(uint32_t xid, uint32_t prog, uint32_t vers, bool record_mark);

// Raw SYN (-sS): window 1024, MSS 1460 only, random-looking TTL, DF clear.
Packet syn(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
           uint32_t seq = 0x6b8b4567);
Packet ack_probe(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp,
                 uint32_t ackno = 0x6b8b4567);                              // -sA: seq 0
Packet fin(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq = 0x6b8b4567);
Packet null(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq = 0x6b8b4567);
Packet xmas(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq = 0x6b8b4567);
Packet maimon(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp,
              uint32_t ackno = 0x6b8b4567);                                  // FIN+ACK seq 0
// The scanner kernel's answer to a SYN/ACK: bare RST, seq = isn+1, win 0, DF, TTL 64.
Packet kernel_rst(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq);
// A Linux connect() SYN: win 64240, MSS/SACK/TS/NOP/wscale 7, DF, TTL 64.
Packet os_syn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq = 1000);
// masscan: SYN, window 1024, no options, TTL 255.
Packet masscan_syn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, uint32_t seq = 7);
// -O probes.
Packet os_seq(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp, int n);  // SEQ n=0..5
Packet os_ecn(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
Packet os_ie1(std::string_view s, std::string_view d);  // echo code 9, 120 zero bytes
Packet os_u1(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);  // ID 0x1042, 300 'C'
// Discovery.
Packet echo_empty(std::string_view s, std::string_view d);
Packet timestamp_zero(std::string_view s, std::string_view d);
// -sO bare header, -sY INIT, -sZ COOKIE-ECHO.
Packet bare_ip(std::string_view s, std::string_view d, uint8_t proto);
Packet sctp_init(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);
Packet sctp_cookie_echo(std::string_view s, std::string_view d, uint16_t sp, uint16_t dp);

}  // namespace nmap

}  // namespace swtest
