// One way to open the BPF skeleton: options in, a configured and loaded
// skeleton out. The agent (Kernel), the replay runner (ProgRunner), the BPF
// fuzzer and the benchmarks all go through open_skeleton(), so a setting the
// program reads (the clock, a map size, a map flag) is made in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/skel.hpp"

namespace scanwatch {

struct SkelOptions {
    // Replay clock: the program reads "now" from its CPU's slot of sw_clock
    // (sized to the possible CPUs and mmap-able) instead of bpf_ktime_get_ns().
    bool replay_clock = false;
    bool mmap_config = false;   // sw_cfg with BPF_F_MMAPABLE (plain stores instead of syscalls)
    bool xdp_frags = false;     // BPF_F_XDP_HAS_FRAGS: test runs may take jumbo frames
    uint32_t max_sources = 0;   // map sizes; 0 keeps the program's default
    uint32_t max_flows = 0;
    uint32_t max_blocks = 0;
    // Hot sources' first ring-buffer events allowed per CPU per second
    // (account.bpf.h); 0: no budget. The live agent loads SW_HOT_EVENTS_PER_SEC.
    uint32_t hot_events_per_sec = 0;
    // Pin (or reuse the pinned copies of) the maps the agent shares with its
    // clients in this bpffs directory; empty: no pins.
    std::string pin_dir;
    // Load only this program ("scanwatch_xdp", "scanwatch_tc_egress"); empty: both.
    std::string only_prog;
    // The verifier's log of that program (sw_verifier); null: none.
    char* log_buf = nullptr;
    size_t log_size = 0;
    uint32_t log_level = 0;
};

// The bpffs names of the pinned maps (pin_dir/NAME), as the agent pins them.
struct MapPinName {
    const char* map;  // the map's name in the object
    const char* pin;  // its file name in the pin directory
};
const std::vector<MapPinName>& pinned_maps();

// Opens, configures and loads the skeleton. Throws BpfError with a one-line
// reason (missing privileges, incompatible pinned maps, ...).
SkelPtr open_skeleton(const SkelOptions& o);

}  // namespace scanwatch
