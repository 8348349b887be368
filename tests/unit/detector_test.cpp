// Detector verdicts from hand-built kernel records: what scanwatch says about
// scans and about ordinary traffic, not how it computes it.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "scanwatch/detector.hpp"

namespace scanwatch {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;
constexpr uint64_t kMs = 1'000'000ULL;
constexpr uint64_t T0 = 1000 * kSec;  // an arbitrary start on the sw_now() clock

const Addr kSrc = *Addr::parse("198.18.0.2");

// A kernel record built by hand: counters, and N distinct ports/hosts marked
// in the sketches (any distinct bit positions will do).
struct Rec {
    sw_source r{};

    Rec() { r.first_ns = r.last_ns = T0; }
    Rec& set(unsigned c, uint32_t v) {
        r.cnt[c] = v;
        return *this;
    }
    Rec& ports(unsigned n) {
        std::memset(r.ports, 0, sizeof r.ports);
        for (unsigned i = 0; i < n; i++)
            r.ports[i / 64] |= 1ULL << (i % 64);
        return *this;
    }
    Rec& hosts(unsigned n) {
        std::memset(r.hosts, 0, sizeof r.hosts);
        for (unsigned i = 0; i < n; i++)
            r.hosts[i / 64] |= 1ULL << (i % 64);
        return *this;
    }
    Rec& last(uint64_t ns) {
        r.last_ns = ns;
        return *this;
    }
    // the first stack-built SYN (scanner_os): TTL, window, option order
    Rec& os_syn(uint8_t ttl, uint16_t win, uint32_t opts) {
        r.os_syn_ttl = ttl;
        r.os_syn_win = win;
        r.os_syn_opts = opts;
        return *this;
    }
    operator const sw_source&() const { return r; }
};

sw_event rpc_event(uint32_t prog, uint32_t vers, uint16_t dport, uint64_t ts = T0) {
    sw_event e{};
    e.ts_ns = ts;
    std::memcpy(e.saddr, kSrc.b.data(), 16);
    e.type = SW_EV_RPC;
    e.counter = 1;
    e.value = prog;
    e.aux = vers;
    e.dport = htons(dport);
    e.proto = 6;
    return e;
}

bool has(const ScanReport& r, const std::string& kind) {
    return std::find(r.kinds.begin(), r.kinds.end(), kind) != r.kinds.end();
}

using Kinds = std::vector<std::string>;

// nmap -sS after n probes to n distinct ports, one in ten open.
Rec nmap_syn(unsigned n) {
    unsigned open = (n + 9) / 10;
    return Rec()
        .set(SW_C_PROBES, n)
        .set(SW_C_SYN, n)
        .set(SW_C_SYN_NMAP, n)
        .set(SW_C_SAME_SEQ, n - 1)
        .set(SW_C_ANSWERED, open).set(SW_C_FIRST_OK, open)
        .set(SW_C_HALF_OPEN, open)
        .set(SW_C_FAIL_RST, n - open)
        .ports(n)
        .hosts(1);
}

// Observes the same record at t and again once its probes have timed out.
std::optional<ScanReport> observe_twice(Detector& d, const sw_source& rec) {
    auto first = d.observe(kSrc, rec, rec.last_ns);
    auto second = d.observe(kSrc, rec, rec.last_ns + 4 * kSec);
    return second ? second : first;
}

// ---- linear counting --------------------------------------------------------

TEST(LinearCount, EstimatesDistinctPorts) {
    for (unsigned n : {0u, 1u, 10u, 100u, 500u}) {
        uint64_t words[SW_PORT_WORDS] = {};
        for (unsigned port = 1; port <= n; port++) {
            unsigned b = sw_port_bit(static_cast<uint16_t>(port), 6);  // the XDP program's bit
            words[b / 64] |= 1ULL << (b % 64);
        }
        uint64_t est = linear_count(words, SW_PORT_BITS);
        EXPECT_NEAR(static_cast<double>(est), n, n * 0.10) << n << " distinct ports";
    }
}

TEST(LinearCount, EstimatesDistinctHosts) {
    for (unsigned n : {0u, 1u, 10u, 100u}) {
        uint64_t words[SW_HOST_WORDS] = {};
        for (unsigned h = 0; h < n; h++) {
            unsigned b = sw_hash32(0xC6120000u + h) % SW_HOST_BITS;
            words[b / 64] |= 1ULL << (b % 64);
        }
        EXPECT_NEAR(static_cast<double>(linear_count(words, SW_HOST_BITS)), n, n * 0.10) << n;
    }
}

TEST(LinearCount, FewBitsAreExactAndSaturationIsLarge) {
    Rec r;
    r.ports(5);
    EXPECT_EQ(distinct_ports(r), 5u);
    r.hosts(9);
    EXPECT_EQ(distinct_hosts(r), 9u);
    uint64_t full[SW_PORT_WORDS];
    std::memset(full, 0xff, sizeof full);
    EXPECT_GE(linear_count(full, SW_PORT_BITS), 2000u);  // more than any unsaturated estimate
}

// ---- counting: HyperLogLog sketches (abi.h, detect/sketch.cpp) ----------------

namespace {
// Relative errors of the estimate over `sets` random sets of n distinct items
// (random 32-bit keys through the kernel's hash), one seed per set.
std::vector<double> hll_errors(unsigned n, unsigned sets, uint32_t seed0, bool addresses) {
    std::vector<double> err;
    for (unsigned s = 0; s < sets; s++) {
        std::mt19937_64 rng(seed0 + s);
        __u64 w[SW_HLL_WORDS] = {};
        // distinct keys: a random start and a random odd stride modulo 2^32
        const uint32_t start = static_cast<uint32_t>(rng()), stride = static_cast<uint32_t>(rng()) | 1;
        for (unsigned i = 0; i < n; i++) {
            const uint32_t key = start + i * stride;
            // hosts: the XDP program's addr_hash of an IPv4-mapped address
            // (w0 = w1 = 0, w2 = the ::ffff: word, w3 = the IPv4 address)
            const uint32_t mapped[4] = {0, 0, 0xffff0000u, key};
            const uint32_t h = addresses ? sw_addr_hash(mapped) : sw_hash32(key);
            hll_add(w, h);
        }
        err.push_back((hll_estimate(w) - n) / n);
    }
    return err;
}

double worst(const std::vector<double>& e) {
    double m = 0;
    for (double x : e)
        m = std::max(m, std::fabs(x));
    return m;
}

double rms(const std::vector<double>& e) {
    double s = 0;
    for (double x : e)
        s += x * x;
    return std::sqrt(s / static_cast<double>(e.size()));
}

// What "within 10 % with margin" means here: the standard error is
// 1.04 / sqrt(2048) = 2.3 %, so 10 % is 4.3 sigma (one set in ~60,000 beyond
// it). Over many random sets: none beyond 10 %, the RMS error near 2.3 % (a
// broken estimator or hash is far off), the mean unbiased.
void expect_accurate(const std::vector<double>& e, const std::string& what) {
    double mean = 0;
    for (double x : e)
        mean += x / static_cast<double>(e.size());
    EXPECT_LT(rms(e), 0.030) << what;
    EXPECT_LT(worst(e), 0.10) << what;
    EXPECT_LT(std::fabs(mean), 0.008) << what;
}
}  // namespace

TEST(Sketch, SmallCountsAreExact) {
    // A fresh second stage (HyperLogLog) of 0..40 items is within one of the
    // truth: the detector sees what the bitmaps saw when the stages switch.
    for (unsigned n = 0; n <= 40; n++) {
        __u64 w[SW_HLL_WORDS] = {};
        for (unsigned i = 0; i < n; i++)
            hll_add(w, sw_port_hash(static_cast<uint16_t>(i + 1), 6));
        EXPECT_NEAR(hll_estimate(w), n, 1.0) << n;
    }
}

TEST(Sketch, EveryPortOfEveryProtocolWithinTenPercent) {
    // The real port hash: 65,536 TCP ports, 65,536 UDP, SCTP, TCP and UDP
    // together (131,072), and the first n TCP ports.
    for (uint8_t proto : {uint8_t{6}, uint8_t{17}, uint8_t{132}}) {
        __u64 w[SW_HLL_WORDS] = {};
        for (uint32_t p = 0; p < 65536; p++)
            hll_add(w, sw_port_hash(static_cast<uint16_t>(p), proto));
        EXPECT_NEAR(hll_estimate(w), 65536, 65536 * 0.10) << int(proto);
    }
    __u64 both[SW_HLL_WORDS] = {};
    for (uint8_t proto : {uint8_t{6}, uint8_t{17}})
        for (uint32_t p = 0; p < 65536; p++)
            hll_add(both, sw_port_hash(static_cast<uint16_t>(p), proto));
    EXPECT_NEAR(hll_estimate(both), 131072, 131072 * 0.10);
    for (unsigned n : {100u, 1000u, 3000u, 10000u, 30000u}) {
        __u64 w[SW_HLL_WORDS] = {};
        for (uint32_t p = 1; p <= n; p++)
            hll_add(w, sw_port_hash(static_cast<uint16_t>(p), 6));
        EXPECT_NEAR(hll_estimate(w), n, n * 0.10) << n;
    }
}

TEST(Sketch, RandomPortSetsWithinTenPercentWithMargin) {
    // 300 random sets each of 500, 3,000, 20,000 and 65,536 distinct keys
    // (the kernel's port hash is a bijection of port * MUL + proto, so
    // distinct 32-bit keys stand for distinct (port, proto) pairs).
    for (unsigned n : {500u, 3000u, 20000u, 65536u})
        expect_accurate(hll_errors(n, 300, 1000 + n, false), std::to_string(n) + " ports");
}

TEST(Sketch, RandomHostSetsOfAMillionWithinTenPercent) {
    // 100 random sets of 1,000,000 IPv4 hosts and 300 of 100,000, through the
    // XDP program's address hash.
    expect_accurate(hll_errors(1'000'000, 100, 7, true), "1,000,000 hosts");
    expect_accurate(hll_errors(100'000, 300, 99, true), "100,000 hosts");
}

TEST(Sketch, Registers) {
    __u64 w[SW_HLL_WORDS] = {};
    hll_add(w, 0x00000001u);  // register 0, rank 1
    hll_add(w, 0x00000008u);  // register 0, rank 4
    hll_add(w, 0x00000002u);  // register 0, rank 2: lower, no change
    hll_add(w, 0xffe00000u);  // the last register, rank 15 (low 14 bits zero)
    EXPECT_EQ(hll_register(w, 0), 4u);
    EXPECT_EQ(hll_register(w, SW_HLL_REGS - 1), 15u);
    EXPECT_EQ(hll_register(w, 1), 0u);
    // every register at the cap: a large estimate, no infinity or NaN
    __u64 full[SW_HLL_WORDS];
    std::memset(full, 0xff, sizeof full);
    const double e = hll_estimate(full);
    EXPECT_TRUE(std::isfinite(e));
    EXPECT_GT(e, 5e6);
    // ranks 1..15 from the low 14 bits
    EXPECT_EQ(sw_hll_rank(1), 1u);
    EXPECT_EQ(sw_hll_rank(8), 4u);
    EXPECT_EQ(sw_hll_rank(1u << 13), 14u);
    EXPECT_EQ(sw_hll_rank(1u << 14), 15u);
    EXPECT_EQ(sw_hll_rank(0), 15u);
    EXPECT_EQ(sw_hll_reg(0xffffffffu), SW_HLL_REGS - 1);
}

// What the XDP program does (bpf/account.bpf.h): bitmaps always, the
// HyperLogLog stage for every item once the bitmaps count SW_WIDE_AT.
struct TwoStage {
    sw_source rec{};
    sw_wide wide{};
    bool has_wide = false;
    void port(uint32_t h) {
        const uint32_t b = h % SW_PORT_BITS;
        if (!((rec.ports[b / 64] >> (b % 64)) & 1)) {
            rec.ports[b / 64] |= 1ULL << (b % 64);
            rec.ports_new++;
        }
        wide_stage(h, true);
    }
    void host(uint32_t h) {
        const uint32_t b = h % SW_HOST_BITS;
        if (!((rec.hosts[b / 64] >> (b % 64)) & 1)) {
            rec.hosts[b / 64] |= 1ULL << (b % 64);
            rec.hosts_new++;
        }
        wide_stage(h, false);
    }
    void wide_stage(uint32_t h, bool is_port) {
        if (rec.ports_new < SW_WIDE_AT && rec.hosts_new < SW_WIDE_AT)
            return;
        if (!has_wide) {
            has_wide = true;
            wide.ports_before = rec.ports_new;
            wide.hosts_before = rec.hosts_new;
        }
        hll_add(is_port ? wide.ports : wide.hosts, h);
    }
};

TEST(Sketch, TwoStagesCountFromOneToAWholePortRange) {
    // One host's ports 1..n in order (no item repeats: the worst case for
    // what the second stage missed), and a sweep of 3 ports over n hosts
    // (ports repeat). Counts up to 16 are the bitmaps' (within one), larger ones
    // within 10 %; without the second stage they stop near 3,200.
    for (unsigned n : {1u, 5u, 15u, 16u, 17u, 30u, 100u, 300u, 355u, 400u, 1000u, 5000u, 20000u, 65536u}) {
        TwoStage t;
        for (unsigned p = 1; p <= n; p++)
            t.port(sw_port_hash(static_cast<uint16_t>(p), 6));
        const double e = static_cast<double>(distinct_ports(t.rec, t.has_wide ? &t.wide : nullptr));
        EXPECT_NEAR(e, n, std::max(1.0, n * (n <= 16 ? 0.0 : 0.10))) << n << " ports";
        if (n >= 20000) {
            EXPECT_LT(static_cast<double>(distinct_ports(t.rec)), n * 0.2) << "the bitmap alone saturates";
        }
    }
    for (unsigned n : {10u, 50u, 200u, 2000u, 150000u}) {
        TwoStage t;
        for (unsigned h = 0; h < n; h++)
            for (uint16_t p : {21, 22, 80}) {
                t.host(sw_hash32(0xC6120000u + h));
                t.port(sw_port_hash(p, 6));
            }
        EXPECT_EQ(distinct_ports(t.rec, t.has_wide ? &t.wide : nullptr), 3u) << n;
        EXPECT_NEAR(static_cast<double>(distinct_hosts(t.rec, t.has_wide ? &t.wide : nullptr)), n,
                    std::max(1.0, n * (n <= 16 ? 0.0 : 0.10)))
            << n << " hosts";
    }
}

// ---- nmap port scans ----------------------------------------------------------

TEST(Detector, NmapSynScanIsFlagged) {
    Detector d;
    auto r = d.observe(kSrc, nmap_syn(20), T0);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
    EXPECT_GE(r->score, 0.99);
    EXPECT_TRUE(has(*r, "syn"));
    EXPECT_FALSE(has(*r, "connect"));
    EXPECT_EQ(r->tool, "nmap");
    EXPECT_EQ(r->ports, 20u);
    EXPECT_EQ(r->hosts, 1u);
    EXPECT_EQ(r->probes, 20u);
    EXPECT_EQ(r->src, kSrc);
    EXPECT_EQ(r->first_seen_ns, T0);
    EXPECT_EQ(r->evidence.at("half_open"), 2u);
    EXPECT_EQ(r->evidence.at("fail_rst"), 18u);
    EXPECT_EQ(r->evidence.at("syn_nmap"), 20u);
    EXPECT_EQ(r->evidence.count("connect"), 0u);  // only nonzero evidence
    EXPECT_EQ(d.scanners_reported(), 1u);
}

TEST(Detector, NmapSynScanIsFlaggedWithinTenProbes) {
    Detector d;
    unsigned flagged_at = 0;
    for (unsigned n = 1; n <= 50 && !flagged_at; n++)
        if (d.observe(kSrc, nmap_syn(n).last(T0 + n * kMs), T0 + n * kMs))
            flagged_at = n;
    ASSERT_NE(flagged_at, 0u);
    EXPECT_LE(flagged_at, 10u);
}

TEST(Detector, FastBlockedSourceIsNamedBelowMinPorts) {
    // The XDP fast path blocks after 4 ports (and drops everything after):
    // the record never reaches min_ports (5), yet the scan must be named.
    Detector d;
    Rec rec = nmap_syn(4);
    EXPECT_FALSE(observe_twice(d, rec)) << "4 ports alone are not a port scan";
    rec.r.flags |= SW_SF_VERIFIED | SW_SF_FAST_BLOCKED;
    Detector d2;
    auto r = observe_twice(d2, rec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
    EXPECT_TRUE(has(*r, "syn"));
    EXPECT_EQ(r->tool, "nmap");
}

TEST(Detector, NmapSynScanWithoutRepliesIsFlagged) {
    // Replay of a one-way capture: the SYNs and nothing else.
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 30).set(SW_C_SYN, 30).set(SW_C_SYN_NMAP, 30).ports(30).hosts(1);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "syn"));
    EXPECT_EQ(r->tool, "nmap");
}

TEST(Detector, ConnectScanIsConnect) {
    // nmap -sT: ordinary kernel SYNs, handshake then RST+ACK on open ports.
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 20)
                   .set(SW_C_SYN, 20)
                   .set(SW_C_ANSWERED, 2).set(SW_C_FIRST_OK, 2)
                   .set(SW_C_CONNECT, 2)
                   .set(SW_C_FAIL_RST, 18)
                   .ports(20)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "connect"));
    EXPECT_FALSE(has(*r, "syn"));
}

