// The TOML config file of `scanwatch run` (default /etc/scanwatch/scanwatch.toml).
// Every flag of `run` has a key; a key present in the file sets the option,
// and flags given on the command line override the file. One table of keys
// drives parsing, validation and the reload diff, so they cannot disagree.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "config/options.hpp"

namespace scanwatch {

// A problem in a config file, already worded for the user:
// "FILE:LINE: KEY: what is wrong" (exit code 2).
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultConfigPath = "/etc/scanwatch/scanwatch.toml";

// Sets the fields of `o` named by the keys in `text`; the rest stay as they
// are. `name` is the file name used in messages. Throws ConfigError.
void apply_config(std::string_view text, const std::string& name, RunOptions& o);
// Reads the file and applies it. A missing or unreadable file is a ConfigError.
void apply_config_file(const std::string& path, RunOptions& o);

struct ConfigDiff {
    std::vector<std::string> reloaded;  // keys SIGHUP applies ("detect.min_ports", ...)
    std::vector<std::string> restart;   // keys that differ but need a restart
};
// Which keys differ between the running options and newly read ones.
ConfigDiff config_diff(const RunOptions& running, const RunOptions& next);
// Copies the restart-only keys from `running` into `next`, so `next` can be
// applied by a reload.
void keep_restart_keys(const RunOptions& running, RunOptions& next);

// Every key, "section.name", in file order (for docs and tests).
std::vector<std::string> config_keys();

}  // namespace scanwatch
