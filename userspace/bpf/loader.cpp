#include "bpf/loader.hpp"

#include "bpf/skeleton.hpp"
#include "bpf/stats.hpp"

#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <cstddef>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace scanwatch {

namespace {

constexpr uint32_t kTcHandle = 0x5357;  // "SW": fixed, so a restart replaces a stale filter
constexpr uint32_t kTcPriority = 0x5357;
constexpr long kBpfFsMagic = 0xcafe4a11;
// enum bpf_attach_type's BPF_TCX_EGRESS (Linux 6.6): Debian 12's headers
// (linux-libc-dev 6.1, libbpf 1.1) predate it, the kernel is what counts.
constexpr auto kBpfTcxEgress = static_cast<bpf_attach_type>(47);

// IFF_UP of an interface of this network namespace; true when it cannot tell.
bool iface_up(const std::string& name) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.c_str(), std::min(name.size(), sizeof ifr.ifr_name - 1));
    if (!fd || ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0)
        return true;
    return (ifr.ifr_flags & IFF_UP) != 0;
}

}  // namespace

uint64_t mono_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Returns true when it had to mount bpffs itself: then the mount lives in
// this process's mount namespace (`ip netns exec` makes a private one) and
// goes, with every pin in it, when the process does.
bool ensure_bpffs() {
    const char* dir = "/sys/fs/bpf";
    struct statfs st{};
    if (statfs(dir, &st) == 0 && static_cast<long>(st.f_type) == kBpfFsMagic)
        return false;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (mount("bpf", dir, "bpf", 0, "mode=0700") != 0)
        throw BpfError("mounting bpffs on /sys/fs/bpf", errno);
    return true;
}

