// The detector: turns the kernel's per-source evidence into a verdict.
//
// One mechanism: a log-likelihood ratio (TRW-style sequential test) over the
// evidence of one source, where every kind of evidence counts at most once
// per distinct target (cap = max(distinct ports, distinct hosts, 1)). A web
// client's thousand successful connections to one port, or a client retrying
// one dead service, therefore weigh as one attempt. The posterior (prior 0.5)
// plus breadth (enough distinct ports or hosts, or a strong RPC signal) make
// a scanner; scan kinds and the tool are then read from the counters.
#include "scanwatch/detector.hpp"

#include "scanwatch/counters.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

namespace scanwatch {

namespace {

// ---- the constants of the test, in one place ------------------------------

// Likelihood ratios P(evidence | scanner) / P(evidence | benign), per distinct
// target. The failure and success weights come from theta0/theta1 (config).
struct Weights {
    static inline const double half_open = std::log(20.0);  // SYN, SYN/ACK, bare RST
    static inline const double connect = std::log(4.0);     // handshake, RST without data
    static inline const double syn_nmap = std::log(3.0);    // win 1024 + MSS 1460 only
    static inline const double stealth = std::log(5.0);     // FIN/NULL/Xmas/Maimon/ACK/odd flags
    static inline const double rpc = std::log(10.0);        // RPC to a non-RPC port, or RPCCheck
    // Once per source: no RPC client but nmap -sV calls the portmapper with
    // version 104316, so one RPCCheck outweighs one successful connection.
    static inline const double rpc_check = std::log(100.0);
    static inline const double os_marker = std::log(5.0);   // nmap -O markers
    // Once per source: nmap -O's probes (TSval 0xFFFFFFFF twice, the ECN
    // probe's urgent pointer without URG, U1's IP ID 0x1042) come from no
    // client, so OS detection against a single port is named on its own.
    static inline const double os_detect = std::log(100.0);
    static inline const double syn_noopt = std::log(2.0);   // SYN without options (masscan-like)
    static inline const double zmap_ipid = std::log(3.0);   // IP ID 54321
    // a SYN whose seq is unicornscan's key ^ daddr ^ ports (no stack's ISN)
    static inline const double unicorn_seq = std::log(3.0);
    // Empty echo, all-zero timestamp, echo with code != 0: nmap's pings (ping
    // and monitoring tools send data), per distinct host.
    static inline const double icmp_odd = std::log(5.0);
    // Payloads that are nmap -sV's own probes or NSE's marker: no client sends them.
    static inline const double sv_probe = std::log(10.0);
};

constexpr unsigned kKindMin = 3;           // probes of one flag set before naming the kind
constexpr uint64_t kFewPorts = 3;          // discovery / sweep: at most this many ports
// A sweep may knock on a few more ports (masscan -p21,22,23,80,8000 over a
// /8) when it does so on many more hosts than ports.
constexpr uint64_t kSweepMaxPorts = 32;
constexpr uint64_t kSweepHostsPerPort = 4;
constexpr size_t kRpcStrongPrograms = 3;   // distinct programs that make the grinder
constexpr size_t kRpcStrongHosts = 3;      // hosts called: an RPC sweep (portmapper probing)
constexpr size_t kMaxRpcPrograms = 32;     // programs remembered per source
constexpr unsigned kHistory = 8;           // samples for the probe timeouts
constexpr uint64_t kMinSampleSpacingNs = 1'000'000'000ULL;
constexpr uint32_t kRpcCheckProgram = 100000;  // portmapper ...
constexpr uint32_t kRpcCheckVersion = 104316;  // ... with nmap's impossible version
constexpr uint32_t kNmapUdpRpcProgram = 12345678;  // nmap -sU's payload for RPC ports
// nmap's raw probes carry a random TTL of 37-59: a spread this wide among one
// source's probes is nmap's (kernels and masscan/zmap use one fixed value).
constexpr unsigned kTtlSpread = 8;
constexpr unsigned kTtlSpreadProbes = 6;
// -O probes that look like other scans: T2 (no flags), T3 (SYN+FIN+PSH+URG),
// T7 (FIN+PSH+URG), each retransmitted up to 3 times when unanswered.
constexpr unsigned kOsProbeRepeats = 3;
// nmap -D: the decoys' copies of a probe carry the real scanner's seq and
// source port. A source that never proved it receives our answers and shares
// its (seq, source port) with another source is reported as a decoy with
// this score at most, which no block policy should act on.
constexpr double kDecoyScore = 0.5;
constexpr size_t kMaxSignatureSources = 8;
constexpr uint64_t kSignatureKeepNs = 600'000'000'000ULL;  // 10 minutes
constexpr size_t kMaxSignatures = 65536;                    // the table's bound ...
constexpr uint64_t kSignatureFloodKeepNs = 5'000'000'000ULL;  // ... and its memory when full
// The agent judges sources one by one, so a decoy judged before any other
// sharer of its signature is seen gets a plain first report; it is reported
// again as a decoy at the next look. No block follows either way: a decoy
// never proves it receives our answers (SW_SF_VERIFIED), which blocking needs.
constexpr uint16_t kRpcPorts[] = {111, 2049, 4045, 20048};  // portmapper, nfs, lockd, mountd
constexpr uint16_t kRpcDynamicPorts = 32768;                // RPC services register from here

// ---- vocabulary ------------------------------------------------------------

enum Kind : unsigned {
    kSyn, kConnect, kFin, kNull, kXmas, kMaimon, kAck, kCustomFlags, kUdp, kIpProtocol,
    kSctp, kOsDetect, kServiceDetect, kRpc, kDiscovery, kSweep, kKindCount
};
constexpr const char* kKindNames[kKindCount] = {
    "syn", "connect", "fin", "null", "xmas", "maimon", "ack", "custom-flags", "udp",
    "ip-protocol", "sctp", "os-detect", "service-detect", "rpc", "discovery", "sweep"};

enum class Tool { unknown, nmap, masscan, zmap, hping3, unicornscan };
constexpr const char* tool_name(Tool t) {
    switch (t) {
    case Tool::nmap: return "nmap";
    case Tool::masscan: return "masscan";
    case Tool::zmap: return "zmap";
    case Tool::hping3: return "hping3";
    case Tool::unicornscan: return "unicornscan";
    default: return "unknown";
    }
}

constexpr uint32_t bit(unsigned k) { return 1u << k; }

// Probes whose failure we could observe (an answer, a RST, an ICMP
// unreachable), so an unanswered one is a timeout. ICMP echoes and UDP
// datagrams with a payload are left out: their successes are never counted
// (replies are not tracked), so a DNS or QUIC client would look like a
// scanner. nmap -sU sends empty datagrams to most ports.
uint64_t answerable_probes(const uint32_t* c) {
    uint64_t p = c[SW_C_PROBES];
    uint64_t skip = uint64_t{c[SW_C_ICMP_ECHO]} +
                    (c[SW_C_UDP] > c[SW_C_UDP_EMPTY] ? c[SW_C_UDP] - c[SW_C_UDP_EMPTY] : 0);
    return p > skip ? p - skip : 0;
}

}  // namespace

double score_value(double score) {
    // the epsilon keeps 0.99 (stored as 0.98999...) at 0.99
    return std::clamp(std::floor(score * 1000.0 + 1e-6) / 1000.0, 0.0, 1.0);
}

std::string format_score(double score) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.3f", score_value(score));
    return buf;
}

