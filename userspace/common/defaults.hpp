// The defaults of `scanwatch`, in one place. RunOptions (config/options.hpp),
// the block list's BlockPolicy (block/blocker.hpp), the loader's
// KernelOptions (bpf/loader.hpp) and the clients' options all start from
// these, so a flag's default, a config key's default and what the parts do
// when nobody says otherwise cannot drift apart. The map sizes live in
// scanwatch/abi.h (SW_DEFAULT_MAX_*), which the BPF side reads too.
#pragma once

#include <cstdint>

#include "scanwatch/abi.h"

namespace scanwatch::defaults {

inline constexpr const char* kSocket = "/run/scanwatch.sock";
inline constexpr const char* kPinDir = "/sys/fs/bpf/scanwatch";
inline constexpr const char* kStateFile = "/var/lib/scanwatch/blocks.json";
inline constexpr double kSweepMs = 250;                          // a full look at every source
inline constexpr uint64_t kBlockTtlNs = 3600'000'000'000ULL;     // one hour
inline constexpr double kBlockScore = 0.99;                      // reports at or above this are blocked
inline constexpr uint32_t kMaxBlocks = SW_DEFAULT_MAX_BLOCKS;    // active blocks
inline constexpr uint32_t kMaxNewBlocksPerSec = 100;
inline constexpr bool kFastBlock = true;                         // XDP blocks proven nmap scanners itself

}  // namespace scanwatch::defaults