TEST(Detector, SynScanOfOpenPortsIsSynNotConnect) {
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 10)
                   .set(SW_C_SYN, 10)
                   .set(SW_C_SYN_NMAP, 10)
                   .set(SW_C_ANSWERED, 10).set(SW_C_FIRST_OK, 10)
                   .set(SW_C_HALF_OPEN, 10)
                   .ports(10)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, Kinds{"syn"});
}

TEST(Detector, OneWayConnectScanIsFlaggedOnceProbesTimeOut) {
    // Ordinary SYNs to 100 ports and no answer at all: only timeouts tell.
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 100).set(SW_C_SYN, 100).ports(100).hosts(1);
    EXPECT_FALSE(d.observe(kSrc, rec, T0));
    EXPECT_FALSE(d.observe(kSrc, rec, T0 + 1 * kSec));
    auto r = d.observe(kSrc, rec, T0 + 4 * kSec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "connect"));
    EXPECT_GE(r->evidence.at("timeouts"), 100u);
}

TEST(Detector, TimeoutsUseTheProbesOfThePast) {
    // A scan still running: only the probes older than the timeout count,
    // so a burst of fresh probes is not failed yet.
    Detector d;
    for (unsigned s = 0; s <= 3; s++) {
        uint64_t t = T0 + s * kSec;
        auto rec = Rec().set(SW_C_PROBES, 2).set(SW_C_SYN, 2).ports(2).hosts(1).last(t);
        d.observe(kSrc, rec, t);
    }
    auto burst = Rec().set(SW_C_PROBES, 200).set(SW_C_SYN, 200).ports(200).hosts(1).last(T0 + 4 * kSec);
    d.observe(kSrc, burst, T0 + 4 * kSec);
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->evidence.at("timeouts"), 2u);
}

