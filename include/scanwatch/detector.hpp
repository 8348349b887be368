// The detector: a pure C++ library fed by snapshots of the kernel's
// per-source records and by ring-buffer events. No kernel, no I/O: the live
// agent and replay feed it the same way, and unit tests feed it by hand.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"

namespace scanwatch {

struct DetectorConfig {
    double alert_score = 0.99;        // posterior probability needed to call a scanner
    unsigned min_ports = 5;           // distinct ports for a port scan
    unsigned min_hosts = 5;           // distinct hosts for a sweep
    double theta0 = 0.8;              // P(first contact succeeds | benign)   (TRW)
    double theta1 = 0.2;              // P(first contact succeeds | scanner)  (TRW)
    uint64_t probe_timeout_ns = 3'000'000'000ULL;  // an unanswered probe fails after this
    uint64_t reemit_interval_ns = 5'000'000'000ULL; // at most one update per source per interval
    uint64_t idle_forget_ns = 3600'000'000'000ULL; // forget sources idle this long
};

// The detector's rule for reporting a source again on its counts alone:
// ports or probes grew by half since the last report (the agent's report
// memory holds back a returning source's report by the same rule).
inline bool grown_by_half(uint64_t ports, uint64_t probes, uint64_t last_ports, uint64_t last_probes) {
    return ports * 2 >= last_ports * 3 || probes * 2 >= last_probes * 3;
}

// What the detector says about one source. Field names follow the JSON
// `scan` event of DESIGN.md.
struct ScanReport {
    Addr src;
    std::vector<std::string> kinds;   // vocabulary of DESIGN.md, in its order
    uint32_t kind_bits = 0;           // the same kinds as bits, 1 << (place in that order)
    std::string tool = "unknown";     // nmap | masscan | zmap | hping3 | unknown
    // The scanner's own operating system, from its stack-built SYNs (TTL
    // band and TCP option order): linux | windows | bsd-macos | unknown.
    std::string scanner_os = "unknown";
    uint64_t ports = 0;               // distinct destination ports (estimate)
    uint64_t hosts = 0;               // distinct destination hosts (estimate)
    uint64_t probes = 0;
    double score = 0.0;               // 0..1
    bool scanner = false;             // score and breadth are enough to call it a scanner
    uint64_t first_seen_ns = 0;       // sw_now() clock
    uint64_t last_seen_ns = 0;
    std::map<std::string, uint64_t> evidence;  // counter name -> value, for the analyst
    std::vector<uint32_t> rpc_programs;        // distinct ONC RPC programs seen (first 32)
    // Not (yet) a scanner: what is missing, in the words of the flags a user
    // can change ("3 ports < --min-ports 5", "score 0.820 < --alert-score 0.99",
    // "no answer seen yet ..."). Empty for scanners.
    std::vector<std::string> why_not;
};

// The score as every output shows it: cut (not rounded) to three decimals,
// so 0.9996 reads 0.999 everywhere and only certainty reads 1.000.
double score_value(double score);        // for JSON numbers
std::string format_score(double score);  // "0.999" for text

class Detector {
public:
    explicit Detector(DetectorConfig cfg = {});
    ~Detector();
    Detector(const Detector&) = delete;
    Detector& operator=(const Detector&) = delete;

    // Feeds the current kernel record of one source at time now_ns (the
    // sw_now() clock). Returns a report to emit when the source is first
    // judged a scanner, when its kinds grow, or when its counts changed
    // materially (no more than once per reemit interval). A benign verdict is
    // never final: every call re-judges from the evidence so far.
    // wide: the source's sw_wide sketches, when it has them (rec.ports_new or
    // hosts_new >= SW_WIDE_AT): its counts beyond the bitmaps' range.
    std::optional<ScanReport> observe(const Addr& src, const sw_source& rec, uint64_t now_ns,
                                      const sw_wide* wide = nullptr);

    // A ring-buffer event (RPC program numbers, thresholds). Call it before
    // observe() of the same source.
    void on_event(const sw_event& ev);

    // The current assessment of a source, without emitting (for top/status).
    std::optional<ScanReport> assess(const Addr& src) const;

    // The current assessment of every tracked source that is not (yet) a
    // scanner, highest score first, at most `limit` of them (status).
    std::vector<ScanReport> not_scanners(size_t limit) const;

    // Forgets sources idle for longer than idle_forget_ns; returns how many.
    size_t expire(uint64_t now_ns);

    // A full sweep of the kernel's sources map: observe() every record between
    // these two calls, and end_sweep() forgets the sources whose kernel record
    // is gone (evicted from the LRU map), so the detector's memory follows the
    // map's size. Returns how many were forgotten.
    void begin_sweep();
    size_t end_sweep();

    // Drops one source's state (the agent's mirror gave its slot away or its
    // kernel record is gone). Returns whether it was tracked.
    bool forget(const Addr& src);

    size_t tracked() const;
    uint64_t scanners_reported() const;  // sources ever judged scanners
    const DetectorConfig& config() const;
    // New thresholds (SIGHUP); every source's evidence is kept.
    void set_config(const DetectorConfig& cfg);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The operating system family whose stack built a SYN with this TTL,
// window and option order (sw_source.os_syn_*): linux, windows, bsd-macos
// or unknown.
std::string scanner_os(uint8_t ttl, uint16_t window, uint32_t opts);

// Linear-counting estimate of distinct items from a bitmap of nbits bits.
uint64_t linear_count(const uint64_t* words, unsigned nbits);

// HyperLogLog sketches (abi.h, userspace/detect/sketch.cpp): words holds
// SW_HLL_WORDS words of 4-bit registers.
unsigned hll_register(const __u64* words, uint32_t reg);
// Distinct items offered (Ertl's improved estimator; nearly exact while few
// registers are set, standard error 1.04 / sqrt(SW_HLL_REGS) = 2.3 % beyond).
double hll_estimate(const __u64* words);
// What the XDP program does with an item's hash (for tests and benchmarks).
void hll_add(__u64* words, uint32_t h);

// The estimates for a kernel record (and, for a source with SW_WIDE_AT ports
// or hosts, its sw_wide sketches when the map still holds them).
uint64_t distinct_ports(const sw_source& rec, const sw_wide* wide = nullptr);
uint64_t distinct_hosts(const sw_source& rec, const sw_wide* wide = nullptr);
// Is port (over proto) in the record's port bitmap (exact for a port it
// probed; a false yes once in SW_PORT_BITS / distinct ports)?
bool port_probed(const sw_source& rec, uint16_t port, uint8_t proto);

}  // namespace scanwatch
