// `scanwatch run`: attach, watch, report, detach.
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
#include <memory>
#include <optional>
#include <vector>

#include <filesystem>
#include <unistd.h>

#include "agent/analyzer.hpp"
#include "block/blocker.hpp"
#include "bpf/loader.hpp"
#include "control/control.hpp"
#include "crowdsec/link.hpp"
#include "metrics/server.hpp"
#include "ui/model.hpp"
#include "output/syslog.hpp"
#include "cli/commands.hpp"
#include "common/version.hpp"
#include "config/config.hpp"
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

// Entries of a hash map, counted key by key (no batch of values needed).
uint64_t count_keys(int fd, size_t key_size) {
    std::vector<uint8_t> a(key_size), b(key_size);
    uint64_t n = 0;
    for (void* prev = nullptr; bpf_map_get_next_key(fd, prev, b.data()) == 0; prev = a.data(), n++)
        a.swap(b);
    return n;
}

void epoll_add(int ep, int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

// Checks what the flag parser and the config file could not check alone.
void validate(const RunOptions& o) {
    if (o.ifaces.empty())
        throw UsageError("run needs at least one interface: -i IFACE, or agent.interfaces in the config file");
    if (o.duration_s < 0 || !std::isfinite(o.duration_s))
        throw UsageError("--duration must be a positive number of seconds");
    parse_mode(o.xdp_mode);
    for (const auto& c : o.allow) {
        try {
            Cidr::parse(c);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--allow: ") + e.what());
        }
    }
}

BlockPolicy block_policy(const RunOptions& o) {
    BlockPolicy bp;
    bp.auto_block = o.block;
    bp.block_unverified = o.block_unverified;
    bp.block_score = o.block_score;
    bp.ttl_ns = o.block_ttl_ns;
    bp.max_blocks = o.max_blocks;
    bp.max_new_per_sec = o.max_new_blocks_per_sec;
    bp.fast_path = o.fast_block;
    for (const auto& c : o.allow)
        bp.allow.push_back(Cidr::parse(c));
    return bp;
}

const char* block_by(uint32_t reason_code) {
    switch (reason_code) {
    case SW_BR_MANUAL: return "manual";
    case SW_BR_FAST_PATH: return "fast_path";
    case SW_BR_CROWDSEC: return "crowdsec";
    default: return "detector";
    }
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
        s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

int run_command(const RunOptions& given, const std::function<RunOptions()>& reload) {
    RunOptions o = given;  // SIGHUP replaces the reloadable parts
    validate(o);
    std::optional<ListenAddress> metrics_at;
    if (!o.metrics_listen.empty()) {
        try {
            metrics_at = parse_listen_address(o.metrics_listen);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--metrics-listen: ") + e.what());
        }
    }
    KernelOptions ko;
    ko.ifaces = o.ifaces;
    ko.mode = parse_mode(o.xdp_mode);
    ko.pin_dir = o.pin_dir;
    if (o.max_sources)
        ko.max_sources = o.max_sources;
    ko.max_blocks = o.max_blocks;

    EventWriter out(o.json);
    // Before the kernel is touched: a port in use costs nothing.
    std::unique_ptr<MetricsServer> metrics = metrics_at ? std::make_unique<MetricsServer>(*metrics_at) : nullptr;
    EventTally tally;
    out.add_sink([&tally](const nlohmann::ordered_json& e) { tally.on_event(e); });
    // output.syslog is reloadable: the sink follows the running options and
    // opens the log the first time it is needed.
    std::optional<Syslog> syslog;
    out.add_sink([&](const nlohmann::ordered_json& e) {
        if (!o.syslog)
            return;
        if (!syslog)
            syslog.emplace();
        syslog->on_event(e);
    });
    UniqueFd sigfd = signal_fd();
    auto warn = [](const std::string& m) { std::fprintf(stderr, "scanwatch: warning: %s\n", m.c_str()); };
    // CrowdSec: a malformed URL or secret stops here, before the kernel is
    // touched; an unreachable Local API is only a warning from its threads.
    std::unique_ptr<crowdsec::Link> cs = crowdsec::Link::from_options(o, warn);
    Kernel kernel(ko, warn);

    std::vector<sw_event> pending;
    pending.reserve(1024);
    RingBufferPtr rb(ring_buffer__new(kernel.ringbuf_fd(), on_ring_event, &pending, nullptr));
    if (!rb)
        throw BpfError("opening the ring buffer", errno);
    UniqueFd timer = interval_timer(o.sweep_ms);
    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    enum : uint64_t { kRing = 1, kSignal = 2, kTimer = 3, kCrowdSec = 5 };
    epoll_add(ep.get(), ring_buffer__epoll_fd(rb.get()), kRing);
    epoll_add(ep.get(), sigfd.get(), kSignal);
    epoll_add(ep.get(), timer.get(), kTimer);
    if (cs)
        epoll_add(ep.get(), cs->event_fd(), kCrowdSec);

    Clock clock = Clock::live();
    Analyzer an(o.det, out, clock, !o.quiet);
    uint64_t start = mono_now_ns();
    double last_sweep_ms = 0;  // wall time of the latest full sweep (status "last_sweep_ms")

    if (!o.state_file.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(o.state_file).parent_path(), ec);
    }
    Blocker blocker({kernel.blocks_fd(), kernel.allow_fd(), kernel.config_fd(), kernel.shield_fd(), kernel.budget_fd(),
                     kernel.block_addrs_fd()},
                    block_policy(o), o.state_file, clock);
    blocker.set_protected(local_protected_addresses());
    for (const auto& line : blocker.restore(start))
        warn(line);

    auto block_event = [&](const char* kind, const BlockEntry& e, const std::string& why, uint64_t now) {
        nlohmann::ordered_json j;
        j["event"] = kind;
        j["src"] = e.target.prefix == 128 ? e.target.addr.str() : e.target.str();
        j["target"] = e.target.str();
        j["reason"] = why.empty() ? e.reason : why;
        j["by"] = block_by(e.reason_code);
        j["ttl_s"] = e.expires_ns ? nlohmann::ordered_json((e.expires_ns - std::min(e.expires_ns, e.created_ns)) / 1'000'000'000ULL)
                                  : nlohmann::ordered_json();
        j["expires"] = e.expires_ns ? nlohmann::ordered_json(rfc3339(clock.wall(e.expires_ns))) : nlohmann::ordered_json();
        j["ts"] = rfc3339(clock.wall(now));
        out.write(j);
        // CrowdSec's blocks come by the thousand: one summary line per pull instead.
        if (!o.quiet && e.reason_code != SW_BR_CROWDSEC)
            std::fprintf(stderr, "scanwatch: %s %s (%s)\n", kind, j["src"].get<std::string>().c_str(),
                         j["reason"].get<std::string>().c_str());
    };

    // A report becomes a block when the policy allows it.
    auto refused_event = [&](const std::string& src, const std::string& why, const char* by, uint64_t now) {
        if (!o.quiet)
            std::fprintf(stderr, "scanwatch: not blocking %s: %s\n", src.c_str(), why.c_str());
        nlohmann::ordered_json j{{"event", "block_refused"}, {"src", src}, {"reason", why}, {"by", by},
                                 {"ts", rfc3339(clock.wall(now))}};
        out.write(j);
    };
    // A source that cannot prove itself is shielded instead (SYN cookies).
    auto shield_event = [&](const Addr& a, const std::string& why, const char* by, uint64_t now) {
        nlohmann::ordered_json j{{"event", "shield"}, {"src", a.str()}, {"reason", why}, {"by", by},
                                 {"ttl_s", blocker.policy().ttl_ns / 1'000'000'000ULL}, {"ts", rfc3339(clock.wall(now))}};
        out.write(j);
        if (!o.quiet)
            std::fprintf(stderr, "scanwatch: shield %s (%s)\n", a.str().c_str(), why.c_str());
    };
    auto decide = [&](const ScanReport& r, const sw_source& rec) -> std::string {
        if (blocker.find(r.src))
            return "block";
        if (auto no = blocker.refuse(r, rec)) {
            // no proof: answered with SYN cookies instead, never dropped
            if (!o.block || r.score < blocker.policy().block_score || blocker.is_protected(r.src))
                return "alert";
            if ((rec.flags & SW_SF_SHIELDED) || blocker.shielded(r.src))
                return "shield";
            if (blocker.shield(r.src, mono_now_ns())) {
                shield_event(r.src, *no, "detector", mono_now_ns());
                return "shield";
            }
            return "alert";
        }
        std::string why;
        for (const auto& k : r.kinds)
            why += (why.empty() ? "" : ",") + k;
        why += " score " + format_score(r.score);
        uint64_t now = mono_now_ns();
        if (auto err = blocker.add(Cidr{r.src, 128}, blocker.policy().ttl_ns, SW_BR_DETECTOR, why, now)) {
            refused_event(r.src.str(), *err, "detector", now);
            return "alert";
        }
        block_event("block", *blocker.find(r.src), why, now);
        return "block";
    };

    // Every verdict goes to CrowdSec as an alert, with the ban when we blocked.
    an.on_report = [&](const ScanReport& r, const sw_source& rec) -> std::string {
        std::string action = decide(r, rec);
        if (cs) {
            std::optional<uint64_t> ban;
            const BlockEntry* b = action == "block" ? blocker.find(r.src) : nullptr;
            if (b && b->reason_code != SW_BR_CROWDSEC) {
                uint64_t now = mono_now_ns();
                ban = b->expires_ns ? std::max<uint64_t>(1, (b->expires_ns > now ? b->expires_ns - now : 0) / 1'000'000'000ULL) : 0;
            }
            cs->alert(r, clock, ban);
        }
        return action;
    };

    auto block_json = [&](const BlockEntry& e, uint64_t now) {
        nlohmann::json j;
        j["target"] = e.target.str();
        j["reason"] = e.reason;
        j["manual"] = e.reason_code == SW_BR_MANUAL;
        j["by"] = block_by(e.reason_code);
        j["created"] = rfc3339(clock.wall(e.created_ns));
        j["expires"] = e.expires_ns ? nlohmann::json(rfc3339(clock.wall(e.expires_ns))) : nlohmann::json();
        j["ttl_left_s"] = e.expires_ns ? nlohmann::json(e.expires_ns > now ? (e.expires_ns - now) / 1'000'000'000ULL : 0)
                                       : nlohmann::json();
        return j;
    };

    auto source_json = [&](const Addr& a, const sw_source& rec, uint64_t now) {
        nlohmann::json j;
        auto r = an.detector().assess(a);
        j["src"] = a.str();
        j["kinds"] = r ? r->kinds : std::vector<std::string>{};
        j["tool"] = r ? r->tool : "unknown";
        j["scanner_os"] = r ? r->scanner_os : "unknown";
        j["ports"] = r ? r->ports : distinct_ports(rec);
        j["hosts"] = r ? r->hosts : distinct_hosts(rec);
        j["probes"] = rec.cnt[SW_C_PROBES];
        j["score"] = r ? score_value(r->score) : 0.0;
        j["scanner"] = r && r->scanner;
        // what a verdict lacks; a source with one probe is not judged yet
        j["why_not"] = r ? r->why_not
                         : std::vector<std::string>{rec.cnt[SW_C_PROBES] < 2
                                                        ? std::to_string(rec.cnt[SW_C_PROBES]) +
                                                              " probe so far: judged from the second"
                                                        : std::string("not judged yet (at the next look)")};
        j["answered"] = rec.cnt[SW_C_ANSWERED];
        j["failed"] = rec.cnt[SW_C_FAIL_RST] + rec.cnt[SW_C_FAIL_ICMP];
        j["first_seen"] = rfc3339(clock.wall(rec.first_ns));
        j["last_seen"] = rfc3339(clock.wall(rec.last_ns));
        j["idle_s"] = now > rec.last_ns ? (now - rec.last_ns) / 1e9 : 0.0;
        j["evidence"] = r ? nlohmann::json(r->evidence) : nlohmann::json::object();
        j["rpc_programs"] = r ? r->rpc_programs : std::vector<uint32_t>{};
        const BlockEntry* b = blocker.find(a);
        j["state"] = b ? "blocked" : (rec.flags & SW_SF_SHIELDED) || blocker.shielded(a) ? "shielded"
                   : (r && r->scanner)                                            ? "scanner"
                                                                                  : "watching";
        j["block"] = b ? block_json(*b, now) : nlohmann::json();
        return j;
    };

    constexpr size_t kStatusWatching = 20;  // not-yet-scanners listed by status
    size_t in_map = 0;     // records in the sources map at the latest sweep
    bool map_full = false;  // in_map reached --max-sources
    auto handle = [&](const nlohmann::json& json) -> nlohmann::json {
        const ControlRequest req = parse_control_request(json);  // throws: an error reply
        const std::string& cmd = req.cmd;
        uint64_t now = mono_now_ns();
        if (cmd == "status") {
            nlohmann::json j{{"ok", true}};
            j["version"] = kVersion;
            j["pid"] = getpid();
            j["ifaces"] = o.ifaces;
            j["xdp_mode"] = kernel.xdp_mode();
            j["uptime_s"] = (now - start) / 1e9;
            j["packets"] = kernel.stat(SW_S_PACKETS);
            j["probes"] = kernel.stat(SW_S_PROBES);
            j["dropped"] = kernel.stat(SW_S_DROPPED);
            j["truncated"] = kernel.stat(SW_S_TRUNCATED);
            j["malformed"] = kernel.stat(SW_S_MALFORMED);
            j["events"] = kernel.stat(SW_S_EVENTS);
            j["events_lost"] = kernel.stat(SW_S_EVENTS_LOST);
            j["sources_in_map"] = in_map;
            j["max_sources"] = ko.max_sources;
            j["sources_map_full"] = map_full;
            j["sources"] = an.detector().tracked();
            j["scanners"] = an.detector().scanners_reported();
            j["blocks"] = blocker.size();
            j["blocks_created"] = blocker.created_total();
            j["blocks_refused_kernel"] = kernel.stat(SW_S_BLOCKS_REFUSED);
            j["syn_cookies"] = kernel.stat(SW_S_COOKIES);
            j["cookie_proofs"] = kernel.stat(SW_S_PROOFS);
            j["block_enabled"] = o.block;
            j["state_file_error"] =
                blocker.save_error().empty() ? nlohmann::json() : nlohmann::json(blocker.save_error());
            j["last_sweep_ms"] = std::round(last_sweep_ms * 100) / 100;
            j["crowdsec"] = cs ? cs->status() : nlohmann::json();
            // the sources closest to a verdict and what each lacks
            nlohmann::json watching = nlohmann::json::array();
            for (const auto& r : an.detector().not_scanners(kStatusWatching))
                watching.push_back({{"src", r.src.str()}, {"score", score_value(r.score)}, {"why_not", r.why_not}});
            j["watching"] = watching;
            return j;
        }
        if (cmd == "sources") {
            size_t limit = req.limit;
            std::vector<nlohmann::json> rows;
            kernel.for_each_source([&](const Addr& a, const sw_source& rec) { rows.push_back(source_json(a, rec, now)); });
            std::stable_sort(rows.begin(), rows.end(), [](const nlohmann::json& x, const nlohmann::json& y) {
                return x["score"].get<double>() > y["score"].get<double>();
            });
            if (rows.size() > limit)
                rows.resize(limit);
            return {{"ok", true}, {"sources", rows}, {"packets", kernel.stat(SW_S_PACKETS)},
                    {"dropped", kernel.stat(SW_S_DROPPED)}, {"xdp_mode", kernel.xdp_mode()}, {"ifaces", o.ifaces},
                    {"blocks", blocker.size()}};
        }
        if (cmd == "blocks") {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& e : blocker.list())
                arr.push_back(block_json(e, now));
            return {{"ok", true}, {"blocks", arr}};
        }
        if (cmd == "block" || cmd == "unblock") {
            Cidr c = *req.target;
            if (cmd == "unblock") {
                auto existing = blocker.find(c.addr);
                BlockEntry gone = existing ? *existing : BlockEntry{c, 0, now, SW_BR_MANUAL, "manual"};
                if (!blocker.remove(c))
                    return {{"ok", false}, {"error", c.str() + " is not blocked"}};
                gone.target = c;
                block_event("unblock", gone, "manual", now);
                return {{"ok", true}};
            }
            uint64_t ttl = req.ttl_ns.value_or(blocker.policy().ttl_ns);
            BlockOutcome r = blocker.put(c, ttl, SW_BR_MANUAL, "manual", now);
            if (!r) {
                // Logged and counted like any refused block.
                if (!o.quiet)
                    std::fprintf(stderr, "scanwatch: not blocking %s: %s\n", c.str().c_str(), r.error.c_str());
                out.write(nlohmann::ordered_json{{"event", "block_refused"}, {"src", c.str()}, {"reason", r.error},
                                                 {"by", "manual"}, {"ts", rfc3339(clock.wall(now))}});
                return {{"ok", false}, {"error", r.error}};
            }
            const BlockEntry* e = blocker.get(c);
            if (r.kind == BlockOutcome::Created)
                block_event("block", *e, "manual", now);
            // A second block of the same target renews its expiry: one block,
            // one event, one count.
            return {{"ok", true}, {"updated", r.kind == BlockOutcome::Updated},
                    {"expires", e->expires_ns ? nlohmann::json(rfc3339(clock.wall(e->expires_ns))) : nlohmann::json()}};
        }
        return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
    };
    ControlServer control(o.socket, handle, o.socket_group);
    enum : uint64_t { kControl = 4, kClientBase = 1ULL << 32 };
    control.set_epoll(ep.get(), kClientBase);
    epoll_add(ep.get(), control.listen_fd(), kControl);

    nlohmann::ordered_json started;
    started["event"] = "started";
    started["ifaces"] = o.ifaces;
    started["xdp_mode"] = kernel.xdp_mode();
    started["block"] = o.block;
    started["blocks_restored"] = blocker.size();
    started["pin_dir"] = o.pin_dir;
    started["socket"] = o.socket;
    started["crowdsec"] = cs ? nlohmann::ordered_json(cs->status()["lapi_url"]) : nlohmann::ordered_json();
    started["ts"] = rfc3339(clock.wall(start));
    out.write(started);
    if (!o.quiet) {
        std::string names;
        for (const auto& a : kernel.attachments())
            names += (names.empty() ? "" : ", ") + a.iface + " (" + a.xdp_mode + " XDP)";
        std::fprintf(stderr, "scanwatch: watching %s%s\n", names.c_str(), o.block ? ", blocking scanners" : "");
        // what it starts with: blocks put back from the state file or the pins, the metrics URL
        size_t restored = blocker.list().size();
        if (restored)
            std::fprintf(stderr, "scanwatch: %zu block%s restored (scanwatch blocks lists them)\n", restored,
                         restored == 1 ? "" : "s");
        if (metrics_at)
            std::fprintf(stderr, "scanwatch: metrics at http://%s/metrics\n",
                         (metrics_at->ipv6 ? "[" + metrics_at->host + "]" : metrics_at->host)
                             .append(":" + std::to_string(metrics_at->port))
                             .c_str());
        if (cs)
            std::fprintf(stderr, "scanwatch: %s\n", cs->describe().c_str());
    }

    // SIGHUP: read the config again. Thresholds, blocking policy, allow list
    // and outputs change in place; every source and block is kept. Keys that
    // need a restart keep their running value; a bad file changes nothing.
    auto reload_config = [&]() {
        nlohmann::ordered_json j;
        j["event"] = "reload";
        try {
            if (!reload)
                throw UsageError("no config to reload");
            RunOptions next = reload();
            validate(next);
            ConfigDiff d = config_diff(o, next);
            keep_restart_keys(o, next);
            BlockPolicy policy = block_policy(next);
            out.reopen(next.json);  // also after logrotate moved the file away
            an.detector().set_config(next.det);
            an.set_human_lines(!next.quiet);
            blocker.set_policy(policy, local_protected_addresses());
            o = std::move(next);
            j["ok"] = true;
            j["changed"] = d.reloaded;
            j["restart_needed"] = d.restart;
            if (!o.quiet)
                std::fprintf(stderr, "scanwatch: config reloaded (%s)\n",
                             d.reloaded.empty() ? "no change" : ("changed: " + join(d.reloaded)).c_str());
            if (!d.restart.empty())
                warn("changed in the config but needs a restart, keeping the running value: " + join(d.restart));
        } catch (const std::exception& e) {
            j["ok"] = false;
            j["error"] = e.what();
            warn(std::string("reload failed, keeping the running configuration: ") + e.what());
        }
        j["ts"] = rfc3339(clock.wall(mono_now_ns()));
        out.write(j);
    };

    MetricsSnapshot ms;
    ms.version = kVersion;
    ms.xdp_mode = kernel.xdp_mode();
    ms.start_time_s = static_cast<double>(clock.wall(start)) / 1e9;
    ms.sweep = Histogram({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    ms.maps = {{"sources", 0, ko.max_sources}, {"flows", 0, ko.max_flows}, {"blocks", 0, std::max<uint32_t>(o.max_blocks, SW_DEFAULT_MAX_BLOCKS)}};
    uint64_t flows_counted_ns = 0;
    auto publish_metrics = [&](size_t sources_read, uint64_t now) {
        auto rows = kernel.stat_rows();
        ms.ifaces.clear();
        for (size_t slot = 0; slot < kernel.slot_names().size(); slot++)
            if (slot != SW_IF_SLOT_OTHER || rows[slot].s[SW_S_PACKETS] || rows[slot].s[SW_S_EGRESS])
            {
                MetricsSnapshot::Iface i{kernel.slot_names()[slot], {}};
                std::copy(std::begin(rows[slot].s), std::end(rows[slot].s), i.stats.begin());
                ms.ifaces.push_back(std::move(i));
            }
        ms.maps[0].entries = sources_read;
        if (now - flows_counted_ns >= 5'000'000'000ULL) {  // ~65k syscalls at full size: not every sweep
            ms.maps[1].entries = count_keys(kernel.flows_fd(), sizeof(sw_flow_key));
            flows_counted_ns = now;
        }
        ms.maps[2].entries = blocker.size();
        ms.sources_tracked = an.detector().tracked();
        ms.scanners = an.detector().scanners_reported();
        ms.blocks_active = blocker.size();
        ms.ring_events_received = an.events();
        ms.last_sweep_s = last_sweep_ms / 1e3;
        if (cs)
            cs->fill(ms.crowdsec);
        tally.fill(ms);
        metrics->publish(ms);
    };
    if (metrics)
        publish_metrics(0, start);

    auto lookup = [&](const Addr& a) { return kernel.source(a); };
    an.wide = [&](const Addr& a) { return kernel.wide(a); };
    auto scan = [&](const SourceVisitor& v) { return in_map = kernel.for_each_source(v); };
    // Overload is reported, never fatal: a ring buffer that overflowed (the
    // agent fell behind; the maps still hold the evidence) and a full sources
    // map (the least recently seen records are evicted) each get a warning on
    // stderr when they start, and figures in status and the stopped event.
    uint64_t lost_warned = 0, lost_warn_ns = 0;
    auto check_overload = [&](uint64_t now) {
        uint64_t lost = kernel.stat(SW_S_EVENTS_LOST);
        if (lost > lost_warned && now - lost_warn_ns >= 10'000'000'000ULL) {
            std::fprintf(stderr,
                         "scanwatch: warning: event ring buffer overflowed: %llu events lost so far (the agent "
                         "fell behind; sweeps still read the evidence from the maps)\n",
                         static_cast<unsigned long long>(lost));
            lost_warned = lost;
            lost_warn_ns = now;
        }
        // An LRU map never reports full: once its free list is empty it evicts
        // a batch of up to 128 entries, and each CPU keeps up to 128 free ones
        // of its own, so a full map holds anywhere from cap - (CPUs + 1) * 128
        // to cap entries (75 % of a 1,024-entry map on 2 CPUs, 99.4 % of 65,536).
        const uint64_t lru_slack =
            std::min<uint64_t>(ko.max_sources / 2, uint64_t(std::max(libbpf_num_possible_cpus(), 1) + 1) * 128);
        bool full = in_map + lru_slack >= ko.max_sources;
        if (full && !map_full)
            std::fprintf(stderr,
                         "scanwatch: warning: sources map full (%zu of --max-sources %u records): the least "
                         "recently seen sources are evicted\n",
                         in_map, ko.max_sources);
        map_full = full;
    };
    uint64_t sweeps = 0, next_sweep_ns = 0;
    const uint64_t deadline = o.duration_s > 0 ? start + static_cast<uint64_t>(o.duration_s * 1e9) : 0;
    bool stop = false;
    std::string stop_reason = "duration";
    // A block the XDP fast path made: told like any block, and to CrowdSec as
    // an alert with its ban (the detector may never report a source cut off
    // after a handful of probes).
    auto adopted = [&](const BlockEntry& e, uint64_t now) {
        block_event("block", e, "", now);
        if (cs && e.reason_code == SW_BR_FAST_PATH) {
            ScanReport r;
            r.src = e.target.addr;
            r.kinds = {"connect"};  // proven by handshakes on several ports (shield.bpf.h)
            r.tool = "unknown";
            r.score = 1.0;
            r.first_seen_ns = r.last_seen_ns = e.created_ns;
            uint64_t ttl = e.expires_ns ? std::max<uint64_t>(1, (e.expires_ns > now ? e.expires_ns - now : 0) / 1'000'000'000ULL) : 0;
            cs->alert(r, clock, ttl);
        }
    };
    // Blocks the XDP fast path made; the caps hold for them too.
    auto adopt = [&](uint64_t now, bool force) {
        std::vector<BlockEntry> refused;
        for (const auto& e : blocker.adopt_kernel_blocks(now, force, &refused))
            adopted(e, now);
        for (const auto& e : refused)
            refused_event(e.target.prefix == 128 ? e.target.addr.str() : e.target.str(), e.reason, "fast_path", now);
    };
    bool cs_more = false;  // CrowdSec decisions wait to be applied: do not sleep
    // Pulled decisions become blocks; refusals are said once and counted.
    uint64_t cs_put = 0, cs_lifted = 0, cs_first_ns = 0;
    auto cs_block = [&](const char* kind, const BlockEntry& e, const std::string& why, uint64_t now) {
        (kind[0] == 'b' ? cs_put : cs_lifted)++;
        if (!cs_first_ns)
            cs_first_ns = now;
        block_event(kind, e, why, now);
    };
    auto cs_refused = [&](const Cidr& t, const std::string& label, const std::string& why, uint64_t now) {
        if (!o.quiet)
            std::fprintf(stderr, "scanwatch: crowdsec: not enforcing the ban on %s (%s): %s\n", t.str().c_str(),
                         label.c_str(), why.c_str());
        out.write(nlohmann::ordered_json{{"event", "block_refused"}, {"src", t.str()}, {"reason", why},
                                         {"by", "crowdsec"}, {"decision", label}, {"ts", rfc3339(clock.wall(now))}});
    };
    auto cs_synced = [&](uint64_t added, uint64_t lifted, uint64_t now) {
        size_t in_force = 0;
        for (const auto& e : blocker.list())
            in_force += e.reason_code == SW_BR_CROWDSEC;
        out.write(nlohmann::ordered_json{{"event", "crowdsec_sync"}, {"added", added}, {"lifted", lifted},
                                         {"in_force", in_force}, {"ts", rfc3339(clock.wall(now))}});
        if (!o.quiet)
            std::fprintf(stderr, "scanwatch: crowdsec: full list applied: %llu new bans, %llu stale lifted, %zu in force\n",
                         static_cast<unsigned long long>(added), static_cast<unsigned long long>(lifted), in_force);
    };
    while (!stop) {
        epoll_event evs[16];
        int n = epoll_wait(ep.get(), evs, 16, cs_more ? 0 : 250);
        if (n < 0 && errno != EINTR)
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        bool do_sweep = false;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag >= kClientBase) {
                control.on_client_ready(static_cast<int>(tag - kClientBase));
                continue;
            }
            switch (tag) {
            case kSignal: {
                signalfd_siginfo si{};
                while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
                        stop = true;
                        stop_reason = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
                    } else if (si.ssi_signo == SIGHUP) {
                        reload_config();
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
            case kControl:
                control.on_listen_ready();
                break;
            default:
                break;
            }
        }
        // Events first: they carry RPC details and mark the sources to judge now.
        ring_buffer__consume(rb.get());
        uint64_t now = mono_now_ns();
        if (!pending.empty()) {
            bool fast = false;
            for (const auto& e : pending) {
                fast |= e.type == SW_EV_FAST_BLOCK;
                if (e.type == SW_EV_BLOCK_REFUSED) {
                    refused_event(Addr::from_bytes(e.saddr).str(),
                                  "kernel block budget spent (" + std::to_string(blocker.policy().max_new_per_sec) +
                                      "/s, " + std::to_string(blocker.policy().max_blocks) + " active blocks)",
                                  "fast_path", now);
                    continue;
                }
                an.on_event(e);
            }
            pending.clear();
            if (fast)
                adopt(now, true);
            an.flush(lookup, now);
        }
        if (cs) {
            cs_more = cs->work(blocker, now, cs_block, cs_refused, cs_synced);
            if (!cs_more && (cs_put || cs_lifted)) {
                if (!o.quiet)
                    std::fprintf(stderr,
                                 "scanwatch: crowdsec: %llu bans applied, %llu lifted in %.0f ms (%zu blocks in all)\n",
                                 static_cast<unsigned long long>(cs_put), static_cast<unsigned long long>(cs_lifted),
                                 (mono_now_ns() - cs_first_ns) / 1e6, blocker.size());
                cs_put = cs_lifted = cs_first_ns = 0;
            }
        }
        if (do_sweep) {
            adopt(now, false);
            for (const auto& e : blocker.expire(now))
                block_event("unblock", e, "expired", now);
            // A huge map makes a sweep slow: keep the agent responsive (events,
            // control socket) by sweeping no more than a fifth of the time.
            if (now >= next_sweep_ns) {
                uint64_t t_sweep = mono_now_ns();
                size_t read = an.sweep(scan, now);
                uint64_t took = mono_now_ns() - t_sweep;
                last_sweep_ms = took / 1e6;
                ms.sweep.observe(took / 1e9);
                if (metrics)
                    publish_metrics(read, now);
                next_sweep_ns = t_sweep + 5 * took;
                sweeps++;
            }
            check_overload(now);
        }
        blocker.save_if_due(now);
        if (auto err = blocker.take_save_error())
            warn(*err);
        if (deadline && now >= deadline)
            stop = true;
    }

    blocker.flush();
    if (auto err = blocker.take_save_error())
        warn(*err);
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
    stopped["sources_in_map"] = in_map;
    stopped["max_sources"] = ko.max_sources;
    stopped["sources_map_full"] = map_full;
    stopped["dropped"] = kernel.stat(SW_S_DROPPED);
    stopped["blocks_active"] = blocker.size();
    stopped["blocks_created"] = blocker.created_total();
    stopped["truncated"] = kernel.stat(SW_S_TRUNCATED);
    stopped["malformed"] = kernel.stat(SW_S_MALFORMED);
    stopped["sweeps"] = sweeps;
    out.write(stopped);
    if (!o.quiet) {
        auto n = [](uint64_t v, const char* one, const char* many) {
            return std::to_string(v) + " " + (v == 1 ? one : many);
        };
        std::fprintf(stderr, "scanwatch: stopped (%s) after %s: %s, %s, %s, %s active\n", stop_reason.c_str(),
                     ui::format_duration(std::round((end - start) / 1e9)).c_str(),
                     n(kernel.stat(SW_S_PACKETS), "packet", "packets").c_str(),
                     n(an.detector().scanners_reported(), "scanner", "scanners").c_str(),
                     n(blocker.created_total(), "block made", "blocks made").c_str(),
                     n(blocker.size(), "block", "blocks").c_str());
    }
    return 0;
}

}  // namespace scanwatch
