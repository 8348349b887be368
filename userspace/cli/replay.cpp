// `scanwatch replay FILE`: the live analysis on a capture. Every packet goes
// through the real XDP program (BPF_PROG_TEST_RUN) with the capture's clock,
// both directions alike (as on a gateway), and the same Analyzer and Detector
// as `run` judge the resulting maps and events.
#include <time.h>

#include <cerrno>
#include <cstdio>

#include "agent/analyzer.hpp"
#include "bpf/prog_runner.hpp"
#include "cli/commands.hpp"
#include "replay/capture.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

namespace {

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int replay_command(const ReplayOptions& o) {
    CaptureReader cap(o.file);
    ProgRunner runner;
    EventWriter out(o.json);
    Analyzer an(o.det, out, Clock::identity(), !o.quiet);

    auto lookup = [&](const Addr& a) { return runner.source(a); };
    auto scan = [&](const SourceVisitor& v) {
        auto all = runner.sources();
        for (const auto& [a, rec] : all)
            v(a, rec);
        return all.size();
    };
    auto drain = [&](uint64_t now) {
        auto evs = runner.drain_events();
        if (evs.empty())
            return;
        for (const auto& e : evs)
            an.on_event(e);
        an.flush(lookup, now);
    };

    const uint64_t sweep_ns = static_cast<uint64_t>(o.sweep_ms * 1e6);
    uint64_t packets = 0, runts = 0, now = 0, first_ts = 0, next_sweep = 0;
    std::span<const uint8_t> frame;
    uint64_t ts = 0;
    double t0 = cpu_now();
    while (cap.next(frame, ts)) {
        if (packets == 0) {
            first_ts = ts;
            next_sweep = ts + sweep_ns;
        }
        now = ts > now ? ts : now;  // the program's clock never runs backwards
        packets++;
        try {
            runner.run_xdp(frame, now);
        } catch (const BpfError& e) {
            if (e.err() != EINVAL)
                throw;
            runts++;  // shorter than an Ethernet header: the kernel will not run it
            continue;
        }
        if ((packets & 63) == 0)
            drain(now);
        if (now >= next_sweep) {
            drain(now);
            an.sweep(scan, now);
            next_sweep = now + sweep_ns;
        }
    }
    drain(now);
    an.sweep(scan, now);
    // Then the wire stays quiet after the capture ends: probes that were
    // never answered time out, as they would have live.
    uint64_t after = now + o.det.probe_timeout_ns + 1;
    an.sweep(scan, after);
    double secs = cpu_now() - t0;

    if (!cap.warning().empty())
        std::fprintf(stderr, "scanwatch: warning: %s\n", cap.warning().c_str());
    nlohmann::ordered_json summary;
    summary["event"] = "replay_done";
    summary["file"] = o.file;
    summary["link_type"] = cap.link_name();
    summary["packets"] = packets;
    summary["skipped"] = cap.skipped() + runts;
    summary["sources"] = an.detector().tracked();
    summary["scanners"] = an.detector().scanners_reported();
    summary["capture_seconds"] = packets ? static_cast<double>(now - first_ts) / 1e9 : 0.0;
    summary["seconds"] = secs;
    summary["packets_per_second"] = secs > 0 ? static_cast<uint64_t>(static_cast<double>(packets) / secs) : 0;
    summary["truncated"] = !cap.warning().empty();
    out.write(summary);
    std::fprintf(stderr, "scanwatch: replayed %llu packets (%s) in %.3f s, %.0f packets/s: %zu sources, %llu scanners\n",
                 static_cast<unsigned long long>(packets), cap.link_name().c_str(), secs,
                 secs > 0 ? static_cast<double>(packets) / secs : 0.0, an.detector().tracked(),
                 static_cast<unsigned long long>(an.detector().scanners_reported()));
    return 0;
}

}  // namespace scanwatch
