// The real XDP and TC programs on crafted frames (BPF_PROG_TEST_RUN, replay
// clock). Asserts map contents, counters, actions and ring-buffer events.
// Needs root (CAP_BPF + CAP_SYS_ADMIN for test runs).
#include <arpa/inet.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "block/blocker.hpp"
#include "bpf/block_bits.hpp"
#include "bpf/skeleton.hpp"
#include "bpf/map_walk.hpp"
#include "bpf/prog_runner.hpp"
#include "packet.hpp"
#include "scanwatch/counters.hpp"
#include "scanwatch/detector.hpp"

using namespace scanwatch;
using namespace swtest;

namespace {

constexpr const char* A = "198.18.0.2";   // the scanner
constexpr const char* T = "198.18.0.1";   // the protected host
constexpr const char* A6 = "2001:2::2";
constexpr const char* T6 = "2001:2::1";
constexpr uint64_t SEC = 1'000'000'000ull;
constexpr uint64_t T0 = 1'700'000'000ull * SEC;  // a capture-like clock
constexpr int kXdpPass = XDP_PASS, kXdpDrop = XDP_DROP, kTcOk = 0, kTcShot = 2;

const char* counter_name(unsigned c) { return c < SW_C_MAX ? kCounters[c].id : "?"; }

Addr addr(std::string_view s) {
    auto a = Addr::parse(s);
    if (!a)
        throw std::invalid_argument(std::string(s));
    return *a;
}

// The key the programs use for a probe (prober's side first).
sw_flow_key key_of(const Packet& probe, uint8_t proto = 6) {
    sw_flow_key k{};
    std::memcpy(k.saddr, probe.src_addr(), 16);
    std::memcpy(k.daddr, probe.dst_addr(), 16);
    k.sport = htons(probe.sport());
    k.dport = htons(probe.dport());
    k.proto = proto;
    return k;
}

using Counts = std::map<std::pair<Addr, unsigned>, uint32_t>;  // (source, counter) -> value

class BpfTest : public ::testing::Test {
protected:
    // Admission (bpf/admit.bpf.h) off: these tests check what one packet
    // does to a record. AdmitTest loads the program as the agent does.
    static void SetUpTestSuite() { load(false); }
    static void load(bool admission, uint32_t max_sources = 0) {
        try {
            SkelOptions o;
            o.admission = admission;
            o.max_sources = max_sources;
            runner_ = new ProgRunner(o);
        } catch (const std::exception& e) {
            load_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete runner_;
        runner_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(runner_, nullptr) << "cannot load the BPF programs (these tests need root): "
                                    << load_error_;
        reset();
    }

    ProgRunner& r() { return *runner_; }

    // Empties every map and statistic so each test starts from a fresh program state.
    void reset() {
        auto* s = r().skel();
        for (bpf_map* m : {s->maps.sw_sources, s->maps.sw_flows, s->maps.sw_blocks, s->maps.sw_block_addrs,
                           s->maps.sw_allow, s->maps.sw_shield, s->maps.sw_wide}) {
            if (!clear_map(bpf_map__fd(m), bpf_map__key_size(m)))
                FAIL() << "cannot empty map " << bpf_map__name(m);
        }
        r().clear_slots();
        static std::vector<sw_stat_row> zeros(static_cast<size_t>(libbpf_num_possible_cpus()));
        for (uint32_t i = 0; i < SW_IF_SLOTS; i++)
            ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(s->maps.sw_stats), &i, zeros.data(), BPF_ANY), 0);
        sw_ifslot none{};
        for (uint32_t i = 0; i < SW_IF_BUCKETS; i++)
            ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(s->maps.sw_ifslots), &i, &none, BPF_ANY), 0);
        sw_budget budget{};
        uint32_t zero = 0;
        ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(s->maps.sw_budget), &zero, &budget, BPF_ANY), 0);
        uint64_t untrusted = 0;  // the block presence bits: not built, every source looked up
        ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(s->maps.sw_block_bits), &zero, &untrusted, BPF_ANY), 0);
        sw_config c{};
        c.ev_per_sec = 16;
        r().set_config(c);
        r().drain_events();
        now_ = T0;
    }

    int xdp(const Packet& p) { return r().run_xdp(p.build(), now_); }
    int xdp(const Bytes& f) { return r().run_xdp(f, now_); }
    int tc(const Packet& p) { return r().run_tc(p.build(), now_); }
    int tc(const Bytes& f) { return r().run_tc(f, now_); }

    std::optional<sw_source> src(std::string_view a) { return r().source(addr(a)); }
    uint32_t cnt(std::string_view a, unsigned c) {
        auto s = src(a);
        return s ? s->cnt[c] : 0;
    }
    uint64_t stat(unsigned i) { return r().stat(i); }

    // The flow our SYN/ACK (seq our_isn, sent at now_) made for nmap's first SYN (seq isn).
    void expect_nmap_syn_flow(const Packet& syn, uint32_t isn, uint32_t our_isn) {
        auto f = r().flow(key_of(syn));
        ASSERT_TRUE(f) << "our SYN/ACK made no flow";
        EXPECT_EQ(f->state, SW_FS_SYNACK);
        EXPECT_EQ(f->isn, isn);
        EXPECT_EQ(f->our_isn, our_isn);
        EXPECT_EQ(f->syn_nmap, 1);
        EXPECT_EQ(f->first_contact, 1);
        EXPECT_EQ(f->syn_ns, now_);
    }

    // Every nonzero counter of every source.
    Counts counts() {
        Counts out;
        for (auto& [a, s] : r().sources())
            for (unsigned c = 0; c < SW_C_MAX; c++)
                if (s.cnt[c])
                    out[{a, c}] = s.cnt[c];
        return out;
    }

    // Exactly these counters are 1, every other counter of the source is 0.
    void expect_exactly(std::string_view a, std::set<unsigned> ones) {
        auto s = src(a);
        ASSERT_TRUE(s) << "no source record for " << a;
        for (unsigned c = 0; c < SW_C_MAX; c++)
            EXPECT_EQ(s->cnt[c], ones.count(c) ? 1u : 0u) << "counter " << counter_name(c);
    }

    void set_cfg(const std::function<void(sw_config&)>& f) {
        sw_config c = r().config();
        f(c);
        r().set_config(c);
    }

    // A full handshake seen by the programs: SYN in, our SYN/ACK out (TC), the ACK in.
    void handshake(const Packet& syn, uint32_t our_isn, bool ack_too = true) {
        uint32_t isn = syn.seq_value();
        std::string s = syn.v6() ? A6 : A, d = syn.v6() ? T6 : T;
        ASSERT_EQ(xdp(syn), kXdpPass);
        ASSERT_EQ(tc(Packet::tcp(d, s, syn.dport(), syn.sport()).syn().ack(isn + 1).seq(our_isn)), kTcOk);
        if (ack_too) {
            ASSERT_EQ(xdp(Packet::tcp(s, d, syn.sport(), syn.dport()).ack(our_isn + 1).seq(isn + 1)), kXdpPass);
        }
    }

    static ProgRunner* runner_;
    static std::string load_error_;
    uint64_t now_ = T0;
};

ProgRunner* BpfTest::runner_ = nullptr;
std::string BpfTest::load_error_;

// ======================================================================
// Per-packet signatures: one packet on a fresh state, the exact counter set.
// ======================================================================

struct SigCase {
    std::string name;
    std::function<Packet()> make;
    std::set<unsigned> counters;  // exactly these are 1 on the sender's record
};

std::ostream& operator<<(std::ostream& os, const SigCase& c) { return os << c.name; }
struct TruncCase;
std::ostream& operator<<(std::ostream& os, const TruncCase& c);

class Signature : public BpfTest, public ::testing::WithParamInterface<SigCase> {};

TEST_P(Signature, CountsExactly) {
    const SigCase& c = GetParam();
    for (bool padded : {false, true}) {
        SCOPED_TRACE(padded ? "padded to the 60-byte Ethernet minimum" : "unpadded");
        reset();
        Packet p = c.make();
        if (padded)
            p.pad_to(60);
        ASSERT_EQ(xdp(p), kXdpPass);
        expect_exactly(p.v6() ? A6 : A, c.counters);
        EXPECT_EQ(stat(SW_S_TRUNCATED) + stat(SW_S_MALFORMED) + stat(SW_S_NON_IP), 0u);
        // nothing about the target
        EXPECT_FALSE(src(p.v6() ? T6 : T));
    }
}

// nmap -O's T2-T7 options: wscale 10, nop, mss 265, TS 0xFFFFFFFF 0, sack permitted (20 bytes)
Bytes nmap_os_opts() {
    return {0x03, 0x03, 0x0a, 0x01, 0x02, 0x04, 0x01, 0x09, 0x08, 0x0a,
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02};
}

const std::vector<SigCase> kSignatures = {
    {"nmap_syn", [] { return nmap::syn(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP}},
    {"nmap_syn_v6", [] { return nmap::syn(A6, T6, 40000, 80); }, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP}},
    {"os_style_syn", [] { return nmap::os_syn(A, T, 51000, 22); }, {SW_C_PROBES, SW_C_SYN}},
    {"syn_win1024_mss1380", [] { return Packet::tcp(A, T, 40000, 80).syn().win(1024).mss(1380); },
     {SW_C_PROBES, SW_C_SYN}},
    {"syn_mss1460_win1025", [] { return Packet::tcp(A, T, 40000, 80).syn().win(1025).mss(1460); },
     {SW_C_PROBES, SW_C_SYN}},
    {"masscan_syn", [] { return nmap::masscan_syn(A, T, 61000, 443); }, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT}},
    {"zmap_syn", [] { return Packet::tcp(A, T, 61000, 443).syn().win(65535).id(54321); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT, SW_C_ZMAP_IPID}},
    // zmap 4.1+ (probe-args windows, the default; linux; smallest-probes): TTL 64, random IP ID, no DF
    {"zmap4_syn", [] { return Packet::tcp(A, T, 41234, 443).syn().win(65535).ttl(64).id(0x1c2b).df(false)
                                  .tcp_options({2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2}); },
     {SW_C_PROBES, SW_C_SYN, SW_C_ZMAP_SYN}},
    {"zmap4_syn_linux", [] { return Packet::tcp(A, T, 41234, 443).syn().win(65535).ttl(64).id(7).df(false)
                                  .tcp_options({2, 4, 5, 0xb4, 4, 2, 8, 10, 0x69, 0x2c, 0x5b, 0x10, 0, 0, 0, 0, 1, 3, 3, 7}); },
     {SW_C_PROBES, SW_C_SYN, SW_C_ZMAP_SYN}},
    {"zmap4_syn_smallest", [] { return Packet::tcp(A, T, 41234, 443).syn().win(65535).ttl(64).id(9).df(false).mss(1460); },
     {SW_C_PROBES, SW_C_SYN, SW_C_ZMAP_SYN}},
    // what the stacks zmap imitates send: DF set, another window (or TTL 128)
    {"windows_stack_syn", [] { return Packet::tcp(A, T, 41234, 443).syn().win(64240).ttl(128).id(9).df()
                                  .tcp_options({2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2}); },
     {SW_C_PROBES, SW_C_SYN}},
    {"zmap4_layout_with_df", [] { return Packet::tcp(A, T, 41234, 443).syn().win(65535).ttl(64).id(9).df()
                                  .tcp_options({2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2}); },
     {SW_C_PROBES, SW_C_SYN}},
    {"zmap4_layout_ws7", [] { return Packet::tcp(A, T, 41234, 443).syn().win(65535).ttl(64).id(9).df(false)
                                  .tcp_options({2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2}); },
     {SW_C_PROBES, SW_C_SYN}},
    {"fin", [] { return nmap::fin(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_FIN}},
    {"null", [] { return nmap::null(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_NULL}},
    {"xmas", [] { return nmap::xmas(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_XMAS}},
    {"xmas_v6", [] { return nmap::xmas(A6, T6, 40000, 80); }, {SW_C_PROBES, SW_C_XMAS}},
    {"maimon", [] { return nmap::maimon(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_MAIMON}},
    {"ack_probe", [] { return nmap::ack_probe(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_ACK_PROBE}},
    {"syn_fin", [] { return nmap::syn(A, T, 40000, 80).fin(); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_ODD_FLAGS}},
    {"fin_psh", [] { return Packet::tcp(A, T, 40000, 80).fin().psh().win(1024).seq(5); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"os_seq_ts_ffffffff", [] { return nmap::os_seq(A, T, 40000, 80, 0); }, {SW_C_PROBES, SW_C_SYN, SW_C_OS_TS}},
    {"os_ecn_urgptr_without_urg", [] { return nmap::os_ecn(A, T, 40000, 80); },
     {SW_C_PROBES, SW_C_SYN, SW_C_OS_URG}},
    {"os_u1_udp", [] { return nmap::os_u1(A, T, 45000, 40125); }, {SW_C_PROBES, SW_C_UDP, SW_C_OS_UDP}},
    {"os_ie1_echo_code9", [] { return nmap::os_ie1(A, T); }, {SW_C_PROBES, SW_C_ICMP_ECHO, SW_C_ICMP_ODD}},
    {"echo_empty", [] { return nmap::echo_empty(A, T); }, {SW_C_PROBES, SW_C_ICMP_ECHO, SW_C_ICMP_ODD}},
    {"echo_empty_v6", [] { return nmap::echo_empty(A6, T6); }, {SW_C_PROBES, SW_C_ICMP_ECHO, SW_C_ICMP_ODD}},
    {"echo_ordinary", [] { return Packet::icmp(A, T, 8).echo(7, 1).payload(56, 0x61); },
     {SW_C_PROBES, SW_C_ICMP_ECHO}},
    {"timestamp_zero", [] { return nmap::timestamp_zero(A, T); }, {SW_C_PROBES, SW_C_ICMP_ECHO, SW_C_ICMP_ODD}},
    {"timestamp_nonzero",
     [] { return Packet::icmp(A, T, 13).echo(1, 1).payload(cat({be32(1234), Bytes(8, 0)})); },
     {SW_C_PROBES, SW_C_ICMP_ECHO}},
    {"bare_ip_proto2", [] { return nmap::bare_ip(A, T, 2); }, {SW_C_PROBES, SW_C_BARE_IP}},
    {"sctp_init_vtag0", [] { return nmap::sctp_init(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_SCTP_INIT}},
    {"sctp_init_vtag0_v6", [] { return nmap::sctp_init(A6, T6, 40000, 80); }, {SW_C_PROBES, SW_C_SCTP_INIT}},
    {"sctp_cookie_echo", [] { return nmap::sctp_cookie_echo(A, T, 40000, 80); }, {SW_C_PROBES, SW_C_SCTP_INIT}},
    {"sctp_data_vtag_set",
     [] { return Packet::sctp(A, T, 40000, 80).vtag(9).sctp_chunk(0, 3, Bytes(16, 1)); }, {SW_C_PROBES}},
    {"udp_empty", [] { return Packet::udp(A, T, 45000, 40125); }, {SW_C_PROBES, SW_C_UDP, SW_C_UDP_EMPTY}},
    {"udp_rpc_check", [] { return Packet::udp(A, T, 45000, 111).payload(nmap::rpc_check_udp()); },
     {SW_C_PROBES, SW_C_UDP, SW_C_RPC}},
    {"udp_ip_id_1042_but_299_bytes", [] { return Packet::udp(A, T, 45000, 40125).id(0x1042).payload(299, 'C'); },
     {SW_C_PROBES, SW_C_UDP}},
    // flag sets no connection uses: custom-flags, whatever answers them
    {"all_six_flags", [] { return Packet::tcp(A, T, 40000, 80).flags(0x3f).win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"cwr_alone", [] { return Packet::tcp(A, T, 40000, 80).flags(0x80).win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"ece_alone", [] { return Packet::tcp(A, T, 40000, 80).flags(0x40).win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"syn_rst", [] { return Packet::tcp(A, T, 40000, 80).syn().rst().win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"rst_fin", [] { return Packet::tcp(A, T, 40000, 80).rst().fin().win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"syn_fin_ack", [] { return Packet::tcp(A, T, 40000, 80).syn().fin().ack(9).win(1024).seq(7); },
     {SW_C_PROBES, SW_C_ODD_FLAGS}},
    {"syn_psh_urg", [] { return Packet::tcp(A, T, 40000, 80).syn().psh().urg().win(1024).seq(7); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT, SW_C_ODD_FLAGS}},
    {"ecn_setup_syn_is_no_odd_flag",
     [] { return nmap::os_syn(A, T, 51000, 22).ece().cwr(); }, {SW_C_PROBES, SW_C_SYN}},
    // -O's T2 (no flags) and T4 (ACK) with nmap's 20 option bytes, TSval 0xFFFFFFFF
    {"os_t2_null_with_ts",
     [] { return Packet::tcp(A, T, 40000, 80).win(128).df().seq(9).tcp_options(nmap_os_opts()); },
     {SW_C_PROBES, SW_C_NULL, SW_C_OS_TS}},
    {"os_t4_ack_with_ts",
     [] { return Packet::tcp(A, T, 40000, 80).ack(5).seq(9).win(1024).df().tcp_options(nmap_os_opts()); },
     {SW_C_PROBES, SW_C_OS_TS}},
    {"os_t7_xmas_with_ts",
     [] { return nmap::xmas(A, T, 40000, 80).win(65535).tcp_options(nmap_os_opts()); },
     {SW_C_PROBES, SW_C_XMAS, SW_C_OS_TS}},
    // hping3: window 64, no options
    {"hping3_syn", [] { return Packet::tcp(A, T, 2101, 80).syn().win(64).seq(77).ttl(64); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT, SW_C_HPING}},
    {"hping3_fin", [] { return Packet::tcp(A, T, 2101, 80).fin().win(64).seq(77).ttl(64); },
     {SW_C_PROBES, SW_C_FIN, SW_C_HPING}},
    {"hping3_3_0_0_syn", [] { return Packet::tcp(A, T, 2101, 80).syn().win(512).seq(77).ttl(64); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT, SW_C_HPING}},
    // masscan: IP ID = (daddr ^ dport ^ seq) & 0xffff; 198.18.0.1 = 0xc6120001
    {"masscan_ipid_syn",
     [] { return nmap::masscan_syn(A, T, 61000, 80, 0x12345678).id((0xc6120001u ^ 80u ^ 0x12345678u) & 0xffff); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT, SW_C_MASSCAN_IPID}},
    {"masscan_ipid_off_by_one",
     [] { return nmap::masscan_syn(A, T, 61000, 80, 0x12345678).id(((0xc6120001u ^ 80u ^ 0x12345678u) + 1) & 0xffff); },
     {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NOOPT}},
};

INSTANTIATE_TEST_SUITE_P(Probes, Signature, ::testing::ValuesIn(kSignatures),
                         [](const auto& info) { return info.param.name; });

// A SYN makes no flow (one slot in sw_syns); our SYN/ACK makes it, with
// what the SYN said (its ISN, nmap's raw fingerprint, a first contact).
TEST_F(BpfTest, SynAckCreatesFlowFromTheSyn) {
    Packet syn = nmap::syn(A, T, 40000, 80, 0xdeadbeef);
    ASSERT_EQ(xdp(syn), kXdpPass);
    EXPECT_EQ(r().flow_count(), 0u) << "an inbound SYN inserts nothing into sw_flows";
    EXPECT_EQ(stat(SW_S_FLOWS_NEW), 0u);
    EXPECT_EQ(stat(SW_S_PROBES), 1u);
    EXPECT_EQ(stat(SW_S_PACKETS), 1u);
    EXPECT_EQ(stat(SW_S_IPV4), 1u);

    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->first_ns, T0);
    EXPECT_EQ(s->last_ns, T0);
    EXPECT_EQ(s->ttl_min, 47);
    EXPECT_EQ(s->ttl_max, 47);
    EXPECT_EQ(s->ports_new, 1u);
    EXPECT_EQ(s->hosts_new, 1u);
    EXPECT_EQ(s->last_seq, 0xdeadbeefu);
    EXPECT_EQ(s->last_sport, 40000);

    now_ = T0 + 5;
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0xdeadbef0).seq(0x5000)), kTcOk);
    expect_nmap_syn_flow(syn, 0xdeadbeef, 0x5000);
    EXPECT_EQ(r().flow_count(), 1u);
    EXPECT_EQ(stat(SW_S_FLOWS_NEW), 1u);
    // a second SYN/ACK to the same SYN is no second answer
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0xdeadbef0).seq(0x5000)), kTcOk);
    EXPECT_EQ(cnt(A, SW_C_ANSWERED), 1u);

    Packet os = nmap::os_syn(A, T, 51000, 22, 77);
    ASSERT_EQ(xdp(os), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 22, 51000).syn().ack(78).seq(1)), kTcOk);
    auto f2 = r().flow(key_of(os));
    ASSERT_TRUE(f2);
    EXPECT_EQ(f2->syn_nmap, 0);
    // a closed port's RST ends the SYN without any flow
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 500)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 81, 40000).rst().ack(501)), kTcOk);
    EXPECT_EQ(cnt(A, SW_C_FAIL_RST), 1u);
    EXPECT_EQ(r().flow_count(), 2u);
}

