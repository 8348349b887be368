// What `scanwatch run` is told: flags and the config file end here
// (config/config.cpp fills it, main.cpp lays the flags over it), and the
// agent is built from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/defaults.hpp"
#include "scanwatch/detector.hpp"

namespace scanwatch {

struct RunOptions {
    std::vector<std::string> ifaces;
    std::string json;              // path, "-" or empty
    bool block = false;
    double duration_s = 0;         // 0: until a signal
    std::string xdp_mode = "auto";
    std::vector<std::string> allow;
    std::string socket = defaults::kSocket;
    std::string socket_group;      // also lets this group use the socket (mode 0660); empty: root only
    std::string pin_dir = defaults::kPinDir;
    double sweep_ms = defaults::kSweepMs;
    bool quiet = false;
    DetectorConfig det;
    // blocking
    uint64_t block_ttl_ns = defaults::kBlockTtlNs;
    bool block_unverified = false;
    bool fast_block = defaults::kFastBlock;
    double block_score = defaults::kBlockScore;
    uint32_t max_blocks = defaults::kMaxBlocks;
    uint32_t max_new_blocks_per_sec = defaults::kMaxNewBlocksPerSec;
    std::string state_file = defaults::kStateFile;
    uint32_t max_sources = 0;      // sources map size; 0: SW_DEFAULT_MAX_SOURCES
    // outputs
    std::string metrics_listen;    // "ADDR:PORT" or "[IPv6]:PORT": serve GET /metrics; empty: off
    bool syslog = false;           // one line per detection and block/unblock to syslog (LOG_DAEMON)
    // CrowdSec's Local API ([crowdsec]; empty URL: off)
    std::string crowdsec_url;
    std::string crowdsec_machine;            // push alerts as this machine (empty: no push)
    std::string crowdsec_password_file;
    std::string crowdsec_password;           // inline (tests; warned about)
    std::string crowdsec_key_file;           // pull decisions with this bouncer key (empty: no pull)
    std::string crowdsec_key;                // inline (tests; warned about)
    uint64_t crowdsec_pull_interval_ns = 10'000'000'000ULL;
    // Which decisions to pull (LAPI stream filters; empty: all)
    std::vector<std::string> crowdsec_origins;                   // exact origin names
    std::vector<std::string> crowdsec_scenarios_containing;      // a scenario holds one of these words
    std::vector<std::string> crowdsec_scenarios_not_containing;  // ... and none of these
};

}  // namespace scanwatch
