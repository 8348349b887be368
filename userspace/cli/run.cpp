// `scanwatch run`: attach, watch, report, detach.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "agent/analyzer.hpp"
#include "bpf/loader.hpp"
#include "cli/commands.hpp"
#include "scanwatch/addr.hpp"
#include "scanwatch/output.hpp"

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

XdpMode parse_mode(const std::string& m) {
    if (m == "auto")
        return XdpMode::Auto;
    if (m == "native")
        return XdpMode::Native;
    if (m == "generic")
        return XdpMode::Generic;
    throw UsageError("--xdp-mode must be auto, native or generic, not '" + m + "'");
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

}  // namespace

int run_command(const RunOptions& o) {
    if (o.ifaces.empty())
        throw UsageError("run needs at least one interface: -i IFACE");
    if (o.duration_s < 0 || !std::isfinite(o.duration_s))
        throw UsageError("--duration must be a positive number of seconds");
    for (const auto& c : o.allow) {
        try {
            Cidr::parse(c);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--allow: ") + e.what());
        }
    }
    KernelOptions ko;
    ko.ifaces = o.ifaces;
    ko.mode = parse_mode(o.xdp_mode);
    ko.pin_dir = o.pin_dir;

    EventWriter out(o.json);
    UniqueFd sigfd = signal_fd();
    auto warn = [](const std::string& m) { std::fprintf(stderr, "scanwatch: warning: %s\n", m.c_str()); };
    Kernel kernel(ko, warn);

    std::vector<sw_event> pending;
    pending.reserve(1024);
    RingBufferPtr rb(ring_buffer__new(kernel.ringbuf_fd(), on_ring_event, &pending, nullptr));
    if (!rb)
        throw BpfError("opening the ring buffer", errno);
    UniqueFd timer = interval_timer(o.sweep_ms);
    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    enum : uint64_t { kRing = 1, kSignal = 2, kTimer = 3 };
    epoll_add(ep.get(), ring_buffer__epoll_fd(rb.get()), kRing);
    epoll_add(ep.get(), sigfd.get(), kSignal);
    epoll_add(ep.get(), timer.get(), kTimer);

    Clock clock = Clock::live();
    Analyzer an(o.det, out, clock, !o.quiet);
    uint64_t start = mono_now_ns();

    nlohmann::ordered_json started;
    started["event"] = "started";
    started["ifaces"] = o.ifaces;
    started["xdp_mode"] = kernel.xdp_mode();
    started["block"] = o.block;
    started["pin_dir"] = o.pin_dir;
    started["ts"] = rfc3339(clock.wall(start));
    out.write(started);
    if (!o.quiet) {
        std::string names;
        for (const auto& a : kernel.attachments())
            names += (names.empty() ? "" : ", ") + a.iface + " (" + a.xdp_mode + " XDP)";
        std::fprintf(stderr, "scanwatch: watching %s\n", names.c_str());
    }

    auto lookup = [&](const Addr& a) { return kernel.source(a); };
    auto scan = [&](const SourceVisitor& v) { return kernel.for_each_source(v); };
    uint64_t sweeps = 0;
    const uint64_t deadline = o.duration_s > 0 ? start + static_cast<uint64_t>(o.duration_s * 1e9) : 0;
    bool stop = false;
    std::string stop_reason = "duration";
    while (!stop) {
        epoll_event evs[4];
        int n = epoll_wait(ep.get(), evs, 4, 250);
        if (n < 0 && errno != EINTR)
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        bool do_sweep = false;
        for (int i = 0; i < n; i++) {
            switch (evs[i].data.u64) {
            case kSignal: {
                signalfd_siginfo si{};
                while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
                        stop = true;
                        stop_reason = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
                    }
                }
                break;
            }
            case kTimer: {
                uint64_t ticks;
                while (read(timer.get(), &ticks, sizeof ticks) == sizeof ticks) {
                }
                do_sweep = true;
                break;
            }
            default:
                break;
            }
        }
        // Events first: they carry RPC details and mark the sources to judge now.
        ring_buffer__consume(rb.get());
        uint64_t now = mono_now_ns();
        if (!pending.empty()) {
            for (const auto& e : pending)
                an.on_event(e);
            pending.clear();
            an.flush(lookup, now);
        }
        if (do_sweep) {
            an.sweep(scan, now);
            sweeps++;
        }
        if (deadline && now >= deadline)
            stop = true;
    }

    nlohmann::ordered_json stopped;
    uint64_t end = mono_now_ns();
    stopped["event"] = "stopped";
    stopped["reason"] = stop_reason;
    stopped["ts"] = rfc3339(clock.wall(end));
    stopped["seconds"] = std::round((end - start) / 1e6) / 1e3;
    stopped["packets"] = kernel.stat(SW_S_PACKETS);
    stopped["probes"] = kernel.stat(SW_S_PROBES);
    stopped["sources"] = an.detector().tracked();
    stopped["scanners"] = an.detector().scanners_reported();
    stopped["reports"] = an.reports();
    stopped["events"] = an.events();
    stopped["events_lost"] = kernel.stat(SW_S_EVENTS_LOST);
    stopped["dropped"] = kernel.stat(SW_S_DROPPED);
    stopped["truncated"] = kernel.stat(SW_S_TRUNCATED);
    stopped["malformed"] = kernel.stat(SW_S_MALFORMED);
    stopped["sweeps"] = sweeps;
    out.write(stopped);
    return 0;
}

}  // namespace scanwatch
