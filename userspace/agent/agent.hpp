// The running agent (`scanwatch run`): the kernel side attached, the
// analyzer fed from the ring buffer and the sweeps, the block list, the
// control socket, the JSON/syslog/metrics outputs and the CrowdSec link, all
// driven by one epoll loop on one thread. Built from RunOptions; the CLI only
// parses flags and the config file and hands them over.
//
// The code is split by concern: agent.cpp (the parts and the loop),
// handlers.cpp (the control protocol), blocking.cpp (verdicts become blocks,
// block events, CrowdSec), reload.cpp (options checked and applied, SIGHUP).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/analyzer.hpp"
#include "agent/mirror.hpp"
#include "block/blocker.hpp"
#include "bpf/loader.hpp"
#include "common/fd.hpp"
#include "config/options.hpp"
#include "control/control.hpp"
#include "crowdsec/link.hpp"
#include "metrics/metrics.hpp"
#include "metrics/server.hpp"
#include "output/syslog.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

// Re-reads the options for SIGHUP (config file, then the flags over it);
// throws ConfigError/UsageError on bad input. Empty: nothing to reload.
using ReloadOptions = std::function<RunOptions()>;

// Checks what the flag parser and the config file could not check alone;
// throws UsageError.
void validate(const RunOptions& o);
XdpMode parse_mode(const std::string& m);
// The block list's policy the options ask for.
BlockPolicy block_policy(const RunOptions& o);
// A block's "by" in events and replies: manual, fast_path, crowdsec, detector.
const char* block_by(uint32_t reason_code);

class Agent {
public:
    // Checks the options, then attaches: throws UsageError for bad options,
    // BpfError/std::runtime_error for what the system refuses. Writes the
    // `started` event.
    Agent(RunOptions o, ReloadOptions reload);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Runs until a signal or --duration; writes the `stopped` event. Returns
    // the exit code.
    int run();

private:
    // agent.cpp
    void loop_once();
    void on_signals();
    void on_ring_events(uint64_t now);
    void on_sweep(uint64_t now);
    void check_overload(uint64_t now);
    void publish_metrics(uint64_t now);
    void write_started();
    void write_stopped();
    void warn(const std::string& m) const;

    // handlers.cpp: the control socket's requests
    nlohmann::json handle(const nlohmann::json& request);
    nlohmann::json status_reply(uint64_t now);
    nlohmann::json sources_reply(size_t limit, uint64_t now);
    nlohmann::json block_reply(const Cidr& c, std::optional<uint64_t> ttl_ns, uint64_t now);
    nlohmann::json unblock_reply(const Cidr& c, uint64_t now);
    nlohmann::json block_json(const BlockEntry& e, uint64_t now) const;
    nlohmann::json source_json(const Addr& a, const sw_source& rec, uint64_t now);

    // blocking.cpp
    std::string on_report(const ScanReport& r, const sw_source& rec);
    std::string decide(const ScanReport& r, const sw_source& rec);
    void block_event(const char* kind, const BlockEntry& e, const std::string& why, uint64_t now);
    void refused_event(const std::string& src, const std::string& why, const char* by, uint64_t now);
    void shield_event(const Addr& a, const std::string& why, const char* by, uint64_t now);
    void adopt(uint64_t now, bool force);
    void adopted(const BlockEntry& e, uint64_t now);
    void crowdsec_work(uint64_t now);

    // reload.cpp
    void reload_config();

    RunOptions o_;  // SIGHUP replaces the reloadable parts
    ReloadOptions reload_;
    std::optional<ListenAddress> metrics_at_;
    KernelOptions ko_;
    EventWriter out_;
    std::unique_ptr<MetricsServer> metrics_;
    EventTally tally_;
    std::optional<Syslog> syslog_;
    UniqueFd sigfd_;
    std::unique_ptr<crowdsec::Link> cs_;
    std::unique_ptr<Kernel> kernel_;
    std::vector<sw_event> pending_;
    RingBufferPtr rb_;
    UniqueFd timer_;
    UniqueFd ep_;
    Clock clock_;
    std::unique_ptr<Analyzer> an_;
    std::unique_ptr<Mirror> mirror_;  // which source records an_ is fed (agent/mirror.hpp)
    uint64_t start_ = 0;
    double last_sweep_ms_ = 0;  // wall time of the latest sweep (status "last_sweep_ms"): tracked sources + one walk slice
    std::unique_ptr<Blocker> blocker_;
    size_t in_map_ = 0;     // records in the sources map at the latest complete walk
    bool map_full_ = false;  // in_map reached --max-sources
    std::unique_ptr<ControlServer> control_;
    MetricsSnapshot ms_;
    uint64_t flows_counted_ns_ = 0;
    uint64_t lost_warned_ = 0, lost_warn_ns_ = 0;
    uint64_t sweeps_ = 0, next_sweep_ns_ = 0;
    uint64_t deadline_ = 0;
    bool stop_ = false;
    std::string stop_reason_ = "duration";
    bool cs_more_ = false;  // CrowdSec decisions wait to be applied: do not sleep
    uint64_t cs_put_ = 0, cs_lifted_ = 0, cs_first_ns_ = 0;
};

}  // namespace scanwatch