TEST_F(BpfTest, ProbesRepeatingSeqAndSourcePort) {
    // nmap's first tries to every port share one seq and one source port
    for (uint16_t port : {80, 443, 22})
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, port, 0x1234)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SAME_SEQ), 2u);
    EXPECT_EQ(cnt(A, SW_C_SAME_SPORT), 2u);
    // ACK probes compare their ack field
    ASSERT_EQ(xdp(nmap::ack_probe(A, T, 40002, 80, 0x1234)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SAME_SEQ), 3u);
    EXPECT_EQ(cnt(A, SW_C_SAME_SPORT), 2u);
}

TEST_F(BpfTest, FirstProbeHasNothingToRepeat) {
    // a fresh record's zero seq / source port are not a previous probe's
    ASSERT_EQ(xdp(Packet::tcp(A, T, 40000, 80).syn().win(1024).seq(0)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SAME_SEQ), 0u);
    EXPECT_EQ(cnt(A, SW_C_SAME_SPORT), 0u);
    ASSERT_EQ(xdp(Packet::tcp(A, T, 40001, 81).syn().win(1024).seq(0)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SAME_SEQ), 1u);
    EXPECT_EQ(cnt(A, SW_C_SAME_SPORT), 0u);
    // an ICMP probe first does not count as a previous seq
    ASSERT_EQ(xdp(nmap::echo_empty("198.18.0.5", T)), kXdpPass);
    ASSERT_EQ(xdp(nmap::ack_probe("198.18.0.5", T, 40000, 80, 0)), kXdpPass);
    EXPECT_EQ(cnt("198.18.0.5", SW_C_SAME_SEQ), 0u);
}

TEST_F(BpfTest, TtlRangeOverProbes) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80).ttl(37)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81).ttl(59)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 82).ttl(44)), kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->ttl_min, 37);
    EXPECT_EQ(s->ttl_max, 59);
}

// ======================================================================
// Flows: half-open, connect, failed attempts
// ======================================================================

struct Family {
    const char* name;
    const char* a;
    const char* t;
};
std::ostream& operator<<(std::ostream& os, const Family& f) { return os << f.name; }
class FlowTest : public BpfTest, public ::testing::WithParamInterface<Family> {
protected:
    const char* a() const { return GetParam().a; }
    const char* t() const { return GetParam().t; }
};

TEST_P(FlowTest, HalfOpenHostMode) {
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    Packet syn = nmap::syn(a(), t(), 40000, 80, isn);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(t(), a(), 80, 40000).syn().ack(isn + 1).seq(ours)), kTcOk);
    auto f = r().flow(key_of(syn));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->state, SW_FS_SYNACK);
    EXPECT_EQ(f->our_isn, ours);
    EXPECT_EQ(cnt(a(), SW_C_ANSWERED), 1u);

    ASSERT_EQ(xdp(nmap::kernel_rst(a(), t(), 40000, 80, isn + 1)), kXdpPass);
    expect_exactly(a(), {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_ANSWERED, SW_C_FIRST_OK, SW_C_HALF_OPEN});
    auto s = src(a());
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->flags & SW_SF_VERIFIED);
    EXPECT_EQ(s->rst_ttl, 64);
    EXPECT_FALSE(r().flow(key_of(syn)));
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_EQ(stat(SW_S_EGRESS), 1u);
    EXPECT_FALSE(src(t()));
}

TEST_P(FlowTest, HalfOpenGatewayMode) {
    // the protected host's SYN/ACK arrives as XDP ingress on the inside interface
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    Packet syn = nmap::syn(a(), t(), 40000, 80, isn);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(xdp(Packet::tcp(t(), a(), 80, 40000).syn().ack(isn + 1).seq(ours).ttl(64)), kXdpPass);
    ASSERT_EQ(xdp(nmap::kernel_rst(a(), t(), 40000, 80, isn + 1)), kXdpPass);
    expect_exactly(a(), {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_ANSWERED, SW_C_FIRST_OK, SW_C_HALF_OPEN});
    EXPECT_TRUE(src(a())->flags & SW_SF_VERIFIED);
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_FALSE(src(t())) << "the answering host is not a prober";
    EXPECT_EQ(stat(SW_S_EGRESS), 0u);
}

TEST_P(FlowTest, RstWithWrongSeqIsNotHalfOpen) {
    const uint32_t isn = 1000;
    Packet syn = nmap::syn(a(), t(), 40000, 80, isn);
    handshake(syn, 5000, false);
    ASSERT_EQ(xdp(nmap::kernel_rst(a(), t(), 40000, 80, isn + 7)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_HALF_OPEN), 0u);
    EXPECT_FALSE(src(a())->flags & SW_SF_VERIFIED);
    EXPECT_EQ(r().flow_count(), 0u) << "any RST ends the flow";
}

TEST_P(FlowTest, SynAckWithWrongAckIsNotAnAnswer) {
    Packet syn = nmap::syn(a(), t(), 40000, 80, 1000);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(t(), a(), 80, 40000).syn().ack(1000).seq(1)), kTcOk);
    EXPECT_EQ(cnt(a(), SW_C_ANSWERED), 0u);
    EXPECT_FALSE(r().flow(key_of(syn)));
    // the SYN still waits for its real answer
    ASSERT_EQ(tc(Packet::tcp(t(), a(), 80, 40000).syn().ack(1001).seq(1)), kTcOk);
    EXPECT_EQ(cnt(a(), SW_C_ANSWERED), 1u);
    EXPECT_EQ(r().flow(key_of(syn))->state, SW_FS_SYNACK);
}

TEST_P(FlowTest, ConnectProbe) {
    const uint32_t isn = 0xfffffff0, ours = 0x7000;  // isn+1 wraps nowhere near, but close
    Packet syn = nmap::os_syn(a(), t(), 51000, 22, isn);
    handshake(syn, ours);
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 51000, 22).rst().ack(ours + 1).seq(isn + 1).df()), kXdpPass);
    expect_exactly(a(), {SW_C_PROBES, SW_C_SYN, SW_C_ANSWERED, SW_C_FIRST_OK, SW_C_CONNECT});
    EXPECT_TRUE(src(a())->flags & SW_SF_VERIFIED);
    EXPECT_EQ(r().flow_count(), 0u);
}

// Only a source's first contact with a port (or host) counts as a success in
// the sequential test: a client reconnecting to one service earns one.
TEST_P(FlowTest, RepeatedConnectionsEarnOneFirstContactSuccess) {
    for (uint32_t i = 0; i < 5; i++) {
        Packet syn = nmap::os_syn(a(), t(), static_cast<uint16_t>(52000 + i), 443, 1000 * i);
        handshake(syn, 7000 * i + 1);
    }
    EXPECT_EQ(cnt(a(), SW_C_ANSWERED), 5u);
    EXPECT_EQ(cnt(a(), SW_C_FIRST_OK), 1u);
    handshake(nmap::os_syn(a(), t(), 52100, 22, 42), 4242);  // a new port is a new first contact
    EXPECT_EQ(cnt(a(), SW_C_FIRST_OK), 2u);
}

// nmap -sV's probe payloads (and NSE's marker) count; ordinary requests do not.
TEST_P(FlowTest, ServiceProbePayloads) {
    const std::string probes[] = {"\r\n\r\n", "GET / HTTP/1.0\r\n\r\n", "OPTIONS / HTTP/1.0\r\n\r\n",
                                  "OPTIONS / RTSP/1.0\r\n\r\n",
                                  "GET /nmaplowercheck1596348081 HTTP/1.1\r\nHost: x\r\n\r\n"};
    const std::string ordinary[] = {"GET / HTTP/1.1\r\nHost: example\r\n\r\n", "ok\r\n",
                                    "GET / HTTP/1.0\r\n\r\nX", "OPTIONS / HTTP/1.1\r\n\r\n"};
    uint16_t sport = 53000;
    for (const auto& body : ordinary)
        ASSERT_EQ(xdp(Packet::tcp(a(), t(), sport++, 80).ack(5).psh().seq(77).payload(body)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_SV_PROBE), 0u);
    for (const auto& body : probes)
        ASSERT_EQ(xdp(Packet::tcp(a(), t(), sport++, 80).ack(5).psh().seq(77).payload(body)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_SV_PROBE), 5u);
}

TEST_P(FlowTest, ConnectionWithDataThenRstIsNotConnect) {
    const uint32_t isn = 100, ours = 9000;
    Packet syn = nmap::os_syn(a(), t(), 51000, 80, isn);
    handshake(syn, ours);
    const std::string get = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 51000, 80).ack(ours + 1).psh().seq(isn + 1).payload(get)), kXdpPass);
    EXPECT_TRUE(r().flow(key_of(syn))) << "data does not end the flow";
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 51000, 80)
                      .rst()
                      .ack(ours + 1)
                      .seq(isn + 1 + static_cast<uint32_t>(get.size()))),
              kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_CONNECT), 0u);
    EXPECT_EQ(cnt(a(), SW_C_RPC), 0u);
    EXPECT_EQ(r().flow_count(), 0u);
}

TEST_P(FlowTest, ClosedPortRst) {
    const uint32_t isn = 4242;
    Packet syn = nmap::syn(a(), t(), 40000, 81, isn);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(t(), a(), 81, 40000).rst().ack(isn + 1).seq(0)), kTcOk);
    expect_exactly(a(), {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_FAIL_RST});
    EXPECT_FALSE(r().flow(key_of(syn)));
    EXPECT_FALSE(src(a())->flags & SW_SF_VERIFIED);
}

TEST_P(FlowTest, ClosedPortRstGatewayMode) {
    const uint32_t isn = 4242;
    Packet syn = nmap::syn(a(), t(), 40000, 81, isn);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(xdp(Packet::tcp(t(), a(), 81, 40000).rst().ack(isn + 1).seq(0)), kXdpPass);
    expect_exactly(a(), {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_FAIL_RST});
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_FALSE(src(t()));
}

TEST_P(FlowTest, ClosedUdpPortIcmpUnreachable) {
    bool v6 = std::string(a()).find(':') != std::string::npos;
    Packet probe = Packet::udp(a(), t(), 45000, 40125).ttl(50);
    ASSERT_EQ(xdp(probe), kXdpPass);
    Packet unreach = v6 ? Packet::icmp(t(), a(), 1, 4).quote(probe) : Packet::icmp(t(), a(), 3, 3).quote(probe);
    ASSERT_EQ(tc(unreach), kTcOk);
    expect_exactly(a(), {SW_C_PROBES, SW_C_UDP, SW_C_UDP_EMPTY, SW_C_FAIL_ICMP});
    // gateway form
    ASSERT_EQ(xdp(unreach), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_FAIL_ICMP), 2u);
    EXPECT_FALSE(src(t()));
}

TEST_P(FlowTest, IcmpUnreachableForTcpProbeEndsFlow) {
    bool v6 = std::string(a()).find(':') != std::string::npos;
    Packet syn = nmap::syn(a(), t(), 40000, 80, 77);
    ASSERT_EQ(xdp(syn), kXdpPass);
    // a filtering router (or host) answers admin-prohibited, quoting the SYN's first 8 bytes
    size_t quote_len = (v6 ? 40 : 20) + 8;
    Packet unreach = v6 ? Packet::icmp(t(), a(), 1, 1).quote(syn, quote_len)
                        : Packet::icmp(t(), a(), 3, 13).quote(syn, quote_len);
    ASSERT_EQ(tc(unreach), kTcOk);
    EXPECT_EQ(cnt(a(), SW_C_FAIL_ICMP), 1u);
    EXPECT_EQ(r().flow_count(), 0u);
}

TEST_P(FlowTest, UnreachableQuotingSomeoneElseIsIgnored) {
    Packet probe = Packet::udp(a(), t(), 45000, 40125);
    ASSERT_EQ(xdp(probe), kXdpPass);
    bool v6 = std::string(a()).find(':') != std::string::npos;
    const char* other = v6 ? "2001:2::99" : "198.18.0.99";
    // sent to `other`, quoting a packet from a()
    Packet unreach = v6 ? Packet::icmp(t(), other, 1, 4).quote(probe) : Packet::icmp(t(), other, 3, 3).quote(probe);
    ASSERT_EQ(tc(unreach), kTcOk);
    EXPECT_EQ(cnt(a(), SW_C_FAIL_ICMP), 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, FlowTest,
                         ::testing::Values(Family{"v4", A, T}, Family{"v6", A6, T6}),
                         [](const auto& info) { return std::string(info.param.name); });

// ======================================================================
// ONC RPC
// ======================================================================

TEST_F(BpfTest, RpcCheckOverTcpAfterHandshake) {
    const uint32_t isn = 5555, ours = 777;
    Packet syn = nmap::os_syn(A, T, 51000, 80, isn);
    handshake(syn, ours);
    r().drain_events();
    Bytes rpc = nmap::rpc_check_tcp();
    ASSERT_EQ(rpc.size(), 44u);
    ASSERT_EQ(xdp(Packet::tcp(A, T, 51000, 80).ack(ours + 1).psh().seq(isn + 1).payload(rpc)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_RPC), 1u);
    auto s = src(A);
    EXPECT_EQ(s->rpc_last_prog, 100000u);
    EXPECT_EQ(s->rpc_progs, 1u);

    auto ev = r().drain_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, static_cast<uint32_t>(SW_EV_RPC));
    EXPECT_EQ(ev[0].value, 100000u);
    EXPECT_EQ(ev[0].aux, 104316u);
    EXPECT_EQ(ev[0].counter, 1u) << "first payload of the flow";
    EXPECT_EQ(ev[0].dport, htons(80));
    EXPECT_EQ(ev[0].proto, 6);
    EXPECT_EQ(ev[0].ts_ns, T0);
    EXPECT_EQ(Addr::from_bytes(ev[0].saddr), addr(A));
    EXPECT_EQ(Addr::from_bytes(ev[0].daddr), addr(T));
}

TEST_F(BpfTest, RpcCallLaterInTheStreamIsNotFirstPayload) {
    const uint32_t isn = 5555, ours = 777;
    handshake(nmap::os_syn(A, T, 51000, 80, isn), ours);
    ASSERT_EQ(xdp(Packet::tcp(A, T, 51000, 80).ack(ours + 1).psh().seq(isn + 1).payload("\r\n\r\n")), kXdpPass);
    r().drain_events();
    ASSERT_EQ(xdp(Packet::tcp(A, T, 51000, 80).ack(ours + 1).psh().seq(isn + 5).payload(nmap::rpc_check_tcp())),
              kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_RPC), 1u);
    auto ev = r().drain_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, static_cast<uint32_t>(SW_EV_RPC));
    EXPECT_EQ(ev[0].counter, 0u);
}

TEST_F(BpfTest, RpcOverUdp) {
    ASSERT_EQ(xdp(Packet::udp(A, T, 45000, 111).payload(nmap::rpc_check_udp())), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_RPC), 1u);
    EXPECT_EQ(cnt(A, SW_C_UDP), 1u);
    auto ev = r().drain_events();
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev.back().type, static_cast<uint32_t>(SW_EV_RPC));
    EXPECT_EQ(ev.back().value, 100000u);
    EXPECT_EQ(ev.back().aux, 104316u);
    EXPECT_EQ(ev.back().counter, 1u);
    EXPECT_EQ(ev.back().proto, 17);
}

TEST_F(BpfTest, RpcGrinderCountsDistinctPrograms) {
    for (uint32_t i = 0; i < 5; i++)
        ASSERT_EQ(xdp(Packet::udp(A, T, 600, 32771).payload(nmap::rpc_call(0x100 + i, 100000 + i, 1, false))),
                  kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_RPC], 5u);
    EXPECT_EQ(s->rpc_progs, 5u);
    EXPECT_EQ(s->rpc_last_prog, 100004u);
}

struct NotRpcCase {
    std::string name;
    Bytes payload;
};
std::ostream& operator<<(std::ostream& os, const NotRpcCase& c) { return os << c.name; }
class NotRpc : public BpfTest, public ::testing::WithParamInterface<NotRpcCase> {};

TEST_P(NotRpc, TcpFirstPayload) {
    const uint32_t isn = 5555, ours = 777;
    Packet syn = nmap::os_syn(A, T, 51000, 80, isn);
    handshake(syn, ours);
    ASSERT_EQ(xdp(Packet::tcp(A, T, 51000, 80).ack(ours + 1).psh().seq(isn + 1).payload(GetParam().payload)),
              kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_RPC), 0u);
    EXPECT_TRUE(r().flow(key_of(syn))) << "flows end on FIN/RST, not on data";
    for (auto& e : r().drain_events())
        EXPECT_NE(e.type, static_cast<uint32_t>(SW_EV_RPC));
}

