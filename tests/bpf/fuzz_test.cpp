// Packet fuzzing of the real XDP and TC egress programs (BPF_PROG_TEST_RUN).
//
// Every fixture shape of tests/bpf (the nmap:: probes, the answers of the flow
// tests, the malformed and truncated cases) is mutated: flipped bits,
// truncations, bogus IP total and header lengths, IPv4 options, IPv6
// extension chains deeper than the parser walks, 0-4 VLAN tags, fragments,
// random garbage, link-level sizes from 0 to 9018 bytes (jumbo). Unmutated
// scan exchanges (SYN in, our SYN/ACK or RST out, the scanner's RST in) are
// mixed in so the fast-block path is really taken.
//
// Checked on every packet: the kernel accepts the run (frames shorter than an
// Ethernet header are refused by BPF_PROG_TEST_RUN itself with EINVAL, before
// the program runs: that is asserted too), the action is PASS/DROP (XDP) or
// OK/SHOT (TC), and DROP/SHOT only for a frame carrying a blocked address.
// Checked at every checkpoint (then the maps are emptied):
//  - stats: packets == XDP runs, egress == TC runs, dropped == drops seen;
//    every XDP packet counted once by the parse (ipv4 + ipv6 + non_ip +
//    parse-truncated + parse-malformed), the L4 stage adding at most one
//    truncated/malformed per parsed packet or TC run; vlan, ipv6_ext,
//    fragments within their parents; probes == sum of the sources' probe
//    counters; flows_new + flow_full + cookies == sum of the SYN counters;
//    events == events drained, blocks_fast == fast-path blocks.
//  - per source: the counters add up the way the program sets them (one probe
//    class per probe, answers at most one per SYN, ...).
//  - maps within their caps; the block maps hold the manual block plus one
//    entry per fast-path block (SW_S_BLOCKS_FAST), and sw_config is still
//    what userspace wrote (the programs never write it).
//  - no block from non-scan traffic. "Non-scan", concretely: a source whose
//    address appears in fewer than fast_block_ports XDP frames that carry
//    nmap's raw-SYN signature (window 1024 followed, 6 bytes on, by the MSS
//    1460 option 02 04 05 b4) has not sent the nmap SYNs the fast path needs
//    and must never be blocked by it; an allow-listed scanner never is; every
//    fast-path block is justified by its record (nmap SYNs, distinct ports,
//    answered probes, verified).
//  A second, small-map instance (sources/flows 64, blocks 4) takes part of the
//  packets to check the caps and that full maps are counted, not fatal.
//
// SW_FUZZ_SEED=N picks the seed (default 1; "random" for a fresh one, printed
// either way), SW_FUZZ_COUNT=N the number of packets (default 1,000,000).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf/stats.hpp"
#include "bpf/block_map.hpp"
#include "bpf/map_walk.hpp"
#include "bpf/prog_runner.hpp"
#include "bpf/skeleton.hpp"
#include "packet.hpp"
#include "scanwatch/abi.h"

using namespace scanwatch;
using namespace swtest;

namespace {

constexpr uint64_t SEC = 1'000'000'000ull;
constexpr uint64_t T0 = 1'700'000'000ull * SEC;
constexpr size_t kJumbo = 9018;  // 9000-byte MTU + Ethernet + one VLAN tag
constexpr uint32_t kFastPorts = 4, kFastHalfOpen = 2;  // the agent's defaults

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            char m_[512];                                                      \
            std::snprintf(m_, sizeof m_, __VA_ARGS__);                         \
            throw Failure(std::string(#cond) + ": " + m_);                     \
        }                                                                      \
    } while (0)

std::string hexdump(const Bytes& b, size_t max = 256) {
    std::string s;
    char t[4];
    for (size_t i = 0; i < b.size() && i < max; i++) {
        std::snprintf(t, sizeof t, "%02x", b[i]);
        s += t;
    }
    if (b.size() > max)
        s += "...";
    return s;
}

// ---- one loaded instance of the programs ------------------------------------

struct Caps {
    uint32_t sources = SW_DEFAULT_MAX_SOURCES, flows = SW_DEFAULT_MAX_FLOWS, blocks = SW_DEFAULT_MAX_BLOCKS;
};

class Progs {
public:
    // The programs as `scanwatch replay` loads them (open_skeleton through
    // ProgRunner): the replay clock, which run() moves forward before every
    // packet, so the per-source event budget refills and blocks expire.
    explicit Progs(Caps caps) : caps_(caps), r_(options(caps)) {
        // The largest frame BPF_PROG_TEST_RUN takes for the TC program (one page
        // less head- and tailroom); the maps are emptied before the campaign.
        for (tc_max_ = 4096; tc_max_ > 1500; tc_max_ -= 16) {
            Bytes f(tc_max_, 0);
            int err = 0;
            run(false, f, T0, &err);
            if (!err)
                break;
        }
    }
    size_t tc_max() const { return tc_max_; }

    // Returns -errno of the test run, or the action.
    int run(bool xdp, const Bytes& f, uint64_t now, int* err) {
        try {
            *err = 0;
            return xdp ? r_.run_xdp(f, now) : r_.run_tc(f, now);
        } catch (const BpfError& e) {
            *err = e.err();
            return -1;
        }
    }

    sw_config config() const { return r_.config(); }
    void set_config(const sw_config& c) { r_.set_config(c); }
    const Caps& caps() const { return caps_; }

    uint64_t stat(unsigned i) const { return r_.stat(i); }  // summed over CPUs and interface slots

    template <class K, class V>
    std::vector<std::pair<K, V>> dump(bpf_map* m) const {
        return map_entries<K, V>(bpf_map__fd(m));
    }
    std::vector<std::pair<in6_addr, sw_source>> sources() {
        return dump<in6_addr, sw_source>(skel()->maps.sw_sources);
    }
    std::vector<std::pair<sw_flow_key, sw_flow>> flows() {
        return dump<sw_flow_key, sw_flow>(skel()->maps.sw_flows);
    }
    std::vector<std::pair<sw_lpm_key, sw_block>> blocks() {
        std::vector<std::pair<sw_lpm_key, sw_block>> out;
        for_each_kernel_block(block_fds(), [&](const sw_lpm_key& k, const sw_block& b) { out.emplace_back(k, b); });
        return out;
    }
    BlockMapFds block_fds() {
        return {bpf_map__fd(skel()->maps.sw_blocks), bpf_map__fd(skel()->maps.sw_block_addrs)};
    }
    // Fast-path blocks so far (the kernel's own count; test runs count in slot "other").
    uint64_t fast_blocks() {
        static std::vector<sw_stat_row> rows(static_cast<size_t>(libbpf_num_possible_cpus()));
        uint32_t slot = SW_IF_SLOT_OTHER;
        if (bpf_map_lookup_elem(bpf_map__fd(skel()->maps.sw_stats), &slot, rows.data()))
            throw std::runtime_error("reading sw_stats");
        uint64_t n = 0;
        for (auto& r : rows)
            n += r.s[SW_S_BLOCKS_FAST];
        return n;
    }
    std::vector<sw_event> drain() { return r_.drain_events(); }

