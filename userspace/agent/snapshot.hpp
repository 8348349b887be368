// What the agent knows at one moment, read once from its parts (kernel
// statistics, detector, block list, CrowdSec). The control protocol's
// `status` and `sources` replies, the `started` and `stopped` events and the
// Prometheus metrics are all written from it, so they cannot disagree.
// Plain data and pure functions: unit-tested without a kernel.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/mirror.hpp"
#include "metrics/metrics.hpp"
#include "scanwatch/abi.h"
#include "scanwatch/output.hpp"

namespace scanwatch {

// What a snapshot also counts by walking a map (up to 65,536 entries each).
struct SnapshotWalks {
    bool shields = false;
    bool flows = false;
};

struct AgentSnapshot {
    std::string version;
    long pid = 0;
    std::vector<std::string> ifaces;
    std::string xdp_mode;
    std::string pin_dir;
    std::string socket;
    bool block_enabled = false;
    Clock clock;                  // kernel clock -> wall time
    uint64_t start_ns = 0;        // kernel clock
    uint64_t now_ns = 0;
    // statistics rows by interface slot (SW_S_*, summed over CPUs), and their names
    std::vector<sw_stat_row> rows;
    std::vector<std::string> slot_names;
    std::array<uint64_t, SW_S_MAX> stats{};  // summed over the rows
    uint64_t sources_in_map = 0;  // records in the sources map at the latest sweep
    uint32_t max_sources = 0;
    bool sources_map_full = false;
    uint64_t sources = 0;         // the detector's tracked sources
    uint64_t scanners = 0;        // sources ever reported as scanners
    uint64_t reports = 0;
    uint64_t events = 0;          // ring-buffer events the agent received
    uint64_t blocks = 0;          // active
    uint64_t blocks_created = 0;
    uint64_t shields_created = 0; // sources the agent put under the shield
    // Figures that cost a walk of a map, read only when asked (SnapshotWalks):
    bool shields_counted = false;
    uint64_t shields_agent = 0, shields_fast_path = 0;  // shields in force, by who made them
    bool flows_counted = false;
    uint64_t flows = 0;           // entries in the flows map
    std::string state_file_error; // "" when the last save worked
    double last_sweep_ms = 0;
    MirrorStats mirror;           // which records the agent reads (agent/mirror.hpp)
    MirrorLimits mirror_limits;
    uint64_t sweeps = 0;
    nlohmann::json crowdsec;      // the link's status(); null when off

    uint64_t stat(unsigned idx) const { return idx < stats.size() ? stats[idx] : 0; }
};

// Sums rows into stats.
void sum_stats(AgentSnapshot& s);

// The `status` reply without its "watching" list (the detector gives that);
// its shield figures need a snapshot that counted the shields.
nlohmann::json status_json(const AgentSnapshot& s);
// The `sources` reply's figures besides the rows.
nlohmann::json sources_summary_json(const AgentSnapshot& s);
nlohmann::ordered_json started_json(const AgentSnapshot& s);
nlohmann::ordered_json stopped_json(const AgentSnapshot& s, const std::string& reason);
// The figures the metrics take from the snapshot: interfaces, the sources
// and blocks map fill, detector and block counts, the latest sweep; the
// flows and the shields in force when the snapshot counted them.
void fill_metrics(const AgentSnapshot& s, MetricsSnapshot& m);

}  // namespace scanwatch