Bytes with_word(Bytes b, size_t word, uint32_t v) {
    for (int i = 0; i < 4; i++)
        b[word * 4 + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (24 - 8 * i));
    return b;
}

INSTANTIATE_TEST_SUITE_P(
    Payloads, NotRpc,
    ::testing::Values(NotRpcCase{"http_get", hex("474554202f20485454502f312e300d0a0d0a")},
                      NotRpcCase{"http_get_long", [] {
                                     std::string s = "GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: curl\r\n\r\n";
                                     return Bytes(s.begin(), s.end());
                                 }()},
                      NotRpcCase{"rpc_reply_msg_type_1", with_word(nmap::rpc_check_tcp(), 2, 1)},
                      NotRpcCase{"rpc_version_3", with_word(nmap::rpc_check_tcp(), 3, 3)},
                      NotRpcCase{"no_last_fragment_bit", with_word(nmap::rpc_check_tcp(), 0, 0x28)},
                      NotRpcCase{"udp_form_on_tcp", nmap::rpc_check_udp()},
                      NotRpcCase{"short_27_bytes", [] {
                          Bytes b = nmap::rpc_check_tcp();
                          b.resize(27);
                          return b;
                      }()}),
    [](const auto& info) { return info.param.name; });

TEST_F(BpfTest, UdpRpcReplyIsNotACall) {
    ASSERT_EQ(xdp(Packet::udp(A, T, 45000, 111).payload(with_word(nmap::rpc_check_udp(), 1, 1))), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_RPC), 0u);
    EXPECT_EQ(cnt(A, SW_C_UDP), 1u);
}

// ======================================================================
// Ordinary traffic that looks close to a probe
// ======================================================================

TEST_F(BpfTest, OrdinaryTrafficCreatesNoRecord) {
    // established data segment
    EXPECT_EQ(xdp(Packet::tcp(A, T, 51000, 443).ack(99999).psh().seq(123456).payload(Bytes(100, 0x17))), kXdpPass);
    // pure ACK mid-connection (seq != 0)
    EXPECT_EQ(xdp(Packet::tcp(A, T, 51000, 443).ack(99999).seq(123556)), kXdpPass);
    // ordinary close
    EXPECT_EQ(xdp(Packet::tcp(A, T, 51000, 443).fin().ack(99999).seq(123556)), kXdpPass);
    // DNS reply to one of our clients
    EXPECT_EQ(xdp(Packet::udp(A, T, 53, 40000).payload(hex("77778180000100010000000003777777"))), kXdpPass);
    // NTP reply, QUIC-over-4500 reply
    EXPECT_EQ(xdp(Packet::udp(A, T, 123, 50123).payload(48, 0x24)), kXdpPass);
    // SYN/ACK with no SYN of ours behind it (backscatter), and a stray RST
    EXPECT_EQ(xdp(Packet::tcp(A, T, 80, 40000).syn().ack(1000).seq(5)), kXdpPass);
    EXPECT_EQ(xdp(Packet::tcp(A, T, 80, 40000).rst().seq(5)), kXdpPass);
    EXPECT_EQ(xdp(Packet::tcp(A, T, 80, 40000).rst().ack(9).seq(5)), kXdpPass);
    // ICMP echo reply and an unreachable quoting nothing we track
    EXPECT_EQ(xdp(Packet::icmp(A, T, 0).echo(1, 1).payload(56, 0)), kXdpPass);
    // same for IPv6
    EXPECT_EQ(xdp(Packet::tcp(A6, T6, 51000, 443).ack(99999).psh().seq(123456).payload(Bytes(100, 0x17))), kXdpPass);
    EXPECT_EQ(xdp(Packet::udp(A6, T6, 53, 40000).payload(Bytes(40, 1))), kXdpPass);
    EXPECT_EQ(xdp(Packet::tcp(A6, T6, 80, 40000).syn().ack(1000).seq(5)), kXdpPass);
    EXPECT_EQ(xdp(Packet::icmp(A6, T6, 129).echo(1, 1)), kXdpPass);

    EXPECT_TRUE(r().sources().empty());
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_EQ(stat(SW_S_PROBES), 0u);
    EXPECT_EQ(stat(SW_S_TRUNCATED) + stat(SW_S_MALFORMED), 0u);
}

TEST_F(BpfTest, OurOwnAnswersOnEgressCreateNoRecord) {
    // TC egress without a matching probe: nothing to account
    EXPECT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(1000).seq(5)), kTcOk);
    EXPECT_EQ(tc(Packet::tcp(T, A, 80, 40000).rst().ack(1000)), kTcOk);
    EXPECT_EQ(tc(Packet::icmp(T, A, 3, 3).quote(Packet::udp(A, T, 1, 2))), kTcOk);
    EXPECT_EQ(tc(nmap::syn(T, A, 40000, 80)), kTcOk);  // an outgoing SYN is not a probe against us
    EXPECT_TRUE(r().sources().empty());
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_EQ(stat(SW_S_EGRESS), 4u);
}

// ======================================================================
// Parsing: VLAN, IPv4 options/fragments, IPv6 extension headers
// ======================================================================

TEST_F(BpfTest, VlanSingleAndDoubleTag) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80).vlan(100)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81).vlan(100, 0x88a8).vlan(200)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81).vlan(100, 0x88a8).vlan(200)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN_NMAP), 2u);
    EXPECT_EQ(cnt(A6, SW_C_SYN_NMAP), 1u);
    EXPECT_EQ(stat(SW_S_VLAN), 3u);
}

TEST_F(BpfTest, ThreeVlanTagsAreNotParsed) {
    Packet p = nmap::syn(A, T, 40000, 80).vlan(1, 0x88a8).vlan(2).ethertype(0x8100);
    Bytes f = p.build();
    // splice a third tag (0x8100, vid 3) before the IPv4 EtherType
    Bytes third = {0x00, 0x03, 0x08, 0x00};
    f.insert(f.begin() + 22, third.begin(), third.end());
    ASSERT_EQ(xdp(f), kXdpPass);
    EXPECT_EQ(stat(SW_S_NON_IP), 1u);
    EXPECT_TRUE(r().sources().empty());
}

TEST_F(BpfTest, NonIpIsCountedAndPassed) {
    Bytes arp = Packet::ip(A, T, 0).ethertype(0x0806).payload(28, 0).build();
    ASSERT_EQ(xdp(arp), kXdpPass);
    EXPECT_EQ(stat(SW_S_NON_IP), 1u);
    EXPECT_EQ(stat(SW_S_PACKETS), 1u);
}

TEST_F(BpfTest, Ipv4OptionsEveryIhl) {
    for (uint8_t ihl = 6; ihl <= 15; ihl++) {
        SCOPED_TRACE("ihl " + std::to_string(ihl));
        Bytes opts(4u * (ihl - 5u), 1);  // NOPs
        opts.back() = 0;                 // EOL
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, static_cast<uint16_t>(1000 + ihl)).ip_options(opts)), kXdpPass);
        EXPECT_EQ(cnt(A, SW_C_SYN_NMAP), ihl - 5u);
    }
    EXPECT_EQ(stat(SW_S_MALFORMED) + stat(SW_S_TRUNCATED), 0u);
}

struct BadCase {
    std::string name;
    std::function<Packet()> make;
};
std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }
class Malformed : public BpfTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(Malformed, CountedAndPassed) {
    ASSERT_EQ(xdp(GetParam().make()), kXdpPass);
    EXPECT_EQ(stat(SW_S_MALFORMED), 1u);
    EXPECT_TRUE(r().sources().empty());
    EXPECT_EQ(r().flow_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Headers, Malformed,
    ::testing::Values(
        BadCase{"ihl_0", [] { return nmap::syn(A, T, 40000, 80).ihl(0); }},
        BadCase{"ihl_4", [] { return nmap::syn(A, T, 40000, 80).ihl(4); }},
        BadCase{"ip_version_5", [] { return nmap::syn(A, T, 40000, 80).ip_version(5); }},
        BadCase{"ipv6_version_4", [] { return nmap::syn(A6, T6, 40000, 80).ip_version(4); }},
        BadCase{"tot_len_below_ihl", [] { return nmap::syn(A, T, 40000, 80).ip_len(19); }},
        BadCase{"tot_len_below_ihl_with_options",
                [] { return nmap::syn(A, T, 40000, 80).ip_options(Bytes(8, 1)).ip_len(24); }},
        BadCase{"tcp_doff_4", [] { return nmap::syn(A, T, 40000, 80).doff(4); }},
        BadCase{"tcp_doff_beyond_ip_length", [] { return nmap::syn(A, T, 40000, 80).ip_len(20 + 20); }},
        BadCase{"udp_length_beyond_ip", [] { return Packet::udp(A, T, 1, 2).ip_len(20 + 6).payload(8, 0); }},
        BadCase{"ipv6_ext_len_beyond_payload",
                [] { return nmap::syn(A6, T6, 40000, 80).hop_by_hop(16).ip_len(8); }},
        BadCase{"ipv6_chain_deeper_than_walked", [] {
                    return nmap::syn(A6, T6, 40000, 80).hop_by_hop().dest_opts().routing().dest_opts()
                        .dest_opts().dest_opts().dest_opts();
                }}),
    [](const auto& info) { return info.param.name; });

TEST_F(BpfTest, Ipv6ExtensionHeadersThenSyn) {
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80).hop_by_hop().dest_opts(16).routing(24)), kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_SYN), 1u);
    EXPECT_EQ(cnt(A6, SW_C_SYN_NMAP), 1u);
    EXPECT_EQ(stat(SW_S_IPV6_EXT), 1u);
    EXPECT_EQ(stat(SW_S_IPV6), 1u);
    // the deepest chain the parser walks (6 headers) still parses
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81).hop_by_hop().dest_opts().routing().dest_opts().dest_opts()
                      .dest_opts()),
              kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_SYN), 2u);
    EXPECT_EQ(stat(SW_S_MALFORMED), 0u);
}

TEST_F(BpfTest, Ipv6NoNextHeader) {
    ASSERT_EQ(xdp(Packet::ip(A6, T6, 59)), kXdpPass);
    EXPECT_TRUE(r().sources().empty());
    EXPECT_EQ(stat(SW_S_IPV6), 1u);
}

TEST_F(BpfTest, Ipv4TinyFirstFragment) {
    // -f: 8 bytes of TCP in the first fragment (ports and seq, no flags)
    Packet p = nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 8);
    ASSERT_EQ(p.l3().size(), 28u);
    ASSERT_EQ(xdp(p), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY});
    EXPECT_EQ(stat(SW_S_FRAGMENTS), 1u);
    EXPECT_EQ(stat(SW_S_TRUNCATED) + stat(SW_S_MALFORMED), 0u);
    EXPECT_EQ(r().flow_count(), 0u) << "noted as a SYN: a flow only when our SYN/ACK answers it";
}

// -f against an open port: our SYN/ACK says the reassembled probe was a SYN,
// the scanner kernel's bare RST completes a half-open probe, all fragmented.
TEST_F(BpfTest, TinyFragmentAnsweredWithSynAckIsASyn) {
    Packet syn = nmap::syn(A, T, 40000, 80, 0xabcd0001);
    ASSERT_EQ(xdp(Packet(syn).frag(0, true).l4_slice(0, 8)), kXdpPass);
    ASSERT_EQ(xdp(Packet(syn).frag(8, false).l4_slice(8, syn.l4().size() - 8)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0xabcd0002).seq(777)), kTcOk);
    ASSERT_EQ(xdp(Packet::tcp(A, T, 40000, 80).rst().seq(0xabcd0002).win(0)), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY, SW_C_ANSWERED, SW_C_FIRST_OK, SW_C_FRAG_SYN,
                       SW_C_HALF_OPEN});
}

// ... and against a closed port: our RST, a failure, marked fragmented.
TEST_F(BpfTest, TinyFragmentAnsweredWithRstFails) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 0xabcd0001).frag(0, true).l4_slice(0, 8)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 81, 40000).rst().ack(0xabcd0002).seq(0)), kTcOk);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY, SW_C_FAIL_RST, SW_C_FRAG_RST});
    // an answer that does not acknowledge the fragment's seq proves nothing
    reset();
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 0xabcd0001).frag(0, true).l4_slice(0, 8)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 81, 40000).syn().ack(0xabcd0005).seq(1)), kTcOk);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY});
}

// A stack's ACK with a timestamp (even TSval 0xFFFFFFFF) is no -O probe:
// only nmap's 20 option bytes are.
TEST_F(BpfTest, StackAckWithTimestampIsNoProbe) {
    ASSERT_EQ(xdp(Packet::tcp(A, T, 40000, 80).ack(5).seq(9).win(502).nop().nop().ts(0xffffffffu, 1)), kXdpPass);
    EXPECT_FALSE(src(A));
}

// The first stack-built SYN tells the scanner's OS: TTL, window, option order.
TEST_F(BpfTest, OsStackSynKeepsTtlWindowAndOptionOrder) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);  // nmap's raw SYN: not a stack's
    ASSERT_EQ(src(A)->os_syn_ttl, 0u);
    ASSERT_EQ(xdp(nmap::os_syn(A, T, 51000, 22)), kXdpPass);  // Linux: MSS SACK TS NOP WS, TTL 64
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->os_syn_ttl, 64u);
    EXPECT_EQ(s->os_syn_win, 64240u);
    EXPECT_EQ(s->os_syn_opts, 0x24813u);
    // the first one stays
    ASSERT_EQ(xdp(Packet::tcp(A, T, 51001, 22).syn().win(8192).mss(1460).nop().wscale(8).ttl(128)), kXdpPass);
    EXPECT_EQ(src(A)->os_syn_opts, 0x24813u);
    // -O's SYNs (TSval 0xFFFFFFFF) are no stack's
    reset();
    ASSERT_EQ(xdp(nmap::os_seq(A, T, 40000, 80, 0)), kXdpPass);
    EXPECT_EQ(src(A)->os_syn_ttl, 0u);
}

// unicornscan's default SYN (-W 1, "openbsd 3.0-3.4" in its init_packet.c;
// send_packet.c, tcphash.h): TTL 64, DF, a random IP ID and source port,
// window 16384, MSS (MTU - 64) NOP NOP SACK-permitted NOP WS 0 NOP NOP
// TS(one TSval per scan, 0), and seq = key ^ daddr ^ (dport << 16 | sport)
// with one random key per scan, daddr as the sender's in-memory s_addr.
uint32_t s_addr_of(const char* a) {
    in_addr in{};
    EXPECT_EQ(inet_pton(AF_INET, a, &in), 1);
    uint32_t raw;
    std::memcpy(&raw, &in, 4);
    return raw;
}
Packet unicorn_syn(const char* t, uint16_t sport, uint16_t dport, uint32_t key, uint16_t ipid) {
    const uint32_t seq = key ^ s_addr_of(t) ^ (uint32_t{dport} << 16 | sport);
    return Packet::tcp(A, t, sport, dport).syn().seq(seq).win(16384).ttl(64).df().id(ipid)
        .mss(1436).nop().nop().sack_perm().nop().wscale(0).nop().nop().ts(0x2f6b1a09, 0);
}
// An OpenBSD stack's connect() SYN: the same window, TTL, DF and option order;
// its own ISN per connection.
Packet openbsd_syn(uint16_t sport, uint16_t dport, uint32_t isn, uint8_t ws, uint16_t mss, uint32_t tsval) {
    return Packet::tcp(A, T, sport, dport).syn().seq(isn).win(16384).ttl(64).df().id(sport ^ 0x5a5a)
        .mss(mss).nop().nop().sack_perm().nop().wscale(ws).nop().nop().ts(tsval, 0);
}

TEST_F(BpfTest, UnicornscanSynsShareOneSeqKey) {
    const uint32_t key = 0x9c4e21d7;
    const uint16_t ports[] = {22, 80, 443, 3306, 8080, 1, 65535};
    const uint16_t sports[] = {41873, 1029, 63002, 50211, 2417, 65534, 30000};
    for (size_t i = 0; i < std::size(ports); i++)
        ASSERT_EQ(xdp(unicorn_syn(T, sports[i], ports[i], key, static_cast<uint16_t>(i * 7919))), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 7u);
    EXPECT_EQ(cnt(A, SW_C_UNICORN_SEQ), 6u) << "every SYN after the first matches the previous one's key";
    // a sweep: the target address is part of the key
    for (const char* host : {"198.18.0.10", "198.18.0.11", "198.18.0.200", "198.19.255.254"})
        ASSERT_EQ(xdp(unicorn_syn(host, 40000, 445, key, 9)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_UNICORN_SEQ), 10u);
    // another scan (another key) matches from its second SYN on
    ASSERT_EQ(xdp(unicorn_syn(T, 5000, 25, key + 1, 1)), kXdpPass);
    ASSERT_EQ(xdp(unicorn_syn(T, 5001, 26, key + 1, 2)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_UNICORN_SEQ), 11u);
    // a retransmission repeats seq and ports: a stack does that too
    ASSERT_EQ(xdp(unicorn_syn(T, 5001, 26, key + 1, 3)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_UNICORN_SEQ), 11u);
    EXPECT_EQ(cnt(A, SW_C_SYN_NMAP) + cnt(A, SW_C_SYN_NOOPT) + cnt(A, SW_C_MASSCAN_IPID) + cnt(A, SW_C_ZMAP_SYN), 0u);
}

TEST_F(BpfTest, OpenBsdConnectSynsAreNotUnicornscan) {
    // OpenBSD 7 (WS 6, MSS 1460), then the OpenBSD 3.0-3.4 layout unicornscan
    // copies byte for byte (WS 0, MSS 1436 on a 1500-byte tunnel MTU), each
    // with its own ISN per connection, plus a retransmitted SYN
    const uint32_t isns[] = {0x1b7f02c4, 0xe0913a5d, 0x44c2d1f0, 0x9a0b7e13, 0x03f5a6b8, 0x7d2e9c41};
    uint16_t sport = 18342;
    for (uint8_t ws : {6, 0}) {
        uint16_t dport = 20;
        for (uint32_t isn : isns)
            ASSERT_EQ(xdp(openbsd_syn(sport++, dport++, isn, ws, ws ? 1460 : 1436, isn >> 3)), kXdpPass);
    }
    ASSERT_EQ(xdp(openbsd_syn(sport - 1, 25, isns[5], 0, 1436, 77)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 13u);
    EXPECT_EQ(cnt(A, SW_C_UNICORN_SEQ), 0u);
}

TEST_F(BpfTest, Ipv4TinyFirstFragmentPaddedToEthernetMinimum) {
    // On the wire the 42-byte frame is padded to 60: the padding is not TCP header.
    Packet p = nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 8).pad_to(60);
    ASSERT_EQ(p.build().size(), 60u);
    ASSERT_EQ(xdp(p), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY});
    EXPECT_EQ(stat(SW_S_MALFORMED), 0u);
}