    void lpm_add(bpf_map* m, const sw_lpm_key& k, const void* v) {
        if (bpf_map_update_elem(bpf_map__fd(m), &k, v, BPF_ANY))
            throw std::runtime_error("lpm update");
    }
    scanwatch_bpf* skel() { return r_.skel(); }

    // Empties every map and statistic.
    void reset() {
        for (bpf_map* m : {skel()->maps.sw_sources, skel()->maps.sw_flows, skel()->maps.sw_blocks,
                           skel()->maps.sw_block_addrs, skel()->maps.sw_allow, skel()->maps.sw_shield}) {
            if (!clear_map(bpf_map__fd(m), bpf_map__key_size(m)))
                throw std::runtime_error("emptying a map");
        }
        r_.clear_slots();
        std::vector<sw_stat_row> zeros(static_cast<size_t>(libbpf_num_possible_cpus()));
        for (uint32_t slot = 0; slot < SW_IF_SLOTS; slot++)
            bpf_map_update_elem(bpf_map__fd(skel()->maps.sw_stats), &slot, zeros.data(), BPF_ANY);
        drain();
    }

private:
    static SkelOptions options(const Caps& caps) {
        SkelOptions o;
        o.max_sources = caps.sources;
        o.max_flows = caps.flows;
        o.max_blocks = caps.blocks;
        // Lets BPF_PROG_TEST_RUN take frames beyond one page (jumbo, as a
        // multi-buffer driver hands them over); the program and its verification
        // are otherwise the same.
        o.xdp_frags = true;
        return o;
    }
    Caps caps_;
    ProgRunner r_;
    size_t tc_max_ = 0;
};

// ---- the corpus ----------------------------------------------------------------

struct Frame {
    Bytes b;
    size_t l3 = 14;  // offset of the IP header (when there is one)
    bool v6 = false;
    bool ip = true;
};

Frame frame_of(const Packet& p) { return {p.build(), p.l3_offset(), p.v6(), true}; }

// Scanner addresses, per family: the fuzzer replays scans from these. The last
// one of each is allow-listed; BLOCKED is under a manual block from the start.
const char* kScan4[] = {"198.18.0.2", "198.18.0.5", "198.18.0.6", "198.18.0.9"};
const char* kScan6[] = {"2001:2::2", "2001:2::5", "2001:2::6", "2001:2::9"};
const char* kTgt4 = "198.18.0.1";
const char* kTgt6 = "2001:2::1";
const char* kBlocked4 = "198.18.0.66";

// Every fixture shape of tests/bpf/bpf_test.cpp, both families where it has one.
std::vector<Frame> fixtures() {
    std::vector<Frame> out;
    auto add = [&](const Packet& p) { out.push_back(frame_of(p)); };
    for (bool v6 : {false, true}) {
        const char* A = v6 ? "2001:2::2" : "198.18.0.2";
        const char* T = v6 ? kTgt6 : kTgt4;
        add(nmap::syn(A, T, 40000, 80));
        add(nmap::os_syn(A, T, 51000, 22));
        add(Packet::tcp(A, T, 40000, 80).syn().win(1024).mss(1380));
        add(Packet::tcp(A, T, 40000, 80).syn().win(1025).mss(1460));
        add(nmap::masscan_syn(A, T, 61000, 443));
        add(nmap::fin(A, T, 40000, 80));
        add(nmap::null(A, T, 40000, 80));
        add(nmap::xmas(A, T, 40000, 80));
        add(nmap::maimon(A, T, 40000, 80));
        add(nmap::ack_probe(A, T, 40000, 80));
        add(nmap::syn(A, T, 40000, 80).fin());
        for (int n = 0; n < 6; n++)
            add(nmap::os_seq(A, T, 40000, 80, n));
        add(nmap::os_ecn(A, T, 40000, 80));
        add(nmap::os_u1(A, T, 45000, 40125));
        add(nmap::os_ie1(A, T));
        add(nmap::echo_empty(A, T));
        add(nmap::timestamp_zero(A, T));
        add(nmap::bare_ip(A, T, 2));
        add(nmap::sctp_init(A, T, 40000, 80));
        add(nmap::sctp_cookie_echo(A, T, 40000, 80));
        add(Packet::udp(A, T, 45000, 111).payload(nmap::rpc_check_udp()));
        add(Packet::udp(A, T, 600, 32771).payload(nmap::rpc_call(7, 100003, 3, false)));
        add(Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload(nmap::rpc_check_tcp()));
        add(Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload("GET / HTTP/1.0\r\n\r\n"));
        add(Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload("\r\n\r\n"));
        add(Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload("OPTIONS / RTSP/1.0\r\n\r\n"));
        add(Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload("GET /nmaplowercheck1 HTTP/1.1\r\n"));
        add(nmap::kernel_rst(A, T, 40000, 80, 1001));
        add(Packet::tcp(A, T, 51000, 22).rst().ack(5));
        add(Packet::tcp(A, T, 51000, 22).fin().ack(5).seq(9));
        add(Packet::tcp(A, T, 51000, 22).ack(5).seq(9).payload(100, 'x'));
        add(Packet::udp(A, T, 53, 40000).payload(40, 1));      // a DNS reply
        add(Packet::udp(A, T, 40000, 53).payload(30, 1));      // a DNS query
        add(Packet::icmp(A, T, v6 ? 128 : 8).echo(1, 1).payload(56, 0));
        // answers of the target (TC egress / gateway ingress)
        add(Packet::tcp(T, A, 80, 40000).syn().ack(1001).seq(5000));
        add(Packet::tcp(T, A, 81, 40000).rst().ack(1001));
        add(Packet::icmp(T, A, v6 ? 1 : 3, v6 ? 4 : 3).quote(Packet::udp(A, T, 45000, 40125).payload(8, 0)));
        add(Packet::icmp(T, A, v6 ? 1 : 3, v6 ? 4 : 3).quote(nmap::syn(A, T, 40000, 80, 77)));
        // the malformed and odd-layout cases
        add(nmap::syn(A, T, 40000, 80).vlan(100));
        add(nmap::syn(A, T, 40000, 81).vlan(100, 0x88a8).vlan(200));
        add(nmap::syn(A, T, 40000, 80).doff(4));
        add(nmap::syn(A, T, 40000, 80).ip_version(5));
        add(nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 8));
        add(nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 8).pad_to(60));
        add(nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 16));
        add(nmap::syn(A, T, 40000, 80).payload(40, 0).frag(0, true).l4_slice(0, 24));
        add(nmap::syn(A, T, 40000, 80).frag(8, false).l4_slice(8, 16));
        add(nmap::os_u1(A, T, 45000, 40125).frag(0, true).l4_slice(0, 200));
        add(nmap::syn(A, T, 40000, 80).pad_to(60));
        if (v6) {
            add(nmap::syn(A, T, 40000, 80).hop_by_hop().dest_opts(16).routing(24));
            add(nmap::syn(A, T, 40000, 80).hop_by_hop().dest_opts().routing().dest_opts().dest_opts());
            add(nmap::syn(A, T, 40000, 80).hop_by_hop(16).ip_len(8));
            add(Packet::ip(A, T, 59));
        } else {
            add(nmap::syn(A, T, 40000, 80).ip_options(Bytes(40, 1)));
            add(nmap::syn(A, T, 40000, 80).ihl(4));
            add(nmap::syn(A, T, 40000, 80).ip_len(19));
            add(nmap::syn(A, T, 40000, 80).ip_options(Bytes(8, 1)).ip_len(24));
            add(Packet::ip(A, T, 0).ethertype(0x0806).payload(28, 0));
            add(nmap::syn(A, T, 40000, 80).id(54321));
        }
    }
    for (auto& f : out)
        if (f.b.size() >= 14) {
            uint16_t et = uint16_t(f.b[f.l3 - 2] << 8 | f.b[f.l3 - 1]);
            f.ip = et == 0x0800 || et == 0x86dd;
        }
    return out;
}

