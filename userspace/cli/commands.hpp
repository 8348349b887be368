// The subcommands behind main(). Each returns the process exit code; usage
// errors throw UsageError (exit 2), runtime failures other exceptions (exit 1).
#pragma once

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
    std::string pin_dir = "/sys/fs/bpf/scanwatch";
    double sweep_ms = 250;
    bool quiet = false;
    DetectorConfig det;
};

int run_command(const RunOptions& o);

}  // namespace scanwatch
