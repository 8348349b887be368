// Prometheus metrics: a snapshot of the agent's counters and a pure renderer
// of the text exposition format 0.0.4 (HELP, TYPE, escaped label values,
// counters ending in _total). No kernel, no sockets: unit-tested as is.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "scanwatch/abi.h"

namespace scanwatch {

// A cumulative histogram with fixed upper bounds (seconds).
struct Histogram {
    std::vector<double> bounds;       // ascending; +Inf is implicit
    std::vector<uint64_t> counts;     // per bound, not cumulative (size bounds.size() + 1)
    double sum = 0;
    uint64_t count = 0;

    explicit Histogram(std::vector<double> upper_bounds = {});
    void observe(double v);
};

struct MetricsSnapshot {
    std::string version;
    std::string xdp_mode;
    double start_time_s = 0;          // Unix time the agent started

    struct Iface {
        std::string name;             // "other": interfaces the agent did not register
        std::array<uint64_t, SW_S_MAX> stats{};  // SW_S_*
    };
    std::vector<Iface> ifaces;

    struct MapFill {
        std::string map;              // "sources", "flows", "blocks"
        uint64_t entries = 0;
        uint64_t capacity = 0;
    };
    std::vector<MapFill> maps;

    uint64_t sources_tracked = 0;     // sources the detector holds state for
    uint64_t scanners = 0;            // sources ever judged scanners
    std::map<std::string, uint64_t> scans_by_kind;
    uint64_t scan_events = 0;
    uint64_t blocks_active = 0;
    std::map<std::string, uint64_t> blocks_created;  // by reason: detector, manual, fast_path
    uint64_t blocks_refused = 0;
    uint64_t unblocks = 0;
    uint64_t shields_agent = 0, shields_fast_path = 0;  // shields in force, by who made them
    uint64_t shields_created = 0;     // shields the agent made
    uint64_t ring_events_received = 0;  // by the agent
    double last_sweep_s = 0;          // the latest sweep: tracked sources by key + one walk slice
    Histogram sweep{};
    // The mirror (agent/mirror.hpp): which sources the agent reads.
    struct Mirror {
        uint64_t admitted = 0, found_by_walk = 0, evicted = 0, refused = 0;
        uint64_t walk_passes = 0;     // complete passes of the background walk over the sources map
        double walk_pass_s = 0;       // how long the latest pass took
    } mirror;

    struct CrowdSec {
        bool enabled = false;         // [crowdsec] configured: the families below are written
        bool reachable = false;
        uint64_t alerts_pushed = 0, alerts_failed = 0, alerts_queued = 0, alerts_dropped = 0;
        std::map<std::string, uint64_t> decisions_by_origin;
        double last_pull_s = 0;       // Unix time; 0: never
        uint64_t refused = 0;         // decisions the safety rules refused
    } crowdsec;
};

// Text exposition format 0.0.4.
std::string render_prometheus(const MetricsSnapshot& s);

// A label value escaped for the exposition format: backslash, double quote, newline.
std::string escape_label_value(const std::string& v);

// "ADDR:PORT" with an IPv4 address, or "[IPv6]:PORT". Throws std::invalid_argument.
struct ListenAddress {
    std::string host;  // without brackets
    int port = 0;
    bool ipv6 = false;
};
ListenAddress parse_listen_address(const std::string& s);

// Counts detections and blocks from the JSON events as they are written:
// a source's kinds count once each (its later reports add only new kinds),
// blocks by how they were made (the event's "by").
class EventTally {
public:
    explicit EventTally(size_t max_sources = 65536) : max_sources_(max_sources) {}
    void on_event(const nlohmann::ordered_json& e);
    void fill(MetricsSnapshot& s) const;

private:
    size_t max_sources_;
    std::unordered_map<std::string, std::vector<std::string>> seen_;  // src -> kinds counted
    std::map<std::string, uint64_t> kinds_;
    std::map<std::string, uint64_t> blocks_;
    uint64_t scan_events_ = 0, refused_ = 0, unblocks_ = 0;
};

}  // namespace scanwatch