// ---- mutations -----------------------------------------------------------------

class Mutator {
public:
    explicit Mutator(uint64_t seed) : rng_(seed) {}
    std::mt19937_64& rng() { return rng_; }
    uint64_t below(uint64_t n) { return n ? rng_() % n : 0; }
    bool chance(unsigned pct) { return below(100) < pct; }
    uint8_t byte() { return static_cast<uint8_t>(rng_()); }

    // A link-level size from 0 to jumbo, most of them small.
    size_t size() {
        switch (below(4)) {
        case 0: return below(64);
        case 1: return 14 + below(100);
        case 2: return below(1519);
        default: return below(kJumbo + 1);
        }
    }

    Bytes garbage() {
        Bytes b(size());
        for (auto& x : b)
            x = byte();
        if (b.size() >= 14 && chance(50)) {  // get past the EtherType check
            static const uint16_t et[] = {0x0800, 0x86dd, 0x8100, 0x88a8};
            uint16_t e = et[below(4)];
            b[12] = uint8_t(e >> 8);
            b[13] = uint8_t(e);
            if (b.size() > 14 && chance(70))
                b[14] = uint8_t((e == 0x86dd ? 0x60 : 0x40) | (b[14] & 0x0f));
        }
        return b;
    }

    void mutate(Frame& f) {
        unsigned n = 1 + static_cast<unsigned>(below(4));
        for (unsigned i = 0; i < n; i++)
            one(f);
    }

private:
    void one(Frame& f) {
        Bytes& b = f.b;
        bool l3ok = f.ip && f.l3 + (f.v6 ? 40 : 20) <= b.size();
        switch (below(12)) {
        case 0: {  // flip bits
            unsigned k = 1 + static_cast<unsigned>(below(8));
            for (unsigned i = 0; i < k && !b.empty(); i++)
                b[below(b.size())] ^= uint8_t(1u << below(8));
            break;
        }
        case 1:  // truncate
            b.resize(below(b.size() + 1));
            break;
        case 2: {  // grow to a random link size (padding or junk)
            size_t to = std::max(b.size(), size());
            uint8_t fill = chance(50) ? 0 : byte();
            while (b.size() < to)
                b.push_back(chance(10) ? byte() : fill);
            break;
        }
        case 3:  // bogus IP total length / payload length
            if (l3ok) {
                uint16_t cur = uint16_t(b[f.l3 + (f.v6 ? 4 : 2)] << 8 | b[f.l3 + (f.v6 ? 5 : 3)]);
                static const int delta[] = {-1, 1, -20, 20, -8, 8};
                uint16_t v;
                switch (below(4)) {
                case 0: v = static_cast<uint16_t>(rng_()); break;
                case 1: v = static_cast<uint16_t>(cur + delta[below(6)]); break;
                case 2: v = static_cast<uint16_t>(below(64)); break;
                default: v = 0xffff; break;
                }
                b[f.l3 + (f.v6 ? 4 : 2)] = uint8_t(v >> 8);
                b[f.l3 + (f.v6 ? 5 : 3)] = uint8_t(v);
            }
            break;
        case 4:  // bogus IHL (IPv4) / version nibble
            if (l3ok)
                b[f.l3] = f.v6 ? uint8_t(below(16) << 4 | (b[f.l3] & 0x0f))
                               : uint8_t((chance(80) ? 0x40 : below(16) << 4) | below(16));
            break;
        case 5:  // IPv4 options (header length fixed up, or not)
            if (l3ok && !f.v6) {
                size_t ihl = b[f.l3] & 0x0f;
                if (ihl < 5 || f.l3 + ihl * 4 > b.size())
                    break;
                size_t add = 4 * (1 + below(15 - std::min<size_t>(ihl, 14)));
                Bytes opt(add);
                for (size_t i = 0; i < add; i++)
                    opt[i] = chance(50) ? byte() : static_cast<uint8_t>(below(2));  // EOL/NOP or junk
                b.insert(b.begin() + static_cast<long>(f.l3 + ihl * 4), opt.begin(), opt.end());
                if (chance(85)) {
                    b[f.l3] = uint8_t(0x40 | std::min<size_t>(15, ihl + add / 4));
                    uint16_t tot = uint16_t((b[f.l3 + 2] << 8 | b[f.l3 + 3]) + add);
                    b[f.l3 + 2] = uint8_t(tot >> 8);
                    b[f.l3 + 3] = uint8_t(tot);
                }
            }
            break;
        case 6:  // IPv6 extension chain, often deeper than the parser's bound
            if (l3ok && f.v6) {
                unsigned depth = static_cast<unsigned>(below(13));
                uint8_t nh = b[f.l3 + 6];
                Bytes chain;
                static const uint8_t types[] = {0, 43, 60, 51, 44};
                std::vector<uint8_t> ts(depth);
                for (auto& t : ts)
                    t = types[below(5)];
                for (unsigned i = 0; i < depth; i++) {
                    uint8_t next = i + 1 < depth ? ts[i + 1] : nh;
                    size_t len;
                    Bytes h;
                    if (ts[i] == 44) {
                        len = 8;
                        h = {next, 0, uint8_t(chance(30) ? below(256) : 0), uint8_t(chance(30) ? 1 : 0), 0, 0, 0, 1};
                    } else if (ts[i] == 51) {
                        uint8_t hl = static_cast<uint8_t>(1 + below(4));  // (hl + 2) * 4 bytes
                        len = (hl + 2u) * 4u;
                        h.assign(len, 0);
                        h[0] = next;
                        h[1] = hl;
                    } else {
                        uint8_t hl = static_cast<uint8_t>(below(3));
                        len = (hl + 1u) * 8u;
                        h.assign(len, 0);
                        h[0] = next;
                        h[1] = hl;
                        h[2] = 1;  // PadN
                        h[3] = static_cast<uint8_t>(len - 4);
                    }
                    chain.insert(chain.end(), h.begin(), h.end());
                }
                if (depth) {
                    b[f.l3 + 6] = ts[0];
                    b.insert(b.begin() + static_cast<long>(f.l3 + 40), chain.begin(), chain.end());
                    if (chance(85)) {
                        uint16_t pl = uint16_t((b[f.l3 + 4] << 8 | b[f.l3 + 5]) + chain.size());
                        b[f.l3 + 4] = uint8_t(pl >> 8);
                        b[f.l3 + 5] = uint8_t(pl);
                    }
                }
            }
            break;
        case 7:  // a VLAN stack of 0-4 tags
            if (f.l3 >= 14 && f.l3 <= b.size()) {
                uint16_t et = uint16_t(b[f.l3 - 2] << 8 | b[f.l3 - 1]);
                b.erase(b.begin() + 12, b.begin() + static_cast<long>(f.l3));
                unsigned tags = static_cast<unsigned>(below(5));
                Bytes st;
                for (unsigned i = 0; i < tags; i++) {
                    uint16_t tpid = chance(70) ? 0x8100 : 0x88a8;
                    st.push_back(uint8_t(tpid >> 8));
                    st.push_back(uint8_t(tpid));
                    st.push_back(byte() & 0x0f);
                    st.push_back(byte());
                }
                st.push_back(uint8_t(et >> 8));
                st.push_back(uint8_t(et));
                b.insert(b.begin() + 12, st.begin(), st.end());
                f.l3 = 12 + st.size();
            }
            break;
        case 8:  // fragment
            if (l3ok && !f.v6) {
                uint16_t fo = chance(50) ? uint16_t(0x2000) : uint16_t(below(0x10000));
                b[f.l3 + 6] = uint8_t(fo >> 8);
                b[f.l3 + 7] = uint8_t(fo);
            } else if (l3ok) {
                uint8_t nh = b[f.l3 + 6];
                Bytes fh = {nh, 0, uint8_t(below(2) ? 0 : below(256)), uint8_t(chance(50) ? 1 : below(256)), 0, 0, 0, 9};
                b[f.l3 + 6] = 44;
                b.insert(b.begin() + static_cast<long>(f.l3 + 40), fh.begin(), fh.end());
                uint16_t pl = uint16_t((b[f.l3 + 4] << 8 | b[f.l3 + 5]) + 8);
                b[f.l3 + 4] = uint8_t(pl >> 8);
                b[f.l3 + 5] = uint8_t(pl);
            }
            break;
        case 9:  // the L4 header's interesting bytes (flags, data offset, ports)
            if (l3ok) {
                size_t l4 = f.l3 + (f.v6 ? 40 : size_t(b[f.l3] & 0x0f) * 4);
                size_t at = l4 + below(20);
                if (at < b.size())
                    b[at] = chance(50) ? byte() : uint8_t(below(2) ? 0xff : 0);
            }
            break;
        case 10:  // another protocol number
            if (l3ok) {
                static const uint8_t protos[] = {1, 6, 17, 58, 132, 0, 43, 44, 51, 59, 60, 2, 255};
                b[f.l3 + (f.v6 ? 6 : 9)] = chance(80) ? protos[below(13)] : byte();
            }
            break;
        default:  // overwrite a random run of bytes
            if (!b.empty()) {
                size_t at = below(b.size()), len = 1 + below(16);
                for (size_t i = at; i < b.size() && i < at + len; i++)
                    b[i] = byte();
            }
            break;
        }
    }