Kernel::Kernel(KernelOptions opts, std::function<void(const std::string&)> warn)
    : opts_(std::move(opts)), warn_(std::move(warn)) {
    if (opts_.ifaces.empty())
        throw std::invalid_argument("at least one interface is needed (-i IFACE)");
    // Check every interface before touching the kernel, so a typo costs nothing.
    for (const auto& name : opts_.ifaces) {
        if (name.empty() || name.size() >= IF_NAMESIZE || if_nametoindex(name.c_str()) == 0)
            throw std::invalid_argument("interface '" + name + "' does not exist");
        if (!iface_up(name))
            throw std::runtime_error("interface '" + name + "' is down (ip link set " + name + " up)");
    }
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ < 1)
        throw BpfError("counting possible CPUs", -ncpus_);

    private_bpffs_ = ensure_bpffs();
    std::error_code ec;
    std::filesystem::create_directories(opts_.pin_dir, ec);
    if (ec)
        throw std::runtime_error("cannot create pin directory '" + opts_.pin_dir + "': " + ec.message());
    // One agent per pin directory: a second one would take over the first one's
    // pinned XDP link and remove its pins when it exits. The lock goes with the
    // process, so an agent killed with -9 does not hold it.
    pin_lock_.reset(open(opts_.pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pin_lock_)
        throw std::runtime_error("cannot open pin directory '" + opts_.pin_dir + "': " + std::strerror(errno));
    auto locked = [&] {
        return std::runtime_error("another scanwatch agent is running with pin directory " + opts_.pin_dir +
                                  " (one agent per interface; use --pin-dir for another namespace)");
    };
    if (flock(pin_lock_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw locked();
        throw std::runtime_error("cannot lock pin directory '" + opts_.pin_dir + "': " + std::strerror(errno));
    }
    // The abstract socket namespace belongs to the network namespace, not to
    // the mount namespace: two agents of one netns meet here even when each
    // has its own bpffs. It goes with the process, like the flock.
    {
        pin_name_lock_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::string name = "scanwatch-pin-dir:" + opts_.pin_dir;
        name = name.substr(0, sizeof a.sun_path - 2);
        std::memcpy(a.sun_path + 1, name.data(), name.size());
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        if (pin_name_lock_ && bind(pin_name_lock_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 &&
            errno == EADDRINUSE)
            throw locked();
    }
    SkelOptions so;
    so.max_sources = opts_.max_sources;
    so.max_flows = opts_.max_flows;
    so.max_blocks = std::max<uint32_t>(opts_.max_blocks, SW_DEFAULT_MAX_BLOCKS);
    so.pin_dir = opts_.pin_dir;
    so.hot_events_per_sec = SW_HOT_EVENTS_PER_SEC;
    skel_ = open_skeleton(so);
    pinned_ = true;

    sw_config cfg = config();
    if (cfg.ev_per_sec == 0) {
        cfg.ev_per_sec = 16;
        set_config(cfg);
    }
    // Statistics slots before attaching, so the first packets count per interface.
    slot_names_.assign(1, "other");
    for (const auto& name : opts_.ifaces) {
        uint32_t ifindex = if_nametoindex(name.c_str());
        if (std::find(slot_names_.begin(), slot_names_.end(), name) != slot_names_.end())
            continue;
        auto slot = static_cast<uint32_t>(slot_names_.size());
        if (slot >= SW_IF_SLOTS)
            throw std::invalid_argument("at most " + std::to_string(SW_IF_SLOTS - 1) + " interfaces can be watched");
        if (!set_if_slot(bpf_map__fd(skel_->maps.sw_ifslots), ifindex, slot)) {
            warn_("statistics of '" + name + "' count under interface \"other\" (slot table bucket full)");
            continue;
        }
        slot_names_.push_back(name);
    }
    try {
        for (const auto& name : opts_.ifaces)
            attach(name);
    } catch (...) {
        detach_all();
        throw;
    }
    if (private_bpffs_) {
        bool filters = std::any_of(att_.begin(), att_.end(), [](const Attachment& a) { return a.tc_attached; });
        warn_(std::string("pins in a bpffs of this process's own (ip netns exec?): killed with -9, ") +
              (filters ? "its XDP program goes with it while its TC egress filter (a clsact filter: this kernel "
                         "has no tcx links, 6.6+) stays until the next start"
                       : "its XDP and TC egress programs go with it, and blocks are not enforced until the next "
                         "start") +
              "; for blocks that outlive a crash, mount bpffs on /sys/fs/bpf first or use nsenter --net");
    }
}

Kernel::~Kernel() { detach_all(); }

void Kernel::attach(const std::string& iface) {
    Attachment a;
    a.iface = iface;
    a.ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
    if (a.ifindex == 0)
        throw std::invalid_argument("interface '" + iface + "' does not exist");

    int prog_fd = bpf_program__fd(skel_->progs.scanwatch_xdp);
    a.link_pin = opts_.pin_dir + "/xdp_link_" + iface;
    // An agent that was killed left its XDP link pinned (so blocks stayed
    // enforced): take it over and swap in the new program, never a second copy.
    if (int old = bpf_obj_get(a.link_pin.c_str()); old >= 0) {
        UniqueFd old_fd(old);
        if (bpf_link_update(old, prog_fd, nullptr) != 0)
            throw BpfError("taking over the XDP link left on '" + iface + "'", errno);
        LIBBPF_OPTS(bpf_xdp_query_opts, q);
        bpf_xdp_query(a.ifindex, 0, &q);
        a.xdp_mode = q.attach_mode == XDP_ATTACHED_SKB ? "generic" : "native";
        a.xdp_link = std::move(old_fd);
        warn_("took over the XDP program left attached to '" + iface + "' by an agent that did not exit cleanly");
    }
    auto try_mode = [&](uint32_t flags) -> int {
        LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
        return bpf_link_create(prog_fd, a.ifindex, BPF_XDP, &lo);
    };
    int fd = a.xdp_link ? a.xdp_link.release() : -1;
    if (fd < 0 && opts_.mode != XdpMode::Generic) {
        fd = try_mode(XDP_FLAGS_DRV_MODE);
        if (fd >= 0) {
            a.xdp_mode = "native";
        } else if (errno == EBUSY || errno == EEXIST) {
            throw BpfError("attaching XDP to '" + iface + "' (another XDP program is attached)", errno);
        } else if (opts_.mode == XdpMode::Native) {
            throw BpfError("attaching native XDP to '" + iface + "'", errno);
        } else {
            warn_("interface '" + iface + "' cannot run native XDP (" + std::strerror(errno) +
                  "); falling back to generic mode");
        }
    }
    if (fd < 0) {
        fd = try_mode(XDP_FLAGS_SKB_MODE);
        if (fd < 0)
            throw BpfError("attaching generic XDP to '" + iface + "'", errno);
        a.xdp_mode = "generic";
    }
    a.xdp_link.reset(fd);
    ::unlink(a.link_pin.c_str());
    if (bpf_obj_pin(fd, a.link_pin.c_str()) != 0) {
        int err = errno;
        a.link_pin.clear();
        att_.push_back(std::move(a));
        throw BpfError("pinning the XDP link of '" + iface + "'", err);
    }

    if (opts_.egress) {
        try {
            attach_egress(a);
        } catch (...) {
            att_.push_back(std::move(a));  // so detach_all() removes what was attached
            throw;
        }
    }
    att_.push_back(std::move(a));
}

void Kernel::attach_egress(Attachment& a) {
    const std::string& iface = a.iface;
    const int prog_fd = bpf_program__fd(skel_->progs.scanwatch_tc_egress);
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a.ifindex, .attach_point = BPF_TC_EGRESS);
    // A clsact filter of ours, left by a killed agent of an older version or
    // on a kernel without tcx; what is done with it depends on what we attach.
    auto legacy_filter_left = [&] {
        LIBBPF_OPTS(bpf_tc_opts, q, .handle = kTcHandle, .priority = kTcPriority);
        return bpf_tc_query(&hook, &q) == 0;
    };
    const std::string left_by = "' by an agent that did not exit cleanly";

    // tcx: a link like the XDP one, pinned beside it. A killed agent's pinned
    // link is taken over (its program swapped for ours), never doubled.
    a.tc_link_pin = opts_.pin_dir + "/tc_link_" + iface;
    int fd = -1;
    if (int old = bpf_obj_get(a.tc_link_pin.c_str()); old >= 0) {
        UniqueFd old_fd(old);
        if (bpf_link_update(old, prog_fd, nullptr) == 0) {
            fd = old_fd.release();
            warn_("took over the TC egress program left attached to '" + iface + left_by);
        } else {
            ::unlink(a.tc_link_pin.c_str());  // a link whose interface went away: a fresh one below
        }
    }
    if (fd < 0) {
        LIBBPF_OPTS(bpf_link_create_opts, lo);
        fd = bpf_link_create(prog_fd, a.ifindex, kBpfTcxEgress, &lo);
    }
    if (fd >= 0) {
        a.tc_link.reset(fd);
        if (legacy_filter_left()) {  // it would run beside the link: remove it
            LIBBPF_OPTS(bpf_tc_opts, to, .handle = kTcHandle, .priority = kTcPriority);
            bpf_tc_detach(&hook, &to);
            warn_("took over the TC egress filter left on '" + iface + left_by);
        }
        ::unlink(a.tc_link_pin.c_str());
        if (bpf_obj_pin(fd, a.tc_link_pin.c_str()) != 0) {
            int err = errno;
            a.tc_link_pin.clear();
            throw BpfError("pinning the TC egress link of '" + iface + "'", err);
        }
        return;
    }
    if (errno != EINVAL && errno != EOPNOTSUPP && errno != ENOTSUP)
        throw BpfError("attaching the TC egress program to '" + iface + "'", errno);
    a.tc_link_pin.clear();

    // No tcx (kernel before 6.6): a clsact filter. It is no link: it stays
    // when the process dies, whatever happens to the pins.
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        throw BpfError("creating the clsact qdisc on '" + iface + "'", -err);
    a.tc_hook_created = (err == 0);
    if (!a.tc_hook_created && legacy_filter_left())
        warn_("took over the TC egress filter left on '" + iface + left_by);
    LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
                .priority = kTcPriority);
    err = bpf_tc_attach(&hook, &to);
    if (err)
        throw BpfError("attaching the TC egress program to '" + iface + "'", -err);
    a.tc_attached = true;
}