// ---- benign traffic ------------------------------------------------------------

TEST(Detector, WebClientIsNotAScanner) {
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 1000).set(SW_C_SYN, 1000).set(SW_C_ANSWERED, 1000).set(SW_C_FIRST_OK, 1).ports(1).hosts(1);
    EXPECT_FALSE(observe_twice(d, rec));
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->scanner);
    EXPECT_LT(a->score, 0.5);
    EXPECT_TRUE(a->kinds.empty());
    EXPECT_EQ(d.scanners_reported(), 0u);
}

TEST(Detector, ClientRetryingADeadServiceIsNotAScanner) {
    Detector d;
    auto refused = Rec().set(SW_C_PROBES, 50).set(SW_C_SYN, 50).set(SW_C_FAIL_RST, 50).ports(1).hosts(1);
    EXPECT_FALSE(observe_twice(d, refused));
    Detector d2;  // filtered: no answer at all
    auto silent = Rec().set(SW_C_PROBES, 50).set(SW_C_SYN, 50).ports(1).hosts(1);
    EXPECT_FALSE(observe_twice(d2, silent));
    EXPECT_FALSE(d2.assess(kSrc)->scanner);
}

TEST(Detector, AdminUsingFiveServicesIsNotAScanner) {
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 5).set(SW_C_SYN, 5).set(SW_C_ANSWERED, 5).set(SW_C_FIRST_OK, 5).ports(5).hosts(1);
    EXPECT_FALSE(observe_twice(d, rec));
    EXPECT_FALSE(d.assess(kSrc)->scanner);
}