    std::mt19937_64 rng_;
};

// ---- the oracle for "non-scan" -----------------------------------------------------

// nmap's raw SYN: window 1024, then 6 bytes (checksum, urgent pointer) on, MSS 1460
// as the first option. Any frame the program takes for an nmap SYN contains this.
bool has_nmap_syn_signature(const Bytes& b) {
    for (size_t i = 0; i + 10 <= b.size(); i++)
        if (b[i] == 0x04 && b[i + 1] == 0x00 && b[i + 6] == 0x02 && b[i + 7] == 0x04 && b[i + 8] == 0x05 &&
            b[i + 9] == 0xb4)
            return true;
    return false;
}

bool contains(const Bytes& b, const uint8_t* needle, size_t n) {
    return std::search(b.begin(), b.end(), needle, needle + n) != b.end();
}

// The bytes of addr as they appear on the wire: 4 for IPv4 (mapped), 16 for IPv6.
std::pair<const uint8_t*, size_t> wire(const uint8_t* a) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, mapped, 12) == 0)
        return {a + 12, 4};
    return {a, 16};
}

std::string addr_text(const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN];
    auto [p, n] = wire(a);
    inet_ntop(n == 4 ? AF_INET : AF_INET6, p, buf, sizeof buf);
    return buf;
}

sw_lpm_key lpm(const char* text) {
    sw_lpm_key k{};
    k.prefixlen = 128;
    uint8_t v4[4];
    if (inet_pton(AF_INET, text, v4) == 1) {
        k.addr[10] = k.addr[11] = 0xff;
        std::memcpy(k.addr + 12, v4, 4);
    } else if (inet_pton(AF_INET6, text, k.addr) != 1) {
        throw std::invalid_argument(text);
    }
    return k;
}

// ---- the campaign ----------------------------------------------------------------------

struct Totals {
    uint64_t xdp = 0, tc = 0, refused = 0, refused_xdp = 0, refused_tc = 0, drops = 0, shots = 0, fast_blocks = 0, events = 0, checkpoints = 0;
    uint64_t source_full = 0, flow_full = 0, events_lost = 0, truncated = 0, malformed = 0;
    // The clock at work: scanner SYNs that passed because their fast-path block
    // had expired, and the most events one source raised between two checkpoints
    // (more than one second's budget only when the budget refilled).
    uint64_t expired_passes = 0, active_drops = 0, max_source_events = 0;
    std::map<size_t, uint64_t> sizes;  // size class -> runs
};

class Campaign {
public:
    Campaign(Progs& p, Mutator& m, const std::vector<Frame>& corpus, Totals& tot, bool small)
        : p_(p), m_(m), corpus_(corpus), tot_(tot), small_(small) {
        start();
    }

