#include "metrics/metrics.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace scanwatch {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double v) {
    size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
    counts[i]++;
    sum += v;
    count++;
}

std::string escape_label_value(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {

// Go's strconv-like rendering: integers without exponent, +Inf/-Inf/NaN spelled out.
std::string num(double v) {
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    // the shortest form that reads back as the same double
    for (int prec = 1; prec <= 17; prec++) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v)
            break;
    }
    return buf;
}
std::string num(uint64_t v) { return std::to_string(v); }

using Labels = std::vector<std::pair<std::string, std::string>>;

class Writer {
public:
    void family(const std::string& name, const char* type, const std::string& help) {
        o_ << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
    }
    template <class V>
    void sample(const std::string& name, const Labels& labels, V value) {
        o_ << name;
        if (!labels.empty()) {
            o_ << '{';
            for (size_t i = 0; i < labels.size(); i++)
                o_ << (i ? "," : "") << labels[i].first << "=\"" << escape_label_value(labels[i].second) << '"';
            o_ << '}';
        }
        // seconds to the microsecond: 0.000171, not 0.00017056299999999999
        if constexpr (std::is_floating_point_v<V>)
            if (name.find("seconds") != std::string::npos && std::isfinite(value))
                value = std::round(value * 1e6) / 1e6;
        o_ << ' ' << num(value) << '\n';
    }
    std::string str() const { return o_.str(); }

private:
    std::ostringstream o_;
};

// render_prometheus in groups, in the order the families are exposed.

// Agent version, attach mode and start time.
void render_agent(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_agent_info", "gauge", "Agent version and XDP attach mode (always 1).");
    w.sample("scanwatch_agent_info", {{"version", s.version}, {"xdp_mode", s.xdp_mode}}, uint64_t{1});
    w.family("scanwatch_start_time_seconds", "gauge", "Unix time the agent started.");
    w.sample("scanwatch_start_time_seconds", {}, s.start_time_s);
}

// Per-interface packet counters from the BPF programs.
void render_interfaces(Writer& w, const MetricsSnapshot& s) {
    auto per_iface = [&](const std::string& name, const char* help, const Labels& extra, unsigned idx, bool head) {
        if (head)
            w.family(name, "counter", help);
        for (const auto& i : s.ifaces) {
            Labels l{{"interface", i.name}};
            l.insert(l.end(), extra.begin(), extra.end());
            w.sample(name, l, i.stats[idx]);
        }
    };
    per_iface("scanwatch_packets_total", "Packets seen by the BPF programs, by interface and direction.",
              {{"direction", "ingress"}}, SW_S_PACKETS, true);
    per_iface("scanwatch_packets_total", "", {{"direction", "egress"}}, SW_S_EGRESS, false);
    w.family("scanwatch_dropped_packets_total", "counter",
             "Packets dropped because their source is blocked, by interface and reason.");
    for (const auto& i : s.ifaces) {
        uint64_t egress = i.stats[SW_S_DROPPED_EGRESS];
        uint64_t all = i.stats[SW_S_DROPPED];
        w.sample("scanwatch_dropped_packets_total", {{"interface", i.name}, {"reason", "blocked_ingress"}},
                 all >= egress ? all - egress : 0);
        w.sample("scanwatch_dropped_packets_total", {{"interface", i.name}, {"reason", "blocked_egress_answer"}},
                 egress);
    }
    per_iface("scanwatch_parse_errors_total", "Packets the parser could not read whole (counted and passed).",
              {{"reason", "truncated"}}, SW_S_TRUNCATED, true);
    per_iface("scanwatch_parse_errors_total", "", {{"reason", "malformed"}}, SW_S_MALFORMED, false);
    per_iface("scanwatch_probes_total", "Probe-class packets (anything that opens or pokes), by interface.", {},
              SW_S_PROBES, true);
    per_iface("scanwatch_map_full_total", "Records that could not be created because a map was full.",
              {{"map", "sources"}}, SW_S_SOURCE_FULL, true);
    per_iface("scanwatch_map_full_total", "", {{"map", "flows"}}, SW_S_FLOW_FULL, false);
}