TEST(Detector, DnsAndQuicClientIsNotASweep) {
    // UDP with payloads to many servers: their answers are never counted, so
    // they must not count as timeouts either.
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 300).set(SW_C_UDP, 300).ports(2).hosts(40);
    EXPECT_FALSE(observe_twice(d, rec));
    EXPECT_FALSE(d.assess(kSrc)->scanner);
}

TEST(Detector, BenignSourceCanLaterBecomeAScanner) {
    Detector d;
    auto benign = Rec().set(SW_C_PROBES, 5).set(SW_C_SYN, 5).set(SW_C_ANSWERED, 5).set(SW_C_FIRST_OK, 5).ports(5).hosts(1);
    EXPECT_FALSE(d.observe(kSrc, benign, T0));
    EXPECT_FALSE(d.observe(kSrc, benign, T0 + 10 * kSec));
    auto scan = Rec()
                    .set(SW_C_PROBES, 170)
                    .set(SW_C_SYN, 170)
                    .set(SW_C_ANSWERED, 10).set(SW_C_FIRST_OK, 10)
                    .set(SW_C_CONNECT, 5)
                    .set(SW_C_FAIL_RST, 160)
                    .ports(165)
                    .hosts(1)
                    .last(T0 + 20 * kSec);
    auto r = d.observe(kSrc, scan, T0 + 20 * kSec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
    EXPECT_TRUE(has(*r, "connect"));
    EXPECT_EQ(d.scanners_reported(), 1u);
}

// ---- other scanners and scan kinds ----------------------------------------------

TEST(Detector, MasscanOneWayIsMasscan) {
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 100)
                   .set(SW_C_SYN, 100)
                   .set(SW_C_SYN_NOOPT, 100)
                   .set(SW_C_SAME_SPORT, 99)
                   .ports(100)
                   .hosts(1);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tool, "masscan");
    EXPECT_TRUE(has(*r, "syn"));
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->scanner);
    EXPECT_EQ(a->evidence.at("timeouts"), 100u);
    EXPECT_EQ(a->tool, "masscan");
}

TEST(Detector, ZmapIsZmap) {
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 100).set(SW_C_SYN, 100).set(SW_C_ZMAP_IPID, 100).ports(1).hosts(100);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tool, "zmap");
    EXPECT_TRUE(has(*r, "sweep"));
}

TEST(Detector, Zmap4IsZmapByItsSyns) {
    // zmap 4.1+: random IP IDs; its SYNs' options, window 65535 and DF clear name it
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 100).set(SW_C_SYN, 100).set(SW_C_ZMAP_SYN, 100).ports(1).hosts(100);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tool, "zmap");
    EXPECT_TRUE(has(*r, "sweep"));
    // a few such SYNs among a scan's others name nothing
    Detector d2;
    auto mixed = Rec().set(SW_C_PROBES, 100).set(SW_C_SYN, 100).set(SW_C_ZMAP_SYN, 3).ports(1).hosts(100);
    auto r2 = observe_twice(d2, mixed);
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->tool, "unknown");
}

TEST(Detector, SweepOfOnePortIsSweep) {
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 9).set(SW_C_SYN, 9).ports(1).hosts(9);
    EXPECT_FALSE(d.observe(kSrc, rec, T0));  // nothing failed yet
    auto r = d.observe(kSrc, rec, T0 + 4 * kSec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "sweep"));
    EXPECT_EQ(r->hosts, 9u);
}

TEST(Detector, PingSweepIsDiscoveryAndSweep) {
    // nmap -sn over 9 hosts: echo, SYN 443, ACK 80, timestamp per host.
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 36)
                   .set(SW_C_ICMP_ECHO, 18)
                   .set(SW_C_ICMP_ODD, 18)
                   .set(SW_C_SYN, 9)
                   .set(SW_C_SYN_NMAP, 9)
                   .set(SW_C_ACK_PROBE, 9)
                   .ports(2)
                   .hosts(9);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "discovery"));
    EXPECT_TRUE(has(*r, "sweep"));
    EXPECT_EQ(r->tool, "nmap");
}

TEST(Detector, SingleHostDiscoveryIsNotAScanner) {
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 4)
                   .set(SW_C_ICMP_ECHO, 2)
                   .set(SW_C_ICMP_ODD, 2)
                   .set(SW_C_SYN, 1)
                   .set(SW_C_SYN_NMAP, 1)
                   .set(SW_C_ACK_PROBE, 1)
                   .ports(2)
                   .hosts(1);
    EXPECT_FALSE(observe_twice(d, rec));
}

struct FlagScan {
    unsigned counter;
    const char* kind;
};

TEST(Detector, StealthScansNameTheirKind) {
    for (auto [counter, kind] : {FlagScan{SW_C_FIN, "fin"}, FlagScan{SW_C_NULL, "null"},
                                 FlagScan{SW_C_XMAS, "xmas"}, FlagScan{SW_C_MAIMON, "maimon"},
                                 FlagScan{SW_C_ACK_PROBE, "ack"}, FlagScan{SW_C_ODD_FLAGS, "custom-flags"}}) {
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 20).set(counter, 20).set(SW_C_SAME_SEQ, 19).ports(20).hosts(1);
        auto r = d.observe(kSrc, rec, T0);
        ASSERT_TRUE(r) << kind;
        EXPECT_EQ(r->kinds, Kinds{kind}) << kind;
        EXPECT_EQ(r->tool, "nmap") << kind;
    }
}

TEST(Detector, OsDetectionIsNotCustomFlagsOrConnect) {
    // -sS -O: the OS probes carry TSval 0xFFFFFFFF, one ECN probe, one U1, one
    // SYN+FIN+PSH+URG (T3), one NULL (T2), one FIN+PSH+URG (T7).
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 112)
                   .set(SW_C_SYN, 109)
                   .set(SW_C_SYN_NMAP, 100)
                   .set(SW_C_ANSWERED, 10).set(SW_C_FIRST_OK, 10)
                   .set(SW_C_HALF_OPEN, 3)
                   .set(SW_C_FAIL_RST, 98)
                   .set(SW_C_OS_TS, 8)
                   .set(SW_C_OS_URG, 1)
                   .set(SW_C_OS_UDP, 1)
                   .set(SW_C_UDP, 1)
                   .set(SW_C_ODD_FLAGS, 1)
                   .set(SW_C_NULL, 1)
                   .set(SW_C_XMAS, 1)
                   .set(SW_C_ICMP_ECHO, 2)
                   .set(SW_C_ICMP_ODD, 1)
                   .ports(100)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"syn", "os-detect"}));
    EXPECT_EQ(r->tool, "nmap");
}