    void packet() {
        bool xdp = true;
        Bytes f;
        unsigned pick = static_cast<unsigned>(m_.below(100));
        if (pick < 8) {
            f = m_.garbage();
        } else if (pick < 20) {
            scan_step(f, xdp);
        } else {
            Frame fr = corpus_[m_.below(corpus_.size())];
            retarget(fr);
            if (m_.chance(95))
                m_.mutate(fr);
            f = std::move(fr.b);
            xdp = m_.chance(85);
        }
        send(f, xdp);
    }

    void checkpoint();

private:
    void start() {
        p_.reset();
        sw_config c{};
        c.flags = SW_CFG_BLOCKING | SW_CFG_FAST_BLOCK | SW_CFG_SHIELD;
        // The fuzzer's scanners never ACK our ISN, so they are shielded, not
        // blocked: the small-map instance runs with --block-unverified so
        // fast-path blocks are made, met and expired there too.
        if (small_)
            c.flags |= SW_CFG_BLOCK_UNVERIFIED;
        c.ev_per_sec = 16;
        c.fast_block_allowed = ~0ull;  // the budget is tested in bpf_test (ProofTest)
        c.fast_block_per_sec = ~0u;
        c.shield_ttl_ns = 30 * SEC;
        c.fast_block_half_open = kFastHalfOpen;
        c.fast_block_ports = kFastPorts;
        c.fast_block_ttl_ns = 30 * SEC;
        p_.set_config(c);
        // a manual block (a source the fuzzer sends benign traffic from) and an allow-listed scanner
        sw_block b{};
        b.reason = SW_BR_MANUAL;
        b.created_ns = now_;
        put_kernel_block(p_.block_fds(), lpm(kBlocked4), b);
        describe_kernel_blocks(c, 1, 0);
        p_.set_config(c);
        uint32_t one = 1;
        p_.lpm_add(p_.skel()->maps.sw_allow, lpm(kScan4[3]), &one);
        p_.lpm_add(p_.skel()->maps.sw_allow, lpm(kScan6[3]), &one);
        c.n_allow = 2;
        p_.set_config(c);
        blocked_ = {{lpm(kBlocked4), b}};
        source_events_.clear();
        fast_seen_ = 0;
        cfg_written_ = p_.config();
        xdp_ = tc_ = drops_ = shots_ = events_ = 0;
        sig_frames_.clear();
    }

    // Points a fixture at one of the fuzzer's scanners (or the blocked source).
    void retarget(Frame& fr) {
        if (!fr.ip || fr.b.size() < fr.l3 + (fr.v6 ? 40 : 20))
            return;
        unsigned who = static_cast<unsigned>(m_.below(5));
        const char* s = fr.v6 ? kScan6[who % 4] : (who == 4 ? kBlocked4 : kScan4[who]);
        sw_lpm_key k = lpm(s);
        auto [a, n] = wire(k.addr);
        // the fixture's scanner is 198.18.0.2 / 2001:2::2 on whichever side it is
        size_t so = fr.l3 + (fr.v6 ? 8 : 12), dof = fr.l3 + (fr.v6 ? 24 : 16);
        uint8_t last = fr.v6 ? 15 : 3;
        if (fr.b[so + last] == 2)
            std::memcpy(&fr.b[so], a, n);
        else if (fr.b[dof + last] == 2)
            std::memcpy(&fr.b[dof], a, n);
    }

    // A whole unmutated scan exchange, one frame per call: nmap SYN in, our
    // SYN/ACK (or RST) out on TC, the scanner's kernel RST in.
    void scan_step(Bytes& f, bool& xdp) {
        if (step_ == 0) {
            scan_v6_ = m_.chance(30);
            scanner_ = static_cast<unsigned>(m_.below(4));
            port_ = static_cast<uint16_t>(1 + m_.below(20));
            isn_ = static_cast<uint32_t>(m_.rng()());
            open_ = m_.chance(50);
        }
        const char* A = scan_v6_ ? kScan6[scanner_] : kScan4[scanner_];
        const char* T = scan_v6_ ? kTgt6 : kTgt4;
        switch (step_) {
        case 0:
            f = nmap::syn(A, T, 40000, port_, isn_).build();
            xdp = true;
            step_ = 1;
            scan_src_ = lpm(A);
            break;
        case 1:
            if (open_)
                f = Packet::tcp(T, A, port_, 40000).syn().ack(isn_ + 1).seq(777).build();
            else
                f = Packet::tcp(T, A, port_, 40000).rst().ack(isn_ + 1).build();
            xdp = false;
            step_ = open_ ? 2 : 0;
            break;
        default:
            f = nmap::kernel_rst(A, T, 40000, port_, isn_ + 1).build();
            xdp = true;
            step_ = 0;
            break;
        }
    }

    // A block the program enforces at `now`: the agent removes expired ones later.
    static bool active(const sw_block& b, uint64_t now) { return !b.expires_ns || b.expires_ns > now; }

    bool carries_blocked(const Bytes& f, uint64_t now) const {
        for (auto& [k, b] : blocked_) {
            auto [a, n] = wire(k.addr);
            if (active(b, now) && contains(f, a, n))
                return true;
        }
        return false;
    }

    const sw_block* block_of(const sw_lpm_key& key) const {
        for (auto& [k, b] : blocked_)
            if (std::memcmp(k.addr, key.addr, 16) == 0)
                return &b;
        return nullptr;
    }

    // entries in the shield map (XDP answers only shielded sources)
    size_t shield_count() {
        return count_map_keys(bpf_map__fd(p_.skel()->maps.sw_shield), 16);
    }

    void refresh_blocks() {
        uint64_t fast = p_.fast_blocks();
        if (fast == fast_seen_)
            return;
        blocked_ = p_.blocks();
        fast_seen_ = fast;
    }