void Kernel::detach_all() noexcept {
    for (auto& a : att_) {
        if (!a.tc_link_pin.empty())
            ::unlink(a.tc_link_pin.c_str());
        a.tc_link.reset();  // the last reference (once unpinned): detaches
        if (a.tc_attached || a.tc_hook_created) {
            LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a.ifindex, .attach_point = BPF_TC_EGRESS);
            if (a.tc_attached) {
                LIBBPF_OPTS(bpf_tc_opts, to, .handle = kTcHandle, .priority = kTcPriority);
                bpf_tc_detach(&hook, &to);
            }
            if (a.tc_hook_created) {
                hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
                bpf_tc_hook_destroy(&hook);
            }
        }
        if (!a.link_pin.empty())
            ::unlink(a.link_pin.c_str());  // the last reference: closing the fd detaches
        a.xdp_link.reset();
    }
    att_.clear();
    if (pinned_ && skel_) {
        bpf_object__unpin_maps(skel_->obj, nullptr);
        ::rmdir(opts_.pin_dir.c_str());
        pinned_ = false;
    }
}

std::string Kernel::xdp_mode() const {
    std::string mode;
    for (const auto& a : att_) {
        if (mode.empty())
            mode = a.xdp_mode;
        else if (mode != a.xdp_mode)
            return "mixed";
    }
    return mode;
}

