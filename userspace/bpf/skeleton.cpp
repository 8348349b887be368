#include "bpf/skeleton.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "scanwatch/abi.h"

#include <sys/random.h>

#include <cerrno>

namespace scanwatch {

namespace {

void check(int rc, const std::string& what) {
    if (rc)
        throw BpfError(what, rc);
}

void set_size(bpf_map* m, uint32_t n, const char* name) {
    if (n)
        check(bpf_map__set_max_entries(m, n), std::string("sizing map ") + name);
}

void add_flags(bpf_map* m, uint32_t flags, const char* name) {
    check(bpf_map__set_map_flags(m, bpf_map__map_flags(m) | flags), std::string("configuring map ") + name);
}

}  // namespace

const std::vector<MapPinName>& pinned_maps() {
    static const std::vector<MapPinName> pins = {
        {"sw_sources", "sources"}, {"sw_flows", "flows"},   {"sw_blocks", "blocks"},  {"sw_block_addrs", "block_addrs"},
        {"sw_allow", "allow"},     {"sw_cfg", "config"},    {"sw_stats", "ifstats"},  // "stats": the old global layout
        {"sw_shield", "shield"},   {"sw_budget", "budget"},    {"sw_wide", "wide"},
        {"sw_block_bits", "block_bits"},
    };
    return pins;
}

SkelPtr open_skeleton(const SkelOptions& o) {
    SkelPtr s(scanwatch_bpf__open());
    if (!s)
        throw BpfError("opening the BPF object", errno ? errno : ENOENT);
    auto& m = s->maps;

    s->rodata->replay_mode = o.replay_clock ? 1 : 0;
    s->rodata->hot_per_sec = o.hot_events_per_sec;
    s->rodata->admit_sources = o.admission ? 1 : 0;
    // The slots of sw_syns and sw_admit: random per load, so a forger cannot
    // aim at a prober's slot; fixed in replay, so a capture replays the same.
    uint32_t seed = 0x5ca77a7c;
    if (!o.replay_clock && getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
        throw BpfError("reading a random hash seed", errno ? errno : EIO);
    s->rodata->hash_seed = seed;
    sw_hash_keys(seed, s->rodata->hash_keys);
    if (o.replay_clock) {
        int ncpu = libbpf_num_possible_cpus();
        if (ncpu <= 0)
            throw BpfError("counting possible CPUs", ncpu);
        set_size(m.sw_clock, static_cast<uint32_t>(ncpu), "sw_clock");
        add_flags(m.sw_clock, BPF_F_MMAPABLE, "sw_clock");
    }
    if (o.mmap_config)
        add_flags(m.sw_cfg, BPF_F_MMAPABLE, "sw_cfg");
    if (o.mmap_slots)
        for (bpf_map* a : {m.sw_syns, m.sw_admit, m.sw_pending})
            add_flags(a, BPF_F_MMAPABLE, bpf_map__name(a));
    set_size(m.sw_sources, o.max_sources, "sw_sources");
    // sw_seen (bpf/admit.bpf.h): one 64-bit word per two records, at least
    // 2^15, a power of two (the program takes the top bits of a 32-bit hash)
    {
        const uint32_t records = o.max_sources ? o.max_sources : bpf_map__max_entries(m.sw_sources);
        uint32_t log2 = 15;
        while (log2 < 27 && (2ull << log2) < records)
            log2++;
        s->rodata->seen_shift = 32 - log2;
        set_size(m.sw_seen, 1u << log2, "sw_seen");
    }
    set_size(m.sw_flows, o.max_flows, "sw_flows");
    set_size(m.sw_blocks, o.max_blocks, "sw_blocks");
    set_size(m.sw_block_addrs, o.max_blocks, "sw_block_addrs");

    for (bpf_program* p : {s->progs.scanwatch_xdp, s->progs.scanwatch_tc_egress}) {
        bool on = o.only_prog.empty() || o.only_prog == bpf_program__name(p);
        check(bpf_program__set_autoload(p, on), "selecting the programs");
        if (on && o.xdp_frags && p == s->progs.scanwatch_xdp)
            check(bpf_program__set_flags(p, bpf_program__flags(p) | BPF_F_XDP_HAS_FRAGS), "setting XDP frags");
        if (on && o.log_buf && !o.only_prog.empty()) {
            check(bpf_program__set_log_buf(p, o.log_buf, o.log_size), "setting the verifier log");
            check(bpf_program__set_log_level(p, o.log_level), "setting the verifier log level");
        }
    }

    if (!o.pin_dir.empty()) {
        // Maps already pinned there (an agent that was killed) are reused with
        // their contents; missing ones are created and pinned at load.
        for (const auto& p : pinned_maps()) {
            bpf_map* map = bpf_object__find_map_by_name(s->obj, p.map);
            std::string path = o.pin_dir + "/" + p.pin;
            if (!map)
                throw BpfError(std::string("finding map ") + p.map, ENOENT);
            check(bpf_map__set_pin_path(map, path.c_str()), "setting pin path " + path);
        }
    }

    if (int err = scanwatch_bpf__load(s.get())) {
        if (err == -EPERM)
            throw BpfError("loading the BPF programs needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (or root)", err);
        if (!o.pin_dir.empty())
            throw BpfError("loading the BPF programs (pinned maps in " + o.pin_dir +
                               " from an incompatible version? remove them)",
                           err);
        throw BpfError(err == -EACCES ? "the verifier refused the BPF programs"
                       : o.replay_clock ? "loading the BPF programs (replay clock)"
                                        : "loading the BPF programs",
                       err);
    }
    // A pinned copy of the blocks' presence bits may miss blocks written
    // since (by a build without them): untrusted, so the program looks every
    // source up, until the agent rebuilt them (BlockBits). Done here, before
    // anything is attached.
    uint32_t zero = 0;
    uint64_t untrusted = 0;
    if (bpf_map_update_elem(bpf_map__fd(m.sw_block_bits), &zero, &untrusted, BPF_ANY) != 0)
        throw BpfError("clearing the block presence bits' header", errno);
    return s;
}

}  // namespace scanwatch