    void send(Bytes& f, bool xdp) {
        if (!xdp && f.size() > p_.tc_max())
            f.resize(p_.tc_max());  // an skb test run is one page at most
        now_ += m_.below(3) ? m_.below(2'000'000) : m_.below(2 * SEC);
        int err = 0;
        int act = p_.run(xdp, f, now_, &err);
        size_t cls = f.size() < 14 ? 0 : f.size() <= 1518 ? 1 : 2;
        tot_.sizes[cls]++;
        if (f.size() < 14) {
            // BPF_PROG_TEST_RUN wants an Ethernet header; no such frame reaches a program
            CHECK(err == EINVAL, "a %zu-byte frame: test run error %d, want EINVAL", f.size(), err);
            tot_.refused++;
            return;
        }
        if (err == EINVAL) {
            // BPF_PROG_TEST_RUN checks the input before the program runs (newer
            // kernels refuse skbs whose EtherType promises an IP header the
            // frame does not hold): allowed, when the program indeed did not run
            uint64_t runs = p_.stat(xdp ? SW_S_PACKETS : SW_S_EGRESS);
            CHECK(runs == (xdp ? xdp_ : tc_), "%s run refused (EINVAL) after the program ran; frame %s",
                  xdp ? "XDP" : "TC", hexdump(f).c_str());
            tot_.refused++;
            (xdp ? tot_.refused_xdp : tot_.refused_tc)++;
            if (std::getenv("SW_FUZZ_VERBOSE"))
                std::fprintf(stderr, "refused %s %zu bytes: %s\n", xdp ? "XDP" : "TC", f.size(), hexdump(f, 64).c_str());
            return;
        }
        CHECK(err == 0, "%s run of a %zu-byte frame failed: %s; frame %s", xdp ? "XDP" : "TC", f.size(),
              strerror(err), hexdump(f).c_str());
        if (xdp && scan_src_) {
            // an unmutated scanner SYN: dropped while its block holds, passed once it expired
            if (const sw_block* b = block_of(*scan_src_)) {
                if (active(*b, now_)) {
                    CHECK(act == XDP_DROP, "SYN from %s under an active block passed", addr_text(scan_src_->addr).c_str());
                    tot_.active_drops++;
                } else {
                    CHECK(act == XDP_PASS, "SYN from %s dropped after its block expired", addr_text(scan_src_->addr).c_str());
                    tot_.expired_passes++;
                }
            }
        }
        scan_src_.reset();
        refresh_blocks();
        if (xdp) {
            xdp_++;
            tot_.xdp++;
            // XDP_TX: the shield's answer (a cookie SYN/ACK or a RST) to a shielded source's TCP
            CHECK(act == XDP_PASS || act == XDP_DROP || act == XDP_TX, "XDP action %d; frame %s", act,
                  hexdump(f).c_str());
            if (act == XDP_TX) {
                tx_++;
                CHECK(shield_count() > 0, "XDP_TX with nobody shielded: %s", hexdump(f).c_str());
            }
            if (act == XDP_DROP) {
                drops_++;
                tot_.drops++;
                CHECK(carries_blocked(f, now_), "XDP_DROP of a frame without an active block's address: %s",
                      hexdump(f).c_str());
            }
            if (has_nmap_syn_signature(f))
                sig_frames_.push_back(f);
        } else {
            tc_++;
            tot_.tc++;
            CHECK(act == 0 || act == 2, "TC action %d; frame %s", act, hexdump(f).c_str());
            if (act == 2) {
                shots_++;
                tot_.shots++;
                CHECK(carries_blocked(f, now_), "TC_ACT_SHOT of a frame without an active block's address: %s",
                      hexdump(f).c_str());
            }
        }
        if (++since_drain_ >= 512) {
            since_drain_ = 0;
            drain();
        }
    }

    void drain() {
        for (auto& e : p_.drain()) {
            events_++;
            uint64_t& n = source_events_[addr_text(e.saddr)];
            tot_.max_source_events = std::max(tot_.max_source_events, ++n);
            CHECK(e.type >= SW_EV_THRESHOLD && e.type <= SW_EV_BLOCK_REFUSED, "event type %u", e.type);
            if (e.type == SW_EV_THRESHOLD)
                CHECK(e.counter < SW_C_MAX + 2 && e.value > 0, "threshold event counter %u value %u", e.counter,
                      e.value);
            if (e.type == SW_EV_FAST_BLOCK) {
                sw_block b;
                CHECK(bpf_map_lookup_elem(bpf_map__fd(p_.skel()->maps.sw_block_addrs), e.saddr, &b) == 0,
                      "fast-block event for %s without a block", addr_text(e.saddr).c_str());
            }
        }
    }

    Progs& p_;
    Mutator& m_;
    const std::vector<Frame>& corpus_;
    Totals& tot_;
    bool small_;
    uint64_t now_ = T0;
    uint64_t xdp_ = 0, tc_ = 0, drops_ = 0, shots_ = 0, events_ = 0, tx_ = 0;
    unsigned since_drain_ = 0;
    std::vector<std::pair<sw_lpm_key, sw_block>> blocked_;
    std::optional<sw_lpm_key> scan_src_;  // the source of the scanner SYN being sent
    std::map<std::string, uint64_t> source_events_;
    uint64_t fast_seen_ = 0;
    sw_config cfg_written_{};  // what "userspace" last wrote to sw_config
    std::vector<Bytes> sig_frames_;
    // the scan exchange in progress
    unsigned step_ = 0, scanner_ = 0;
    bool scan_v6_ = false, open_ = false;
    uint16_t port_ = 0;
    uint32_t isn_ = 0;
};