namespace {
// A flag's value as a user would type it (0.99, 0.999999).
std::string format_flag_value(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string format_seconds(uint64_t ns) {
    char buf[32];
    if (ns % 1'000'000'000ULL == 0)
        std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(ns / 1'000'000'000ULL));
    else
        std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(ns) / 1e9);
    return buf;
}
}  // namespace

std::string scanner_os(uint8_t ttl, uint16_t /*window*/, uint32_t opts) {
    if (!ttl)
        return "unknown";
    // The TTL band gives the initial TTL (64 or 128; 255 is network gear);
    // the option order (one nibble per kind, abi.h) the stack, as p0f reads them.
    const unsigned initial = ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
    switch (opts) {
    case 0x24813:     // MSS, SACK, TS, NOP, WS
    case 0x211413:    // MSS, NOP, NOP, SACK, NOP, WS (timestamps off)
        return initial == 64 ? "linux" : "unknown";
    case 0x213114:    // MSS, NOP, WS, NOP, NOP, SACK
        return initial == 128 ? "windows" : "unknown";
    case 0x21311840:  // MSS, NOP, WS, NOP, NOP, TS, SACK, EOL (macOS)
    case 0x21348:     // MSS, NOP, WS, SACK, TS (FreeBSD)
    case 0x21141311:  // MSS, NOP, NOP, SACK, NOP, WS, NOP, NOP (OpenBSD, then TS)
        return initial == 64 ? "bsd-macos" : "unknown";
    default:
        return "unknown";
    }
}

// ---- per-source state -------------------------------------------------------

namespace {

// The kinds that name how a port scan probes ports.
constexpr uint32_t kPortScanKinds = (1u << kSyn) | (1u << kConnect) | (1u << kFin) | (1u << kNull) |
                                    (1u << kXmas) | (1u << kMaimon) | (1u << kAck) |
                                    (1u << kCustomFlags) | (1u << kUdp);

struct State {
    uint64_t sweep = 0;  // the last full sweep that saw the source's kernel record
    // The last snapshot of the kernel record (what assess() judges).
    uint32_t cnt[SW_C_MAX] = {};
    uint64_t first_ns = 0, last_ns = 0;
    uint64_t ports = 0, hosts = 0;
    uint8_t ttl_min = 0, ttl_max = 0;  // over the probes
    bool web_ports = false;            // its TCP probes went to 80 and 443 only
    uint8_t os_syn_ttl = 0;            // the first stack-built SYN (0: none)
    uint16_t os_syn_win = 0;
    uint32_t os_syn_opts = 0;
    uint64_t observed_ns = 0;  // now_ns of the last observe()
    bool have_snapshot = false;
    bool dirty = false;  // an event arrived since the last judgement

    // (time, answerable probes) samples at least sample_spacing_ns apart.
    uint64_t sample_t[kHistory] = {};
    uint64_t sample_probes[kHistory] = {};
    unsigned samples = 0, sample_next = 0;

    // RPC, from ring-buffer events.
    std::vector<uint32_t> rpc_programs;  // distinct, first kMaxRpcPrograms
    uint32_t rpc_events = 0;
    uint64_t last_event_ns = 0;
    bool rpc_check = false;     // nmap's RPCCheck (program 100000 version 104316)
    bool rpc_odd_port = false;  // an RPC CALL to a port no RPC service uses
    bool rpc_nmap_udp = false;  // nmap -sU's RPC payload (program 12345678)
    std::vector<Addr> rpc_hosts;  // distinct hosts it made RPC calls to (first kRpcStrongHosts)

    // Emission.
    bool reported = false;  // judged a scanner at least once (sticky)
    bool verified = false;  // SW_SF_VERIFIED: it receives our packets
    bool fast_blocked = false;  // SW_SF_FAST_BLOCKED: the XDP fast path already judged it
    bool decoy = false;     // shares its probes' signature with another source (sticky)
    bool decoy_emitted = false;
    uint32_t kinds_emitted = 0;
    Tool tool_emitted = Tool::unknown;
    uint64_t emit_ns = 0, emit_ports = 0, emit_probes = 0;
};

struct Verdict {
    double score = 0;
    bool scanner = false;  // sticky: now, or at any earlier judgement
    uint32_t kinds = 0;
    Tool tool = Tool::unknown;
    uint64_t timeouts = 0;
    bool decoy = false;
    std::vector<std::string> why_not;  // what a verdict lacks, in the words of the flags
};

// What judge() reads off a source's record, once, for its steps.
struct Evidence {
    const uint32_t* c = nullptr;  // the record's counters
    uint64_t P = 0, H = 0;        // ports, hosts
    uint64_t timeouts = 0, failures = 0, successes = 0, stealth = 0, os = 0, rpc = 0, probes = 0;
    bool os_detect = false, strong_rpc = false, version_probing = false;
    bool tiny_frags = false;  // RFC 1858's tiny first fragments to several ports
    uint64_t os_tries = 0;   // -O's tries (0: no -O)
    uint64_t icmp_disc = 0;  // ICMP host-discovery probes beyond -O's and -sO's
};

constexpr uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// The sources that sent probes with one (seq, source port), for decoys.
struct Signature {
    std::vector<Addr> sources;  // at most kMaxSignatureSources
    uint64_t first_ns = 0, last_ns = 0;
};

}  // namespace

struct Detector::Impl {
    DetectorConfig cfg;
    double w_fail, w_success;
    uint64_t sample_spacing_ns;
    std::unordered_map<Addr, State> sources;
    std::unordered_map<uint64_t, Signature> signatures;
    uint64_t signatures_pruned_ns = 0;
    uint64_t signatures_full_pruned_ns = 0;
    uint64_t scanners = 0;
    uint64_t sweep_gen = 1;

    explicit Impl(DetectorConfig c) { configure(c); }

    void configure(const DetectorConfig& c) {
        cfg = c;
        w_fail = std::log((1 - c.theta1) / (1 - c.theta0));
        w_success = std::log(c.theta1 / c.theta0);
        sample_spacing_ns = std::max(kMinSampleSpacingNs, c.probe_timeout_ns / (kHistory / 2));
    }

    // Probes older than the timeout that got no answer of any kind.
    uint64_t timeouts(const State& s, uint64_t now) const {
        if (now < cfg.probe_timeout_ns)
            return 0;
        const uint64_t cutoff = now - cfg.probe_timeout_ns;
        // The record itself is a sample: nothing happened after its last packet.
        bool found = s.last_ns <= cutoff;
        uint64_t best_t = s.last_ns, probes_then = answerable_probes(s.cnt);
        if (!found) {
            for (unsigned i = 0; i < s.samples; i++) {
                if (s.sample_t[i] <= cutoff && (!found || s.sample_t[i] > best_t)) {
                    found = true;
                    best_t = s.sample_t[i];
                    probes_then = s.sample_probes[i];
                }
            }
        }
        if (!found)
            return 0;
        const uint64_t answered = uint64_t{s.cnt[SW_C_ANSWERED]} + s.cnt[SW_C_FAIL_RST] +
                                  s.cnt[SW_C_FAIL_ICMP];
        return probes_then > answered ? probes_then - answered : 0;
    }

    bool rpc_strong(const State& s) const {
        return s.rpc_check || s.rpc_odd_port || s.rpc_programs.size() >= kRpcStrongPrograms ||
               s.rpc_hosts.size() >= kRpcStrongHosts;
    }

    // Judging a source, in steps: the evidence off its record, the score,
    // why it is not (yet) a scanner, the kinds of its scan, the tool.
    Verdict judge(const State& s, uint64_t now) const {
        Verdict v;
        v.timeouts = timeouts(s, now);
        const Evidence e = judge_evidence(s, v.timeouts);
        v.score = judge_score(s, e);

        // The fast path blocks after fewer ports than min_ports may ask for, and
        // a blocked source's record stops growing: its judgement counts as breadth.
        const bool broad = e.P >= cfg.min_ports || e.H >= cfg.min_hosts || e.strong_rpc ||
                           e.version_probing || e.os_detect || e.tiny_frags || s.fast_blocked;
        v.scanner = s.reported || (v.score >= cfg.alert_score && broad);
        if (!v.scanner)
            v.why_not = judge_why_not(e, v.score, broad);
        // A decoy scans only on paper: say so, with a score nobody blocks on.
        v.decoy = s.decoy && !s.verified;
        if (v.decoy)
            v.score = std::min(v.score, kDecoyScore);

        v.kinds = judge_kinds(s, e, v.scanner);
        v.tool = judge_tool(s, e);
        return v;
    }

    // judge(), step 1: the counts the verdict weighs, read off the record.
    Evidence judge_evidence(const State& s, uint64_t timed_out) const {
        const uint32_t* c = s.cnt;
        Evidence e;
        e.c = c;
        e.P = s.ports;
        e.H = s.hosts;
        e.timeouts = timed_out;
        e.failures = uint64_t{c[SW_C_FAIL_RST]} + c[SW_C_FAIL_ICMP] + timed_out;
        // Successful first contacts only (the kernel counts an answered SYN to
        // a port or host the source had not tried before): reconnecting to one
        // service earns benign credit once, so a verdict of benign is never
        // final. Half-open and connect probes answered are no successes.
        e.successes = sat_sub(c[SW_C_FIRST_OK], uint64_t{c[SW_C_HALF_OPEN]} + c[SW_C_CONNECT]);
        e.stealth = uint64_t{c[SW_C_FIN]} + c[SW_C_NULL] + c[SW_C_XMAS] + c[SW_C_MAIMON] +
                    c[SW_C_ACK_PROBE] + c[SW_C_ODD_FLAGS] + c[SW_C_FRAG_TINY];
        e.os = uint64_t{c[SW_C_OS_TS]} + c[SW_C_OS_URG] + c[SW_C_OS_UDP];
        e.os_detect = e.os >= 2 || (c[SW_C_ICMP_ODD] >= 1 && c[SW_C_OS_TS] >= 1);
        // First fragments shorter than a TCP header (nmap -f, --mtu 8/16)
        // come from no stack and no path MTU (IPv4's 68-byte minimum leaves
        // 48 bytes past an option-less header; RFC 1858): to a few ports,
        // breadth on their own, like -O's and -sV's probes, so -f is named
        // after kKindMin probes rather than min_ports (2-3 fragments each).
        e.tiny_frags = c[SW_C_FRAG_TINY] >= kKindMin && e.P >= kKindMin;
        e.rpc = std::max<uint64_t>(c[SW_C_RPC], s.rpc_events);
        e.strong_rpc = rpc_strong(s);
        e.probes = c[SW_C_PROBES];
        // nmap -sV/-sC against one service: its probe payloads, seen twice, or
        // once after nmap's connect probe (handshake, RST without data).
        e.version_probing =
            c[SW_C_SV_PROBE] >= 2 || (c[SW_C_SV_PROBE] >= 1 && c[SW_C_CONNECT] >= 1) || s.rpc_check;
        // -O's own NULL, SYN+FIN+PSH+URG, FIN+PSH+URG and code-9 echo probes
        // (with their retransmissions; IE1 counted twice) are not scans of
        // those kinds.
        e.os_tries = e.os_detect ? std::max<uint64_t>({1, c[SW_C_OS_URG], c[SW_C_OS_UDP]}) : 0;
        // Host discovery by ICMP: nmap's empty echo / zero timestamp (beyond
        // -O's IE1). (-sO sends one empty echo per host as its ICMP probe.)
        const uint64_t ipproto_echoes = c[SW_C_BARE_IP] >= kKindMin ? std::max<uint64_t>(e.H, 1) : 0;
        e.icmp_disc = sat_sub(c[SW_C_ICMP_ODD], 2 * e.os_tries + ipproto_echoes);
        return e;
    }

    // judge(), step 2: the score, the logistic of the evidence's log-likelihood.
    double judge_score(const State& s, const Evidence& e) const {
        const uint32_t* c = e.c;
        const uint64_t cap = std::max({e.P, e.H, uint64_t{1}});
        auto capped = [cap](uint64_t x) { return static_cast<double>(std::min(x, cap)); };

        double L = capped(e.failures) * w_fail + capped(e.successes) * w_success +
                   capped(c[SW_C_HALF_OPEN]) * Weights::half_open +
                   capped(c[SW_C_CONNECT]) * Weights::connect +
                   capped(c[SW_C_SYN_NMAP]) * Weights::syn_nmap +
                   capped(e.stealth) * Weights::stealth + capped(e.os) * Weights::os_marker +
                   capped(c[SW_C_SYN_NOOPT]) * Weights::syn_noopt +
                   capped(c[SW_C_ZMAP_IPID]) * Weights::zmap_ipid +
                   capped(c[SW_C_UNICORN_SEQ]) * Weights::unicorn_seq +
                   capped(c[SW_C_ICMP_ODD]) * Weights::icmp_odd;
        if (s.rpc_check || s.rpc_odd_port || s.rpc_hosts.size() >= kRpcStrongHosts)
            L += capped(e.rpc) * Weights::rpc;
        L += capped(c[SW_C_SV_PROBE]) * Weights::sv_probe;
        if (s.rpc_check)
            L += Weights::rpc_check;
        if (e.os_detect)
            L += Weights::os_detect;
        return 1.0 / (1.0 + std::exp(-L));
    }

    // judge(), step 3: why not (yet) a scanner, in the words of the flags
    // that would change it.
    std::vector<std::string> judge_why_not(const Evidence& e, double score, bool broad) const {
        std::vector<std::string> why;
        const uint64_t P = e.P, H = e.H;
        if (!broad) {
            why.push_back(std::to_string(P) + (P == 1 ? " port" : " ports") + " < --min-ports " +
                          std::to_string(cfg.min_ports));
            why.push_back(std::to_string(H) + (H == 1 ? " host" : " hosts") + " < --min-hosts " +
                          std::to_string(cfg.min_hosts));
        }
        if (score < cfg.alert_score)
            why.push_back("score " + format_score(score) + " < --alert-score " +
                          format_flag_value(cfg.alert_score));
        const uint64_t answers = uint64_t{e.c[SW_C_ANSWERED]} + e.c[SW_C_FAIL_RST] + e.c[SW_C_FAIL_ICMP];
        if (answers == 0 && e.timeouts == 0 && answerable_probes(e.c) > 0)
            why.push_back("no answer seen yet (an unanswered probe fails after --probe-timeout " +
                          format_seconds(cfg.probe_timeout_ns) + ")");
        return why;
    }

    // judge(), step 4: the kinds. Only for scanners, except rpc and
    // service-detect, which stand on their own.
    uint32_t judge_kinds(const State& s, const Evidence& e, bool scanner) const {
        uint32_t kinds = 0;
        if (e.strong_rpc)
            kinds |= bit(kRpc);
        if (e.version_probing)
            kinds |= bit(kServiceDetect);
        // -O's probes are unmistakable: named on their own, like -sV's.
        if (e.os_detect)
            kinds |= bit(kOsDetect);
        if (scanner)
            judge_scan_kinds(kinds, s, e);
        return kinds;
    }

    // The kinds of a scanner's scan, from how its probes look.
    void judge_scan_kinds(uint32_t& kinds, const State& s, const Evidence& e) const {
        const uint32_t* c = e.c;
        const uint64_t P = e.P, H = e.H;
        const uint64_t os_extra = e.os_tries * kOsProbeRepeats;
        // Host discovery: ICMP (see judge_evidence), or nmap's ACK to 80
        // paired with a SYN to 443, once or twice per host (the -sA/-sW scan
        // sends ACKs to many ports instead).
        const uint64_t acks = c[SW_C_ACK_PROBE];
        const bool tcp_disc = acks >= 1 && acks <= 2 * std::max<uint64_t>(H, 1);
        const bool discovery = e.icmp_disc >= 1 || tcp_disc ||
                               (P <= kFewPorts && sat_sub(c[SW_C_ICMP_ECHO], 2 * e.os_tries) >= 1);
        // SYNs that are no SYN+FIN (custom flags) and no SYN to 443 paired
        // with a discovery ACK.
        const uint64_t syn_all = c[SW_C_SYN];
        const uint64_t syn_plain = sat_sub(syn_all, c[SW_C_ODD_FLAGS]);
        const uint64_t syn = tcp_disc ? sat_sub(syn_plain, acks) : syn_plain;
        const uint64_t ack = tcp_disc ? 0 : acks;
        const bool sweep = H >= cfg.min_hosts &&
                           (P <= kFewPorts || (P <= kSweepMaxPorts && H >= kSweepHostsPerPort * P));
        if (syn >= kKindMin && (c[SW_C_HALF_OPEN] >= 1 || c[SW_C_SYN_NMAP] >= kKindMin ||
                                c[SW_C_SYN_NOOPT] >= cfg.min_ports || c[SW_C_UNICORN_SEQ] >= cfg.min_ports))
            kinds |= bit(kSyn);
        // -f / --mtu 8: the first fragments hold no flags, but an open
        // port answered one reassembled probe with SYN/ACK: SYNs.
        if (c[SW_C_FRAG_TINY] >= kKindMin && c[SW_C_FRAG_SYN] >= 1)
            kinds |= bit(kSyn);
        // OS-style SYNs: not raw scanner SYNs, not -O probes. They make a
        // connect scan when most of them found no open port.
        const uint64_t os_syns = sat_sub(c[SW_C_SYN], uint64_t{c[SW_C_SYN_NMAP]} + c[SW_C_SYN_NOOPT] +
                                                          c[SW_C_OS_TS] + c[SW_C_OS_URG] + c[SW_C_UNICORN_SEQ]);
        const uint64_t os_syn_ok = sat_sub(c[SW_C_ANSWERED], c[SW_C_HALF_OPEN]);
        if (c[SW_C_CONNECT] >= 1 || (os_syns >= cfg.min_ports && os_syn_ok * 2 <= os_syns))
            kinds |= bit(kConnect);
        // nmap's unprivileged host discovery: connect() to 80 and 443 of
        // every host, nothing else over TCP: discovery, not a connect scan.
        if (sweep && s.web_ports && (kinds & bit(kConnect))) {
            kinds &= ~bit(kConnect);
            kinds |= bit(kDiscovery);
        }
        if (c[SW_C_FIN] >= kKindMin) kinds |= bit(kFin);
        if (c[SW_C_NULL] >= kKindMin + os_extra) kinds |= bit(kNull);
        if (c[SW_C_XMAS] >= kKindMin + os_extra) kinds |= bit(kXmas);
        if (c[SW_C_MAIMON] >= kKindMin) kinds |= bit(kMaimon);
        if (ack >= kKindMin) kinds |= bit(kAck);
        if (c[SW_C_ODD_FLAGS] >= kKindMin + os_extra) kinds |= bit(kCustomFlags);
        if (c[SW_C_UDP] >= cfg.min_ports &&
            (P >= cfg.min_ports || (sweep && uint64_t{c[SW_C_UDP]} * 2 >= e.probes)))
            kinds |= bit(kUdp);
        if (c[SW_C_BARE_IP] >= kKindMin) kinds |= bit(kIpProtocol);
        if (c[SW_C_SCTP_INIT] >= kKindMin) kinds |= bit(kSctp);
        if (discovery) kinds |= bit(kDiscovery);
        // A sweep probes one or a few ports across many hosts: named
        // `sweep`, with the kind of its probes beside it (syn, connect ...).
        if (sweep)
            kinds |= bit(kSweep);
        // Probing one or two services of one host (nmap -sV -p80) is no
        // port scan (unless the fast path cut the scan short).
        if (P < cfg.min_ports && !sweep && !s.fast_blocked)
            kinds &= ~kPortScanKinds;
    }

    // judge(), step 5: tool attribution.
    Tool judge_tool(const State& s, const Evidence& e) const {
        const uint32_t* c = e.c;
        const uint64_t probes = e.probes;
        const bool ttl_spread = probes >= kTtlSpreadProbes && s.ttl_max >= s.ttl_min + kTtlSpread;
        if (c[SW_C_SYN_NMAP] >= 1 || (c[SW_C_SAME_SEQ] >= 2 && e.stealth >= 1) || s.rpc_check ||
            e.os_detect || s.rpc_nmap_udp || e.icmp_disc >= 1 || ttl_spread)
            return Tool::nmap;
        if (c[SW_C_HPING] >= kKindMin && uint64_t{c[SW_C_HPING]} * 2 >= probes)
            return Tool::hping3;  // window 64, no options: hping3's defaults
        if (c[SW_C_SYN] >= 1 && uint64_t{c[SW_C_SYN_NOOPT]} * 2 >= c[SW_C_SYN] &&
            (uint64_t{c[SW_C_SAME_SPORT]} * 2 >= probes ||
             // masscan's IP ID is (daddr ^ dport ^ seq): by chance 1 in 65536
             (c[SW_C_MASSCAN_IPID] >= 2 && uint64_t{c[SW_C_MASSCAN_IPID]} * 2 >= c[SW_C_SYN])))
            return Tool::masscan;
        // unicornscan: its SYNs' seqs share one key (the first SYN has no
        // previous one to match, so n SYNs give n - 1), whatever -W options
        if (c[SW_C_UNICORN_SEQ] >= 2 && uint64_t{c[SW_C_UNICORN_SEQ]} * 2 >= c[SW_C_SYN])
            return Tool::unicornscan;
        if ((c[SW_C_ZMAP_IPID] >= 1 && uint64_t{c[SW_C_ZMAP_IPID]} * 2 >= probes) ||
            // zmap 4.1+: random IP IDs, its SYNs' options, window and DF instead
            (c[SW_C_ZMAP_SYN] >= 2 && uint64_t{c[SW_C_ZMAP_SYN]} * 2 >= c[SW_C_SYN]))
            return Tool::zmap;
        return Tool::unknown;
    }

    ScanReport report(const Addr& src, const State& s, const Verdict& v) const {
        ScanReport r;
        r.src = src;
        const uint32_t kinds = v.kinds | s.kinds_emitted;  // kinds never shrink
        r.kind_bits = kinds;
        for (unsigned k = 0; k < kKindCount; k++)
            if (kinds & bit(k))
                r.kinds.emplace_back(kKindNames[k]);
        // the tool, like the kinds, never changes back once named
        r.tool = tool_name(s.tool_emitted != Tool::unknown ? s.tool_emitted : v.tool);
        r.ports = s.ports;
        r.hosts = s.hosts;
        r.probes = s.cnt[SW_C_PROBES];
        r.score = v.score;
        r.scanner = v.scanner;
        r.first_seen_ns = s.first_ns;
        r.last_seen_ns = s.last_ns;
        for (unsigned i = 0; i < SW_C_MAX; i++)
            if (s.cnt[i])
                r.evidence[kCounters[i].name] = s.cnt[i];
        if (v.timeouts)
            r.evidence["timeouts"] = v.timeouts;
        if (v.decoy)
            r.evidence["decoy"] = 1;
        r.why_not = v.why_not;
        // unicornscan's SYNs imitate a stack (OpenBSD by default): they say
        // nothing about the scanner's own
        r.scanner_os = r.tool == "unicornscan" ? "unknown" : scanner_os(s.os_syn_ttl, s.os_syn_win, s.os_syn_opts);
        r.rpc_programs = s.rpc_programs;
        return r;
    }

    // Records the source's current probe signature; marks it a decoy when
    // another source sent the same one and this source is not verified.
    void note_signature(const Addr& src, State& s, const sw_source& rec, uint64_t now) {
        if (!rec.last_sport || !rec.last_seq)
            return;
        const uint64_t key = (uint64_t{rec.last_seq} << 16) | rec.last_sport;
        auto found = signatures.find(key);
        if (found == signatures.end()) {
            // A flood of spoofed sources, each with its own seq, must not grow
            // this table without bound: forget quiet signatures early (decoy
            // copies arrive back to back), and stop learning while it stays full.
            if (signatures.size() >= kMaxSignatures) {
                if (now < signatures_full_pruned_ns + kSignatureFloodKeepNs / 5)
                    return;  // pruned a moment ago: no O(n) pass per new source
                signatures_full_pruned_ns = now;
                std::erase_if(signatures,
                              [&](const auto& kv) { return now > kv.second.last_ns + kSignatureFloodKeepNs; });
                if (signatures.size() >= kMaxSignatures)
                    return;
            }
            found = signatures.emplace(key, Signature{}).first;
        }
        Signature& sig = found->second;
        if (!sig.first_ns)
            sig.first_ns = now;
        sig.last_ns = now;

        if (std::find(sig.sources.begin(), sig.sources.end(), src) == sig.sources.end() &&
            sig.sources.size() < kMaxSignatureSources)
            sig.sources.push_back(src);
        if (sig.sources.size() >= 2 && !s.verified)
            s.decoy = true;
        // the other sharers learn it at their next look; mark them now
        if (sig.sources.size() >= 2)
            for (const auto& a : sig.sources)
                if (auto it = sources.find(a); it != sources.end() && !it->second.verified)
                    it->second.decoy = true;
    }

    void prune_signatures(uint64_t now) {
        if (now < signatures_pruned_ns + kSignatureKeepNs / 10)
            return;
        signatures_pruned_ns = now;
        std::erase_if(signatures, [&](const auto& kv) { return now > kv.second.last_ns + kSignatureKeepNs; });
    }

    void add_sample(State& s, uint64_t t) {
        if (s.samples && t < s.sample_t[(s.sample_next + kHistory - 1) % kHistory] + sample_spacing_ns)
            return;
        s.sample_t[s.sample_next] = t;
        s.sample_probes[s.sample_next] = answerable_probes(s.cnt);
        s.sample_next = (s.sample_next + 1) % kHistory;
        s.samples = std::min(s.samples + 1, kHistory);
    }

    // Ports or probes grew by half since the last emitted report.
    static bool grew(const State& s) { return grown_by_half(s.ports, s.cnt[SW_C_PROBES], s.emit_ports, s.emit_probes); }

    bool idle(const State& s, uint64_t now) const {
        const uint64_t active = std::max(s.last_ns, s.last_event_ns);
        return now > active && now - active > cfg.idle_forget_ns;
    }

    std::optional<ScanReport> observe(const Addr& src, const sw_source& rec, uint64_t now, const sw_wide* wide) {
        auto it = sources.find(src);
        if (it == sources.end()) {
            // A kernel record nobody touched for longer than we remember sources.
            if (now > rec.last_ns && now - rec.last_ns > cfg.idle_forget_ns)
                return std::nullopt;
            // One packet is no scan, whatever it was: no state until a second
            // one (a flood of spoofed one-packet sources costs no memory here).
            if (rec.cnt[SW_C_PROBES] < 2 && rec.cnt[SW_C_RPC] == 0 && rec.cnt[SW_C_HALF_OPEN] == 0 &&
                rec.cnt[SW_C_CONNECT] == 0)
                return std::nullopt;
            it = sources.try_emplace(src).first;
        }
        State& s = it->second;
        s.sweep = sweep_gen;

        const bool same = s.have_snapshot && rec.last_ns == s.last_ns &&
                          std::memcmp(rec.cnt, s.cnt, sizeof s.cnt) == 0;
        // Nothing new, every probe already past its timeout and no update
        // waiting for its interval: the outcome cannot change.
        if (same && !s.dirty && s.observed_ns >= s.last_ns + cfg.probe_timeout_ns &&
            !(s.reported && grew(s))) {
            s.observed_ns = now;
            return std::nullopt;
        }
        if (!same) {
            // The kernel's LRU map may have dropped and re-created the record.
            if (s.have_snapshot &&
                (rec.first_ns != s.first_ns || rec.cnt[SW_C_PROBES] < s.cnt[SW_C_PROBES]))
                s.samples = s.sample_next = 0;
            std::memcpy(s.cnt, rec.cnt, sizeof s.cnt);
            s.first_ns = rec.first_ns;
            s.last_ns = rec.last_ns;
            // A sketch estimate can overshoot at high fill; a source cannot
            // have probed more ports or hosts than it sent probes.
            const uint64_t probes = std::max<uint64_t>(rec.cnt[SW_C_PROBES], 1);
            s.ports = std::min(distinct_ports(rec, wide), probes);
            s.hosts = std::min(distinct_hosts(rec, wide), probes);
            s.ttl_min = rec.ttl_min;
            s.os_syn_ttl = rec.os_syn_ttl;
            {
                // its TCP ports are 80 and/or 443 only (one more sketch bit
                // allowed for a source that also sent UDP, e.g. its DNS lookups)
                const unsigned web = unsigned{port_probed(rec, 80, IPPROTO_TCP)} + port_probed(rec, 443, IPPROTO_TCP);
                unsigned bits = 0;
                for (auto w : rec.ports)
                    bits += static_cast<unsigned>(std::popcount(static_cast<uint64_t>(w)));
                s.web_ports = web > 0 && bits <= web + (rec.cnt[SW_C_UDP] > 0 ? 1u : 0u);
            }
            s.os_syn_win = rec.os_syn_win;
            s.os_syn_opts = rec.os_syn_opts;
            s.ttl_max = rec.ttl_max;
            s.verified = (rec.flags & SW_SF_VERIFIED) != 0;
            s.fast_blocked = (rec.flags & SW_SF_FAST_BLOCKED) != 0;
            s.have_snapshot = true;
            note_signature(src, s, rec, now);
        }
        // Counts as of the record's last packet (the earliest time they held).
        add_sample(s, std::min<uint64_t>(now, rec.last_ns));
        s.observed_ns = now;
        s.dirty = false;

        const Verdict v = judge(s, now);
        if (!v.scanner)
            return std::nullopt;
        const bool first = !s.reported;

        const bool new_kinds = (v.kinds & ~s.kinds_emitted) != 0 ||
                               (s.tool_emitted == Tool::unknown && v.tool != Tool::unknown) ||
                               v.decoy != s.decoy_emitted;
        const bool update = now >= s.emit_ns + cfg.reemit_interval_ns && grew(s);
        if (!first && !new_kinds && !update)
            return std::nullopt;

        if (first)
            scanners++;
        s.reported = true;
        auto r = report(src, s, v);
        s.kinds_emitted |= v.kinds;
        if (s.tool_emitted == Tool::unknown)
            s.tool_emitted = v.tool;
        s.decoy_emitted = v.decoy;
        s.emit_ns = now;
        s.emit_ports = std::max<uint64_t>(s.ports, 1);
        s.emit_probes = std::max<uint64_t>(s.cnt[SW_C_PROBES], 1);
        return r;
    }

    void on_event(const sw_event& ev) {
        if (ev.type != SW_EV_RPC)
            return;  // thresholds only say "look now"; the record has the counts
        State& s = sources[Addr::from_bytes(ev.saddr)];
        s.dirty = true;
        s.rpc_events++;
        s.last_event_ns = std::max<uint64_t>(s.last_event_ns, ev.ts_ns);
        const uint32_t prog = ev.value;
        if (s.rpc_programs.size() < kMaxRpcPrograms &&
            std::find(s.rpc_programs.begin(), s.rpc_programs.end(), prog) == s.rpc_programs.end())
            s.rpc_programs.push_back(prog);
        const Addr host = Addr::from_bytes(ev.daddr);
        if (s.rpc_hosts.size() < kRpcStrongHosts &&
            std::find(s.rpc_hosts.begin(), s.rpc_hosts.end(), host) == s.rpc_hosts.end())
            s.rpc_hosts.push_back(host);
        const uint16_t dport = ntohs(ev.dport);
        const bool odd_port =
            dport < kRpcDynamicPorts &&
            std::find(std::begin(kRpcPorts), std::end(kRpcPorts), dport) == std::end(kRpcPorts);
        if (odd_port)
            s.rpc_odd_port = true;
        // nmap -sU sends the same RPCCheck datagram to the RPC ports as its
        // payload for them: on UDP to an RPC port it says udp scan, not -sV.
        if (prog == kRpcCheckProgram && ev.aux == kRpcCheckVersion &&
            (ev.proto != IPPROTO_UDP || odd_port))
            s.rpc_check = true;
        if (prog == kNmapUdpRpcProgram && ev.proto == IPPROTO_UDP)
            s.rpc_nmap_udp = true;
    }
};

Detector::Detector(DetectorConfig cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Detector::~Detector() = default;

std::optional<ScanReport> Detector::observe(const Addr& src, const sw_source& rec, uint64_t now_ns, const sw_wide* wide) {
    return impl_->observe(src, rec, now_ns, wide);
}

void Detector::on_event(const sw_event& ev) { impl_->on_event(ev); }

std::optional<ScanReport> Detector::assess(const Addr& src) const {
    auto it = impl_->sources.find(src);
    if (it == impl_->sources.end() || !it->second.have_snapshot)
        return std::nullopt;
    const State& s = it->second;
    return impl_->report(src, s, impl_->judge(s, s.observed_ns));
}

std::vector<ScanReport> Detector::not_scanners(size_t limit) const {
    std::vector<ScanReport> out;
    for (const auto& [src, s] : impl_->sources) {
        if (!s.have_snapshot || s.reported)
            continue;
        auto r = impl_->report(src, s, impl_->judge(s, s.observed_ns));
        if (!r.scanner)
            out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const ScanReport& a, const ScanReport& b) {
        return a.score != b.score ? a.score > b.score : a.src < b.src;
    });
    if (out.size() > limit)
        out.resize(limit);
    return out;
}

size_t Detector::expire(uint64_t now_ns) {
    impl_->prune_signatures(now_ns);
    return std::erase_if(impl_->sources,
                         [&](const auto& kv) { return impl_->idle(kv.second, now_ns); });
}

void Detector::begin_sweep() { impl_->sweep_gen++; }

size_t Detector::end_sweep() {
    const uint64_t gen = impl_->sweep_gen;
    return std::erase_if(impl_->sources, [gen](const auto& kv) { return kv.second.sweep != gen; });
}

bool Detector::forget(const Addr& src) { return impl_->sources.erase(src) != 0; }

size_t Detector::tracked() const { return impl_->sources.size(); }
uint64_t Detector::scanners_reported() const { return impl_->scanners; }
const DetectorConfig& Detector::config() const { return impl_->cfg; }

void Detector::set_config(const DetectorConfig& cfg) { impl_->configure(cfg); }

}  // namespace scanwatch