TEST(Detector, UdpScanIsUdp) {
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 50)
                   .set(SW_C_UDP, 50)
                   .set(SW_C_UDP_EMPTY, 45)
                   .set(SW_C_FAIL_ICMP, 10)
                   .ports(50)
                   .hosts(1);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "udp"));
}

TEST(Detector, ProtocolAndSctpScans) {
    Detector d;
    auto proto = Rec().set(SW_C_PROBES, 20).set(SW_C_BARE_IP, 20).ports(20).hosts(1);
    auto r = observe_twice(d, proto);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "ip-protocol"));

    Detector d2;
    auto sctp = Rec().set(SW_C_PROBES, 20).set(SW_C_SCTP_INIT, 20).ports(20).hosts(1);
    auto r2 = observe_twice(d2, sctp);
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->kinds, Kinds{"sctp"});
}

TEST(Detector, KindsFollowTheDesignOrder) {
    Detector d;
    auto rec = nmap_syn(50);
    rec.set(SW_C_PROBES, 80).set(SW_C_FIN, 10).set(SW_C_XMAS, 10).set(SW_C_CONNECT, 1).ports(80);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"syn", "connect", "fin", "xmas"}));
}

// ---- RPC -------------------------------------------------------------------------

TEST(Detector, RpcCheckIsRpcAndServiceDetect) {
    // nmap -sT -sV -p 80: the connect probe, then version-detection
    // connections, one of them carrying RPCCheck.
    Detector d;
    d.on_event(rpc_event(100000, 104316, 80));
    auto rec = Rec()
                   .set(SW_C_PROBES, 4)
                   .set(SW_C_SYN, 4)
                   .set(SW_C_ANSWERED, 4).set(SW_C_FIRST_OK, 4)
                   .set(SW_C_CONNECT, 1)
                   .set(SW_C_RPC, 1)
                   .ports(1)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
    EXPECT_TRUE(has(*r, "rpc"));
    EXPECT_TRUE(has(*r, "service-detect"));
    EXPECT_EQ(r->tool, "nmap");
    EXPECT_EQ(r->rpc_programs, std::vector<uint32_t>{100000});
    EXPECT_EQ(r->evidence.at("rpc"), 1u);
}

TEST(Detector, RpcToAWebPortIsReportedAsRpc) {
    Detector d;
    d.on_event(rpc_event(100003, 3, 80));
    auto rec = Rec().set(SW_C_PROBES, 1).set(SW_C_SYN, 1).set(SW_C_ANSWERED, 1).set(SW_C_FIRST_OK, 1).set(SW_C_RPC, 1).ports(1).hosts(1);
    d.observe(kSrc, rec, T0);
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->kinds, Kinds{"rpc"});  // rpc stands on its own
}

TEST(Detector, RpcGrinderIsRpc) {
    Detector d;
    for (uint32_t p = 100000; p < 100010; p++)
        d.on_event(rpc_event(p, 2, 40000));
    auto rec = Rec()
                   .set(SW_C_PROBES, 20)
                   .set(SW_C_SYN, 20)
                   .set(SW_C_SYN_NMAP, 10)
                   .set(SW_C_HALF_OPEN, 2)
                   .set(SW_C_ANSWERED, 12).set(SW_C_FIRST_OK, 12)
                   .set(SW_C_FAIL_RST, 8)
                   .set(SW_C_RPC, 10)
                   .ports(10)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "rpc"));
    EXPECT_EQ(r->rpc_programs.size(), 10u);
}

TEST(Detector, RpcProgramsAreBounded) {
    Detector d;
    for (uint32_t p = 0; p < 100; p++)
        d.on_event(rpc_event(200000 + p, 1, 40000));
    d.on_event(rpc_event(200000, 1, 40000));
    d.observe(kSrc, Rec().set(SW_C_RPC, 101).ports(1).hosts(1), T0);
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->rpc_programs.size(), 32u);
    EXPECT_EQ(a->rpc_programs.front(), 200000u);
}

TEST(Detector, NfsClientIsNotAScanner) {
    // portmapper, mountd, nfs, lockd on their own ports.
    Detector d;
    d.on_event(rpc_event(100000, 2, 111));
    d.on_event(rpc_event(100005, 3, 20048));
    d.on_event(rpc_event(100003, 3, 2049));
    d.on_event(rpc_event(100021, 4, 4045));
    auto rec = Rec()
                   .set(SW_C_PROBES, 4)
                   .set(SW_C_SYN, 4)
                   .set(SW_C_ANSWERED, 4).set(SW_C_FIRST_OK, 4)
                   .set(SW_C_RPC, 400)
                   .ports(4)
                   .hosts(1);
    EXPECT_FALSE(observe_twice(d, rec));
    EXPECT_FALSE(d.assess(kSrc)->scanner);
}

// ---- emission -------------------------------------------------------------------

TEST(Detector, ReportsOnceThenOnlyOnChange) {
    Detector d;  // reemit interval 5 s
    uint64_t t = T0;
    auto rec = nmap_syn(20);
    EXPECT_TRUE(d.observe(kSrc, rec.last(t), t));
    t += 250 * kMs;
    EXPECT_FALSE(d.observe(kSrc, rec, t));  // nothing new

    // Kinds grow: reported at once.
    rec = nmap_syn(24).set(SW_C_PROBES, 28).set(SW_C_FIN, 4).ports(28);
    t += 250 * kMs;
    auto r = d.observe(kSrc, rec.last(t), t);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"syn", "fin"}));

    // Doubled, but within the interval: wait.
    rec = nmap_syn(60).set(SW_C_FIN, 4).set(SW_C_PROBES, 64).ports(64);
    t += 250 * kMs;
    EXPECT_FALSE(d.observe(kSrc, rec.last(t), t));
    // Interval over: the update goes out even though the record is unchanged.
    t += 6 * kSec;
    r = d.observe(kSrc, rec, t);
    ASSERT_TRUE(r);
    EXPECT_GE(r->ports, 64u);  // linear counting over 64 of 512 bits reads a little high
    EXPECT_EQ(r->kinds, (Kinds{"syn", "fin"}));
    t += 250 * kMs;
    EXPECT_FALSE(d.observe(kSrc, rec, t));
    EXPECT_EQ(d.scanners_reported(), 1u);
}

TEST(Detector, SmallGrowthIsNotReported) {
    Detector d;
    uint64_t t = T0;
    unsigned emits = 0;
    for (unsigned n = 100; n < 140; n++) {  // +40% over a long time
        t += 1 * kSec;
        if (d.observe(kSrc, nmap_syn(n).last(t), t))
            emits++;
    }
    EXPECT_EQ(emits, 1u);
}

