// The control socket's requests (control/request.hpp parses them): status,
// sources, blocks, block, unblock. One JSON reply each; an exception becomes
// an error reply in the server.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "agent/agent.hpp"
#include "common/version.hpp"

namespace scanwatch {

namespace {
constexpr size_t kStatusWatching = 20;  // not-yet-scanners listed by status
}

nlohmann::json Agent::handle(const nlohmann::json& json) {
    const ControlRequest req = parse_control_request(json);  // throws: an error reply
    const std::string& cmd = req.cmd;
    uint64_t now = mono_now_ns();
    if (cmd == "status")
        return status_reply(now);
    if (cmd == "sources")
        return sources_reply(req.limit, now);
    if (cmd == "blocks") {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& e : blocker_->list())
            arr.push_back(block_json(e, now));
        return {{"ok", true}, {"blocks", arr}};
    }
    if (cmd == "block")
        return block_reply(*req.target, req.ttl_ns, now);
    if (cmd == "unblock")
        return unblock_reply(*req.target, now);
    return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
}

nlohmann::json Agent::status_reply(uint64_t now) {
    nlohmann::json j{{"ok", true}};
    j["version"] = kVersion;
    j["pid"] = getpid();
    j["ifaces"] = o_.ifaces;
    j["xdp_mode"] = kernel_->xdp_mode();
    j["uptime_s"] = (now - start_) / 1e9;
    j["packets"] = kernel_->stat(SW_S_PACKETS);
    j["probes"] = kernel_->stat(SW_S_PROBES);
    j["dropped"] = kernel_->stat(SW_S_DROPPED);
    j["truncated"] = kernel_->stat(SW_S_TRUNCATED);
    j["malformed"] = kernel_->stat(SW_S_MALFORMED);
    j["events"] = kernel_->stat(SW_S_EVENTS);
    j["events_lost"] = kernel_->stat(SW_S_EVENTS_LOST);
    j["sources_in_map"] = in_map_;
    j["max_sources"] = ko_.max_sources;
    j["sources_map_full"] = map_full_;
    j["sources"] = an_->detector().tracked();
    j["scanners"] = an_->detector().scanners_reported();
    j["blocks"] = blocker_->size();
    j["blocks_created"] = blocker_->created_total();
    const Blocker::ShieldCount sh = blocker_->shields_active(now);
    j["shields"] = sh.total();
    j["shields_fast_path"] = sh.fast_path;
    j["shields_created"] = blocker_->shields_created();
    j["blocks_refused_kernel"] = kernel_->stat(SW_S_BLOCKS_REFUSED);
    j["syn_cookies"] = kernel_->stat(SW_S_COOKIES);
    j["cookie_proofs"] = kernel_->stat(SW_S_PROOFS);
    j["block_enabled"] = o_.block;
    j["state_file_error"] = blocker_->save_error().empty() ? nlohmann::json() : nlohmann::json(blocker_->save_error());
    j["last_sweep_ms"] = std::round(last_sweep_ms_ * 100) / 100;
    {
        const MirrorStats& m = mirror_->stats();
        j["mirror"] = {{"tracked", m.tracked},         {"max_tracked", mirror_->limits().max_tracked},
                       {"admitted", m.admitted},       {"found_by_walk", m.found_by_walk},
                       {"evicted", m.evicted},         {"refused", m.refused},
                       {"walk_per_sweep", mirror_->limits().walk_per_sweep},
                       {"walk_passes", m.walk_passes}, {"walk_pass_s", std::round(m.walk_pass_s * 100) / 100}};
    }
    j["crowdsec"] = cs_ ? cs_->status() : nlohmann::json();
    // the sources closest to a verdict and what each lacks
    nlohmann::json watching = nlohmann::json::array();
    for (const auto& r : an_->detector().not_scanners(kStatusWatching))
        watching.push_back({{"src", r.src.str()}, {"score", score_value(r.score)}, {"why_not", r.why_not}});
    j["watching"] = watching;
    return j;
}