TEST_F(BpfTest, Ipv4SixteenByteFirstFragment) {
    // -ff: 16 bytes, still no flags
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80).frag(0, true).l4_slice(0, 16)), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_FRAG, SW_C_FRAG_TINY});
}

TEST_F(BpfTest, Ipv4FirstFragmentWithWholeHeader) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80).payload(40, 0).frag(0, true).l4_slice(0, 24)), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_FRAG});
}

TEST_F(BpfTest, Ipv4LaterFragment) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80).frag(8, false).l4_slice(8, 16)), kXdpPass);
    EXPECT_EQ(stat(SW_S_FRAGMENTS), 1u);
    EXPECT_EQ(stat(SW_S_IPV4), 1u);
    EXPECT_TRUE(r().sources().empty()) << "no L4 header in a later fragment";
    // a later fragment whose bytes happen to look like a SYN is still not parsed
    Bytes fake = nmap::syn(A, T, 40000, 81).l4();
    ASSERT_EQ(xdp(Packet::ip(A, T, 6).payload(fake).frag(16, true)), kXdpPass);
    EXPECT_TRUE(r().sources().empty());
}

TEST_F(BpfTest, Ipv6FragmentHeader) {
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80).frag(0, true)), kXdpPass);
    expect_exactly(A6, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_FRAG});
    EXPECT_EQ(stat(SW_S_FRAGMENTS), 1u);
    EXPECT_EQ(stat(SW_S_IPV6_EXT), 1u);
    // first fragment holding only 8 bytes of TCP
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81).frag(0, true).l4_slice(0, 8)), kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_FRAG_TINY), 1u);
    // later fragment: no L4
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 82).frag(8, false).l4_slice(8, 16)), kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_FRAG), 2u);
    EXPECT_EQ(cnt(A6, SW_C_SYN), 1u);
    EXPECT_EQ(stat(SW_S_FRAGMENTS), 3u);
}

TEST_F(BpfTest, UdpFragment) {
    ASSERT_EQ(xdp(nmap::os_u1(A, T, 45000, 40125).frag(0, true).l4_slice(0, 200)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_FRAG), 1u);
    EXPECT_EQ(cnt(A, SW_C_UDP), 1u);
}

// ---------- truncation at every length ---------------------------------------

struct TruncCase {
    std::string name;
    std::function<Packet()> make;
    bool tc = false;  // run through the TC program (our answers) after a SYN
};
std::ostream& operator<<(std::ostream& os, const TruncCase& c) { return os << c.name; }

class Truncation : public BpfTest, public ::testing::WithParamInterface<TruncCase> {};

// Cuts a frame at every length. A cut inside any header (Ethernet, VLAN, IP,
// extension headers, the L4 header with its options) is counted as truncated
// and changes no evidence; a cut in the payload may only produce a subset of
// what the whole frame produces. Frames under 14 bytes never reach the
// program: the kernel refuses them (EINVAL), as a NIC never delivers them.
TEST_P(Truncation, EveryLength) {
    const TruncCase& c = GetParam();
    Packet p = c.make();
    Bytes full = p.build();
    size_t hdr_end = p.l4_offset() + p.l4_header_len();
    ASSERT_LE(hdr_end, full.size());

    auto run = [&](const Bytes& f) {
        if (c.tc) {
            // the probe this answers, then the answer
            EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80, 1000)), kXdpPass);
            return tc(f);
        }
        return xdp(f);
    };

    reset();
    ASSERT_EQ(run(full), c.tc ? kTcOk : kXdpPass);
    Counts whole = counts();
    ASSERT_FALSE(whole.empty() && !c.tc) << "the whole frame must leave evidence";

    for (size_t len = 0; len < full.size(); len++) {
        SCOPED_TRACE("length " + std::to_string(len) + " of " + std::to_string(full.size()));
        Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
        reset();
        if (len < 14) {
            try {
                run(cut);
                ADD_FAILURE() << "the kernel ran a frame shorter than an Ethernet header";
            } catch (const BpfError& e) {
                EXPECT_EQ(e.err(), EINVAL);
            }
            continue;
        }
        Counts before = counts();
        if (c.tc && len < p.l3_offset() + (p.v6() ? 40 : 20)) {
            // skb test runs refuse frames without a whole IP header (a socket never sends one)
            try {
                run(cut);
            } catch (const BpfError& e) {
                EXPECT_EQ(e.err(), EINVAL);
            }
            continue;
        }
        ASSERT_EQ(run(cut), c.tc ? kTcOk : kXdpPass);
        Counts after = counts();
        if (!c.tc && len < hdr_end) {
            EXPECT_EQ(stat(SW_S_TRUNCATED) + stat(SW_S_MALFORMED) + stat(SW_S_NON_IP), 1u)
                << "a frame cut inside its headers is counted once";
            EXPECT_TRUE(after.empty()) << "and leaves no evidence";
            EXPECT_EQ(r().flow_count(), 0u);
        } else {
            for (auto& [k, v] : after) {
                uint32_t was = before.count(k) ? before[k] : 0;
                if (v == was)
                    continue;
                EXPECT_TRUE(whole.count(k)) << "counter " << counter_name(k.second)
                                            << " set by the cut frame but not by the whole one";
            }
            size_t defining = p.l4_offset() + (c.name.find("icmp") != std::string::npos ? 8 + 20 : 20);
            if (c.tc && len < defining) {
                for (unsigned ans : {SW_C_ANSWERED, SW_C_FAIL_RST, SW_C_FAIL_ICMP})
                    EXPECT_EQ(cnt(A, ans), 0u) << counter_name(ans);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Frames, Truncation,
    ::testing::Values(
        TruncCase{"nmap_syn", [] { return nmap::syn(A, T, 40000, 80); }},
        TruncCase{"nmap_syn_v6", [] { return nmap::syn(A6, T6, 40000, 80); }},
        TruncCase{"os_syn_options", [] { return nmap::os_syn(A, T, 51000, 22); }},
        TruncCase{"os_seq_ts", [] { return nmap::os_seq(A, T, 51000, 22, 1); }},
        TruncCase{"fin", [] { return nmap::fin(A, T, 40000, 80); }},
        TruncCase{"ack_probe", [] { return nmap::ack_probe(A, T, 40000, 80); }},
        TruncCase{"syn_vlan", [] { return nmap::syn(A, T, 40000, 80).vlan(7); }},
        TruncCase{"syn_qinq", [] { return nmap::syn(A, T, 40000, 80).vlan(7, 0x88a8).vlan(8); }},
        TruncCase{"syn_ip_options", [] { return nmap::syn(A, T, 40000, 80).ip_options(Bytes(40, 1)); }},
        TruncCase{"syn_v6_ext", [] { return nmap::syn(A6, T6, 40000, 80).hop_by_hop(16).dest_opts().routing(); }},
        TruncCase{"syn_v6_frag", [] { return nmap::syn(A6, T6, 40000, 80).frag(0, true); }},
        TruncCase{"tcp_rpc_call", [] {
                      return Packet::tcp(A, T, 51000, 80).ack(1).psh().seq(2).payload(nmap::rpc_check_tcp());
                  }},
        TruncCase{"udp_rpc_call", [] { return Packet::udp(A, T, 45000, 111).payload(nmap::rpc_check_udp()); }},
        TruncCase{"udp_os_u1", [] { return nmap::os_u1(A, T, 45000, 40125); }},
        TruncCase{"udp_v6", [] { return Packet::udp(A6, T6, 45000, 40125).payload(20, 1); }},
        TruncCase{"icmp_echo_code9", [] { return nmap::os_ie1(A, T); }},
        TruncCase{"icmp_timestamp", [] { return nmap::timestamp_zero(A, T); }},
        TruncCase{"icmp6_echo", [] { return nmap::echo_empty(A6, T6).payload(16, 0); }},
        TruncCase{"sctp_init", [] { return nmap::sctp_init(A, T, 40000, 80); }},
        TruncCase{"bare_ip", [] { return nmap::bare_ip(A, T, 2); }},
        TruncCase{"tc_synack", [] { return Packet::tcp(T, A, 80, 40000).syn().ack(1001).seq(9).mss(1460); }, true},
        TruncCase{"tc_rst_ack", [] { return Packet::tcp(T, A, 80, 40000).rst().ack(1001); }, true},
        TruncCase{"tc_icmp_unreach", [] {
                      return Packet::icmp(T, A, 3, 3).quote(nmap::syn(A, T, 40000, 80, 1000));
                  }, true}),
    [](const auto& info) { return info.param.name; });

// ======================================================================
// Distinct ports / hosts sketches
// ======================================================================

TEST_F(BpfTest, DistinctPortsSketch) {
    for (uint16_t port = 1; port <= 100; port++)
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, port)), kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    // linear counting over 512 bits: a few collisions at most
    EXPECT_GE(s->ports_new, 85u);
    EXPECT_LE(s->ports_new, 100u);
    EXPECT_EQ(s->hosts_new, 1u);
    EXPECT_EQ(s->cnt[SW_C_SYN], 100u);

    for (int i = 0; i < 100; i++)
        ASSERT_EQ(xdp(nmap::syn(A6, T6, static_cast<uint16_t>(40000 + i), 443, static_cast<uint32_t>(i))), kXdpPass);
    EXPECT_EQ(src(A6)->ports_new, 1u);
    EXPECT_EQ(src(A6)->cnt[SW_C_SYN], 100u);
}

TEST_F(BpfTest, DistinctHostsSketch) {
    for (int h = 1; h <= 100; h++) {
        std::string dst = "198.18.1." + std::to_string(h);
        ASSERT_EQ(xdp(nmap::syn(A, dst, 40000, 80)), kXdpPass);
    }
    auto s = src(A);
    ASSERT_TRUE(s);
    // 256 bits: about 83 expected for 100 hosts
    EXPECT_GE(s->hosts_new, 70u);
    EXPECT_LE(s->hosts_new, 100u);
    EXPECT_EQ(s->ports_new, 1u);

    for (int i = 0; i < 100; i++)
        ASSERT_EQ(xdp(nmap::syn("198.18.0.3", T, 40000, 80, static_cast<uint32_t>(i))), kXdpPass);
    EXPECT_EQ(src("198.18.0.3")->hosts_new, 1u);
}

std::string v4(uint32_t host_order) {
    char b[INET_ADDRSTRLEN];
    const uint32_t n = htonl(host_order);
    inet_ntop(AF_INET, &n, b, sizeof b);
    return b;
}

// The XDP program's address hash (bpf/source.bpf.h addr_hash) of an address's 16 bytes.
uint32_t xdp_addr_hash(const Addr& a) {
    uint32_t w[4];
    std::memcpy(w, a.b.data(), 16);
    return sw_addr_hash(w);
}

TEST_F(BpfTest, SketchCountsAWholePortRangeAndOneHundredThousandHosts) {
    // One source sends 131,072 SYNs through the real program: every TCP port
    // (65,536) twice over, each SYN to another of 131,072 hosts
    // (198.18.0.0/15). Its bitmaps saturate; from its 16th port or host on it
    // has HyperLogLog sketches (sw_wide) whose registers are exactly the ones
    // the agent computes with the same hashes, and the agent's estimates are
    // within 10 %.
    const uint32_t base = 0xC6120000u;  // 198.18.0.0
    const uint32_t n_hosts = 131072;
    __u64 want_ports[SW_HLL_WORDS] = {}, want_hosts[SW_HLL_WORDS] = {};
    for (uint32_t i = 0; i < n_hosts; i++) {
        const uint16_t port = static_cast<uint16_t>(i & 0xffff);
        const std::string dst = v4(base + i);
        ASSERT_EQ(xdp(nmap::syn(A, dst, 40000, port, 1000)), kXdpPass) << i;
        if (i == 10) {
            EXPECT_FALSE(r().wide(addr(A))) << "no second stage below SW_WIDE_AT";
        }
        if (i >= SW_WIDE_AT - 1) {  // the probe that makes the 16th counts
            hll_add(want_ports, sw_port_hash(port, IPPROTO_TCP));
            hll_add(want_hosts, xdp_addr_hash(addr(dst)));
        }
    }
    auto s = src(A);
    ASSERT_TRUE(s);
    auto w = r().wide(addr(A));
    ASSERT_TRUE(w) << "a wide source has HyperLogLog sketches";
    EXPECT_EQ(s->cnt[SW_C_PROBES], n_hosts);
    EXPECT_EQ(w->ports_before, SW_WIDE_AT);
    EXPECT_GE(w->hosts_before, SW_WIDE_AT - 2u) << "hosts counted when the 16th port made it (bitmap collisions)";
    EXPECT_LE(w->hosts_before, SW_WIDE_AT);
    EXPECT_EQ(std::memcmp(w->ports, want_ports, sizeof want_ports), 0) << "kernel and agent disagree on the port registers";
    EXPECT_EQ(std::memcmp(w->hosts, want_hosts, sizeof want_hosts), 0) << "kernel and agent disagree on the host registers";
    const double ports = static_cast<double>(distinct_ports(*s, &*w)), hosts = static_cast<double>(distinct_hosts(*s, &*w));
    std::printf("65,536 ports estimated %.0f, 131,072 hosts estimated %.0f (bitmaps alone: %llu, %llu)\n", ports, hosts,
                static_cast<unsigned long long>(distinct_ports(*s)), static_cast<unsigned long long>(distinct_hosts(*s)));
    EXPECT_NEAR(ports, 65536, 65536 * 0.10);
    EXPECT_NEAR(hosts, n_hosts, n_hosts * 0.10);

    // a source below SW_WIDE_AT ports and hosts never gets one
    for (uint16_t p = 1; p < SW_WIDE_AT - 1; p++)
        ASSERT_EQ(xdp(nmap::syn("198.18.7.7", T, 40000, p)), kXdpPass);
    ASSERT_TRUE(src("198.18.7.7"));
    EXPECT_FALSE(r().wide(addr("198.18.7.7")));
}

TEST_F(BpfTest, SketchKeysOnProtocol) {
    // TCP 53 and UDP 53 are distinct ports to probe
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 53)), kXdpPass);
    ASSERT_EQ(xdp(Packet::udp(A, T, 40000, 53)), kXdpPass);
    EXPECT_EQ(src(A)->ports_new, 2u);
}

// ======================================================================
// Ring-buffer events: milestones and the per-source rate limit
// ======================================================================

TEST_F(BpfTest, MilestoneEventsAtPowersOfTwo) {
    // unrelated seqs: seq and source port stepping together by one would keep
    // seq ^ (dport << 16 | sport) constant for runs of SYNs (SW_C_UNICORN_SEQ)
    for (uint32_t i = 0; i < 100; i++)
        ASSERT_EQ(xdp(nmap::syn(A, T, static_cast<uint16_t>(40000 + i), 80, 0x9e3779b9u * (i + 1))), kXdpPass);
    auto ev = r().drain_events();
    std::vector<uint32_t> values;
    for (auto& e : ev) {
        EXPECT_EQ(e.type, static_cast<uint32_t>(SW_EV_THRESHOLD));
        EXPECT_EQ(e.counter, static_cast<uint32_t>(SW_C_SYN_NMAP));
        EXPECT_EQ(Addr::from_bytes(e.saddr), addr(A));
        EXPECT_EQ(e.dport, htons(80));
        EXPECT_EQ(e.proto, 6);
        EXPECT_EQ(e.ts_ns, T0);
        values.push_back(e.value);
    }
    // ordinary counters start telling at 4 (see SpoofedOnePacketSourcesMakeNoEvents)
    EXPECT_EQ(values, (std::vector<uint32_t>{4, 8, 16, 32, 64}));
    EXPECT_EQ(stat(SW_S_EVENTS), 5u);
    EXPECT_EQ(stat(SW_S_EVENTS_LIMITED), 0u);
    EXPECT_TRUE(r().drain_events().empty()) << "drained";
}

TEST_F(BpfTest, DistinctPortMilestoneEvent) {
    // One event per packet. The sketch's milestone shows when no counter crosses
    // one on the same packet: 5 SYNs, the first two to one port, so the 5th SYN
    // (SYN=5, no milestone) is the 4th distinct port; the 4th SYN is SYN_NMAP=4.
    const uint16_t ports[5] = {80, 80, 443, 22, 25};
    for (uint32_t i = 0; i < 5; i++)
        ASSERT_EQ(xdp(nmap::syn(A, T, static_cast<uint16_t>(40000 + 2 * i), ports[i], 1000 + i)), kXdpPass);
    ASSERT_EQ(src(A)->ports_new, 4u) << "no sketch collision among these ports";
    auto ev = r().drain_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].counter, static_cast<uint32_t>(SW_C_SYN_NMAP));
    EXPECT_EQ(ev[0].value, 4u);
    EXPECT_EQ(ev[1].type, static_cast<uint32_t>(SW_EV_THRESHOLD));
    EXPECT_EQ(ev[1].counter, static_cast<uint32_t>(SW_C_MAX)) << "SW_C_MAX marks the distinct-port sketch";
    EXPECT_EQ(ev[1].value, 4u);
    EXPECT_EQ(ev[1].dport, htons(25));
}

// A flood of one-packet sources (spoofed SYNs) tells the agent nothing through
// the ring buffer, while a completed half-open probe is news at once.
TEST_F(BpfTest, SpoofedOnePacketSourcesMakeNoEvents) {
    for (uint32_t i = 0; i < 200; i++) {
        std::string src = "198.19.1." + std::to_string(i);
        ASSERT_EQ(xdp(nmap::syn(src.c_str(), T, 40000, 80, i)), kXdpPass);
    }
    EXPECT_TRUE(r().drain_events().empty());
    const uint32_t isn = 5000;
    ASSERT_EQ(xdp(nmap::syn(A, T, 41000, 80, isn)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 41000).syn().ack(isn + 1).seq(99)), kTcOk);
    ASSERT_EQ(xdp(nmap::kernel_rst(A, T, 41000, 80, isn + 1)), kXdpPass);
    auto ev = r().drain_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].counter, static_cast<uint32_t>(SW_C_HALF_OPEN));
    EXPECT_EQ(ev[0].value, 1u);
}

