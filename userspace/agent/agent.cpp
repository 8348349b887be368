// The agent's parts and its loop: one thread, one epoll set (ring buffer,
// signals, sweep timer, control socket, CrowdSec).
#include "agent/agent.hpp"

#include <bpf/bpf.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bpf/map_walk.hpp"
#include "common/version.hpp"
#include "ui/model.hpp"

namespace scanwatch {

namespace {

int on_ring_event(void* ctx, void* data, size_t size) noexcept {
    auto* pending = static_cast<std::vector<sw_event>*>(ctx);
    if (size < sizeof(sw_event))
        return 0;
    try {
        sw_event e;
        std::memcpy(&e, data, sizeof e);
        pending->push_back(e);
    } catch (...) {
        return -ENOMEM;
    }
    return 0;
}

// Blocks SIGINT/SIGTERM/SIGHUP and returns a signalfd for them.
UniqueFd signal_fd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd)
        throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    return fd;
}

UniqueFd interval_timer(double ms) {
    UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!fd)
        throw std::runtime_error(std::string("timerfd: ") + std::strerror(errno));
    itimerspec its{};
    long ns = static_cast<long>(ms * 1e6);
    its.it_interval.tv_sec = ns / 1'000'000'000L;
    its.it_interval.tv_nsec = ns % 1'000'000'000L;
    its.it_value = its.it_interval;
    timerfd_settime(fd.get(), 0, &its, nullptr);
    return fd;
}

void epoll_add(int ep, int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

enum : uint64_t { kRing = 1, kSignal = 2, kTimer = 3, kControl = 4, kCrowdSec = 5, kClientBase = 1ULL << 32 };

// The options checked first (UsageError), before anything is opened.
std::optional<ListenAddress> checked_metrics_listen(const RunOptions& o) {
    validate(o);
    if (o.metrics_listen.empty())
        return std::nullopt;
    try {
        return parse_listen_address(o.metrics_listen);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--metrics-listen: ") + e.what());
    }
}

KernelOptions kernel_options(const RunOptions& o) {
    KernelOptions ko;
    ko.ifaces = o.ifaces;
    ko.mode = parse_mode(o.xdp_mode);
    ko.pin_dir = o.pin_dir;
    if (o.max_sources)
        ko.max_sources = o.max_sources;
    ko.max_blocks = o.max_blocks;
    return ko;
}

}  // namespace

Agent::Agent(RunOptions o, ReloadOptions reload)
    : o_(std::move(o)),
      reload_(std::move(reload)),
      metrics_at_(checked_metrics_listen(o_)),
      ko_(kernel_options(o_)),
      out_(o_.json) {
    // Before the kernel is touched: a port in use costs nothing.
    if (metrics_at_)
        metrics_ = std::make_unique<MetricsServer>(*metrics_at_);
    auto warn_fn = [](const std::string& m) { std::fprintf(stderr, "scanwatch: warning: %s\n", m.c_str()); };
    sigfd_ = signal_fd();
    // CrowdSec: a malformed URL or secret stops here, before the kernel is
    // touched; an unreachable Local API is only a warning from its threads.
    cs_ = crowdsec::Link::from_options(o_, warn_fn);
    kernel_ = attach_kernel(ko_, warn_fn);

    pending_.reserve(1024);
    rb_.reset(ring_buffer__new(kernel_->ringbuf_fd(), on_ring_event, &pending_, nullptr));
    if (!rb_)
        throw BpfError("opening the ring buffer", errno);
    timer_ = interval_timer(o_.sweep_ms);
    ep_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    epoll_add(ep_.get(), ring_buffer__epoll_fd(rb_.get()), kRing);
    epoll_add(ep_.get(), sigfd_.get(), kSignal);
    epoll_add(ep_.get(), timer_.get(), kTimer);
    if (cs_)
        epoll_add(ep_.get(), cs_->event_fd(), kCrowdSec);

    start_parts(warn_fn);
    control_ = std::make_unique<ControlServer>(
        o_.socket, [this](const nlohmann::json& j) { return handle(j); }, o_.socket_group);
    control_->set_epoll(ep_.get(), kClientBase);
    epoll_add(ep_.get(), control_->listen_fd(), kControl);
    finish_start();
}

