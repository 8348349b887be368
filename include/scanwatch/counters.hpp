// The evidence counters as C++ sees them: one row per SW_C_* of abi.h's
// SW_COUNTERS table (the only list of them), for the detector's evidence
// names, top's evidence beside each kind and the tests' messages.
#pragma once

#include <string_view>

#include "scanwatch/abi.h"

namespace scanwatch {

struct CounterInfo {
    const char* id;     // "SYN_NMAP": SW_C_SYN_NMAP without its prefix
    const char* name;   // "syn_nmap": the evidence name in JSON and top
    const char* kinds;  // "syn": the scan kinds it is evidence for, space-separated
};

#define SW_C_INFO_(id, name, kinds) CounterInfo{#id, name, kinds},
inline constexpr CounterInfo kCounters[SW_C_MAX] = {SW_COUNTERS(SW_C_INFO_)};
#undef SW_C_INFO_

// Is counter c evidence for kind (a word of its kinds list)?
constexpr bool counter_backs_kind(unsigned c, std::string_view kind) {
    if (c >= SW_C_MAX || kind.empty())
        return false;
    std::string_view k = kCounters[c].kinds;
    while (!k.empty()) {
        const size_t sp = k.find(' ');
        if (k.substr(0, sp) == kind)
            return true;
        if (sp == std::string_view::npos)
            break;
        k.remove_prefix(sp + 1);
    }
    return false;
}

}  // namespace scanwatch