void Campaign::checkpoint() {
    drain();
    tot_.checkpoints++;
    auto S = [&](unsigned i) { return p_.stat(i); };
    const Caps& caps = p_.caps();

    // -- statistics
    CHECK(S(SW_S_PACKETS) == xdp_, "packets %" PRIu64 " != XDP runs %" PRIu64, S(SW_S_PACKETS), xdp_);
    CHECK(S(SW_S_EGRESS) == tc_, "egress %" PRIu64 " != TC runs %" PRIu64, S(SW_S_EGRESS), tc_);
    CHECK(S(SW_S_DROPPED) == drops_ + shots_, "dropped %" PRIu64 " != drops %" PRIu64 " + shots %" PRIu64,
          S(SW_S_DROPPED), drops_, shots_);
    uint64_t parsed = S(SW_S_IPV4) + S(SW_S_IPV6);
    uint64_t classes = parsed + S(SW_S_NON_IP) + S(SW_S_TRUNCATED) + S(SW_S_MALFORMED);
    CHECK(parsed + S(SW_S_NON_IP) <= xdp_, "ipv4+ipv6+non_ip %" PRIu64 " > packets %" PRIu64,
          parsed + S(SW_S_NON_IP), xdp_);
    CHECK(classes >= xdp_, "parse classes %" PRIu64 " < packets %" PRIu64 ": a packet not counted", classes, xdp_);
    CHECK(classes <= xdp_ + (parsed - drops_) + tc_,
          "parse classes %" PRIu64 ": more than one L4 truncated/malformed per packet", classes);
    CHECK(S(SW_S_VLAN) <= parsed && S(SW_S_IPV6_EXT) <= S(SW_S_IPV6) && S(SW_S_FRAGMENTS) <= parsed - drops_,
          "vlan %" PRIu64 " ext %" PRIu64 " frag %" PRIu64, S(SW_S_VLAN), S(SW_S_IPV6_EXT), S(SW_S_FRAGMENTS));
    CHECK(S(SW_S_EVENTS) == events_, "events stat %" PRIu64 " != drained %" PRIu64, S(SW_S_EVENTS), events_);
    tot_.events += events_;
    tot_.source_full += S(SW_S_SOURCE_FULL);
    tot_.flow_full += S(SW_S_FLOW_FULL);
    tot_.events_lost += S(SW_S_EVENTS_LOST);
    tot_.truncated += S(SW_S_TRUNCATED);
    tot_.malformed += S(SW_S_MALFORMED);

    // -- maps within their caps
    auto sources = p_.sources();
    auto flows = p_.flows();
    auto blocks = p_.blocks();
    CHECK(sources.size() <= caps.sources, "%zu sources > cap %u", sources.size(), caps.sources);
    CHECK(flows.size() <= caps.flows, "%zu flows > cap %u", flows.size(), caps.flows);
    CHECK(blocks.size() <= caps.blocks, "%zu blocks > cap %u", blocks.size(), caps.blocks);
    CHECK(blocks.size() == 1 + S(SW_S_BLOCKS_FAST), "%zu blocks in the maps != the manual one + %" PRIu64 " fast",
          blocks.size(), S(SW_S_BLOCKS_FAST));
    sw_config now_cfg = p_.config();
    now_cfg.clock_ns = cfg_written_.clock_ns;  // the runner's own copy of the clock
    CHECK(std::memcmp(&now_cfg, &cfg_written_, sizeof now_cfg) == 0,
          "sw_config changed under userspace (n_blocks %u, was %u): the programs must not write it",
          now_cfg.n_blocks, cfg_written_.n_blocks);

    // -- per source, and the sums over sources (exact while nothing was evicted)
    bool evicted = sources.size() >= caps.sources / 2 || S(SW_S_SOURCE_FULL) > 0;
    uint64_t probes = 0, syns = 0, tiny = 0, answered = 0;
    for (auto& [a, s] : sources) {
        const uint8_t* ab = reinterpret_cast<const uint8_t*>(&a);
        auto c = [&s = s](unsigned i) { return uint64_t(s.cnt[i]); };  // clang 14: no bindings in [&]
        std::string who = addr_text(ab);
        uint64_t classes_of_probes = c(SW_C_SYN) + c(SW_C_FIN) + c(SW_C_NULL) + c(SW_C_XMAS) + c(SW_C_MAIMON) +
                                     c(SW_C_ACK_PROBE) + c(SW_C_UDP) + c(SW_C_ICMP_ECHO) + c(SW_C_BARE_IP) +
                                     c(SW_C_FRAG_TINY);
        CHECK(classes_of_probes <= c(SW_C_PROBES), "%s: probe classes %" PRIu64 " > probes %" PRIu64, who.c_str(),
              classes_of_probes, c(SW_C_PROBES));
        CHECK(c(SW_C_SYN_NMAP) + c(SW_C_SYN_NOOPT) <= c(SW_C_SYN), "%s: nmap/noopt SYNs > SYNs", who.c_str());
        // tiny first fragments keep a flow too: their answers count like a SYN's
        CHECK(c(SW_C_ANSWERED) + c(SW_C_FAIL_RST) <= c(SW_C_SYN) + c(SW_C_FRAG_TINY) || evicted, "%s: answered %" PRIu64
              " + refused %" PRIu64 " > SYNs %" PRIu64, who.c_str(), c(SW_C_ANSWERED), c(SW_C_FAIL_RST), c(SW_C_SYN));
        CHECK((c(SW_C_FRAG_SYN) <= c(SW_C_ANSWERED) && c(SW_C_FRAG_RST) <= c(SW_C_FAIL_RST) &&
               c(SW_C_FRAG_SYN) + c(SW_C_FRAG_RST) <= c(SW_C_FRAG_TINY)) || evicted,
              "%s: answers to fragments beyond their parents", who.c_str());
        CHECK(c(SW_C_HPING) <= c(SW_C_PROBES) && c(SW_C_MASSCAN_IPID) <= c(SW_C_SYN),
              "%s: tool markers beyond their probes", who.c_str());
        CHECK(c(SW_C_HALF_OPEN) + c(SW_C_CONNECT) <= c(SW_C_ANSWERED) || evicted,
              "%s: half-open + connect > answered", who.c_str());
        CHECK(c(SW_C_FIRST_OK) <= c(SW_C_ANSWERED), "%s: first_ok > answered", who.c_str());
        CHECK(c(SW_C_FRAG_TINY) <= c(SW_C_FRAG) && c(SW_C_ICMP_ODD) <= c(SW_C_ICMP_ECHO) &&
                  c(SW_C_UDP_EMPTY) <= c(SW_C_UDP) && c(SW_C_OS_UDP) <= c(SW_C_UDP),
              "%s: a sub-counter above its parent", who.c_str());
        CHECK(c(SW_C_SAME_SEQ) < std::max<uint64_t>(c(SW_C_PROBES), 1) &&
                  c(SW_C_SAME_SPORT) < std::max<uint64_t>(c(SW_C_PROBES), 1),
              "%s: repeats without a previous probe", who.c_str());
        CHECK(s.ports_new <= SW_HLL_REGS && s.hosts_new <= SW_HLL_REGS, "%s: sketch counts", who.c_str());
        CHECK(!c(SW_C_PROBES) || (s.ttl_min <= s.ttl_max), "%s: ttl range", who.c_str());
        CHECK(s.first_ns <= s.last_ns, "%s: first seen after last seen", who.c_str());
        CHECK(!(s.flags & ~uint32_t(SW_SF_VERIFIED | SW_SF_FAST_BLOCKED | SW_SF_PROVEN | SW_SF_SHIELDED |
                                    SW_SF_REFUSED | SW_SF_HOT)),
              "%s: flags %x", who.c_str(), s.flags);
        CHECK(!(s.flags & SW_SF_PROVEN) == !s.proven, "%s: proven flag %x without ports %x", who.c_str(), s.flags,
              s.proven);
        probes += c(SW_C_PROBES);
        syns += c(SW_C_SYN);
        tiny += c(SW_C_FRAG_TINY);
        answered += c(SW_C_ANSWERED);
    }
    if (!evicted) {
        CHECK(probes == S(SW_S_PROBES), "sum of probe counters %" PRIu64 " != probes stat %" PRIu64, probes,
              S(SW_S_PROBES));
        // a flow is made by our SYN/ACK to a SYN (or tiny first fragment)
        // waiting in sw_syns (or held whole in sw_admit while its source has
        // no record), and every such answer counts as answered on its
        // prober (a record, or the held first packet of one not admitted yet,
        // which a colliding source may overwrite: so no upper bound here)
        const uint64_t flows = S(SW_S_FLOWS_NEW) + S(SW_S_FLOW_FULL);
        CHECK(answered <= flows && answered <= syns + tiny,
              "answered %" PRIu64 " vs flows_new + flow_full %" PRIu64 " (SYNs %" PRIu64 ", tiny %" PRIu64 ")",
              answered, flows, syns, tiny);
    }

    // -- blocks: the manual one stays; every other one is the fast path's and justified
    uint64_t fast = 0;
    bool manual_seen = false;
    for (auto& [k, b] : blocks) {
        std::string who = addr_text(k.addr);
        CHECK(k.prefixlen == 128, "%s: block prefix %u", who.c_str(), k.prefixlen);
        if (b.reason == SW_BR_MANUAL) {
            manual_seen = true;
            continue;
        }
        CHECK(b.reason == SW_BR_FAST_PATH, "%s: block reason %u", who.c_str(), b.reason);
        fast++;
        CHECK(who != kScan4[3] && who != kScan6[3], "allow-listed %s was blocked", who.c_str());
        CHECK(b.expires_ns == b.created_ns + 30 * SEC, "%s: fast-block expiry", who.c_str());
        auto [a, n] = wire(k.addr);
        size_t sig = 0;
        for (auto& f : sig_frames_)
            sig += contains(f, a, n);
        CHECK(sig >= kFastPorts, "non-scan source %s blocked: only %zu frames with nmap's SYN signature carry it",
              who.c_str(), sig);
        auto it = std::find_if(sources.begin(), sources.end(),
                               [&k = k](auto& e) { return std::memcmp(&e.first, k.addr, 16) == 0; });
        if (it != sources.end()) {
            const sw_source& s = it->second;
            uint32_t answered = s.cnt[SW_C_HALF_OPEN] + s.cnt[SW_C_FAIL_RST] + s.cnt[SW_C_FAIL_ICMP];
            // only handshakes on kFastPorts ports (ACKs of our ISN) justify a
            // block, unless the instance runs with --block-unverified (small_)
            const bool proven = (s.flags & SW_SF_PROVEN) && static_cast<uint32_t>(std::popcount(s.proven)) >= kFastPorts;
            CHECK((s.flags & SW_SF_FAST_BLOCKED) && (proven || small_) &&
                      s.cnt[SW_C_SYN] >= kFastPorts && s.ports_new >= kFastPorts &&
                      std::min(answered, s.cnt[SW_C_SYN]) >= kFastHalfOpen,
                  "%s: fast block not justified by its record (flags %x proven %x syn %u ports %u answered %u)",
                  who.c_str(), s.flags, s.proven, s.cnt[SW_C_SYN], s.ports_new, answered);
        } else {
            CHECK(evicted, "%s blocked by the fast path without a record", who.c_str());
        }
    }
    CHECK(manual_seen, "the manual block disappeared");
    if (!small_)
        CHECK(fast == S(SW_S_BLOCKS_FAST), "%" PRIu64 " fast blocks in the map, stat says %" PRIu64, fast,
              S(SW_S_BLOCKS_FAST));
    tot_.fast_blocks += S(SW_S_BLOCKS_FAST);
    start();
}