Agent::Agent(RunOptions o, ReloadOptions reload, std::unique_ptr<KernelView> kernel)
    : o_(std::move(o)),
      reload_(std::move(reload)),
      metrics_at_(checked_metrics_listen(o_)),
      ko_(kernel_options(o_)),
      out_(o_.json),
      kernel_(std::move(kernel)) {
    start_parts([](const std::string& m) { std::fprintf(stderr, "scanwatch: warning: %s\n", m.c_str()); });
    finish_start();
}

Agent::~Agent() = default;

// The outputs' sinks, the analyzer and the block list (restored from the
// state file and the pins); the kernel side is up.
void Agent::start_parts(const std::function<void(const std::string&)>& warn_fn) {
    out_.add_sink([this](const nlohmann::ordered_json& e) { tally_.on_event(e); });
    // output.syslog is reloadable: the sink follows the running options and
    // opens the log the first time it is needed.
    out_.add_sink([this](const nlohmann::ordered_json& e) {
        if (!o_.syslog)
            return;
        if (!syslog_)
            syslog_.emplace();
        syslog_->on_event(e);
    });
    clock_ = Clock::live();
    an_ = std::make_unique<Analyzer>(o_.det, out_, clock_, !o_.quiet);
    // Only hot sources are read, by key; a bounded walk finds the rest (agent/mirror.hpp).
    mirror_ = std::make_unique<Mirror>(
        *an_, SourceReader{[this](const Addr& a) { return kernel_->source(a); },
                           [this](MapCursor& c, size_t max, const SourceVisitor& v) {
                               return kernel_->walk_sources(c, max, v);
                           }});
    start_ = mono_now_ns();

    if (!o_.state_file.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(o_.state_file).parent_path(), ec);
    }
    blocker_ = std::make_unique<Blocker>(kernel_->block_maps(), block_policy(o_), o_.state_file, clock_);
    blocker_->set_protected(local_protected_addresses());
    for (const auto& line : blocker_->restore(start_))
        warn_fn(line);
    an_->on_report = [this](const ScanReport& r, const sw_source& rec) { return on_report(r, rec); };
    an_->wide = [this](const Addr& a) { return kernel_->wide(a); };  // sw_wide: counts past the bitmaps
}