TEST(Detector, SteadyScanIsRateLimited) {
    // A slow full-range scan: 10 new ports per second for 20 minutes, judged
    // four times a second.
    Detector d;
    uint64_t t = T0;
    unsigned emits = 0, calls = 0;
    for (unsigned n = 10; n <= 500; n += 10) {
        for (int q = 0; q < 4 * 24; q++, calls++) {  // 24 s per step
            t += 250 * kMs;
            if (d.observe(kSrc, nmap_syn(n).last(t - q * 250 * kMs), t))
                emits++;
        }
    }
    EXPECT_GE(emits, 2u);
    EXPECT_LE(emits, 12u);  // about log1.5(50) + 1, not one per call
    EXPECT_EQ(d.scanners_reported(), 1u);
}

// ---- bookkeeping ----------------------------------------------------------------

TEST(Detector, AssessUnknownSourceIsEmpty) {
    Detector d;
    EXPECT_FALSE(d.assess(kSrc));
    EXPECT_EQ(d.tracked(), 0u);
}

TEST(Detector, ExpireForgetsIdleSources) {
    DetectorConfig cfg;
    cfg.idle_forget_ns = 60 * kSec;
    Detector d(cfg);
    const Addr other = *Addr::parse("2001:2::7");
    EXPECT_TRUE(d.observe(kSrc, nmap_syn(20), T0));
    d.observe(other, Rec().set(SW_C_PROBES, 2).set(SW_C_SYN, 2).ports(1).hosts(1).last(T0 + 50 * kSec),
              T0 + 50 * kSec);
    EXPECT_EQ(d.tracked(), 2u);
    EXPECT_EQ(d.expire(T0 + 30 * kSec), 0u);
    EXPECT_EQ(d.expire(T0 + 100 * kSec), 1u);
    EXPECT_EQ(d.tracked(), 1u);
    EXPECT_FALSE(d.assess(kSrc));
    EXPECT_TRUE(d.assess(other));
    // The kernel may still hold the stale record: it is not judged again.
    EXPECT_FALSE(d.observe(kSrc, nmap_syn(20), T0 + 101 * kSec));
    EXPECT_EQ(d.tracked(), 1u);
    EXPECT_EQ(d.scanners_reported(), 1u);
}

TEST(Detector, RecreatedKernelRecordIsNotANewScanner) {
    Detector d;
    EXPECT_TRUE(d.observe(kSrc, nmap_syn(100), T0));
    auto again = nmap_syn(20);
    again.r.first_ns = again.r.last_ns = T0 + 10 * kSec;
    EXPECT_FALSE(d.observe(kSrc, again, T0 + 10 * kSec));
    EXPECT_EQ(d.scanners_reported(), 1u);
}

TEST(Detector, Ipv6SourcesWork) {
    Detector d;
    const Addr v6 = *Addr::parse("2001:2::99");
    auto r = d.observe(v6, nmap_syn(30), T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->src.str(), "2001:2::99");
}

TEST(Detector, ManySourcesAreTrackedApart) {
    Detector d;
    for (uint32_t i = 0; i < 1000; i++) {
        auto rec = Rec().set(SW_C_PROBES, 3).set(SW_C_SYN, 3).set(SW_C_ANSWERED, 3).set(SW_C_FIRST_OK, 1).ports(1).hosts(1);
        EXPECT_FALSE(d.observe(Addr::v4(0xC6120000u + i), rec, T0));
    }
    EXPECT_TRUE(d.observe(Addr::v4(0xC6130000u), nmap_syn(20), T0));
    EXPECT_EQ(d.tracked(), 1001u);
    EXPECT_EQ(d.scanners_reported(), 1u);
}

TEST(Detector, ConfigIsKept) {
    DetectorConfig cfg;
    cfg.min_ports = 50;
    Detector d(cfg);
    EXPECT_EQ(d.config().min_ports, 50u);
    EXPECT_FALSE(d.observe(kSrc, nmap_syn(20), T0));  // not broad enough for this config
    EXPECT_TRUE(d.observe(kSrc, nmap_syn(60).last(T0 + kSec), T0 + kSec));
}


// Repeated connections to one service earn benign credit once (the kernel
// counts first contacts), so a client that used a web server 1,000 times is
// still named within a few dozen probes when it turns to scanning.
TEST(Detector, ManySuccessesToOneServiceDoNotHideALaterScan) {
    Detector d;
    auto web = Rec().set(SW_C_PROBES, 1000).set(SW_C_SYN, 1000).set(SW_C_ANSWERED, 1000)
                   .set(SW_C_FIRST_OK, 1).ports(1).hosts(1);
    EXPECT_FALSE(d.observe(kSrc, web, T0));
    auto scan = Rec().set(SW_C_PROBES, 1030).set(SW_C_SYN, 1030).set(SW_C_ANSWERED, 1000)
                    .set(SW_C_FIRST_OK, 1).set(SW_C_FAIL_RST, 30).ports(31).hosts(1).last(T0 + kSec);
    auto r = d.observe(kSrc, scan, T0 + kSec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
}

// One packet is no scan: a flood of spoofed one-packet sources leaves no state.
TEST(Detector, OnePacketSourcesAreNotTracked) {
    Detector d;
    for (uint32_t i = 0; i < 1000; i++)
        EXPECT_FALSE(d.observe(Addr::v4(0xC6130000u + i), Rec().set(SW_C_PROBES, 1).set(SW_C_SYN, 1)
                                                              .set(SW_C_SYN_NMAP, 1).ports(1).hosts(1), T0));
    EXPECT_EQ(d.tracked(), 0u);
}

// The detector forgets what the kernel forgot: a source whose record left the
// LRU map is dropped at the end of the next full sweep.
TEST(Detector, SweepForgetsSourcesTheKernelEvicted) {
    Detector d;
    Addr other = *Addr::parse("198.18.0.77");
    auto rec = Rec().set(SW_C_PROBES, 2).set(SW_C_SYN, 2).ports(1).hosts(1);
    d.begin_sweep();
    d.observe(kSrc, rec, T0);
    d.observe(other, rec, T0);
    EXPECT_EQ(d.end_sweep(), 0u);
    EXPECT_EQ(d.tracked(), 2u);
    d.begin_sweep();
    d.observe(kSrc, rec, T0 + kSec);
    EXPECT_EQ(d.end_sweep(), 1u);
    EXPECT_EQ(d.tracked(), 1u);
    EXPECT_FALSE(d.assess(other));
}

// ---- every probe class named on its own (issue 14) ---------------------------

Rec& set_port(Rec& r, uint16_t port, uint8_t proto) {
    const uint32_t b = sw_port_bit(port, proto);
    r.r.ports[b / 64] |= 1ULL << (b % 64);
    return r;
}

TEST(DetectorClasses, OsDetectionAgainstThreePortsIsOsDetect) {
    // nmap -Pn -O -p22,80,1: three raw SYNs, then SEQ x6, ECN, T2-T7, U1, IE1/IE2.
    Detector d;
    auto rec = Rec()
                   .set(SW_C_PROBES, 21)
                   .set(SW_C_SYN, 11)
                   .set(SW_C_SYN_NMAP, 3)
                   .set(SW_C_ANSWERED, 8).set(SW_C_FIRST_OK, 1)
                   .set(SW_C_HALF_OPEN, 7)
                   .set(SW_C_FAIL_RST, 6)
                   .set(SW_C_OS_TS, 12)
                   .set(SW_C_OS_URG, 1)
                   .set(SW_C_OS_UDP, 1)
                   .set(SW_C_UDP, 1)
                   .set(SW_C_ODD_FLAGS, 1)
                   .set(SW_C_NULL, 1)
                   .set(SW_C_XMAS, 1)
                   .set(SW_C_ICMP_ECHO, 2)
                   .set(SW_C_ICMP_ODD, 1)
                   .ports(3)
                   .hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r) << "below --min-ports, -O's probes name it on their own";
    EXPECT_EQ(r->kinds, Kinds{"os-detect"}) << "three ports are no port scan";
    EXPECT_EQ(r->tool, "nmap");
    EXPECT_TRUE(r->why_not.empty());
}

