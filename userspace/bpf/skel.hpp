// RAII for the generated skeleton and the ring buffer libbpf gives out.
// UniqueFd (common/fd.hpp) and BpfError (bpf/error.hpp) come with it but live
// apart, for code that must not depend on the BPF build.
#pragma once

#include <bpf/libbpf.h>

#include <memory>

#include "bpf/error.hpp"
#include "common/fd.hpp"
#include "scanwatch_bpf.skel.h"

namespace scanwatch {

struct SkelDeleter {
    void operator()(scanwatch_bpf* s) const noexcept { scanwatch_bpf__destroy(s); }
};
using SkelPtr = std::unique_ptr<scanwatch_bpf, SkelDeleter>;

struct RingBufferDeleter {
    void operator()(ring_buffer* r) const noexcept { ring_buffer__free(r); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

}  // namespace scanwatch
