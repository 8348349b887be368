// The subcommands behind main(). Each returns the process exit code; usage
// errors throw UsageError (exit 2), runtime failures other exceptions (exit 1).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/defaults.hpp"
#include "common/errors.hpp"
#include "config/options.hpp"
#include "scanwatch/detector.hpp"
#include "ui/top.hpp"

namespace scanwatch {

// `reload` (optional) re-reads the options for SIGHUP: config file, then the
// command-line flags over it. It throws ConfigError/UsageError on bad input.
int run_command(const RunOptions& o, const std::function<RunOptions()>& reload = {});

struct ReplayOptions {
    std::string file;
    std::string json;
    double sweep_ms = defaults::kSweepMs;
    bool quiet = false;
    unsigned threads = 1;          // replay threads; 0: one per usable CPU (up to 8)
    DetectorConfig det;
};

int replay_command(const ReplayOptions& o);

struct ClientOptions {
    std::string socket = defaults::kSocket;
    bool json = false;
};
int block_command(const ClientOptions& c, const std::string& target, const std::string& ttl);
int unblock_command(const ClientOptions& c, const std::string& target);
int blocks_command(const ClientOptions& c);
int status_command(const ClientOptions& c);


}  // namespace scanwatch