TEST(DetectorClasses, OneTimestampMarkerIsNoOsDetection) {
    // a single TSval 0xFFFFFFFF happens (a stack's clock); it takes two markers
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 3).set(SW_C_SYN, 3).set(SW_C_OS_TS, 1).set(SW_C_ANSWERED, 3)
                   .set(SW_C_FIRST_OK, 1).ports(1).hosts(1);
    EXPECT_FALSE(observe_twice(d, rec));
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_FALSE(has(*a, "os-detect"));
}

TEST(DetectorClasses, WhyNotSaysWhatIsMissingInTheFlagsWords) {
    DetectorConfig cfg;
    Detector d(cfg);
    // three nmap SYNs, nothing answered yet
    auto rec = Rec().set(SW_C_PROBES, 3).set(SW_C_SYN, 3).set(SW_C_SYN_NMAP, 3).set(SW_C_SAME_SEQ, 2)
                   .ports(3).hosts(1);
    EXPECT_FALSE(d.observe(kSrc, rec, T0));
    auto a = d.assess(kSrc);
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->scanner);
    auto has_reason = [&](const std::string& s) {
        return std::find(a->why_not.begin(), a->why_not.end(), s) != a->why_not.end();
    };
    EXPECT_TRUE(has_reason("3 ports < --min-ports 5")) << ::testing::PrintToString(a->why_not);
    EXPECT_TRUE(has_reason("1 host < --min-hosts 5")) << ::testing::PrintToString(a->why_not);
    EXPECT_TRUE(has_reason("no answer seen yet (an unanswered probe fails after --probe-timeout 3s)"))
        << ::testing::PrintToString(a->why_not);
    // breadth enough but the score short of a strict --alert-score
    cfg.alert_score = 0.999999;
    Detector strict(cfg);
    auto rec2 = Rec().set(SW_C_PROBES, 6).set(SW_C_SYN, 6).set(SW_C_ANSWERED, 1).set(SW_C_FIRST_OK, 1)
                    .set(SW_C_FAIL_RST, 5).ports(6).hosts(1);
    EXPECT_FALSE(strict.observe(kSrc, rec2, T0));
    auto b = strict.assess(kSrc);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->why_not.size(), 1u) << ::testing::PrintToString(b->why_not);
    EXPECT_EQ(b->why_not[0], "score " + format_score(b->score) + " < --alert-score 0.999999");
    // a scanner lacks nothing
    Detector d3;
    auto r = observe_twice(d3, nmap_syn(20));
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->why_not.empty());
    // status lists the not-yet-scanners, closest first
    auto list = d.not_scanners(10);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].src, kSrc);
    EXPECT_TRUE(d3.not_scanners(10).empty());
}

TEST(DetectorClasses, OneScoreFormat) {
    EXPECT_EQ(format_score(0.99959), "0.999");  // cut, never rounded up to certainty
    EXPECT_EQ(format_score(1.0), "1.000");
    EXPECT_EQ(format_score(0.99), "0.990");
    EXPECT_EQ(format_score(0.0), "0.000");
    EXPECT_DOUBLE_EQ(score_value(0.99959), 0.999);
    EXPECT_DOUBLE_EQ(score_value(0.99), 0.99);
}

TEST(DetectorClasses, MasscanSweepOfFivePortsIsSweepWithSyn) {
    // masscan -p21,22,23,80,8000 across many hosts, one-way
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 1000).set(SW_C_SYN, 1000).set(SW_C_SYN_NOOPT, 1000)
                   .set(SW_C_SAME_SPORT, 999).ports(5).hosts(200);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"syn", "sweep"}));
    EXPECT_EQ(r->tool, "masscan");
}

TEST(DetectorClasses, WormKnockingOn139And445IsConnectSweep) {
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 128).set(SW_C_SYN, 128).ports(2).hosts(64);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"connect", "sweep"}));
    EXPECT_EQ(r->tool, "unknown");
}

TEST(DetectorClasses, UnprivilegedNmapDiscoveryIsDiscoveryNotConnect) {
    // nmap -sn without root: connect() to 80 and 443 of every host
    Detector d;
    Rec rec = Rec().set(SW_C_PROBES, 14).set(SW_C_SYN, 14).set(SW_C_FAIL_RST, 12).hosts(7);
    set_port(set_port(rec, 80, 6), 443, 6);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, (Kinds{"discovery", "sweep"}));
}

TEST(DetectorClasses, ScanOfManyPortsOnManyHostsIsNoSweep) {
    Detector d;
    auto rec = nmap_syn(200);
    rec.hosts(50);
    auto r = observe_twice(d, rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, Kinds{"syn"});
}

TEST(DetectorClasses, SlowOneWayAckScanIsNamedWithinItsFirstProbes) {
    // -sA at one probe per second against a host that drops silently
    Detector d;
    std::optional<ScanReport> first;
    unsigned at = 0;
    for (unsigned n = 1; n <= 30 && !first; n++) {
        auto rec = Rec().set(SW_C_PROBES, n).set(SW_C_ACK_PROBE, n).set(SW_C_SAME_SEQ, n - 1).ports(n).hosts(1);
        rec.r.first_ns = T0;
        rec.r.last_ns = T0 + (n - 1) * kSec;
        first = d.observe(kSrc, rec, rec.r.last_ns + 100 * kMs);
        at = n;
    }
    ASSERT_TRUE(first);
    EXPECT_LE(at, 6u);
    EXPECT_EQ(first->kinds, Kinds{"ack"});
}

