#include "agent/analyzer.hpp"

#include <cstdio>

namespace scanwatch {

Analyzer::Analyzer(DetectorConfig cfg, EventWriter& out, Clock clock, bool human_lines)
    : det_(cfg), out_(out), clock_(clock), human_(human_lines) {}

void Analyzer::on_event(const sw_event& e) {
    count_event(e);
    touched_.insert(Addr::from_bytes(e.saddr));
}

void Analyzer::count_event(const sw_event& e) {
    events_++;
    det_.on_event(e);
}

void Analyzer::flush(const SourceLookup& lookup, uint64_t now_ns) {
    for (const auto& a : touched_) {
        if (auto rec = lookup(a))
            judge(a, *rec, now_ns);
    }
    touched_.clear();
}

size_t Analyzer::sweep(const SourceScan& scan, uint64_t now_ns) {
    touched_.clear();  // the sweep re-judges them all anyway
    det_.begin_sweep();
    size_t n = scan([&](const Addr& a, const sw_source& rec) { judge(a, rec, now_ns); });
    det_.end_sweep();
    det_.expire(now_ns);
    return n;
}

bool Analyzer::judge(const Addr& a, const sw_source& rec, uint64_t now_ns) {
    std::optional<sw_wide> w;
    if (wide && (rec.ports_new >= SW_WIDE_AT || rec.hosts_new >= SW_WIDE_AT))
        w = wide(a);
    auto report = det_.observe(a, rec, now_ns, w ? &*w : nullptr);
    if (!report)
        return false;
    if (repeat && repeat(*report, rec))
        return true;  // no second alert, CrowdSec alert or block attempt for the same verdict
    reports_++;
    std::string action = on_report ? on_report(*report, rec) : "alert";
    out_.write(scan_json(*report, clock_, now_ns, action));
    if (written)
        written(*report, rec);
    if (human_)
        std::fprintf(stderr, "scanwatch: %s%s\n", scan_line(*report).c_str(),
                     action == "block" ? " -> blocked" : "");
    return true;
}

}  // namespace scanwatch