// Ring-buffer traffic, summed over interfaces.
void render_ringbuf(Writer& w, const MetricsSnapshot& s) {
    uint64_t ev = 0, lost = 0, limited = 0;
    for (const auto& i : s.ifaces) {
        ev += i.stats[SW_S_EVENTS];
        lost += i.stats[SW_S_EVENTS_LOST];
        limited += i.stats[SW_S_EVENTS_LIMITED];
    }
    w.family("scanwatch_ringbuf_events_total", "counter", "Ring-buffer events written by the BPF programs.");
    w.sample("scanwatch_ringbuf_events_total", {}, ev);
    w.family("scanwatch_ringbuf_dropped_total", "counter", "Ring-buffer events not delivered, by reason.");
    w.sample("scanwatch_ringbuf_dropped_total", {{"reason", "full"}}, lost);
    w.sample("scanwatch_ringbuf_dropped_total", {{"reason", "rate_limited"}}, limited);
    w.family("scanwatch_ringbuf_events_received_total", "counter", "Ring-buffer events read by the agent.");
    w.sample("scanwatch_ringbuf_events_received_total", {}, s.ring_events_received);
}

// Detector state and BPF map occupancy.
void render_maps(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_sources_tracked", "gauge", "Sources the detector currently holds state for.");
    w.sample("scanwatch_sources_tracked", {}, s.sources_tracked);
    w.family("scanwatch_map_entries", "gauge", "Entries in a BPF map.");
    for (const auto& m : s.maps)
        w.sample("scanwatch_map_entries", {{"map", m.map}}, m.entries);
    w.family("scanwatch_map_capacity", "gauge", "Maximum entries of a BPF map.");
    for (const auto& m : s.maps)
        w.sample("scanwatch_map_capacity", {{"map", m.map}}, m.capacity);
}

// Scanner verdicts and scan events.
void render_detection(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_scanners_total", "counter", "Sources judged scanners.");
    w.sample("scanwatch_scanners_total", {}, s.scanners);
    w.family("scanwatch_scans_total", "counter",
             "Detections by scan kind: a source counts once per kind it is first reported with.");
    for (const auto& [k, v] : s.scans_by_kind)
        w.sample("scanwatch_scans_total", {{"kind", k}}, v);
    w.family("scanwatch_scan_events_total", "counter", "scan events written (first reports and updates).");
    w.sample("scanwatch_scan_events_total", {}, s.scan_events);
}

// Blocks and shields.
void render_blocking(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_blocks_active", "gauge", "Blocks in force.");
    w.sample("scanwatch_blocks_active", {}, s.blocks_active);
    w.family("scanwatch_blocks_created_total", "counter", "Blocks created, by who made them.");
    for (const char* r : {"detector", "manual", "fast_path", "crowdsec"}) {
        auto it = s.blocks_created.find(r);
        w.sample("scanwatch_blocks_created_total", {{"reason", r}}, it == s.blocks_created.end() ? 0 : it->second);
    }
    w.family("scanwatch_blocks_refused_total", "counter", "Blocks the safety rules or caps refused.");
    w.sample("scanwatch_blocks_refused_total", {}, s.blocks_refused);
    w.family("scanwatch_unblocks_total", "counter", "Blocks removed (expired or by hand).");
    w.sample("scanwatch_unblocks_total", {}, s.unblocks);
    w.family("scanwatch_shields_active", "gauge",
             "Sources under the shield (their SYNs answered with SYN cookies), by who made the shield.");
    w.sample("scanwatch_shields_active", {{"made_by", "agent"}}, s.shields_agent);
    w.sample("scanwatch_shields_active", {{"made_by", "fast_path"}}, s.shields_fast_path);
    w.family("scanwatch_shields_created_total", "counter",
             "Shields the agent made: verdicts on sources that proved nothing, so not blocked.");
    w.sample("scanwatch_shields_created_total", {}, s.shields_created);
}

