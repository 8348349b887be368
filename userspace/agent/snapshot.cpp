#include "agent/snapshot.hpp"

#include <algorithm>
#include <cmath>

namespace scanwatch {

void sum_stats(AgentSnapshot& s) {
    s.stats.fill(0);
    for (const auto& r : s.rows)
        for (size_t i = 0; i < s.stats.size(); i++)
            s.stats[i] += r.s[i];
}

nlohmann::json status_json(const AgentSnapshot& s) {
    nlohmann::json j{{"ok", true}};
    j["version"] = s.version;
    j["pid"] = s.pid;
    j["ifaces"] = s.ifaces;
    j["xdp_mode"] = s.xdp_mode;
    j["uptime_s"] = (s.now_ns - s.start_ns) / 1e9;
    j["packets"] = s.stat(SW_S_PACKETS);
    j["probes"] = s.stat(SW_S_PROBES);
    j["dropped"] = s.stat(SW_S_DROPPED);
    j["truncated"] = s.stat(SW_S_TRUNCATED);
    j["malformed"] = s.stat(SW_S_MALFORMED);
    j["events"] = s.stat(SW_S_EVENTS);
    j["events_lost"] = s.stat(SW_S_EVENTS_LOST);
    j["sources_in_map"] = s.sources_in_map;
    j["max_sources"] = s.max_sources;
    j["sources_map_full"] = s.sources_map_full;
    j["sources"] = s.sources;
    j["scanners"] = s.scanners;
    j["blocks"] = s.blocks;
    j["blocks_created"] = s.blocks_created;
    j["shields"] = s.shields_agent + s.shields_fast_path;
    j["shields_fast_path"] = s.shields_fast_path;
    j["shields_created"] = s.shields_created;
    j["blocks_refused_kernel"] = s.stat(SW_S_BLOCKS_REFUSED);
    j["syn_cookies"] = s.stat(SW_S_COOKIES);
    j["cookie_proofs"] = s.stat(SW_S_PROOFS);
    j["block_enabled"] = s.block_enabled;
    j["state_file_error"] = s.state_file_error.empty() ? nlohmann::json() : nlohmann::json(s.state_file_error);
    j["last_sweep_ms"] = std::round(s.last_sweep_ms * 100) / 100;
    const MirrorStats& m = s.mirror;
    j["mirror"] = {{"tracked", m.tracked},         {"max_tracked", s.mirror_limits.max_tracked},
                   {"admitted", m.admitted},       {"found_by_walk", m.found_by_walk},
                   {"evicted", m.evicted},         {"evicted_judged", m.evicted_judged},
                   {"refused", m.refused},         {"repeats_held", m.repeats_held},
                   {"remembered", m.remembered},   {"max_remembered", s.mirror_limits.remembered},
                   {"walk_per_sweep", s.mirror_limits.walk_per_sweep},
                   {"walk_passes", m.walk_passes}, {"walk_pass_s", std::round(m.walk_pass_s * 100) / 100}};
    j["crowdsec"] = s.crowdsec;
    return j;
}

nlohmann::json sources_summary_json(const AgentSnapshot& s) {
    return {{"packets", s.stat(SW_S_PACKETS)},
            {"dropped", s.stat(SW_S_DROPPED)},
            {"xdp_mode", s.xdp_mode},
            {"ifaces", s.ifaces},
            {"blocks", s.blocks}};
}

nlohmann::ordered_json started_json(const AgentSnapshot& s) {
    nlohmann::ordered_json j;
    j["event"] = "started";
    j["ifaces"] = s.ifaces;
    j["xdp_mode"] = s.xdp_mode;
    j["block"] = s.block_enabled;
    j["blocks_restored"] = s.blocks;
    j["pin_dir"] = s.pin_dir;
    j["socket"] = s.socket;
    j["crowdsec"] = s.crowdsec.is_object() && s.crowdsec.contains("lapi_url")
                        ? nlohmann::ordered_json(s.crowdsec["lapi_url"])
                        : nlohmann::ordered_json();
    j["ts"] = rfc3339(s.clock.wall(s.start_ns));
    return j;
}

nlohmann::ordered_json stopped_json(const AgentSnapshot& s, const std::string& reason) {
    nlohmann::ordered_json j;
    j["event"] = "stopped";
    j["reason"] = reason;
    j["ts"] = rfc3339(s.clock.wall(s.now_ns));
    j["seconds"] = std::round((s.now_ns - s.start_ns) / 1e6) / 1e3;
    j["packets"] = s.stat(SW_S_PACKETS);
    j["probes"] = s.stat(SW_S_PROBES);
    j["sources"] = s.sources;
    j["scanners"] = s.scanners;
    j["reports"] = s.reports;
    j["events"] = s.events;
    j["events_lost"] = s.stat(SW_S_EVENTS_LOST);
    j["sources_in_map"] = s.sources_in_map;
    j["max_sources"] = s.max_sources;
    j["sources_map_full"] = s.sources_map_full;
    j["dropped"] = s.stat(SW_S_DROPPED);
    j["blocks_active"] = s.blocks;
    j["blocks_created"] = s.blocks_created;
    j["truncated"] = s.stat(SW_S_TRUNCATED);
    j["malformed"] = s.stat(SW_S_MALFORMED);
    j["sweeps"] = s.sweeps;
    return j;
}

void fill_metrics(const AgentSnapshot& s, MetricsSnapshot& m) {
    m.ifaces.clear();
    for (size_t slot = 0; slot < s.slot_names.size() && slot < s.rows.size(); slot++) {
        const auto& row = s.rows[slot].s;
        if (slot != SW_IF_SLOT_OTHER || row[SW_S_PACKETS] || row[SW_S_EGRESS]) {
            MetricsSnapshot::Iface i{s.slot_names[slot], {}};
            std::copy(std::begin(row), std::end(row), i.stats.begin());
            m.ifaces.push_back(std::move(i));
        }
    }
    if (m.maps.size() > 2) {
        m.maps[0].entries = s.sources_in_map;
        m.maps[2].entries = s.blocks;
        if (s.flows_counted)
            m.maps[1].entries = s.flows;
    }
    if (s.shields_counted) {
        m.shields_agent = s.shields_agent;
        m.shields_fast_path = s.shields_fast_path;
    }
    m.shields_created = s.shields_created;
    m.sources_tracked = s.sources;
    m.scanners = s.scanners;
    m.blocks_active = s.blocks;
    m.ring_events_received = s.events;
    m.last_sweep_s = s.last_sweep_ms / 1e3;
    m.mirror = {s.mirror.admitted, s.mirror.found_by_walk, s.mirror.evicted, s.mirror.refused,
                s.mirror.walk_passes, s.mirror.walk_pass_s};
}

}  // namespace scanwatch