TEST(DetectorClasses, FragmentedSynScanIsSyn) {
    // nmap -sS -f: tiny first fragments; two open ports answered with SYN/ACK
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 20).set(SW_C_FRAG, 20).set(SW_C_FRAG_TINY, 20).set(SW_C_SAME_SEQ, 19)
                   .set(SW_C_ANSWERED, 2).set(SW_C_FIRST_OK, 2).set(SW_C_FRAG_SYN, 2).set(SW_C_HALF_OPEN, 2)
                   .set(SW_C_FAIL_RST, 18).set(SW_C_FRAG_RST, 18).ports(20).hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kinds, Kinds{"syn"});
    EXPECT_EQ(r->tool, "nmap");
    EXPECT_EQ(r->evidence.at("frag_syn"), 2u) << "the evidence says fragmented";
    // no SYN/ACK: the fragments' flags stay unknown, no kind is guessed
    Detector d2;
    auto closed = Rec().set(SW_C_PROBES, 20).set(SW_C_FRAG, 20).set(SW_C_FRAG_TINY, 20).set(SW_C_SAME_SEQ, 19)
                      .set(SW_C_FAIL_RST, 20).set(SW_C_FRAG_RST, 20).ports(20).hosts(1);
    auto r2 = d2.observe(kSrc, closed, T0);
    ASSERT_TRUE(r2);
    EXPECT_TRUE(r2->kinds.empty());
}

TEST(DetectorClasses, TinyFragmentsToThreePortsAreBreadth) {
    // nmap -f: three probes' tiny first fragments, all answered with RST: a
    // scanner before min_ports, its kind still open (no SYN/ACK proved it)
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 3).set(SW_C_FRAG, 3).set(SW_C_FRAG_TINY, 3).set(SW_C_SAME_SEQ, 2)
                   .set(SW_C_FAIL_RST, 3).set(SW_C_FRAG_RST, 3).ports(3).hosts(1);
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->scanner);
    EXPECT_TRUE(r->kinds.empty());
    // two ports are not yet breadth, nor are whole-header fragments to three
    Detector d2;
    auto two = Rec().set(SW_C_PROBES, 3).set(SW_C_FRAG, 3).set(SW_C_FRAG_TINY, 3).set(SW_C_FAIL_RST, 3)
                   .ports(2).hosts(1);
    EXPECT_FALSE(d2.observe(kSrc, two, T0));
    Detector d3;
    auto whole = Rec().set(SW_C_PROBES, 3).set(SW_C_SYN, 3).set(SW_C_FRAG, 3).set(SW_C_FAIL_RST, 3)
                     .ports(3).hosts(1);
    EXPECT_FALSE(d3.observe(kSrc, whole, T0));
}

TEST(DetectorClasses, ToolsByTheirDefaults) {
    {  // hping3 -S: window 64, no options, one port after another
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 20).set(SW_C_SYN, 20).set(SW_C_SYN_NOOPT, 20).set(SW_C_HPING, 20)
                       .set(SW_C_FAIL_RST, 20).ports(20).hosts(1);
        auto r = d.observe(kSrc, rec, T0);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "hping3");
        EXPECT_EQ(r->kinds, Kinds{"syn"});
    }
    {  // masscan with random source ports: its IP ID relation
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 50).set(SW_C_SYN, 50).set(SW_C_SYN_NOOPT, 50)
                       .set(SW_C_MASSCAN_IPID, 50).ports(50).hosts(1);
        auto r = observe_twice(d, rec);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "masscan");
    }
    {  // one SYN matching masscan's IP ID by chance is no masscan
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 50).set(SW_C_SYN, 50).set(SW_C_SYN_NOOPT, 50)
                       .set(SW_C_MASSCAN_IPID, 1).ports(50).hosts(1);
        auto r = observe_twice(d, rec);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "unknown");
    }
}

TEST(DetectorClasses, UnicornscanBySeqKey) {
    {  // its SYNs share one seq key (the first has none to match): syn, unicornscan,
       // and no scanner_os: the OpenBSD-like SYNs are its imitation, not its stack
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 40).set(SW_C_SYN, 40).set(SW_C_UNICORN_SEQ, 39)
                       .set(SW_C_FAIL_RST, 40).ports(40).hosts(1).os_syn(64, 16384, 0x21141311);
        auto r = d.observe(kSrc, rec, T0);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "unicornscan");
        EXPECT_EQ(r->kinds, Kinds{"syn"}) << "closed ports only: still raw SYNs, no connect scan";
        EXPECT_EQ(r->scanner_os, "unknown");
    }
    {  // an OpenBSD host's connect scan: the same SYNs without the key
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 40).set(SW_C_SYN, 40).set(SW_C_FAIL_RST, 40).ports(40).hosts(1)
                       .os_syn(64, 16384, 0x21141311);
        auto r = d.observe(kSrc, rec, T0);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "unknown");
        EXPECT_EQ(r->kinds, Kinds{"connect"});
        EXPECT_EQ(r->scanner_os, "bsd-macos");
    }
    {  // one chance match in a scan's SYNs names nothing
        Detector d;
        auto rec = Rec().set(SW_C_PROBES, 40).set(SW_C_SYN, 40).set(SW_C_UNICORN_SEQ, 1)
                       .set(SW_C_FAIL_RST, 40).ports(40).hosts(1);
        auto r = d.observe(kSrc, rec, T0);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->tool, "unknown");
    }
}

TEST(DetectorClasses, ScannerOsFromTheStackBuiltSyns) {
    EXPECT_EQ(scanner_os(64, 64240, 0x24813), "linux");
    EXPECT_EQ(scanner_os(63, 29200, 0x211413), "linux");
    EXPECT_EQ(scanner_os(128, 64240, 0x213114), "windows");
    EXPECT_EQ(scanner_os(120, 8192, 0x213114), "windows");
    EXPECT_EQ(scanner_os(64, 65535, 0x21311840), "bsd-macos");
    EXPECT_EQ(scanner_os(64, 65535, 0x21348), "bsd-macos");
    EXPECT_EQ(scanner_os(128, 64240, 0x24813), "unknown") << "a Linux option order with Windows' TTL";
    EXPECT_EQ(scanner_os(0, 0, 0), "unknown");
    EXPECT_EQ(scanner_os(64, 1024, 0x2), "unknown");
    // -sT from Linux: tool unknown (the OS built the packets), scanner_os linux
    Detector d;
    auto rec = Rec().set(SW_C_PROBES, 20).set(SW_C_SYN, 20).set(SW_C_ANSWERED, 2).set(SW_C_CONNECT, 2)
                   .set(SW_C_FAIL_RST, 18).ports(20).hosts(1);
    rec.r.os_syn_ttl = 64;
    rec.r.os_syn_win = 64240;
    rec.r.os_syn_opts = 0x24813;
    auto r = d.observe(kSrc, rec, T0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tool, "unknown");
    EXPECT_EQ(r->scanner_os, "linux");
}

}  // namespace
}  // namespace scanwatch