TEST_F(BpfTest, RateLimitPerSourcePerSecond) {
    // every RPC CALL is an event: 1000 in one second give ev_per_sec of them
    auto call = [&](uint32_t i) {
        return Packet::udp(A, T, 700, 111).payload(nmap::rpc_call(i, 100000, 2, false));
    };
    for (uint32_t i = 0; i < 1000; i++) {
        now_ = T0 + i * 900'000ull;  // within 0.9 s
        ASSERT_EQ(xdp(call(i)), kXdpPass);
    }
    EXPECT_EQ(r().drain_events().size(), 16u);
    EXPECT_EQ(stat(SW_S_EVENTS), 16u);
    EXPECT_EQ(stat(SW_S_EVENTS_LIMITED), 984u);

    // another source has its own budget
    ASSERT_EQ(xdp(Packet::udp("198.18.0.3", T, 700, 111).payload(nmap::rpc_check_udp())), kXdpPass);
    EXPECT_EQ(r().drain_events().size(), 1u);

    // a second later the budget refills
    now_ = T0 + SEC;
    for (uint32_t i = 0; i < 20; i++)
        ASSERT_EQ(xdp(call(2000 + i)), kXdpPass);
    EXPECT_EQ(r().drain_events().size(), 16u);
}

TEST_F(BpfTest, RateLimitOnSynFlood) {
    set_cfg([](sw_config& c) { c.ev_per_sec = 4; });
    for (uint32_t i = 0; i < 1000; i++)
        ASSERT_EQ(xdp(nmap::syn(A, T, static_cast<uint16_t>(33000 + i % 50), static_cast<uint16_t>(i + 1), 7)),
                  kXdpPass);
    auto ev = r().drain_events();
    EXPECT_EQ(ev.size(), 4u);
    EXPECT_GT(stat(SW_S_EVENTS_LIMITED), 0u);
    now_ += SEC;
    ASSERT_EQ(xdp(Packet::udp(A, T, 700, 111).payload(nmap::rpc_check_udp())), kXdpPass);
    EXPECT_EQ(r().drain_events().size(), 1u) << "budget refilled after a second";
}

TEST_F(BpfTest, EventsCarryIpv6Addresses) {
    for (uint16_t p = 19; p <= 22; p++)
        ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, p)), kXdpPass);
    auto ev = r().drain_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(Addr::from_bytes(ev[0].saddr), addr(A6));
    EXPECT_EQ(Addr::from_bytes(ev[0].daddr), addr(T6));
    EXPECT_EQ(ev[0].dport, htons(22));
}

// ======================================================================
// Hot sources (account.bpf.h): SW_SF_HOT and the budget of first events
// ======================================================================

// A source's first event marks its record hot; a cold one (two SYNs to one
// port, bench/flood.sh's spoofed sources) is not marked and raises nothing.
TEST_F(BpfTest, FirstEventMarksTheSourceHot) {
    for (uint16_t p = 1; p <= 4; p++)
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, p, p)), kXdpPass);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(xdp(nmap::syn("198.19.0.9", T, 40000, 9, 7 + i)), kXdpPass);
    EXPECT_TRUE(src(A)->flags & SW_SF_HOT);
    EXPECT_FALSE(src("198.19.0.9")->flags & SW_SF_HOT);
    EXPECT_EQ(r().drain_events().size(), 1u);
}

// A forger makes many sources hot at once: their first events stop at the
// budget (the flags are still set, for the agent's walk), and a real scanner
// made hot meanwhile still tells its later milestones.
// Live, the programs' clock is the agent's CLOCK_MONOTONIC read at the last
// tick (maps.bpf.h, sw_now): a record's times lie between the clock before
// the packet, less a tick or so, and the clock after it, never ahead.
TEST(LiveClock, RecordTimesAreTheAgentsMonotonicClock) {
    SkelPtr sk;
    try {
        SkelOptions so;
        so.admission = false;
        sk = open_skeleton(so);
    } catch (const std::exception& e) {
        FAIL() << "cannot load the BPF programs (these tests need root): " << e.what();
    }
    auto mono = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * SEC + static_cast<uint64_t>(ts.tv_nsec);
    };
    const Bytes frame = nmap::syn(A, T, 40000, 80).build();
    const uint64_t before = mono();
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                .repeat = 1);
    ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(sk->progs.scanwatch_xdp), &opts), 0);
    const uint64_t after = mono();
    sw_source s{};
    const Addr a = addr(A);
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(sk->maps.sw_sources), a.b.data(), &s), 0);
    EXPECT_LE(s.first_ns, after) << "the kernel's clock is ahead of CLOCK_MONOTONIC";
    EXPECT_GE(s.first_ns + 50'000'000, before) << "more than 50 ms behind CLOCK_MONOTONIC";
    EXPECT_EQ(s.first_ns, s.last_ns);
}

TEST(HotBudget, FirstEventsStopAtTheBudgetButEveryFlagIsSet) {
    cpu_set_t one, old;
    CPU_ZERO(&one);
    CPU_SET(0, &one);  // the budget is per CPU: run every packet on one
    ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    std::unique_ptr<ProgRunner> r;
    try {
        SkelOptions so;
        so.hot_events_per_sec = 3;
        r = std::make_unique<ProgRunner>(so);
    } catch (const std::exception& e) {
        sched_setaffinity(0, sizeof old, &old);
        FAIL() << "cannot load the BPF programs (these tests need root): " << e.what();
    }
    sw_config c{};
    c.ev_per_sec = 16;
    r->set_config(c);
    auto four_ports = [&](const std::string& a, uint64_t now) {
        for (uint16_t p = 1; p <= 4; p++)
            ASSERT_EQ(r->run_xdp(nmap::syn(a.c_str(), T, 40000, p, p).build(), now), kXdpPass);
    };
    for (int i = 0; i < 10; i++)
        four_ports("198.19.1." + std::to_string(i), T0);
    four_ports(A, T0);  // the scanner, after the forger spent the budget
    std::set<Addr> told;
    for (const auto& e : r->drain_events())
        told.insert(Addr::from_bytes(e.saddr));
    EXPECT_EQ(told.size(), 3u) << "3 first events in this second";
    EXPECT_FALSE(told.count(addr(A)));
    EXPECT_EQ(r->stat(SW_S_EVENTS_LIMITED), 8u);
    for (const auto& [a, s] : r->sources())
        EXPECT_TRUE(s.flags & SW_SF_HOT) << a.str();

    // hot already: its next milestone (8 ports) is not held back, budget or not
    for (uint16_t p = 5; p <= 8; p++)
        ASSERT_EQ(r->run_xdp(nmap::syn(A, T, 40000, p, p).build(), T0), kXdpPass);
    auto ev = r->drain_events();
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(Addr::from_bytes(ev.back().saddr), addr(A));
    EXPECT_EQ(ev.back().value, 8u);

    // the next second has a fresh budget
    four_ports("198.19.2.1", T0 + SEC);
    EXPECT_EQ(r->drain_events().size(), 1u);
    sched_setaffinity(0, sizeof old, &old);
}

// ======================================================================
// Block map
// ======================================================================

class BlockTest : public BpfTest {
protected:
    void block(std::string_view cidr, uint64_t expires_ns) {
        Cidr c = Cidr::parse(cidr);
        sw_lpm_key k{};
        k.prefixlen = c.prefix;
        std::memcpy(k.addr, c.addr.b.data(), 16);
        sw_block b{};
        b.expires_ns = expires_ns;
        b.created_ns = now_;
        b.reason = SW_BR_MANUAL;
        // as the agent writes it: an address to the exact hash, a range to the trie
        ASSERT_NO_THROW(put_kernel_block(fds(), k, b));
        (c.prefix < 128 ? ranges_ : addrs_)++;
    }
    BlockMapFds fds() {
        return {bpf_map__fd(r().skel()->maps.sw_blocks), bpf_map__fd(r().skel()->maps.sw_block_addrs), bits_.get()};
    }
    size_t addrs_ = 0, ranges_ = 0;
    std::unique_ptr<BlockBits> bits_;  // BlockBitsTest: the presence bits, kept as the agent keeps them
    void allow(std::string_view cidr) {
        Cidr c = Cidr::parse(cidr);
        sw_lpm_key k{};
        k.prefixlen = c.prefix;
        std::memcpy(k.addr, c.addr.b.data(), 16);
        uint32_t v = 1;
        ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r().skel()->maps.sw_allow), &k, &v, BPF_ANY), 0);
    }
    // What the agent writes for the blocks made with block(): the count of
    // addresses and whether ranges exist; n_blocks = 0 says "none" whatever the maps hold.
    void enable(uint32_t n_blocks, uint32_t n_allow = 0) {
        set_cfg([&](sw_config& c) {
            c.flags |= SW_CFG_BLOCKING;
            describe_kernel_blocks(c, n_blocks ? addrs_ : 0, n_blocks ? ranges_ : 0);
            c.n_allow = n_allow;
        });
    }
};

TEST_F(BlockTest, BlockedHostIsDropped) {
    block("198.18.0.2", now_ + 60 * SEC);
    enable(1);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(Packet::udp(A, T, 53, 40000)), kXdpDrop);
    EXPECT_EQ(stat(SW_S_DROPPED), 2u);
    EXPECT_FALSE(src(A)) << "dropped before any accounting";
    EXPECT_EQ(xdp(nmap::syn("198.18.0.3", T, 40000, 80)), kXdpPass);
    EXPECT_EQ(stat(SW_S_DROPPED), 2u);
    // nothing of ours reaches the blocked source (answers to probes that got
    // in before the block would still tell it which ports are open) ...
    EXPECT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(1)), kTcShot);
    EXPECT_EQ(stat(SW_S_DROPPED), 3u);
    EXPECT_EQ(stat(SW_S_DROPPED_EGRESS), 1u);
    // ... while everybody else is answered as usual
    EXPECT_EQ(tc(Packet::tcp(T, "198.18.0.3", 80, 40000).syn().ack(1)), kTcOk);
}

TEST_F(BlockTest, StateFileFailureIsReportedOnceAndTheBlockStillDrops) {
    BlockMaps maps{};
    maps.blocks_fd = bpf_map__fd(r().skel()->maps.sw_blocks);
    maps.allow_fd = bpf_map__fd(r().skel()->maps.sw_allow);
    maps.config_fd = bpf_map__fd(r().skel()->maps.sw_cfg);
    maps.addrs_fd = bpf_map__fd(r().skel()->maps.sw_block_addrs);
    Blocker b(maps, BlockPolicy{}, "/proc/self/no-such-dir/blocks.json", Clock::identity());
    ASSERT_FALSE(b.add(Cidr::parse("198.18.0.2"), 0, SW_BR_MANUAL, "manual", now_));
    b.flush();  // saves are batched (at most one a second); flush() writes now
    auto err = b.take_save_error();
    ASSERT_TRUE(err);
    EXPECT_NE(err->find("cannot save blocks to '/proc/self/no-such-dir/blocks.json'"), std::string::npos) << *err;
    EXPECT_NE(err->find("will not survive a restart"), std::string::npos) << *err;
    EXPECT_FALSE(b.take_save_error()) << "reported once, not per change";
    ASSERT_FALSE(b.add(Cidr::parse("198.18.0.4"), 0, SW_BR_MANUAL, "manual", now_));
    b.flush();
    EXPECT_FALSE(b.take_save_error());
    EXPECT_FALSE(b.save_error().empty());
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop) << "the kernel map holds the block anyway";
}

TEST_F(BlockTest, NeverExpiringBlock) {
    block("198.18.0.2", 0);
    enable(1);
    now_ += 1000000 * SEC;
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
}

TEST_F(BlockTest, ExpiredBlockDoesNotDrop) {
    block("198.18.0.2", now_ + 10 * SEC);
    enable(1);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
    now_ += 10 * SEC;  // expires_ns <= now: expired
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 81)), kXdpPass);
    EXPECT_EQ(stat(SW_S_DROPPED), 1u);
    EXPECT_EQ(cnt(A, SW_C_SYN), 1u);
}

TEST_F(BlockTest, NoDropWithoutBlockCountOrFlag) {
    block("198.18.0.2", now_ + 60 * SEC);
    enable(0);  // n_blocks = 0 skips the lookup
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    set_cfg([](sw_config& c) {
        c.flags &= ~SW_CFG_BLOCKING;
        c.n_blocks = 1;
    });
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 81)), kXdpPass);
    EXPECT_EQ(stat(SW_S_DROPPED), 0u);
}

TEST_F(BlockTest, CidrBlocks) {
    block("198.18.0.0/24", now_ + 60 * SEC);
    block("2001:2::/48", now_ + 60 * SEC);
    enable(2);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("198.18.0.200", T, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("198.18.1.2", T, 40000, 80)), kXdpPass);
    EXPECT_EQ(xdp(nmap::syn(A6, T6, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("2001:2:0:ffff::7", T6, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("2001:3::2", T6, 40000, 80)), kXdpPass);
    EXPECT_EQ(stat(SW_S_DROPPED), 4u);
}

TEST_F(BlockTest, ExpiredAddressDoesNotHideAnActiveRange) {
    // a /16 that blocks, and an expired /32 inside it (the agent has not
    // removed it yet): the address is still covered by the range
    block("198.18.0.0/16", now_ + 60 * SEC);
    block("198.18.0.2/32", now_ - 1);
    block("198.19.0.2/32", now_ - 1);
    enable(3);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("198.18.0.3", T, 40000, 80)), kXdpDrop);
    EXPECT_EQ(xdp(nmap::syn("198.19.0.2", T, 40000, 80)), kXdpPass) << "expired, and no range covers it";
}

TEST_F(BlockTest, AddressesAndRangesLiveInTheirOwnMaps) {
    block("198.18.0.2", 0);
    block("2001:2::/48", 0);
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_block_addrs), Addr::parse(A)->b.data(),
                                  std::array<uint8_t, sizeof(sw_block)>{}.data()),
              0)
        << "an address goes to the exact hash";
    size_t n = 0;
    for_each_kernel_block(fds(), [&](const sw_lpm_key& k, const sw_block&) {
        n++;
        EXPECT_TRUE(k.prefixlen == 128 || k.prefixlen == 48) << k.prefixlen;
    });
    EXPECT_EQ(n, 2u);
    EXPECT_TRUE(erase_kernel_block(fds(), sw_lpm_key{128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2}}));
    EXPECT_FALSE(erase_kernel_block(fds(), sw_lpm_key{128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2}}));
}

TEST_F(BlockTest, RangesAreLookedUpOnlyWhenTheAgentSaysTheyExist) {
    block("2001:2::/48", 0);
    set_cfg([](sw_config& c) { c.flags |= SW_CFG_BLOCKING; });  // no SW_CFG_RANGES
    EXPECT_EQ(xdp(nmap::syn(A6, T6, 40000, 80)), kXdpPass);
    enable(1);
    EXPECT_EQ(xdp(nmap::syn(A6, T6, 40000, 81)), kXdpDrop);
}

TEST_F(BlockTest, FastPathAddressesAreLookedUpWithoutAnAgentCount) {
    // the fast path adds addresses the agent has not counted yet: with it on,
    // the exact map is always looked up (the program never writes sw_config)
    block("198.18.0.2", 0);
    set_cfg([](sw_config& c) {
        c.flags |= SW_CFG_BLOCKING | SW_CFG_FAST_BLOCK;
        c.n_blocks = 0;
    });
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpDrop);
}

TEST_F(BlockTest, AllowListWins) {
    block("198.18.0.0/24", 0);
    allow("198.18.0.2");
    allow("198.18.0.128/25");
    enable(1, 2);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    EXPECT_EQ(xdp(nmap::syn("198.18.0.200", T, 40000, 80)), kXdpPass);
    EXPECT_EQ(xdp(nmap::syn("198.18.0.3", T, 40000, 80)), kXdpDrop);
}

TEST_F(BlockTest, BlockedBehindVlan) {
    block("198.18.0.2", 0);
    enable(1);
    EXPECT_EQ(xdp(nmap::syn(A, T, 40000, 80).vlan(10)), kXdpDrop);
}

// ----------------------------------------------------------------------
// The block presence bits (bpf/block.bpf.h, userspace/bpf/block_bits.cpp):
// blocks written as the agent writes them, bits built. A source in no
// block's bucket skips both lookups; every source inside a block is dropped.
// ----------------------------------------------------------------------

class BlockBitsTest : public BlockTest {
protected:
    void SetUp() override {
        BlockTest::SetUp();
        bits_ = BlockBits::open(bpf_map__fd(r().skel()->maps.sw_block_bits));
        bits_->begin_rebuild();
        bits_->finish_rebuild();
    }
    void TearDown() override { bits_.reset(); }
    void unblock(std::string_view cidr) {
        Cidr c = Cidr::parse(cidr);
        EXPECT_TRUE(erase_kernel_block(fds(), lpm_key(c)));
        (c.prefix < 128 ? addrs_ : ranges_)--;
        enable(static_cast<uint32_t>(addrs_ + ranges_));
    }
    int from(const char* s) {
        bool v6 = std::string_view(s).find(':') != std::string_view::npos;
        return xdp(nmap::syn(s, v6 ? T6 : T, 40000, 80));
    }
    bool bit(const char* s) { return bits_->may_cover(addr(s).b.data()); }
    // Each kind of range: a source inside is dropped, one outside passes;
    // the removal lifts the block and the bits.
    void range_case(const char* cidr, const char* inside, const char* near, const char* far) {
        SCOPED_TRACE(cidr);
        block(cidr, 0);
        enable(1);
        EXPECT_EQ(from(inside), kXdpDrop);
        EXPECT_EQ(from(near), kXdpPass) << "outside the range (its bucket may be set: the trie says no)";
        EXPECT_EQ(from(far), kXdpPass);
        EXPECT_FALSE(bit(far)) << "no block near it: both lookups skipped";
        unblock(cidr);
        EXPECT_EQ(from(inside), kXdpPass);
        EXPECT_FALSE(bit(inside)) << "the bits left with the block";
    }
};

TEST_F(BlockBitsTest, Ipv4SlashTwentyEight) { range_case("198.18.5.16/28", "198.18.5.20", "198.18.5.40", "198.18.6.20"); }
TEST_F(BlockBitsTest, Ipv4ShortPrefix) { range_case("198.0.0.0/8", "198.18.7.7", "199.18.7.7", "203.0.113.9"); }
TEST_F(BlockBitsTest, Ipv4ShorterThanTheSpelledOutBuckets) {
    range_case("192.0.0.0/4", "198.18.7.7", "208.0.0.9", "2001:2::7");
}
TEST_F(BlockBitsTest, Ipv6SlashSixtyFour) {
    range_case("2001:2:0:5::/64", "2001:2:0:5::9", "2001:2:0:6::9", "2001:2:1::9");
}
TEST_F(BlockBitsTest, Ipv6ShortPrefix) { range_case("2001:2::/40", "2001:2:ff::9", "2001:3::9", "198.18.7.7"); }
TEST_F(BlockBitsTest, Ipv6ShorterThanTheSpelledOutBuckets) {
    range_case("2001::/24", "2001:2::9", "2002::9", "198.18.7.7");
}

