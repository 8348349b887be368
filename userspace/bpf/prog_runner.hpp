// Runs the real XDP / TC programs on packets with BPF_PROG_TEST_RUN, without
// attaching anything. The clock is the caller's: the program is loaded with
// replay_mode set and reads "now" from its CPU's slot of sw_clock, which
// run_*() sets before each packet (every slot, or with run_xdp_on() only the
// slot of the CPU the calling thread is pinned to, so that several threads
// pinned to different CPUs can replay at once). Used by `scanwatch replay`
// and by tests/bpf.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bpf/skel.hpp"
#include "bpf/skeleton.hpp"
#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"

namespace scanwatch {

class ProgRunner {
public:
    // Opens and loads the skeleton with the replay clock and a mapped config
    // (whatever o says about those two); o sets map sizes and flags. Throws BpfError.
    explicit ProgRunner(SkelOptions o = {});

    // Runs the XDP program on one Ethernet frame at time now_ns; returns the XDP action.
    int run_xdp(std::span<const uint8_t> frame, uint64_t now_ns);
    // The same, keeping the frame as the program left it (XDP_TX: our answer).
    int run_xdp(std::span<const uint8_t> frame, uint64_t now_ns, std::vector<uint8_t>& out);
    // Thread-safe variant for a thread pinned to `cpu` (see cpus()): sets only
    // that CPU's clock. Threads must use different CPUs. Throws BpfError.
    int run_xdp_on(unsigned cpu, std::span<const uint8_t> frame, uint64_t now_ns);
    unsigned cpus() const { return ncpu_; }  // clock slots (possible CPUs)
    // Runs the TC egress program (our own answers); returns the TC action.
    int run_tc(std::span<const uint8_t> frame, uint64_t now_ns);

    // Map access.
    std::optional<sw_source> source(const Addr& a) const;
    std::optional<sw_wide> wide(const Addr& a) const;  // its HyperLogLog sketches (abi.h)
    std::vector<std::pair<Addr, sw_source>> sources() const;  // every record
    std::optional<sw_flow> flow(const sw_flow_key& k) const;
    size_t flow_count() const;
    uint64_t stat(unsigned idx) const;  // summed over CPUs and interface slots
    uint64_t stat(unsigned slot, unsigned idx) const;  // one interface slot
    // Registers ifindex's statistics slot (false: its bucket is full). Test runs
    // see the loopback device (ifindex 1) unless told otherwise.
    bool set_if_slot(uint32_t ifindex, uint32_t slot);
    sw_config config() const;
    void set_config(const sw_config& c);
    // Zeroes the direct-mapped arrays (SYNs waiting for an answer, held first
    // packets, pending proofs): with the hash maps emptied, a fresh program state.
    void clear_slots();
    // Drains pending ring-buffer events.
    std::vector<sw_event> drain_events();

    scanwatch_bpf* skel() { return skel_.get(); }

private:
    struct Unmap {
        size_t len;
        void operator()(void* p) const noexcept;
    };
    int run(bpf_program* prog, std::span<const uint8_t> frame, uint64_t now_ns, const char* what);
    void set_clock(uint64_t now_ns);

    SkelPtr skel_;
    // Heap-held so the ring-buffer callback's context survives a move of the runner.
    std::unique_ptr<std::vector<sw_event>> pending_ = std::make_unique<std::vector<sw_event>>();
    RingBufferPtr rb_;
    std::unique_ptr<sw_config, Unmap> cfg_mm_;   // sw_cfg mapped (BPF_F_MMAPABLE), or null
    std::unique_ptr<sw_clock, Unmap> clock_mm_;  // sw_clock mapped, one slot per CPU
    unsigned ncpu_ = 1;
    uint64_t clock_ns_ = 0;                       // the clock last written to every slot
};

}  // namespace scanwatch
