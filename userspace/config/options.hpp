// What `scanwatch run` is told: flags and the config file end here
// (config/config.cpp fills it, main.cpp lays the flags over it), and the
// agent is built from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scanwatch/detector.hpp"

namespace scanwatch {

struct RunOptions {
    std::vector<std::string> ifaces;
    std::string json;              // path, "-" or empty
    bool block = false;
    double duration_s = 0;         // 0: until a signal
    std::string xdp_mode = "auto";
    std::vector<std::string> allow;
    std::string socket = "/run/scanwatch.sock";
    std::string socket_group;      // also lets this group use the socket (mode 0660); empty: root only
    std::string pin_dir = "/sys/fs/bpf/scanwatch";
    double sweep_ms = 250;
    bool quiet = false;
    DetectorConfig det;
    // blocking
    uint64_t block_ttl_ns = 3600'000'000'000ULL;
    bool block_unverified = false;
    bool fast_block = true;
    double block_score = 0.99;
    uint32_t max_blocks = 65536;
    uint32_t max_new_blocks_per_sec = 100;
    std::string state_file = "/var/lib/scanwatch/blocks.json";
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
