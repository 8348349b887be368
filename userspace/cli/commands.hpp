// The subcommands behind main(). Each returns the process exit code; usage
// errors throw UsageError (exit 2), runtime failures other exceptions (exit 1).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "scanwatch/detector.hpp"

namespace scanwatch {

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

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
};

// `reload` (optional) re-reads the options for SIGHUP: config file, then the
// command-line flags over it. It throws ConfigError/UsageError on bad input.
int run_command(const RunOptions& o, const std::function<RunOptions()>& reload = {});

struct ReplayOptions {
    std::string file;
    std::string json;
    double sweep_ms = 250;
    bool quiet = false;
    unsigned threads = 1;          // replay threads; 0: one per usable CPU (up to 8)
    DetectorConfig det;
};

int replay_command(const ReplayOptions& o);

struct ClientOptions {
    std::string socket = "/run/scanwatch.sock";
    bool json = false;
};
int block_command(const ClientOptions& c, const std::string& target, const std::string& ttl);
int unblock_command(const ClientOptions& c, const std::string& target);
int blocks_command(const ClientOptions& c);
int status_command(const ClientOptions& c);

// `scanwatch top` (ui/top.cpp): live view; --once/--json or no terminal: one snapshot.
struct TopOptions {
    std::string socket = "/run/scanwatch.sock";
    double delay_s = 1;            // seconds between samples
    bool once = false;
    bool json = false;
    std::string sort;              // column name; empty: by score
    bool invert = false;
    std::string filter;            // address or kind substring
};
int top_command(const TopOptions& o);

}  // namespace scanwatch