// CrowdSec bouncer figures (only when enabled).
void render_crowdsec(Writer& w, const MetricsSnapshot& s) {
    if (s.crowdsec.enabled) {
        const auto& c = s.crowdsec;
        w.family("scanwatch_crowdsec_lapi_up", "gauge", "1 when CrowdSec's Local API answered the last request.");
        w.sample("scanwatch_crowdsec_lapi_up", {}, uint64_t(c.reachable ? 1 : 0));
        w.family("scanwatch_crowdsec_alerts_pushed_total", "counter", "Alerts the Local API accepted.");
        w.sample("scanwatch_crowdsec_alerts_pushed_total", {}, c.alerts_pushed);
        w.family("scanwatch_crowdsec_alerts_failed_total", "counter", "Pushes of alerts that failed (the alerts stay queued and are retried).");
        w.sample("scanwatch_crowdsec_alerts_failed_total", {}, c.alerts_failed);
        w.family("scanwatch_crowdsec_alerts_queued", "gauge", "Alerts waiting for the Local API.");
        w.sample("scanwatch_crowdsec_alerts_queued", {}, c.alerts_queued);
        w.family("scanwatch_crowdsec_alerts_dropped_total", "counter", "Alerts dropped because the queue was full.");
        w.sample("scanwatch_crowdsec_alerts_dropped_total", {}, c.alerts_dropped);
        w.family("scanwatch_crowdsec_decisions_active", "gauge", "Ban decisions pulled and in force, by origin.");
        for (const auto& [origin, n] : c.decisions_by_origin)
            w.sample("scanwatch_crowdsec_decisions_active", {{"origin", origin}}, n);
        w.family("scanwatch_crowdsec_decisions_refused_total", "counter",
                 "Decisions the safety rules refused (allow list, own addresses, gateways, loopback).");
        w.sample("scanwatch_crowdsec_decisions_refused_total", {}, c.refused);
        w.family("scanwatch_crowdsec_last_pull_timestamp_seconds", "gauge", "Unix time of the last good pull.");
        w.sample("scanwatch_crowdsec_last_pull_timestamp_seconds", {}, c.last_pull_s);
    }
}

// The latest sweep and the hot-source mirror.
void render_mirror(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_sweep_last_seconds", "gauge",
             "Duration of the latest sweep: the tracked (hot) sources read by key and one slice of the walk.");
    w.sample("scanwatch_sweep_last_seconds", {}, s.last_sweep_s);
    w.family("scanwatch_mirror_sources_total", "counter", "Hot sources the agent started mirroring, by how it found them.");
    w.sample("scanwatch_mirror_sources_total", {{"found_by", "event"}}, s.mirror.admitted - std::min(s.mirror.admitted, s.mirror.found_by_walk));
    w.sample("scanwatch_mirror_sources_total", {{"found_by", "walk"}}, s.mirror.found_by_walk);
    w.family("scanwatch_mirror_evicted_total", "counter", "Mirrored sources that gave their slot to a newcomer (settled scanners, or less evidence and no proof).");
    w.sample("scanwatch_mirror_evicted_total", {}, s.mirror.evicted);
    w.family("scanwatch_mirror_refused_total", "counter", "Hot sources not mirrored: every slot held more evidence, proof or an active scanner.");
    w.sample("scanwatch_mirror_refused_total", {}, s.mirror.refused);
    w.family("scanwatch_mirror_walk_passes_total", "counter", "Complete passes of the background walk over the sources map.");
    w.sample("scanwatch_mirror_walk_passes_total", {}, s.mirror.walk_passes);
    w.family("scanwatch_mirror_walk_pass_seconds", "gauge",
             "Duration of the latest complete walk pass: the longest a hot source whose event was lost waits.");
    w.sample("scanwatch_mirror_walk_pass_seconds", {}, s.mirror.walk_pass_s);
}