TEST_F(BlockBitsTest, AddressesAndNeighboursInOneBucket) {
    block("198.18.5.7", 0);
    block("198.18.5.16/28", 0);
    block("2001:2::7", 0);
    enable(3);
    EXPECT_EQ(from("198.18.5.7"), kXdpDrop);
    EXPECT_EQ(from("2001:2::7"), kXdpDrop);
    EXPECT_EQ(from("198.18.5.20"), kXdpDrop);
    EXPECT_EQ(from("198.18.5.8"), kXdpPass);
    EXPECT_EQ(from("198.18.7.8"), kXdpPass);
    unblock("198.18.5.16/28");
    EXPECT_EQ(from("198.18.5.7"), kXdpDrop) << "the address keeps its bucket's bit";
    EXPECT_EQ(from("198.18.5.20"), kXdpPass);
    EXPECT_EQ(stat(SW_S_DROPPED), 4u);
}

// A forger picks sources in a blocked range's bucket: they are looked up
// (the cost of the lookups, as for everybody before the bits) and pass,
// and they set no bit: only the agent and the fast path write the map.
TEST_F(BlockBitsTest, ForgedSourcesNeitherPassABlockNorSetBits) {
    block("198.18.5.16/28", 0);
    enable(1);
    std::vector<uint64_t> before(SW_BB_WORDS);
    for (uint32_t i = 0; i < SW_BB_WORDS; i++)
        ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_block_bits), &i, &before[i]), 0);
    for (int i = 0; i < 256; i++) {
        char a[32];
        std::snprintf(a, sizeof a, "198.18.%d.%d", i % 8, i);
        EXPECT_EQ(from(a), i % 8 == 5 && i >= 16 && i < 32 ? kXdpDrop : kXdpPass) << a;
    }
    for (uint32_t i = 0; i < SW_BB_WORDS; i++) {
        uint64_t w = 0;
        ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_block_bits), &i, &w), 0);
        ASSERT_EQ(w, before[i]) << "word " << i;
    }
}

// Take-over: maps pinned by an agent, then written by a build without the
// bits (ranges in the trie, no bit set). The next load must not trust them:
// the loader clears SW_BB_BUILT before anything is attached, and the agent's
// restore() rebuilds the bits from the maps before setting it again.
TEST_F(BlockTest, PinnedMapsWrittenWithoutBitsStillDropAndAreRebuilt) {
    char dir[] = "/sys/fs/bpf/sw-bits-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            for (const auto& p : pinned_maps())
                ::unlink((dir + "/" + p.pin).c_str());
            ::rmdir(dir.c_str());
        }
    } cleanup{dir};
    SkelOptions o;
    o.admission = false;
    o.pin_dir = dir;
    auto first = std::make_unique<ProgRunner>(o);
    auto* s1 = first->skel();
    {
        // an agent of this build ran: the bits were built (no blocks then)
        auto b = BlockBits::open(bpf_map__fd(s1->maps.sw_block_bits));
        b->begin_rebuild();
        b->finish_rebuild();
    }
    uint32_t zero = 0;
    uint64_t hdr = SW_BB_BUILT;  // munmap does not clear it: leave it as that agent did
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(s1->maps.sw_block_bits), &zero, &hdr, BPF_ANY), 0);
    // then a build without the bits wrote a range and an address
    BlockMapFds old{bpf_map__fd(s1->maps.sw_blocks), bpf_map__fd(s1->maps.sw_block_addrs), nullptr};
    sw_block v{};
    v.reason = SW_BR_MANUAL;
    put_kernel_block(old, lpm_key(Cidr::parse("198.18.5.16/28")), v);
    put_kernel_block(old, lpm_key(Cidr::parse("2001:2:0:5::7")), v);
    sw_config c{};
    c.ev_per_sec = 16;
    c.flags = SW_CFG_BLOCKING;
    describe_kernel_blocks(c, 1, 1);
    first->set_config(c);
    const Bytes inside = nmap::syn("198.18.5.20", T, 40000, 80).build();
    const Bytes inside6 = nmap::syn("2001:2:0:5::7", T6, 40000, 80).build();
    ASSERT_EQ(first->run_xdp(inside, T0), kXdpPass) << "the hazard: trusted bits that miss a block";

    auto second = std::make_unique<ProgRunner>(o);  // the restart: pins reused
    auto* s2 = second->skel();
    second->set_config(c);
    EXPECT_EQ(second->run_xdp(inside, T0), kXdpDrop) << "untrusted after the load: every source looked up";
    EXPECT_EQ(second->run_xdp(inside6, T0), kXdpDrop);
    EXPECT_EQ(first->run_xdp(inside, T0), kXdpDrop) << "one shared copy";

    BlockMaps maps{};
    maps.blocks_fd = bpf_map__fd(s2->maps.sw_blocks);
    maps.addrs_fd = bpf_map__fd(s2->maps.sw_block_addrs);
    maps.config_fd = bpf_map__fd(s2->maps.sw_cfg);
    maps.allow_fd = bpf_map__fd(s2->maps.sw_allow);
    maps.block_bits_fd = bpf_map__fd(s2->maps.sw_block_bits);
    Blocker blocker(maps, BlockPolicy{}, "", Clock::identity());
    blocker.set_protected({});
    blocker.restore(T0);
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(s2->maps.sw_block_bits), &zero, &hdr), 0);
    EXPECT_TRUE(hdr & SW_BB_BUILT) << "rebuilt";
    EXPECT_EQ(second->run_xdp(inside, T0), kXdpDrop);
    EXPECT_EQ(second->run_xdp(inside6, T0), kXdpDrop);
    EXPECT_EQ(second->run_xdp(nmap::syn("198.18.6.20", T, 40000, 80).build(), T0), kXdpPass);
    // and the agent keeps them from here on: removal lifts, a new range drops
    EXPECT_TRUE(blocker.remove(Cidr::parse("198.18.5.16/28")));
    EXPECT_EQ(second->run_xdp(inside, T0), kXdpPass);
    ASSERT_FALSE(blocker.add(Cidr::parse("198.18.9.0/24"), 0, SW_BR_MANUAL, "manual", T0));
    EXPECT_EQ(second->run_xdp(nmap::syn("198.18.9.9", T, 40000, 80).build(), T0), kXdpDrop);
}

// A block the XDP fast path made sets the fast path's own presence bit,
// which the agent's count does not own: when the block is gone (here it
// expires), that bit stays and its bucket's sources keep paying the lookups.
// refresh_bits() clears it by a rebuild from the maps, once fast-path blocks
// left and ten minutes passed; the bits of the blocks still in force stay.
TEST_F(BlockTest, BitsOfFastPathBlocksGoneAreClearedByARefresh) {
    SkelOptions o;
    o.admission = false;
    auto run = std::make_unique<ProgRunner>(o);
    auto* sk = run->skel();
    const int bits_fd = bpf_map__fd(sk->maps.sw_block_bits);
    BlockMaps maps{};
    maps.blocks_fd = bpf_map__fd(sk->maps.sw_blocks);
    maps.addrs_fd = bpf_map__fd(sk->maps.sw_block_addrs);
    maps.config_fd = bpf_map__fd(sk->maps.sw_cfg);
    maps.allow_fd = bpf_map__fd(sk->maps.sw_allow);
    maps.block_bits_fd = bits_fd;
    Blocker blocker(maps, BlockPolicy{}, "", Clock::identity());
    blocker.set_protected({});
    blocker.restore(T0);
    ASSERT_FALSE(blocker.add(Cidr::parse("198.18.9.9"), 0, SW_BR_MANUAL, "manual", T0));
    // the word of a's bucket and the shift of its two bits (1 the agent's, 2 the fast path's)
    auto place = [](const char* a) {
        const uint32_t b = sw_block_bucket(Addr::parse(a).value().b.data(), 1);
        return std::pair<uint32_t, uint32_t>{1 + b / 32, 2 * (b % 32)};
    };
    auto word = [&](uint32_t idx) {
        uint64_t w = 0;
        EXPECT_EQ(bpf_map_lookup_elem(bits_fd, &idx, &w), 0);
        return w;
    };
    auto bits = [&](const char* a) {
        auto [idx, shift] = place(a);
        return static_cast<unsigned>((word(idx) >> shift) & 3);
    };
    auto set_fast_bit = [&](const char* a) {  // what block_bit_set() does
        auto [idx, shift] = place(a);
        uint64_t w = word(idx) | 2ull << shift;
        ASSERT_EQ(bpf_map_update_elem(bits_fd, &idx, &w, BPF_ANY), 0);
    };
    const char* fast = "198.18.7.7";
    ASSERT_NE(place(fast), place("198.18.9.9"));
    set_fast_bit(fast);
    sw_block v{};
    v.created_ns = T0;
    v.expires_ns = T0 + SEC;
    v.reason = SW_BR_FAST_PATH;
    put_kernel_block(BlockMapFds{maps.blocks_fd, maps.addrs_fd, nullptr}, lpm_key(Cidr::parse(fast)), v);
    ASSERT_EQ(blocker.adopt_kernel_blocks(T0).size(), 1u);
    EXPECT_EQ(bits(fast), 3u);
    ASSERT_EQ(blocker.expire(T0 + 2 * SEC).size(), 1u);
    EXPECT_EQ(bits(fast), 2u) << "the agent's bit goes with the block, the fast path's stays";
    EXPECT_FALSE(blocker.refresh_bits(T0 + 3 * SEC)) << "not before ten minutes";
    EXPECT_EQ(bits(fast), 2u);
    EXPECT_TRUE(blocker.refresh_bits(T0 + 3 * SEC + Blocker::kBitsRebuildNs));
    EXPECT_EQ(bits(fast), 0u);
    EXPECT_EQ(bits("198.18.9.9"), 1u) << "a block in force keeps its bit";
    uint32_t zero = 0;
    uint64_t hdr = 0;
    ASSERT_EQ(bpf_map_lookup_elem(bits_fd, &zero, &hdr), 0);
    EXPECT_TRUE(hdr & SW_BB_BUILT);
    EXPECT_FALSE(blocker.refresh_bits(T0 + 4 * SEC + 2 * Blocker::kBitsRebuildNs)) << "nothing left since";
    sw_config c{};
    c.ev_per_sec = 16;
    c.flags = SW_CFG_BLOCKING;
    describe_kernel_blocks(c, 1, 0);
    run->set_config(c);
    EXPECT_EQ(run->run_xdp(nmap::syn("198.18.9.9", T, 40000, 80).build(), T0), kXdpDrop);
    EXPECT_EQ(run->run_xdp(nmap::syn(fast, T, 40000, 80).build(), T0), kXdpPass);
}

// ======================================================================
// The runner itself
// ======================================================================

TEST_F(BpfTest, RunnerConfigRoundTrip) {
    sw_config c = r().config();
    EXPECT_EQ(c.ev_per_sec, 16u);
    c.flags = SW_CFG_FAST_BLOCK;
    c.fast_block_ports = 77;
    r().set_config(c);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);  // writes the clock
    sw_config d = r().config();
    EXPECT_EQ(d.clock_ns, T0) << "the clock is what the last run was given";
    EXPECT_EQ(d.flags, static_cast<uint32_t>(SW_CFG_FAST_BLOCK));
    EXPECT_EQ(d.fast_block_ports, 77u) << "other fields survive clock updates";
    EXPECT_EQ(d.ev_per_sec, 16u);
}

TEST_F(BpfTest, ClockDrivesTimestamps) {
    now_ = T0 + 5;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    now_ = T0 + 123 * SEC;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81)), kXdpPass);
    auto s = src(A);
    EXPECT_EQ(s->first_ns, T0 + 5);
    EXPECT_EQ(s->last_ns, T0 + 123 * SEC);
    // set_config() with an older clock, then a run at that same value: no stale cache
    sw_config c = r().config();
    c.clock_ns = 0;
    r().set_config(c);
    now_ = T0 + 200 * SEC;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 82)), kXdpPass);
    EXPECT_EQ(src(A)->last_ns, T0 + 200 * SEC);
}

TEST_F(BpfTest, SourcesListsEveryRecord) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80)), kXdpPass);
    ASSERT_EQ(xdp(nmap::fin("198.18.0.9", T, 40000, 80)), kXdpPass);
    auto all = r().sources();
    std::set<std::string> names;
    for (auto& [a, s] : all)
        names.insert(a.str());
    EXPECT_EQ(names, (std::set<std::string>{"198.18.0.2", "198.18.0.9", "2001:2::2"}));
    EXPECT_EQ(r().flow_count(), 0u) << "no answer yet: no flow";
}

// ======================================================================
// Statistics per interface (abi.h: sw_ifslots -> sw_stats rows)
// ======================================================================

// BPF_PROG_TEST_RUN runs both programs on the loopback device: ifindex 1.
constexpr uint32_t kLo = 1;

TEST_F(BpfTest, UnregisteredInterfaceCountsUnderOther) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).rst().ack(1)), kTcOk);
    EXPECT_EQ(r().stat(SW_IF_SLOT_OTHER, SW_S_PACKETS), 1u);
    EXPECT_EQ(r().stat(SW_IF_SLOT_OTHER, SW_S_PROBES), 1u);
    EXPECT_EQ(r().stat(SW_IF_SLOT_OTHER, SW_S_EGRESS), 1u);
    EXPECT_EQ(stat(SW_S_PACKETS), 1u);
}

TEST_F(BpfTest, RegisteredInterfaceHasItsOwnRow) {
    ASSERT_TRUE(r().set_if_slot(kLo, 7));
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 5)), kXdpPass);
    Bytes cut(14, 0);  // an Ethernet header announcing IPv4, and nothing after it
    cut[12] = 0x08;
    ASSERT_EQ(xdp(cut), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).rst().ack(1)), kTcOk);
    // a flow is made by our SYN/ACK (TC egress: its own interface's row)
    ASSERT_EQ(tc(Packet::tcp(T, A, 81, 40000).syn().ack(6).seq(9)), kTcOk);
    EXPECT_EQ(r().stat(7, SW_S_PACKETS), 3u);
    EXPECT_EQ(r().stat(7, SW_S_PROBES), 2u);
    EXPECT_EQ(r().stat(7, SW_S_FLOWS_NEW), 1u);
    EXPECT_EQ(r().stat(7, SW_S_EGRESS), 2u);
    EXPECT_EQ(r().stat(7, SW_S_TRUNCATED), 1u);
    EXPECT_EQ(r().stat(SW_IF_SLOT_OTHER, SW_S_PACKETS), 0u);
    EXPECT_EQ(r().stat(6, SW_S_PACKETS), 0u);
    // totals are the sum over interfaces
    EXPECT_EQ(stat(SW_S_PACKETS), 3u);
}

TEST_F(BpfTest, SecondWayOfABucketIsFound) {
    // 1 + SW_IF_BUCKETS shares loopback's bucket and takes its first way.
    ASSERT_TRUE(r().set_if_slot(kLo + SW_IF_BUCKETS, 3));
    ASSERT_TRUE(r().set_if_slot(kLo, 4));
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    EXPECT_EQ(r().stat(4, SW_S_PACKETS), 1u);
    EXPECT_EQ(r().stat(3, SW_S_PACKETS), 0u);
    // re-pointing a registered ifindex keeps its way
    ASSERT_TRUE(r().set_if_slot(kLo, 5));
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81)), kXdpPass);
    EXPECT_EQ(r().stat(5, SW_S_PACKETS), 1u);
}

TEST_F(BpfTest, FullBucketFallsBackToOther) {
    ASSERT_TRUE(r().set_if_slot(kLo + SW_IF_BUCKETS, 3));
    ASSERT_TRUE(r().set_if_slot(kLo + 2 * SW_IF_BUCKETS, 4));
    EXPECT_FALSE(r().set_if_slot(kLo, 5)) << "a third interface in one bucket is refused";
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80)), kXdpPass);
    EXPECT_EQ(r().stat(SW_IF_SLOT_OTHER, SW_S_PACKETS), 1u);
    EXPECT_EQ(r().stat(3, SW_S_PACKETS) + r().stat(4, SW_S_PACKETS) + r().stat(5, SW_S_PACKETS), 0u);
}

// Not a test: a rough figure for run_xdp's cost (bench/ holds the real benchmarks).
// Run with --gtest_also_run_disabled_tests --gtest_filter='*Speed*'.
TEST_F(BpfTest, DISABLED_RunXdpSpeed) {
    Bytes f = nmap::syn(A, T, 40000, 80).build();
    const int n = 100000;
    for (int mode = 0; mode < 2; mode++) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < n; i++)
            r().run_xdp(f, mode ? T0 + static_cast<uint64_t>(i) * 1000 : T0);
        auto dt = std::chrono::steady_clock::now() - t0;
        double ns = std::chrono::duration<double, std::nano>(dt).count() / n;
        std::printf("run_xdp, %s clock: %.0f ns/packet (%.0f kpps)\n", mode ? "changing" : "fixed", ns, 1e6 / ns);
    }
}

// ======================================================================
// Proof and the shield (#18): only an ACK of a sequence number the source
// could not guess proves its address; a suspect that proves nothing is
// answered with SYN cookies, not dropped.
// ======================================================================

// The TCP segment of a frame our program answered with (XDP_TX), checked.
struct Answer {
    std::string src, dst;
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t mss = 0;  // 0: no MSS option
    bool csum_ok = false;
};

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += uint32_t{p[i]} << 8 | p[i + 1];
    if (n & 1)
        s += uint32_t{p[n - 1]} << 8;
    return s;
}
uint16_t fold(uint32_t s) {
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}

std::optional<Answer> parse_answer(const Bytes& f) {
    if (f.size() < 14 + 20 + 20)
        return std::nullopt;
    Answer a;
    const uint8_t* ip = f.data() + 14;
    const uint8_t* th;
    size_t l4len;
    uint32_t pseudo;
    char buf[INET6_ADDRSTRLEN];
    if ((ip[0] >> 4) == 4) {
        if ((ip[0] & 15) != 5 || ip[9] != 6)
            return std::nullopt;
        size_t tot = size_t{ip[2]} << 8 | ip[3];
        if (tot > f.size() - 14 || tot < 40)
            return std::nullopt;
        th = ip + 20;
        l4len = tot - 20;
        a.src = inet_ntop(AF_INET, ip + 12, buf, sizeof buf);
        a.dst = inet_ntop(AF_INET, ip + 16, buf, sizeof buf);
        pseudo = sum16(ip + 12, 8) + 6 + static_cast<uint32_t>(l4len);
        a.csum_ok = fold(sum16(ip, 20)) == 0xffff;
    } else {
        if (f.size() < 14 + 40 + 20 || ip[6] != 6)
            return std::nullopt;
        l4len = size_t{ip[4]} << 8 | ip[5];
        if (l4len > f.size() - 54 || l4len < 20)
            return std::nullopt;
        th = ip + 40;
        a.src = inet_ntop(AF_INET6, ip + 8, buf, sizeof buf);
        a.dst = inet_ntop(AF_INET6, ip + 24, buf, sizeof buf);
        pseudo = sum16(ip + 8, 32) + 6 + static_cast<uint32_t>(l4len);
        a.csum_ok = true;
    }
    a.csum_ok = a.csum_ok && fold(sum16(th, l4len, pseudo)) == 0xffff;
    a.sport = static_cast<uint16_t>(th[0] << 8 | th[1]);
    a.dport = static_cast<uint16_t>(th[2] << 8 | th[3]);
    a.seq = uint32_t{th[4]} << 24 | uint32_t{th[5]} << 16 | uint32_t{th[6]} << 8 | th[7];
    a.ack = uint32_t{th[8]} << 24 | uint32_t{th[9]} << 16 | uint32_t{th[10]} << 8 | th[11];
    a.flags = th[13];
    if ((th[12] >> 4) * 4u >= 24 && th[20] == 2 && th[21] == 4)
        a.mss = static_cast<uint16_t>(th[22] << 8 | th[23]);
    return a;
}

