// Runs the real XDP / TC programs on packets with BPF_PROG_TEST_RUN, without
// attaching anything. The clock is the caller's: the program is loaded with
// replay_mode set and reads "now" from sw_config.clock_ns, which run_*()
// sets before each packet. Used by `scanwatch replay` and by tests/bpf.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bpf/skel.hpp"
#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"

namespace scanwatch {

class ProgRunner {
public:
    ProgRunner();  // opens and loads the skeleton (replay clock); throws BpfError

    // Runs the XDP program on one Ethernet frame at time now_ns; returns the XDP action.
    int run_xdp(std::span<const uint8_t> frame, uint64_t now_ns);
    // Runs the TC egress program (our own answers); returns the TC action.
    int run_tc(std::span<const uint8_t> frame, uint64_t now_ns);

    // Map access.
    std::optional<sw_source> source(const Addr& a) const;
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
    // Drains pending ring-buffer events.
    std::vector<sw_event> drain_events();

    scanwatch_bpf* skel() { return skel_.get(); }

private:
    struct CfgUnmap {
        size_t len;
        void operator()(sw_config* p) const noexcept;
    };
    int run(bpf_program* prog, std::span<const uint8_t> frame, uint64_t now_ns, const char* what);
    void set_clock(uint64_t now_ns);

    SkelPtr skel_;
    // Heap-held so the ring-buffer callback's context survives a move of the runner.
    std::unique_ptr<std::vector<sw_event>> pending_ = std::make_unique<std::vector<sw_event>>();
    RingBufferPtr rb_;
    std::unique_ptr<sw_config, CfgUnmap> cfg_mm_;  // sw_cfg mapped (BPF_F_MMAPABLE), or null
    uint64_t clock_ns_ = 0;                         // the clock last written to sw_cfg
};

}  // namespace scanwatch