uint64_t env_u64(const char* name, uint64_t def, bool* random = nullptr) {
    const char* v = std::getenv(name);
    if (!v || !*v)
        return def;
    if (random && std::string(v) == "random") {
        *random = true;
        return std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32);
    }
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(v, &end, 0);
    if (errno || *end)
        throw std::invalid_argument(std::string(name) + " is not a number: " + v);
    return x;
}

}  // namespace

int main() {
    uint64_t seed = 1, count = 1'000'000;
    try {
        bool random = false;
        seed = env_u64("SW_FUZZ_SEED", 1, &random);
        count = env_u64("SW_FUZZ_COUNT", 1'000'000);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bpf_fuzz: %s\n", e.what());
        return 2;
    }
    std::printf("bpf_fuzz: seed %" PRIu64 " (SW_FUZZ_SEED=%" PRIu64 " SW_FUZZ_COUNT=%" PRIu64 " to repeat)\n",
                seed, seed, count);
    std::fflush(stdout);
    auto t0 = std::chrono::steady_clock::now();
    Totals tot;
    uint64_t done = 0;
    try {
        Progs big(Caps{}), small(Caps{64, 64, 4});
        Mutator m(seed);
        std::vector<Frame> corpus = fixtures();
        Campaign cb(big, m, corpus, tot, false), cs(small, m, corpus, tot, true);
        constexpr uint64_t kCheckEvery = 20'000;
        for (; done < count; done++) {
            // one packet in ten goes to the small-map instance
            (done % 10 == 9 ? cs : cb).packet();
            if ((done + 1) % kCheckEvery == 0) {
                cb.checkpoint();
                cs.checkpoint();
            }
        }
        cb.checkpoint();
        cs.checkpoint();
        // The program ran on a moving clock: blocks expired (and then let the
        // scanner through) and sources' event budgets refilled. A frozen clock
        // (the program reading a field nobody moves) fails here.
        if (count >= 100'000) {
            CHECK(tot.active_drops > 0, "no scanner SYN met an active block");
            CHECK(tot.expired_passes > 0, "no block expired: is the program's clock moving?");
            CHECK(tot.max_source_events > 16,
                  "no source raised more than one second's event budget (%" PRIu64 "): is the clock moving?",
                  tot.max_source_events);
        }
    } catch (const Failure& f) {
        std::fprintf(stderr, "bpf_fuzz: FAIL at packet %" PRIu64 " (seed %" PRIu64 "): %s\n", done, seed, f.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bpf_fuzz: error at packet %" PRIu64 " (seed %" PRIu64 "): %s\n", done, seed, e.what());
        return 1;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("bpf_fuzz: PASS %" PRIu64 " packets in %.1f s: %" PRIu64 " XDP + %" PRIu64
                " TC runs, %" PRIu64 " refused by the test run (<14 B, and %" PRIu64 " XDP / %" PRIu64 " TC longer), sizes <14/<=1518/jumbo %" PRIu64 "/%" PRIu64 "/%" PRIu64
                "; %" PRIu64 " XDP drops, %" PRIu64 " TC shots, %" PRIu64 " fast blocks, %" PRIu64
                " events (%" PRIu64 " lost), truncated %" PRIu64 ", malformed %" PRIu64 ", source_full %" PRIu64
                ", flow_full %" PRIu64 ", %" PRIu64 " checkpoints; %" PRIu64 " scanner SYNs dropped by active blocks, %"
                PRIu64 " passed after expiry, at most %" PRIu64 " events from one source\n",
                count, secs, tot.xdp, tot.tc, tot.refused, tot.refused_xdp, tot.refused_tc, tot.sizes[0], tot.sizes[1], tot.sizes[2], tot.drops,
                tot.shots, tot.fast_blocks, tot.events, tot.events_lost, tot.truncated, tot.malformed,
                tot.source_full, tot.flow_full, tot.checkpoints, tot.active_drops, tot.expired_passes,
                tot.max_source_events);
    return 0;
}
