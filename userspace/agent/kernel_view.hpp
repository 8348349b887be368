// What the agent reads from the kernel side and hands to the block list: the
// attached programs (attach_kernel) when it runs, an in-memory stand-in in
// the unit tests (the agent then runs without a kernel, as katran's test
// mode loads without attaching).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/analyzer.hpp"
#include "agent/mirror.hpp"
#include "block/blocker.hpp"
#include "bpf/loader.hpp"
#include "scanwatch/abi.h"

namespace scanwatch {

class KernelView {
public:
    virtual ~KernelView() = default;
    virtual std::string xdp_mode() const = 0;  // "native", "generic" or "mixed"
    // "eth0 (native XDP)", one per attached interface
    virtual std::vector<std::string> attached() const = 0;
    // Statistics rows by interface slot, summed over CPUs; slot_names()[slot]
    // names each. Throws BpfError.
    virtual std::vector<sw_stat_row> stat_rows() const = 0;
    virtual std::vector<std::string> slot_names() const = 0;
    virtual std::optional<sw_source> source(const Addr& a) const = 0;
    // A source's HyperLogLog sketches (sw_wide), made once it passed the bitmaps.
    virtual std::optional<sw_wide> wide(const Addr& a) const = 0;
    // Every source record; returns how many.
    virtual size_t for_each_source(const SourceVisitor& fn) const = 0;
    // Entries in the flows map now (one syscall each: not every sweep).
    virtual size_t flows() const = 0;
    // The maps the block list writes; all -1 without a kernel.
    virtual BlockMaps block_maps() const = 0;
    // The events ring buffer (for ring_buffer__new); -1 without a kernel.
    virtual int ringbuf_fd() const = 0;
    // One slice of a resumable walk of the sources map, from cursor c: at
    // least `max` records unless the map ends first; returns how many were
    // read and whether it ended (bpf/loader.hpp's walk_sources_in).
    virtual std::pair<size_t, bool> walk_sources(MapCursor& c, size_t max, const SourceVisitor& fn) const = 0;

    // One statistic (SW_S_*) summed over CPUs and interfaces; 0 when unreadable.
    uint64_t stat(unsigned idx) const;
};

// Loads, attaches and pins (bpf/loader.hpp's Kernel). Throws BpfError /
// std::runtime_error with a one-line reason.
std::unique_ptr<KernelView> attach_kernel(const KernelOptions& o, const std::function<void(const std::string&)>& warn);

}  // namespace scanwatch