// The `started` event, the first metrics, the deadline.
void Agent::finish_start() {
    write_started();
    ms_.version = kVersion;
    ms_.xdp_mode = kernel_->xdp_mode();
    ms_.start_time_s = static_cast<double>(clock_.wall(start_)) / 1e9;
    ms_.sweep = Histogram({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    ms_.maps = {{"sources", 0, ko_.max_sources},
                {"flows", 0, ko_.max_flows},
                {"blocks", 0, std::max<uint32_t>(o_.max_blocks, SW_DEFAULT_MAX_BLOCKS)}};
    if (metrics_)
        publish_metrics(start_);
    deadline_ = o_.duration_s > 0 ? start_ + static_cast<uint64_t>(o_.duration_s * 1e9) : 0;
}

void Agent::warn(const std::string& m) const { std::fprintf(stderr, "scanwatch: warning: %s\n", m.c_str()); }

AgentSnapshot Agent::snapshot(uint64_t now, SnapshotWalks walks) const {
    AgentSnapshot s;
    s.version = kVersion;
    s.pid = getpid();
    s.ifaces = o_.ifaces;
    s.xdp_mode = kernel_->xdp_mode();
    s.pin_dir = o_.pin_dir;
    s.socket = o_.socket;
    s.block_enabled = o_.block;
    s.clock = clock_;
    s.start_ns = start_;
    s.now_ns = now;
    try {
        s.rows = kernel_->stat_rows();
    } catch (const BpfError&) {
        s.rows.clear();  // counted as zeros, as Kernel::stat() does
    }
    s.slot_names = kernel_->slot_names();
    sum_stats(s);
    s.sources_in_map = in_map_;
    s.max_sources = ko_.max_sources;
    s.sources_map_full = map_full_;
    s.sources = an_->detector().tracked();
    s.scanners = mirror_->scanners();  // a source that left the mirror and came back counts once
    s.reports = an_->reports();
    s.events = an_->events();
    s.blocks = blocker_->size();
    s.blocks_created = blocker_->created_total();
    s.shields_created = blocker_->shields_created();
    if (walks.shields) {
        const Blocker::ShieldCount sh = blocker_->shields_active(now);  // the shield map, in batches
        s.shields_counted = true;
        s.shields_agent = sh.agent;
        s.shields_fast_path = sh.fast_path;
    }
    if (walks.flows) {
        s.flows_counted = true;
        s.flows = kernel_->flows();
    }
    s.state_file_error = blocker_->save_error();
    s.last_sweep_ms = last_sweep_ms_;
    s.mirror = mirror_->stats();
    s.mirror_limits = mirror_->limits();
    s.sweeps = sweeps_;
    s.crowdsec = cs_ ? cs_->status() : nlohmann::json();
    return s;
}

void Agent::write_started() {
    out_.write(started_json(snapshot(start_)));
    if (o_.quiet)
        return;
    std::string names;
    for (const auto& a : kernel_->attached())
        names += (names.empty() ? "" : ", ") + a;
    std::fprintf(stderr, "scanwatch: watching %s%s\n", names.c_str(), o_.block ? ", blocking scanners" : "");
    // what it starts with: blocks put back from the state file or the pins, the metrics URL
    size_t restored = blocker_->list().size();
    if (restored)
        std::fprintf(stderr, "scanwatch: %zu block%s restored (scanwatch blocks lists them)\n", restored,
                     restored == 1 ? "" : "s");
    if (metrics_at_)
        std::fprintf(stderr, "scanwatch: metrics at http://%s/metrics\n",
                     (metrics_at_->ipv6 ? "[" + metrics_at_->host + "]" : metrics_at_->host)
                         .append(":" + std::to_string(metrics_at_->port))
                         .c_str());
    if (cs_)
        std::fprintf(stderr, "scanwatch: %s\n", cs_->describe().c_str());
}

void Agent::publish_metrics(uint64_t now) {
    // the flows (~65k syscalls at full size) and the shields (batches): not every sweep
    const bool walk = now - flows_counted_ns_ >= 5'000'000'000ULL;
    fill_metrics(snapshot(now, {walk, walk}), ms_);
    if (walk)
        flows_counted_ns_ = now;
    if (cs_)
        cs_->fill(ms_.crowdsec);
    tally_.fill(ms_);
    metrics_->publish(ms_);
}

// Overload is reported, never fatal: a ring buffer that overflowed (the
// agent fell behind; the maps still hold the evidence) and a full sources
// map (the least recently seen records are evicted) each get a warning on
// stderr when they start, and figures in status and the stopped event.
void Agent::check_overload(uint64_t now) {
    uint64_t lost = kernel_->stat(SW_S_EVENTS_LOST);
    if (lost > lost_warned_ && now - lost_warn_ns_ >= 10'000'000'000ULL) {
        std::fprintf(stderr,
                     "scanwatch: warning: event ring buffer overflowed: %llu events lost so far (the agent "
                     "fell behind; sweeps still read the evidence from the maps)\n",
                     static_cast<unsigned long long>(lost));
        lost_warned_ = lost;
        lost_warn_ns_ = now;
    }
    // An LRU map never reports full: once its free list is empty it evicts
    // a batch of up to 128 entries, and each CPU keeps up to 128 free ones
    // of its own, so a full map holds anywhere from cap - (CPUs + 1) * 128
    // to cap entries (75 % of a 1,024-entry map on 2 CPUs, 99.4 % of 65,536).
    const uint64_t lru_slack =
        std::min<uint64_t>(ko_.max_sources / 2, uint64_t(std::max(libbpf_num_possible_cpus(), 1) + 1) * 128);
    bool full = in_map_ + lru_slack >= ko_.max_sources;
    if (full && !map_full_)
        std::fprintf(stderr,
                     "scanwatch: warning: sources map full (%zu of --max-sources %u records): the least "
                     "recently seen sources are evicted\n",
                     in_map_, ko_.max_sources);
    map_full_ = full;
}

void Agent::on_signals() {
    signalfd_siginfo si{};
    while (read(sigfd_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            stop_ = true;
            stop_reason_ = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        } else if (si.ssi_signo == SIGHUP) {
            reload();
        }
    }
}

// Events first: they carry RPC details and mark the sources to judge now.
void Agent::on_events(const std::vector<sw_event>& events, uint64_t now) {
    if (events.empty())
        return;
    bool fast = false;
    for (const auto& e : events) {
        fast |= e.type == SW_EV_FAST_BLOCK;
        if (e.type == SW_EV_BLOCK_REFUSED) {
            refused_event(Addr::from_bytes(e.saddr).str(),
                          "kernel block budget spent (" + std::to_string(blocker_->policy().max_new_per_sec) + "/s, " +
                              std::to_string(blocker_->policy().max_blocks) + " active blocks)",
                          "fast_path", now);
            continue;
        }
        mirror_->on_event(e);
    }
    if (fast)
        adopt(now, true);
    mirror_->flush(now);
}

void Agent::sweep(uint64_t now) {
    adopt(now, false);
    for (const auto& e : blocker_->expire(now))
        block_event("unblock", e, "expired", now);
    blocker_->refresh_bits(now);
    // A huge map makes a sweep slow: keep the agent responsive (events,
    // control socket) by sweeping no more than a fifth of the time.
    if (now >= next_sweep_ns_) {
        uint64_t t_sweep = mono_now_ns();
        mirror_->sweep(now);
        in_map_ = std::max<size_t>(mirror_->stats().map_records, mirror_->stats().walk_position);
        uint64_t took = mono_now_ns() - t_sweep;
        last_sweep_ms_ = took / 1e6;
        ms_.sweep.observe(took / 1e9);
        if (metrics_)
            publish_metrics(now);
        next_sweep_ns_ = t_sweep + 5 * took;
        sweeps_++;
    }
    check_overload(now);
}

void Agent::loop_once() {
    epoll_event evs[16];
    int n = epoll_wait(ep_.get(), evs, 16, cs_more_ ? 0 : 250);
    if (n < 0 && errno != EINTR)
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    bool do_sweep = false;
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag >= kClientBase) {
            control_->on_client_ready(static_cast<int>(tag - kClientBase));
            continue;
        }
        switch (tag) {
        case kSignal:
            on_signals();
            break;
        case kTimer: {
            uint64_t ticks;
            while (read(timer_.get(), &ticks, sizeof ticks) == sizeof ticks) {
            }
            do_sweep = true;
            break;
        }
        case kControl:
            control_->on_listen_ready();
            break;
        default:
            break;
        }
    }
    ring_buffer__consume(rb_.get());
    uint64_t now = mono_now_ns();
    on_events(pending_, now);
    pending_.clear();
    if (cs_)
        crowdsec_work(now);
    if (do_sweep)
        sweep(now);
    blocker_->save_if_due(now);
    if (auto err = blocker_->take_save_error())
        warn(*err);
    if (deadline_ && now >= deadline_)
        stop_ = true;
}

int Agent::run() {
    while (!stop_)
        loop_once();
    blocker_->flush();
    if (auto err = blocker_->take_save_error())
        warn(*err);
    write_stopped();
    return 0;
}

void Agent::write_stopped() {
    const AgentSnapshot snap = snapshot(mono_now_ns());
    out_.write(stopped_json(snap, stop_reason_));
    if (o_.quiet)
        return;
    auto n = [](uint64_t v, const char* one, const char* many) { return std::to_string(v) + " " + (v == 1 ? one : many); };
    std::fprintf(stderr, "scanwatch: stopped (%s) after %s: %s, %s, %s, %s active\n", stop_reason_.c_str(),
                 ui::format_duration(std::round((snap.now_ns - snap.start_ns) / 1e9)).c_str(),
                 n(snap.stat(SW_S_PACKETS), "packet", "packets").c_str(), n(snap.scanners, "scanner", "scanners").c_str(),
                 n(snap.blocks_created, "block made", "blocks made").c_str(), n(snap.blocks, "block", "blocks").c_str());
}

}  // namespace scanwatch
