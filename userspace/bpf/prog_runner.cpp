#include "bpf/prog_runner.hpp"

#include "bpf/map_walk.hpp"
#include "bpf/skeleton.hpp"
#include "bpf/stats.hpp"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace scanwatch {

namespace {

// Ring-buffer callback: copies one event. Must not throw into libbpf.
int on_event(void* ctx, void* data, size_t size) noexcept {
    auto* out = static_cast<std::vector<sw_event>*>(ctx);
    if (size < sizeof(sw_event))
        return 0;  // not ours: skip it
    sw_event e;
    std::memcpy(&e, data, sizeof e);
    try {
        out->push_back(e);
    } catch (...) {
        return -ENOMEM;  // stops the consume; drain_events() reports it
    }
    return 0;
}

int errno_or(int rc) { return rc < 0 ? -rc : (errno ? errno : EIO); }

}  // namespace

ProgRunner::ProgRunner(SkelOptions o) {
    // The runner sets the clock before (almost) every packet: the replay clock
    // (one slot per CPU) and an mmap-able config array turn that into plain
    // stores instead of bpf() syscalls. Only the maps' flags change, at load
    // time; the program and the ABI are the same.
    o.replay_clock = true;
    o.mmap_config = true;
    o.mmap_slots = true;
    skel_ = open_skeleton(o);
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        throw BpfError("counting possible CPUs", ncpu);
    ncpu_ = static_cast<unsigned>(ncpu);

    long page = sysconf(_SC_PAGESIZE);
    auto map_len = [&](size_t n) { return (n + page - 1) / page * page; };
    size_t len = map_len(sizeof(sw_config));
    void* mm = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED,
                    bpf_map__fd(skel_->maps.sw_cfg), 0);
    if (mm != MAP_FAILED)
        cfg_mm_ = std::unique_ptr<sw_config, Unmap>(static_cast<sw_config*>(mm), Unmap{len});
    len = map_len(sizeof(sw_clock) * ncpu_);
    mm = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(skel_->maps.sw_clock), 0);
    if (mm == MAP_FAILED)
        throw BpfError("mapping the replay clock", errno);
    clock_mm_ = std::unique_ptr<sw_clock, Unmap>(static_cast<sw_clock*>(mm), Unmap{len});

    sw_config c{};
    c.ev_per_sec = 16;
    set_config(c);

    rb_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.sw_events), on_event, pending_.get(), nullptr));
    if (!rb_)
        throw BpfError("creating the ring buffer reader", errno ? errno : EINVAL);
}

void ProgRunner::Unmap::operator()(void* p) const noexcept {
    if (p)
        munmap(p, len);
}

// Every CPU's slot (the calling thread may run on any of them), and the
// config's copy of the clock that config() reports.
void ProgRunner::set_clock(uint64_t now_ns) {
    if (now_ns == clock_ns_)
        return;
    for (unsigned c = 0; c < ncpu_; c++)
        clock_mm_.get()[c].ns = now_ns;
    if (cfg_mm_) {
        cfg_mm_->clock_ns = now_ns;
    } else {
        sw_config c = config();
        c.clock_ns = now_ns;
        uint32_t zero = 0;
        if (bpf_map_update_elem(bpf_map__fd(skel_->maps.sw_cfg), &zero, &c, BPF_ANY))
            throw BpfError("setting the replay clock", errno);
    }
    clock_ns_ = now_ns;
}

int ProgRunner::run(bpf_program* prog, std::span<const uint8_t> frame, uint64_t now_ns,
                    const char* what) {
    set_clock(now_ns);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
    int rc = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
    if (rc)
        throw BpfError(what, errno_or(rc));
    return static_cast<int>(opts.retval);
}

int ProgRunner::run_xdp_on(unsigned cpu, std::span<const uint8_t> frame, uint64_t now_ns) {
    if (cpu >= ncpu_)
        throw BpfError("running the XDP program on CPU " + std::to_string(cpu), EINVAL);
    clock_mm_.get()[cpu].ns = now_ns;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
    int rc = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.scanwatch_xdp), &opts);
    if (rc)
        throw BpfError("running the XDP program", errno_or(rc));
    return static_cast<int>(opts.retval);
}