nlohmann::json Agent::sources_reply(size_t limit, uint64_t now) {
    std::vector<nlohmann::json> rows;
    kernel_->for_each_source([&](const Addr& a, const sw_source& rec) { rows.push_back(source_json(a, rec, now)); });
    std::stable_sort(rows.begin(), rows.end(), [](const nlohmann::json& x, const nlohmann::json& y) {
        return x["score"].get<double>() > y["score"].get<double>();
    });
    if (rows.size() > limit)
        rows.resize(limit);
    return {{"ok", true},
            {"sources", rows},
            {"packets", kernel_->stat(SW_S_PACKETS)},
            {"dropped", kernel_->stat(SW_S_DROPPED)},
            {"xdp_mode", kernel_->xdp_mode()},
            {"ifaces", o_.ifaces},
            {"blocks", blocker_->size()}};
}

nlohmann::json Agent::unblock_reply(const Cidr& c, uint64_t now) {
    auto existing = blocker_->find(c.addr);
    BlockEntry gone = existing ? *existing : BlockEntry{c, 0, now, SW_BR_MANUAL, "manual"};
    if (!blocker_->remove(c))
        return {{"ok", false}, {"error", c.str() + " is not blocked"}};
    gone.target = c;
    block_event("unblock", gone, "manual", now);
    return {{"ok", true}};
}

nlohmann::json Agent::block_reply(const Cidr& c, std::optional<uint64_t> ttl_ns, uint64_t now) {
    uint64_t ttl = ttl_ns.value_or(blocker_->policy().ttl_ns);
    BlockOutcome r = blocker_->put(c, ttl, SW_BR_MANUAL, "manual", now);
    if (!r) {
        // Logged and counted like any refused block.
        if (!o_.quiet)
            std::fprintf(stderr, "scanwatch: not blocking %s: %s\n", c.str().c_str(), r.error.c_str());
        out_.write(nlohmann::ordered_json{{"event", "block_refused"}, {"src", c.str()}, {"reason", r.error},
                                          {"by", "manual"}, {"ts", rfc3339(clock_.wall(now))}});
        return {{"ok", false}, {"error", r.error}};
    }
    const BlockEntry* e = blocker_->get(c);
    if (r.kind == BlockOutcome::Created)
        block_event("block", *e, "manual", now);
    // A second block of the same target renews its expiry: one block,
    // one event, one count.
    return {{"ok", true},
            {"updated", r.kind == BlockOutcome::Updated},
            {"expires", e->expires_ns ? nlohmann::json(rfc3339(clock_.wall(e->expires_ns))) : nlohmann::json()}};
}

nlohmann::json Agent::block_json(const BlockEntry& e, uint64_t now) const {
    nlohmann::json j;
    j["target"] = e.target.str();
    j["reason"] = e.reason;
    j["manual"] = e.reason_code == SW_BR_MANUAL;
    j["by"] = block_by(e.reason_code);
    j["created"] = rfc3339(clock_.wall(e.created_ns));
    j["expires"] = e.expires_ns ? nlohmann::json(rfc3339(clock_.wall(e.expires_ns))) : nlohmann::json();
    j["ttl_left_s"] = e.expires_ns ? nlohmann::json(e.expires_ns > now ? (e.expires_ns - now) / 1'000'000'000ULL : 0)
                                   : nlohmann::json();
    return j;
}

nlohmann::json Agent::source_json(const Addr& a, const sw_source& rec, uint64_t now) {
    nlohmann::json j;
    auto r = an_->detector().assess(a);
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
    j["first_seen"] = rfc3339(clock_.wall(rec.first_ns));
    j["last_seen"] = rfc3339(clock_.wall(rec.last_ns));
    j["idle_s"] = now > rec.last_ns ? (now - rec.last_ns) / 1e9 : 0.0;
    j["evidence"] = r ? nlohmann::json(r->evidence) : nlohmann::json::object();
    j["rpc_programs"] = r ? r->rpc_programs : std::vector<uint32_t>{};
    const BlockEntry* b = blocker_->find(a);
    j["state"] = b ? "blocked"
               : (rec.flags & SW_SF_SHIELDED) || blocker_->shielded(a) ? "shielded"
               : (r && r->scanner)                                      ? "scanner"
                                                                        : "watching";
    j["block"] = b ? block_json(*b, now) : nlohmann::json();
    return j;
}

}  // namespace scanwatch
