// `scanwatch top`: the live view of an agent, over its control socket.
#pragma once

#include <string>

#include "common/defaults.hpp"

namespace scanwatch {

// `scanwatch top` (ui/top.cpp): live view; --once/--json or no terminal: one snapshot.
struct TopOptions {
    std::string socket = defaults::kSocket;
    double delay_s = 1;            // seconds between samples
    bool once = false;
    bool json = false;
    std::string sort;              // column name; empty: by score
    bool invert = false;
    std::string filter;            // address or kind substring
};
int top_command(const TopOptions& o);

}  // namespace scanwatch