class ProofTest : public FlowTest {
protected:
    uint32_t proven(std::string_view a) {
        auto s = src(a);
        return s ? s->proven : 0;
    }
    bool is_proven(std::string_view a) {
        auto s = src(a);
        return s && (s->flags & SW_SF_PROVEN);
    }
    int xdp_out(const Packet& p, Bytes& out) { return r().run_xdp(p.build(), now_, out); }
    bool shielded(std::string_view a) {
        sw_shield v{};
        Addr x = addr(a);
        return bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_shield), x.b.data(), &v) == 0;
    }
    bool blocked(std::string_view a) {
        // a fast-path block is an address: the exact hash (bpf/block_map.hpp)
        sw_lpm_key k = lpm_key(Cidr{addr(a), 128});
        sw_block v{};
        return bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_block_addrs), k.addr, &v) == 0;
    }
    void fast_config(uint32_t flags, uint64_t allowed = 1000, uint32_t per_sec = 1000) {
        set_cfg([&](sw_config& c) {
            c.flags = SW_CFG_BLOCKING | SW_CFG_FAST_BLOCK | flags;
            c.fast_block_half_open = 2;
            c.fast_block_ports = 4;
            c.fast_block_ttl_ns = 3600 * SEC;
            c.shield_ttl_ns = 3600 * SEC;
            c.fast_block_allowed = allowed;
            c.fast_block_per_sec = per_sec;
        });
    }
    // What a half-open scanner (or a forger) makes: nmap SYNs to `ports` ports,
    // our SYN/ACK (port 80) or RST (the others), the RST a live kernel sends.
    // Once the shield is up, XDP answers the SYNs itself and the host is silent.
    void half_open_scan(const char* s, const char* d, uint16_t first_port, int ports) {
        for (int i = 0; i < ports; i++) {
            uint16_t port = static_cast<uint16_t>(first_port + i);
            uint32_t isn = 0x1000u * (port + 1);
            Packet syn = nmap::syn(s, d, 41000, port, isn);
            int rc = xdp(syn);
            ASSERT_TRUE(rc == kXdpPass || rc == XDP_TX || rc == kXdpDrop) << rc;
            if (rc != kXdpPass)
                continue;  // the shield answered it, or the source is blocked now
            // (our answers to a source blocked just now are shot at TC)
            if (i == 0) {
                ASSERT_NE(tc(Packet::tcp(d, s, port, 41000).syn().ack(isn + 1).seq(0x5000u + port)), -1);
                xdp(nmap::kernel_rst(s, d, 41000, port, isn + 1));
            } else {
                ASSERT_NE(tc(Packet::tcp(d, s, port, 41000).rst().ack(isn + 1).seq(0)), -1);
            }
        }
    }
};

TEST_P(ProofTest, RstAfterOurSynAckIsEvidenceNotProof) {
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    Packet syn = nmap::syn(a(), t(), 40000, 80, isn);
    handshake(syn, ours, false);
    // a forger chose the ISN, so it knows what a bystander's kernel will answer
    ASSERT_EQ(xdp(nmap::kernel_rst(a(), t(), 40000, 80, isn + 1)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_HALF_OPEN), 1u) << "half-open stays evidence";
    EXPECT_FALSE(is_proven(a()));
    EXPECT_EQ(proven(a()), 0u);
}

TEST_P(ProofTest, RstAckWithAGuessedAckProvesNothing) {
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    Packet syn = nmap::syn(a(), t(), 40000, 80, isn);
    handshake(syn, ours, false);
    for (uint32_t guess : {0u, isn + 1, ours, ours + 2, 0x12345678u})
        ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40000, 80).rst().ack(guess).seq(isn + 1)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_CONNECT), 0u) << "a handshake needs the ack of our ISN";
    EXPECT_FALSE(is_proven(a()));
    ASSERT_TRUE(r().flow(key_of(syn))) << "a forged RST|ACK does not end the real flow";
    // the real one still proves: RST|ACK acknowledging our SYN/ACK
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40000, 80).rst().ack(ours + 1).seq(isn + 1)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_CONNECT), 1u);
    EXPECT_TRUE(is_proven(a()));
    EXPECT_EQ(proven(a()), 1u << (80 % 32));
}

TEST_P(ProofTest, AckOfOurIsnProves) {
    const uint32_t isn = 0x0fffffff, ours = 0xffffffff;  // ours + 1 wraps to 0
    Packet syn = nmap::os_syn(a(), t(), 40001, 443, isn);
    handshake(syn, ours, false);
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40001, 443).ack(ours + 2).seq(isn + 1)), kXdpPass);
    EXPECT_FALSE(is_proven(a())) << "ack off by one";
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40001, 443).ack(ours + 1).seq(isn + 1)), kXdpPass);
    EXPECT_TRUE(is_proven(a()));
    EXPECT_EQ(proven(a()), 1u << (443 % 32));
    EXPECT_EQ(r().flow(key_of(syn))->state, SW_FS_ESTAB);
    // a connect probe's RST after the handshake, even after a banner (ack moved on)
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40001, 443).rst().ack(ours + 1 + 20).seq(isn + 1)), kXdpPass);
    EXPECT_EQ(cnt(a(), SW_C_CONNECT), 1u);
}

// The flow awaiting its proof ACK sits in a slot of sw_pending. Its hash is
// seeded: a forger who sends from the prober's own address with other ports
// cannot compute ports whose SYN/ACK overwrites that slot (which would keep
// the prober from ever being proven). The forger here finds such ports for
// the unseeded formula the slot had before (the prober's part cancels out).
TEST_P(ProofTest, ForgedFlowCannotTakeTheSlotOfAProofAwaited) {
    constexpr uint32_t kPendingSlots = 1u << 18;  // SW_PENDING_SLOTS, bpf/shield.bpf.h
    const uint32_t us = xdp_addr_hash(addr(t()));
    auto old_slot = [&](uint16_t sport, uint16_t dport) {
        return sw_hash32(us + (uint32_t{htons(sport)} << 16 | htons(dport))) & (kPendingSlots - 1);
    };
    const uint32_t target = old_slot(40001, 443);
    uint16_t fs = 0, fd = 0;
    for (uint16_t dport : {443, 80, 8443, 22, 25, 110, 143, 993, 8080, 3389})
        for (uint32_t sport = 1024; sport < 65536 && !fs; sport++)
            if (old_slot(static_cast<uint16_t>(sport), dport) == target && !(sport == 40001 && dport == 443)) {
                fs = static_cast<uint16_t>(sport);
                fd = dport;
            }
    ASSERT_NE(fs, 0) << "no colliding ports for the old formula (the search should find ~2)";
    const uint32_t isn = 0x01020304, ours = 0x0a0b0c0d;
    handshake(nmap::os_syn(a(), t(), 40001, 443, isn), ours, false);
    // the forger: the prober's address, the colliding ports, our SYN/ACK to it
    ASSERT_EQ(xdp(nmap::os_syn(a(), t(), fs, fd, 0x55555555)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(t(), a(), fd, fs).syn().ack(0x55555556).seq(0x66666666)), kTcOk);
    ASSERT_EQ(xdp(Packet::tcp(a(), t(), 40001, 443).ack(ours + 1).seq(isn + 1)), kXdpPass);
    EXPECT_TRUE(is_proven(a())) << "the forged flow " << fs << "->" << fd
                                << " overwrote the slot where the prober's proof was awaited";
}

TEST_P(ProofTest, UnprovenScannerIsShieldedNotBlocked) {
    fast_config(SW_CFG_SHIELD);
    half_open_scan(a(), t(), 80, 6);
    EXPECT_TRUE(shielded(a()));
    EXPECT_FALSE(blocked(a()));
    EXPECT_TRUE(src(a())->flags & SW_SF_SHIELDED);
    EXPECT_EQ(stat(SW_S_BLOCKS_FAST), 0u);
}

// The cookie round trip: SYN -> our cookie SYN/ACK (XDP_TX) -> the client's ACK
// of it proves the address -> a RST ends that connection -> the port passes.
TEST_P(ProofTest, CookieRoundTrip) {
    fast_config(SW_CFG_SHIELD);
    half_open_scan(a(), t(), 80, 6);
    ASSERT_TRUE(shielded(a()));
    const uint64_t cookies0 = stat(SW_S_COOKIES);
    const uint32_t isn = 0xabcdef01;
    Bytes out;
    Packet syn = nmap::os_syn(a(), t(), 50000, 8080, isn);
    ASSERT_EQ(xdp_out(syn, out), XDP_TX);
    auto sa = parse_answer(out);
    ASSERT_TRUE(sa);
    EXPECT_EQ(sa->src, addr(t()).str());
    EXPECT_EQ(sa->dst, addr(a()).str());
    EXPECT_EQ(sa->sport, 8080);
    EXPECT_EQ(sa->dport, 50000);
    EXPECT_EQ(sa->flags, kSyn | kAck);
    EXPECT_EQ(sa->ack, isn + 1);
    EXPECT_NE(sa->mss, 0);
    EXPECT_TRUE(sa->csum_ok) << "checksums of the SYN/ACK";
    EXPECT_EQ(out.size(), size_t{14} + (addr(a()).is_v4() ? 20 : 40) + 24);
    EXPECT_EQ(stat(SW_S_COOKIES), cookies0 + 1);
    // a wrong cookie is not a proof and passes to the host (which resets it);
    // (the low bits of a cookie only encode the MSS: +1 may still be valid)
    for (uint32_t off : {0x100000u, 0x40000000u, 0u - 0x200000u})
        ASSERT_EQ(xdp_out(Packet::tcp(a(), t(), 50000, 8080).ack(sa->seq + 1 + off).seq(isn + 1), out), kXdpPass);
    EXPECT_FALSE(is_proven(a()));
    // the right one
    ASSERT_EQ(xdp_out(Packet::tcp(a(), t(), 50000, 8080).ack(sa->seq + 1).seq(isn + 1), out), XDP_TX);
    auto rst = parse_answer(out);
    ASSERT_TRUE(rst);
    EXPECT_EQ(rst->flags, kRst);
    EXPECT_EQ(rst->seq, sa->seq + 1);
    EXPECT_EQ(rst->dport, 50000);
    EXPECT_TRUE(rst->csum_ok);
    EXPECT_TRUE(is_proven(a()));
    EXPECT_EQ(proven(a()), 1u << (8080 % 32));
    EXPECT_EQ(stat(SW_S_PROOFS), 1u);
    // its next SYN to that port reaches the host; another port still gets a cookie
    EXPECT_EQ(xdp(nmap::os_syn(a(), t(), 50001, 8080, 7)), kXdpPass);
    EXPECT_EQ(xdp_out(nmap::os_syn(a(), t(), 50002, 8081, 7), out), XDP_TX);
    EXPECT_FALSE(blocked(a()));
}

// A connect scanner under the shield completes cookie handshakes on every port
// it tries: on fast_block_ports of them it has proven itself a scanner.
TEST_P(ProofTest, CookieHandshakesOnManyPortsBlock) {
    fast_config(SW_CFG_SHIELD);
    half_open_scan(a(), t(), 80, 6);
    Bytes out;
    for (uint16_t port = 1000; port < 1004; port++) {
        ASSERT_EQ(xdp_out(nmap::os_syn(a(), t(), 50000, port, 77), out), XDP_TX) << port;
        auto sa = parse_answer(out);
        ASSERT_TRUE(sa);
        ASSERT_EQ(xdp_out(Packet::tcp(a(), t(), 50000, port).ack(sa->seq + 1).seq(78), out), XDP_TX);
    }
    EXPECT_TRUE(blocked(a()));
    EXPECT_EQ(stat(SW_S_BLOCKS_FAST), 1u);
    EXPECT_EQ(xdp(nmap::os_syn(a(), t(), 50000, 80, 77)), kXdpDrop);
}

// The kernel keeps the caps: what the agent allowed in total, and per second.
TEST_P(ProofTest, BudgetCapsFastPathBlocks) {
    fast_config(SW_CFG_BLOCK_UNVERIFIED, /*allowed=*/3, /*per_sec=*/2);
    const bool v6 = !addr(a()).is_v4();
    auto scanner = [&](int i) {
        char b[64];
        std::snprintf(b, sizeof b, v6 ? "2001:2::1:%x" : "198.18.1.%d", i + 10);
        return std::string(b);
    };
    for (int i = 0; i < 5; i++)
        half_open_scan(scanner(i).c_str(), t(), 80, 6);
    EXPECT_EQ(stat(SW_S_BLOCKS_FAST), 2u) << "2 per second";
    EXPECT_GE(stat(SW_S_BLOCKS_REFUSED), 3u);
    now_ += 2 * SEC;
    for (int i = 5; i < 10; i++)
        half_open_scan(scanner(i).c_str(), t(), 80, 6);
    EXPECT_EQ(stat(SW_S_BLOCKS_FAST), 3u) << "3 in total";
    sw_budget b{};
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r().skel()->maps.sw_budget), &zero, &b), 0);
    EXPECT_EQ(b.spent, 3u);
    bool refused_event = false;
    for (const auto& e : r().drain_events())
        refused_event |= e.type == SW_EV_BLOCK_REFUSED;
    EXPECT_TRUE(refused_event);
}

// With the presence bits built, the fast path's block sets its own bit
// first, or is_blocked() would skip the exact hash for it.
TEST_P(ProofTest, FastPathBlockSetsItsPresenceBit) {
    auto bits = BlockBits::open(bpf_map__fd(r().skel()->maps.sw_block_bits));
    bits->begin_rebuild();
    bits->finish_rebuild();
    fast_config(SW_CFG_BLOCK_UNVERIFIED);
    EXPECT_FALSE(bits->may_cover(addr(a()).b.data()));
    half_open_scan(a(), t(), 80, 6);
    ASSERT_EQ(stat(SW_S_BLOCKS_FAST), 1u);
    EXPECT_TRUE(blocked(a()));
    EXPECT_TRUE(bits->may_cover(addr(a()).b.data()));
    EXPECT_EQ(xdp(nmap::os_syn(a(), t(), 50000, 80, 77)), kXdpDrop);
}

INSTANTIATE_TEST_SUITE_P(Families, ProofTest,
                         ::testing::Values(Family{"v4", A, T}, Family{"v6", A6, T6}),
                         [](const auto& i) { return std::string(i.param.name); });

// ======================================================================
// Admission (bpf/admit.bpf.h): a record from a source's second packet on,
// the program loaded as the agent and replay load it.
// ======================================================================

class AdmitTest : public BpfTest {
protected:
    static constexpr uint32_t kSources = 4096;  // a small sources map, so a flood can fill it
    static void SetUpTestSuite() { load(true, kSources); }

    // Spoofed source i: 198.18.1.0 + i (up to 130,815), never the scanner or the target.
    static std::string spoofed(uint32_t i) { return v4(0xC6120100u + i); }

    // n sources of per_source SYNs each, spoofed(first) on
    void spoofed_syns(uint32_t first, uint32_t n, int per_source = 1) {
        for (uint32_t i = first; i < first + n; i++) {
            ASSERT_LT(i, 130816u);
            const std::string a = spoofed(i);
            for (int k = 0; k < per_source; k++)
                ASSERT_EQ(xdp(nmap::syn(a, T, 40000, static_cast<uint16_t>(80 + k), i)), kXdpPass);
        }
    }

    // SYNs noted in sw_syns (tag != 0), read through the map's mapping.
    uint32_t syn_slots_used() {
        bpf_map* m = r().skel()->maps.sw_syns;
        const size_t stride = (bpf_map__value_size(m) + 7) / 8 * 8, n = bpf_map__max_entries(m);
        void* mm = mmap(nullptr, stride * n, PROT_READ, MAP_SHARED, bpf_map__fd(m), 0);
        if (mm == MAP_FAILED)
            return ~0u;
        uint32_t used = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t tag;
            std::memcpy(&tag, static_cast<const uint8_t*>(mm) + i * stride, sizeof tag);
            used += tag != 0;
        }
        munmap(mm, stride * n);
        return used;
    }

    // The program's addr_hash_seeded() of x under this load's keys.
    uint32_t keyed_hash(const Addr& x) {
        uint32_t w[4];
        std::memcpy(w, x.b.data(), sizeof w);
        const auto& k = r().skel()->rodata->hash_keys;
        return sw_addr_hash_keyed(w, k[0], k[1], k[2], k[3]);
    }

    // The first n addresses 2001:2:0:5::v (0 < v < limit) whose keyed hash
    // satisfies pred.
    template <class Pred>
    std::vector<std::string> addresses_where(Pred pred, size_t n, uint32_t limit) {
        std::vector<std::string> out;
        Addr c = addr("2001:2:0:5::");
        for (uint32_t v = 1; v < limit && out.size() < n; v++) {
            const uint32_t be = htonl(v);
            std::memcpy(c.b.data() + 12, &be, sizeof be);
            if (pred(keyed_hash(c)))
                out.push_back(c.str());
        }
        return out;
    }

    // n addresses of 2001:2:0:5::/104 whose first packets would be held in
    // a's sw_admit bucket (admit_bucket() in admit.bpf.h).
    std::vector<std::string> admit_colliders(std::string_view a, size_t n) {
        const uint32_t mask = bpf_map__max_entries(r().skel()->maps.sw_admit) - 1;
        const uint32_t want = keyed_hash(addr(a)) & mask;
        return addresses_where([&](uint32_t h) { return (h & mask) == want; }, n, 1u << 24);
    }
};

TEST_F(AdmitTest, OnePacketSourcesInsertNothing) {
    spoofed_syns(0, 20000);
    EXPECT_TRUE(r().sources().empty()) << "a one-packet source has no record";
    EXPECT_EQ(r().flow_count(), 0u);
    EXPECT_EQ(stat(SW_S_SOURCE_FULL), 0u);
    EXPECT_EQ(stat(SW_S_PROBES), 0u) << "probes count when accounted to a record";
}