int ProgRunner::run_xdp(std::span<const uint8_t> frame, uint64_t now_ns) {
    return run(skel_->progs.scanwatch_xdp, frame, now_ns, "running the XDP program");
}

int ProgRunner::run_xdp(std::span<const uint8_t> frame, uint64_t now_ns, std::vector<uint8_t>& out) {
    set_clock(now_ns);
    out.assign(frame.size() + 256, 0);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 1);
    int rc = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.scanwatch_xdp), &opts);
    if (rc)
        throw BpfError("running the XDP program", errno_or(rc));
    out.resize(opts.data_size_out);
    return static_cast<int>(opts.retval);
}

int ProgRunner::run_tc(std::span<const uint8_t> frame, uint64_t now_ns) {
    return run(skel_->progs.scanwatch_tc_egress, frame, now_ns, "running the TC program");
}

std::optional<sw_source> ProgRunner::source(const Addr& a) const {
    sw_source s;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_sources), a.b.data(), &s))
        return std::nullopt;
    return s;
}

std::optional<sw_wide> ProgRunner::wide(const Addr& a) const {
    sw_wide w;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_wide), a.b.data(), &w))
        return std::nullopt;
    return w;
}

std::vector<std::pair<Addr, sw_source>> ProgRunner::sources() const {
    return map_entries<Addr, sw_source>(bpf_map__fd(skel_->maps.sw_sources));
}

void ProgRunner::clear_slots() {
    for (bpf_map* m : {skel_->maps.sw_syns, skel_->maps.sw_admit, skel_->maps.sw_pending}) {
        // mapped at load (mmap_slots): one memset, not a syscall per slot
        size_t stride = (bpf_map__value_size(m) + 7) / 8 * 8;
        size_t len = stride * bpf_map__max_entries(m);
        void* mm = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
        if (mm == MAP_FAILED)
            throw BpfError(std::string("mapping ") + bpf_map__name(m), errno);
        std::memset(mm, 0, len);
        munmap(mm, len);
    }
}

std::optional<sw_flow> ProgRunner::flow(const sw_flow_key& k) const {
    sw_flow f;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_flows), &k, &f))
        return std::nullopt;
    return f;
}

size_t ProgRunner::flow_count() const {
    return count_map_keys(bpf_map__fd(skel_->maps.sw_flows), sizeof(sw_flow_key));
}

uint64_t ProgRunner::stat(unsigned idx) const {
    return stat_total(read_stat_rows(bpf_map__fd(skel_->maps.sw_stats)), idx);
}

uint64_t ProgRunner::stat(unsigned slot, unsigned idx) const {
    auto rows = read_stat_rows(bpf_map__fd(skel_->maps.sw_stats));
    return slot < rows.size() && idx < SW_S_MAX ? rows[slot].s[idx] : 0;
}

bool ProgRunner::set_if_slot(uint32_t ifindex, uint32_t slot) {
    return scanwatch::set_if_slot(bpf_map__fd(skel_->maps.sw_ifslots), ifindex, slot);
}

sw_config ProgRunner::config() const {
    if (cfg_mm_)
        return *cfg_mm_;
    sw_config c{};
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_cfg), &zero, &c))
        throw BpfError("reading the configuration map", errno);
    return c;
}

void ProgRunner::set_config(const sw_config& c) {
    if (cfg_mm_) {
        *cfg_mm_ = c;
    } else {
        uint32_t zero = 0;
        if (bpf_map_update_elem(bpf_map__fd(skel_->maps.sw_cfg), &zero, &c, BPF_ANY))
            throw BpfError("writing the configuration map", errno);
    }
    for (unsigned i = 0; i < ncpu_; i++)
        clock_mm_.get()[i].ns = c.clock_ns;
    clock_ns_ = c.clock_ns;
}

std::vector<sw_event> ProgRunner::drain_events() {
    int rc = ring_buffer__consume(rb_.get());
    if (rc < 0)
        throw BpfError("reading the ring buffer", rc);
    std::vector<sw_event> out;
    out.swap(*pending_);
    return out;
}

}  // namespace scanwatch
