// The live kernel side: open -> configure -> load -> attach, pinned maps,
// and clean detach. Everything libbpf hands out is owned here (RAII), so an
// exception halfway through startup detaches whatever was already attached.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bpf/skel.hpp"
#include "common/defaults.hpp"
#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"

namespace scanwatch {

enum class XdpMode { Auto, Native, Generic };

struct KernelOptions {
    std::vector<std::string> ifaces;
    XdpMode mode = XdpMode::Auto;
    std::string pin_dir = defaults::kPinDir;
    uint32_t max_sources = SW_DEFAULT_MAX_SOURCES;
    uint32_t max_flows = SW_DEFAULT_MAX_FLOWS;
    uint32_t max_blocks = SW_DEFAULT_MAX_BLOCKS;  // the block map holds at least this many
    bool egress = true;  // TC egress program (host mode needs it to see our answers)
};

// One attached interface: the XDP link, and our TC egress program.
struct Attachment {
    std::string iface;
    int ifindex = 0;
    std::string xdp_mode;  // "native" | "generic"
    UniqueFd xdp_link;     // closing it (once unpinned) detaches the XDP program
    std::string link_pin;  // bpffs path of the pinned link
    // TC egress: a tcx link (kernel 6.6+), pinned beside the XDP link so both
    // outlive a crash together, or die together with a private bpffs; else a
    // clsact filter (older kernels), which a kill -9 leaves behind.
    UniqueFd tc_link;
    std::string tc_link_pin;
    bool tc_attached = false;      // the clsact filter
    bool tc_hook_created = false;
};

class Kernel {
public:
    // Throws BpfError / std::runtime_error with a one-line reason.
    explicit Kernel(KernelOptions opts, std::function<void(const std::string&)> warn);
    ~Kernel();  // detaches everything, unpins the maps
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    const std::vector<Attachment>& attachments() const { return att_; }
    std::string xdp_mode() const;  // "native", "generic" or "mixed"

    std::optional<sw_source> source(const Addr& a) const;
    std::optional<sw_wide> wide(const Addr& a) const;  // its HyperLogLog sketches (abi.h)
    // Reads every source record with batch lookups; returns how many.
    size_t for_each_source(const std::function<void(const Addr&, const sw_source&)>& fn) const;
    uint64_t stat(unsigned idx) const;  // summed over CPUs and interfaces
    // Statistics rows by interface slot (summed over CPUs); slot_names()[slot]
    // names the interface, slot SW_IF_SLOT_OTHER is "other" (unregistered).
    std::vector<sw_stat_row> stat_rows() const;
    const std::vector<std::string>& slot_names() const { return slot_names_; }
    const KernelOptions& options() const { return opts_; }
    int flows_fd() const;
    sw_config config() const;
    void set_config(const sw_config& c);

    int ringbuf_fd() const;  // the events map, for ring_buffer__new
    int sources_fd() const;
    int blocks_fd() const;        // ranges (LPM trie)
    int block_addrs_fd() const;   // single addresses (hash)
    int block_bits_fd() const;    // the blocks' presence bits (array, mmap-able)
    int stats_fd() const;
    int allow_fd() const;
    int config_fd() const;
    int shield_fd() const;
    int budget_fd() const;

private:
    void attach(const std::string& iface);
    void attach_egress(Attachment& a);
    void detach_all() noexcept;

    KernelOptions opts_;
    std::function<void(const std::string&)> warn_;
    UniqueFd pin_lock_;  // flock on the pin directory: one agent per directory
    // ... and an abstract unix socket named after it: under `ip netns exec`
    // every agent has its own private bpffs, so the flock alone would let two
    // agents of one network namespace in (issue 17)
    UniqueFd pin_name_lock_;
    bool private_bpffs_ = false;  // we mounted bpffs: the pins die with this process
    SkelPtr skel_;
    std::vector<Attachment> att_;
    bool pinned_ = false;
    int ncpus_ = 1;
    std::vector<std::string> slot_names_;
};

// Reads every record of a sources map (by fd) with batch lookups, 1024 at a
// time; returns how many. Throws BpfError.
size_t for_each_source_in(int map_fd, const std::function<void(const Addr&, const sw_source&)>& fn);

// One slice of a resumable walk of a sources map: reads batches of 1024 from
// the batch position `token` (`started` false: the map's beginning) until at
// least `max` records were read or the map ended; returns how many were read
// and whether it ended. Records added or evicted meanwhile may be missed or
// read twice, as in any walk of a live hash map. Throws BpfError.
std::pair<size_t, bool> walk_sources_in(int map_fd, uint8_t (&token)[16], bool& started, size_t max,
                                        const std::function<void(const Addr&, const sw_source&)>& fn);

// Mounts bpffs on /sys/fs/bpf when it is not there (e.g. under `ip netns exec`).
// true when it mounted bpffs itself (a private mount namespace: pins die with the process)
bool ensure_bpffs();
// Seconds since boot on the clock bpf_ktime_get_ns() uses.
uint64_t mono_now_ns();

}  // namespace scanwatch