// The second packet makes the record with both, the held one first: its
// time, TTL, seq and our answer to it (folded in while it was held).
TEST_F(AdmitTest, SecondPacketRecordsBoth) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80, 0x1234).ttl(37)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1235).seq(9)), kTcOk);
    EXPECT_FALSE(src(A));
    now_ = T0 + SEC;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 0x1234).ttl(59)), kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_PROBES], 2u);
    EXPECT_EQ(s->cnt[SW_C_SYN], 2u);
    EXPECT_EQ(s->cnt[SW_C_SYN_NMAP], 2u);
    EXPECT_EQ(s->cnt[SW_C_ANSWERED], 1u);
    EXPECT_EQ(s->cnt[SW_C_FIRST_OK], 1u) << "the held SYN was a first contact";
    EXPECT_EQ(s->cnt[SW_C_SAME_SEQ], 1u);
    EXPECT_EQ(s->cnt[SW_C_SAME_SPORT], 1u);
    EXPECT_EQ(s->ports_new, 2u);
    EXPECT_EQ(s->ttl_min, 37);
    EXPECT_EQ(s->ttl_max, 59);
    EXPECT_EQ(s->first_ns, T0);
    EXPECT_EQ(s->last_ns, T0 + SEC);
    EXPECT_EQ(stat(SW_S_PROBES), 2u);
    EXPECT_EQ(r().flow_count(), 1u) << "our SYN/ACK made the flow";
}

// A half-open probe from a new source: SYN (held), our SYN/ACK (kept with
// it), the scanner kernel's RST (its second packet) makes the record.
TEST_F(AdmitTest, HalfOpenFromANewSource) {
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80, isn)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(isn + 1).seq(ours)), kTcOk);
    ASSERT_EQ(xdp(nmap::kernel_rst(A, T, 40000, 80, isn + 1)), kXdpPass);
    expect_exactly(A, {SW_C_PROBES, SW_C_SYN, SW_C_SYN_NMAP, SW_C_ANSWERED, SW_C_FIRST_OK, SW_C_HALF_OPEN});
    EXPECT_TRUE(src(A)->flags & SW_SF_VERIFIED);
    EXPECT_EQ(src(A)->rst_ttl, 64);
    EXPECT_EQ(r().flow_count(), 0u);
}

// sw_seen (admit.bpf.h): a record whose cell aged out (no packet of its
// source for two epochs of 2^36 ns) is not looked up for its next packet,
// which admission holds as a first one; the packet after it finds the held
// one and the record, and both count. Nothing is lost; one packet is late.
TEST_F(AdmitTest, ARecordWhoseCellAgedCountsEveryPacket) {
    constexpr uint64_t kEpoch = 1ull << 36;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80, 1)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 2)), kXdpPass);
    ASSERT_EQ(cnt(A, SW_C_SYN), 2u);
    now_ += kEpoch;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 82, 3)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 3u) << "a cell of the epoch before: straight to the record";
    now_ += 3 * kEpoch;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 83, 4)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 3u) << "an aged cell: the packet is held, the record not looked up";
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 84, 5)), kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_SYN], 5u) << "the held SYN and this one";
    EXPECT_EQ(s->ports_new, 5u);
    EXPECT_EQ(s->last_ns, now_);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 85, 6)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 6u) << "the cell is current again";
}

// A record made in a source's sw_seen word in the next epoch carries the
// source's bits over: a forger who makes records (two packets per address)
// can only add bits, never take a real source's away. F is an address the
// test finds in A6's word whose bits leave one of A6's unset (the program's
// hash, this load's keys).
TEST_F(AdmitTest, ARecordMadeInTheCellOfAnotherKeepsItsBit) {
    const uint32_t shift = r().skel()->rodata->seen_shift;
    const uint32_t a = keyed_hash(addr(A6));
    const auto found = addresses_where(
        [&](uint32_t h) { return (h >> shift) == (a >> shift) && (sw_seen_bits(a) & ~sw_seen_bits(h)); }, 1,
        1u << 26);
    ASSERT_EQ(found.size(), 1u) << "no address of 2001:2:0:5::/102 shares the scanner's word";
    const std::string& f = found[0];
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80, 1)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81, 2)), kXdpPass);
    now_ += 1ull << 36;  // the next epoch
    ASSERT_EQ(xdp(nmap::syn(f, T6, 40000, 80, 1)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(f, T6, 40000, 81, 2)), kXdpPass);
    ASSERT_TRUE(src(f));
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 82, 3)), kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_SYN), 3u) << "the forged record's mark took the scanner's bit";
}

// Answers always look the record up: a half-open probe from a source whose
// cell aged counts in full (the SYN held, our SYN/ACK on the record, the
// scanner's RST bringing the held SYN in).
TEST_F(AdmitTest, AHalfOpenProbeAfterTheCellAgedCountsInFull) {
    const uint32_t isn = 0x11111111, ours = 0x22222222;
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80, 1)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 2)), kXdpPass);
    now_ += 4 * (1ull << 36);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 90, isn)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T, A, 90, 40000).syn().ack(isn + 1).seq(ours)), kTcOk);
    EXPECT_EQ(cnt(A, SW_C_ANSWERED), 1u) << "our SYN/ACK counts on the record at once";
    ASSERT_EQ(xdp(nmap::kernel_rst(A, T, 40000, 90, isn + 1)), kXdpPass);
    EXPECT_EQ(cnt(A, SW_C_SYN), 3u);
    EXPECT_EQ(cnt(A, SW_C_HALF_OPEN), 1u);
    EXPECT_EQ(r().flow_count(), 0u);
}

// Two sources sharing an admission bucket whose packets strictly alternate
// (a round-robin generator, two scanners in step) both get records: a bucket
// has two ways. With one, each packet threw the other's out.
TEST_F(AdmitTest, TwoSourcesSharingABucketAndAlternatingBothGetRecords) {
    const auto c = admit_colliders(A6, 1);
    ASSERT_EQ(c.size(), 1u);
    for (uint16_t port = 80; port < 84; port++) {
        ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, port, 0x1234)), kXdpPass);
        ASSERT_EQ(xdp(nmap::syn(c[0], T6, 40000, port, 0x1234)), kXdpPass);
    }
    EXPECT_EQ(cnt(A6, SW_C_SYN), 4u);
    EXPECT_EQ(cnt(c[0], SW_C_SYN), 4u);
}

// A forger floods one-packet sources (more than the admission slots and the
// sources map) between every two probes of a real scanner: the scanner keeps
// its counts, nothing else gets a record. Its first probe is lost only if a
// forged packet landed in its slot before its second (the slot is a seeded
// hash: the forger cannot aim), and then it costs one probe, never more.
TEST_F(AdmitTest, ScannerAmidOnePacketFlood) {
    const uint32_t probes = 40, per_gap = 2000;  // 78,000 forged sources in all
    for (uint32_t i = 0; i < probes; i++) {
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, static_cast<uint16_t>(1000 + i), 0x4242)), kXdpPass);
        if (i + 1 < probes)
            spoofed_syns(i * per_gap, per_gap);
    }
    auto s = src(A);
    ASSERT_TRUE(s) << "the scanner has a record";
    EXPECT_GE(s->cnt[SW_C_SYN], probes - 1);
    EXPECT_LE(s->cnt[SW_C_SYN], probes);
    EXPECT_GE(s->ports_new, probes - 1);
    EXPECT_EQ(r().sources().size(), 1u) << "no forged source has a record";
    EXPECT_EQ(stat(SW_S_SOURCE_FULL), 0u);
}

// A held SYN is its own entry of sw_syns: a one-packet source writes no SYN
// slot, and our SYN/ACK to its SYN makes the flow from the held copy (ISN,
// nmap's fingerprint, a first contact), once; the prober's ACK of it proves.
TEST_F(AdmitTest, HeldSynIsAnsweredWithoutASynSlot) {
    spoofed_syns(0, 1000);
    const Packet syn = nmap::syn(A, T, 40000, 80, 0x1234);
    ASSERT_EQ(xdp(syn), kXdpPass);
    EXPECT_EQ(syn_slots_used(), 0u) << "a SYN from a source without a record is held, not noted";
    EXPECT_FALSE(src(A));
    // acking another ISN answers nothing
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1236).seq(0x5000)), kTcOk);
    EXPECT_EQ(r().flow_count(), 0u);
    now_ = T0 + 5;
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1235).seq(0x5000)), kTcOk);
    expect_nmap_syn_flow(syn, 0x1234, 0x5000);  // our SYN/ACK found the held SYN
    EXPECT_EQ(stat(SW_S_FLOWS_NEW), 1u);
    // a second SYN/ACK to the same SYN is no second answer
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1235).seq(0x5000)), kTcOk);
    EXPECT_EQ(stat(SW_S_FLOWS_NEW), 1u);
    // its ACK of our SYN/ACK: its second packet, the proof, and its record
    ASSERT_EQ(xdp(Packet::tcp(A, T, 40000, 80).ack(0x5001).seq(0x1235)), kXdpPass);
    auto s = src(A);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_SYN], 1u);
    EXPECT_EQ(s->cnt[SW_C_ANSWERED], 1u);
    EXPECT_EQ(s->cnt[SW_C_FIRST_OK], 1u);
    EXPECT_TRUE(s->flags & SW_SF_PROVEN);
    EXPECT_EQ(syn_slots_used(), 0u) << "an answered held SYN is not noted when its record is made";
}

// nmap sends its next probes before the first answers come back: a SYN
// still unanswered when its source's record is made moves to sw_syns, and
// its answer counts there, once.
TEST_F(AdmitTest, SynAnsweredAfterItsSourceHasARecord) {
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A, T, 40000, 81, 0x1234)), kXdpPass);
    ASSERT_TRUE(src(A));
    EXPECT_EQ(syn_slots_used(), 2u) << "the held SYN and the second one";
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1235).seq(7)), kTcOk);
    ASSERT_EQ(tc(Packet::tcp(T, A, 80, 40000).syn().ack(0x1235).seq(7)), kTcOk);
    ASSERT_EQ(tc(Packet::tcp(T, A, 81, 40000).rst().ack(0x1235)), kTcOk);
    EXPECT_EQ(cnt(A, SW_C_SYN), 2u);
    EXPECT_EQ(cnt(A, SW_C_ANSWERED), 1u);
    EXPECT_EQ(cnt(A, SW_C_FIRST_OK), 1u);
    EXPECT_EQ(cnt(A, SW_C_FAIL_RST), 1u);
    EXPECT_EQ(r().flow_count(), 1u);
    EXPECT_EQ(syn_slots_used(), 0u) << "both answered";
}

// A forger who throws a held SYN out of its bucket (here with packets from
// two addresses found to share it, the second with the prober's very ports
// and ISN: a bucket has two ways, the older is replaced) costs the prober
// that first flow and nothing more: our SYN/ACK matches the held copy only
// for the address it is sent to, so no flow, no answer and no proof come of
// the forged copy, for the prober or for the forged address; the prober's
// later probes make its record as usual.
TEST_F(AdmitTest, ForgedPacketInAHeldSynsSlotCostsOnlyThatFlow) {
    const auto c = admit_colliders(A6, 2);
    ASSERT_EQ(c.size(), 2u) << "too few addresses of 2001:2:0:5::/104 share the scanner's bucket";
    const std::string f = c[1];
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80, 0x1234)), kXdpPass);
    // the bucket's other way first: one forged packet alone throws nothing out
    ASSERT_EQ(xdp(nmap::syn(c[0], T6, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(f, T6, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T6, A6, 80, 40000).syn().ack(0x1235).seq(0x5000)), kTcOk);
    EXPECT_EQ(r().flow_count(), 0u) << "the forged copy answered our SYN/ACK to the scanner";
    ASSERT_EQ(xdp(Packet::tcp(A6, T6, 40000, 80).ack(0x5001).seq(0x1235)), kXdpPass);
    EXPECT_FALSE(src(A6)) << "an unproven ACK is not accounted";
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 82, 0x1234)), kXdpPass);
    auto s = src(A6);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_SYN], 2u) << "its first SYN was lost to the forger, no more";
    EXPECT_EQ(s->cnt[SW_C_ANSWERED], 0u);
    EXPECT_FALSE(s->flags & SW_SF_PROVEN);
    EXPECT_FALSE(src(f));
    EXPECT_EQ(r().sources().size(), 1u);
}

// sw_hash32's inverse (murmur3's finaliser is a bijection).
uint32_t sw_unhash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7ed1b41du;  // 0xc2b2ae35^-1 mod 2^32
    x ^= (x >> 13) ^ (x >> 26);
    x *= 0xa5cb9243u;  // 0x85ebca6b^-1
    x ^= x >> 16;
    return x;
}

// An address of 2001:2:0:6::/64 with the same unseeded addr_hash()
// (source.bpf.h, sw_addr_hash) as p: that hash has no key and inverts easily.
Addr unseeded_twin(const Addr& p) {
    std::array<uint32_t, 4> w, t;
    std::memcpy(t.data(), p.b.data(), sizeof t);
    const uint32_t target = sw_addr_hash(t.data());
    Addr f = Addr::parse("2001:2:0:6::").value();
    std::memcpy(w.data(), f.b.data(), sizeof w);
    constexpr uint32_t m = 0x9e3779b1u;  // sw_addr_hash's multiplier
    w[3] = sw_unhash32(target) - ((w[0] * m + w[1]) * m + w[2]) * m;
    std::memcpy(f.b.data(), w.data(), sizeof w);
    return f;
}

// A forger's twin address must not land in the prober's admission slot (the
// seed goes in first), or one forged packet before each of the prober's
// would keep it from ever earning a record.
TEST_F(AdmitTest, AnAddressWithTheSameUnseededHashDoesNotShareTheSlot) {
    ASSERT_EQ(sw_unhash32(sw_hash32(0x12345678u)), 0x12345678u);
    const Addr f = unseeded_twin(addr(A6));
    ASSERT_NE(f, addr(A6));
    ASSERT_EQ(xdp_addr_hash(f), xdp_addr_hash(addr(A6))) << "not a twin";
    // with one address that does share the bucket, the twin would fill
    // both ways and throw the scanner's held SYN out
    const auto c = admit_colliders(A6, 1);
    ASSERT_EQ(c.size(), 1u);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(f.str(), T6, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(c[0], T6, 40000, 80, 0x1234)), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, 81, 0x1234)), kXdpPass);
    EXPECT_EQ(cnt(A6, SW_C_SYN), 2u) << "the forged address took the scanner's admission slot";
}

// Nor in its SYNs' slots of sw_syns: the twin's SYN from the same ports
// (another ISN) must not overwrite the scanner's, whose answer then still
// makes its flow.
TEST_F(AdmitTest, AnAddressWithTheSameUnseededHashDoesNotShareASynSlot) {
    const std::string f = unseeded_twin(addr(A6)).str();
    for (uint16_t port : {90, 91}) {  // both have records: their SYNs go to sw_syns
        ASSERT_EQ(xdp(nmap::syn(A6, T6, 40000, port, 0x1234)), kXdpPass);
        ASSERT_EQ(xdp(nmap::syn(f, T6, 40000, port, 0x1234)), kXdpPass);
    }
    ASSERT_TRUE(src(A6));
    ASSERT_TRUE(src(f));
    const Packet syn = nmap::syn(A6, T6, 40000, 80, 0x1111);
    ASSERT_EQ(xdp(syn), kXdpPass);
    ASSERT_EQ(xdp(nmap::syn(f, T6, 40000, 80, 0x2222)), kXdpPass);
    ASSERT_EQ(tc(Packet::tcp(T6, A6, 80, 40000).syn().ack(0x1112).seq(0x5000)), kTcOk);
    EXPECT_TRUE(r().flow(key_of(syn))) << "the twin's SYN overwrote the scanner's in sw_syns";
}

// Two packets per forged source do make records, and overflow the sources
// map (4096) three times over: the LRU evicts the records nobody uses again,
// not the scanner's, which each of its probes looks up (referenced).
TEST_F(AdmitTest, ScannerAmidTwoPacketFlood) {
    const uint32_t probes = 60, per_gap = 200;  // 11,800 forged sources, 23,600 packets
    for (uint32_t i = 0; i < probes; i++) {
        ASSERT_EQ(xdp(nmap::syn(A, T, 40000, static_cast<uint16_t>(1000 + i), 0x4242)), kXdpPass);
        if (i + 1 < probes)
            spoofed_syns(i * per_gap, per_gap, 2);
    }
    auto s = src(A);
    ASSERT_TRUE(s) << "the scanner's record survived the flood";
    EXPECT_GE(s->cnt[SW_C_SYN], probes - 1);
    EXPECT_GE(s->ports_new, probes - 1);
    EXPECT_LE(r().sources().size(), static_cast<size_t>(kSources));
}

// sw_seen (admit.bpf.h) at a full default-size map: 65,536 records, a word
// per two. Every record's source finds its bits (no packet of a real source
// skips its record), and a new source finds its bits set by others for well
// under 1 % (the byte cells before: ~6 %, each one a lookup that misses in
// the full map, ~35 ns on every new source's SYN in bench/README). Read
// from the map with the program's hash and bits, after the program's marks.
class SeenTest : public AdmitTest {
protected:
    static constexpr uint32_t kFull = 65536;
    static void SetUpTestSuite() { load(true, kFull); }

    bool maybe(const std::vector<uint64_t>& words, const std::string& a) {
        const uint32_t h = keyed_hash(addr(a)), shift = r().skel()->rodata->seen_shift;
        return sw_seen_maybe(words.at(h >> shift), h, now_);
    }
};

TEST_F(SeenTest, AFullMapKeepsEveryRecordsBitsAndFewFalseMaybes) {
    spoofed_syns(0, kFull, 2);
    ASSERT_GE(r().sources().size(), kFull * 99 / 100);
    bpf_map* m = r().skel()->maps.sw_seen;
    std::vector<uint64_t> words(bpf_map__max_entries(m));
    ASSERT_EQ(words.size(), kFull / 2);
    for (uint32_t i = 0; i < words.size(); i++)
        ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(m), &i, &words[i]), 0);
    for (uint32_t i = 0; i < kFull; i += 7)
        ASSERT_TRUE(maybe(words, spoofed(i))) << spoofed(i) << " lost its bits";
    uint32_t false_maybe = 0;
    const uint32_t fresh = 60000;
    for (uint32_t i = 0; i < fresh; i++)
        false_maybe += maybe(words, "2001:2:0:6::" + std::to_string(i / 10000) + ":" + std::to_string(i % 10000));
    EXPECT_LT(false_maybe, fresh / 100) << false_maybe << " of " << fresh << " new sources would be looked up";
}

}  // namespace