std::optional<sw_source> Kernel::source(const Addr& a) const {
    sw_source s{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_sources), a.b.data(), &s) != 0)
        return std::nullopt;
    return s;
}

std::optional<sw_wide> Kernel::wide(const Addr& a) const {
    sw_wide w{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_wide), a.b.data(), &w) != 0)
        return std::nullopt;
    return w;
}

size_t for_each_source_in(int fd, const std::function<void(const Addr&, const sw_source&)>& fn) {
    constexpr uint32_t kBatch = 1024;
    static thread_local std::vector<uint8_t> keys(kBatch * 16);
    static thread_local std::vector<sw_source> values(kBatch);
    uint8_t token[16] = {};
    bool first = true;
    size_t total = 0;
    for (;;) {
        uint32_t count = kBatch;
        LIBBPF_OPTS(bpf_map_batch_opts, bo);
        int err = bpf_map_lookup_batch(fd, first ? nullptr : token, token, keys.data(), values.data(),
                                       &count, &bo);
        int saved = errno;
        for (uint32_t i = 0; i < count; i++)
            fn(Addr::from_bytes(&keys[i * 16]), values[i]);
        total += count;
        if (err) {
            if (saved == ENOENT)
                break;
            throw BpfError("reading the sources map", saved);
        }
        first = false;
    }
    return total;
}

std::pair<size_t, bool> walk_sources_in(int fd, uint8_t (&token)[16], bool& started, size_t max,
                                        const std::function<void(const Addr&, const sw_source&)>& fn) {
    constexpr uint32_t kBatch = 1024;
    static thread_local std::vector<uint8_t> keys(kBatch * 16);
    static thread_local std::vector<sw_source> values(kBatch);
    size_t total = 0;
    while (total < max) {
        uint32_t count = kBatch;
        LIBBPF_OPTS(bpf_map_batch_opts, bo);
        int err = bpf_map_lookup_batch(fd, started ? token : nullptr, token, keys.data(), values.data(), &count, &bo);
        int saved = errno;
        for (uint32_t i = 0; i < count; i++)
            fn(Addr::from_bytes(&keys[i * 16]), values[i]);
        total += count;
        if (err) {
            if (saved == ENOENT) {
                started = false;
                return {total, true};
            }
            throw BpfError("reading the sources map", saved);
        }
        started = true;
    }
    return {total, false};
}

size_t Kernel::for_each_source(const std::function<void(const Addr&, const sw_source&)>& fn) const {
    return for_each_source_in(bpf_map__fd(skel_->maps.sw_sources), fn);
}

uint64_t Kernel::stat(unsigned idx) const {
    try {
        return stat_total(stat_rows(), idx);
    } catch (const BpfError&) {
        return 0;
    }
}

std::vector<sw_stat_row> Kernel::stat_rows() const { return read_stat_rows(bpf_map__fd(skel_->maps.sw_stats)); }

sw_config Kernel::config() const {
    sw_config c{};
    uint32_t key = 0;
    bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_cfg), &key, &c);
    return c;
}

void Kernel::set_config(const sw_config& c) {
    uint32_t key = 0;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.sw_cfg), &key, &c, BPF_ANY) != 0)
        throw BpfError("writing the config map", errno);
}

int Kernel::ringbuf_fd() const { return bpf_map__fd(skel_->maps.sw_events); }
int Kernel::sources_fd() const { return bpf_map__fd(skel_->maps.sw_sources); }
int Kernel::flows_fd() const { return bpf_map__fd(skel_->maps.sw_flows); }
int Kernel::blocks_fd() const { return bpf_map__fd(skel_->maps.sw_blocks); }
int Kernel::block_addrs_fd() const { return bpf_map__fd(skel_->maps.sw_block_addrs); }
int Kernel::block_bits_fd() const { return bpf_map__fd(skel_->maps.sw_block_bits); }
int Kernel::stats_fd() const { return bpf_map__fd(skel_->maps.sw_stats); }
int Kernel::allow_fd() const { return bpf_map__fd(skel_->maps.sw_allow); }
int Kernel::config_fd() const { return bpf_map__fd(skel_->maps.sw_cfg); }
int Kernel::shield_fd() const { return bpf_map__fd(skel_->maps.sw_shield); }
int Kernel::budget_fd() const { return bpf_map__fd(skel_->maps.sw_budget); }

}  // namespace scanwatch