// Sweep durations as a histogram.
void render_sweep_histogram(Writer& w, const MetricsSnapshot& s) {
    w.family("scanwatch_sweep_duration_seconds", "histogram", "Durations of sweeps (tracked sources and one walk slice).");
    uint64_t cum = 0;
    for (size_t i = 0; i < s.sweep.bounds.size(); i++) {
        cum += s.sweep.counts[i];
        w.sample("scanwatch_sweep_duration_seconds_bucket", {{"le", num(s.sweep.bounds[i])}}, cum);
    }
    w.sample("scanwatch_sweep_duration_seconds_bucket", {{"le", "+Inf"}}, s.sweep.count);
    w.sample("scanwatch_sweep_duration_seconds_sum", {}, s.sweep.sum);
    w.sample("scanwatch_sweep_duration_seconds_count", {}, s.sweep.count);
}

}  // namespace

std::string render_prometheus(const MetricsSnapshot& s) {
    Writer w;
    render_agent(w, s);
    render_interfaces(w, s);
    render_ringbuf(w, s);
    render_maps(w, s);
    render_detection(w, s);
    render_blocking(w, s);
    render_crowdsec(w, s);
    render_mirror(w, s);
    render_sweep_histogram(w, s);
    return w.str();
}

ListenAddress parse_listen_address(const std::string& s) {
    auto bad = [&](const std::string& why) {
        return std::invalid_argument("'" + s + "' is not ADDR:PORT or [IPv6]:PORT (" + why + ")");
    };
    ListenAddress a;
    std::string port;
    if (!s.empty() && s[0] == '[') {
        auto close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
            throw bad("missing ']:'");
        a.host = s.substr(1, close - 1);
        port = s.substr(close + 2);
        a.ipv6 = true;
        in6_addr tmp{};
        if (inet_pton(AF_INET6, a.host.c_str(), &tmp) != 1)
            throw bad("'" + a.host + "' is not an IPv6 address");
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string::npos)
            throw bad("no port");
        a.host = s.substr(0, colon);
        port = s.substr(colon + 1);
        in_addr tmp{};
        if (a.host.find(':') != std::string::npos)
            throw bad("IPv6 addresses go in brackets");
        if (inet_pton(AF_INET, a.host.c_str(), &tmp) != 1)
            throw bad("'" + a.host + "' is not an IPv4 address");
    }
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw bad("bad port");
    a.port = std::stoi(port);
    if (a.port < 1 || a.port > 65535)
        throw bad("port must be 1-65535");
    return a;
}

void EventTally::on_event(const nlohmann::ordered_json& e) {
    const std::string type = e.value("event", "");
    if (type == "scan") {
        scan_events_++;
        const std::string src = e.value("src", "");
        auto it = seen_.find(src);
        if (it == seen_.end()) {
            if (seen_.size() >= max_sources_)
                seen_.clear();  // bounded memory: a source seen again after this counts again
            it = seen_.emplace(src, std::vector<std::string>{}).first;
        }
        if (e.contains("kinds") && e["kinds"].is_array())
            for (const auto& k : e["kinds"]) {
                if (!k.is_string())
                    continue;
                const std::string kind = k.get<std::string>();
                if (std::find(it->second.begin(), it->second.end(), kind) != it->second.end())
                    continue;
                it->second.push_back(kind);
                kinds_[kind]++;
            }
    } else if (type == "block") {
        blocks_[e.value("by", "detector")]++;
    } else if (type == "unblock") {
        unblocks_++;
    } else if (type == "block_refused") {
        refused_++;
    }
}

void EventTally::fill(MetricsSnapshot& s) const {
    s.scans_by_kind = kinds_;
    s.blocks_created = blocks_;
    s.scan_events = scan_events_;
    s.blocks_refused = refused_;
    s.unblocks = unblocks_;
}

}  // namespace scanwatch
