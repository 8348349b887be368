// The options checked and turned into the parts' settings, at start and at
// SIGHUP.
#include <cmath>
#include <cstdio>

#include "agent/agent.hpp"
#include "config/config.hpp"

namespace scanwatch {

namespace {
std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
        s += (s.empty() ? "" : ", ") + x;
    return s;
}
}  // namespace

XdpMode parse_mode(const std::string& m) {
    if (m == "auto")
        return XdpMode::Auto;
    if (m == "native")
        return XdpMode::Native;
    if (m == "generic")
        return XdpMode::Generic;
    throw UsageError("--xdp-mode must be auto, native or generic, not '" + m + "'");
}

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

// SIGHUP: read the config again. Thresholds, blocking policy, allow list
// and outputs change in place; every source and block is kept. Keys that
// need a restart keep their running value; a bad file changes nothing.
void Agent::reload_config() {
    nlohmann::ordered_json j;
    j["event"] = "reload";
    try {
        if (!reload_)
            throw UsageError("no config to reload");
        RunOptions next = reload_();
        validate(next);
        ConfigDiff d = config_diff(o_, next);
        keep_restart_keys(o_, next);
        BlockPolicy policy = block_policy(next);
        out_.reopen(next.json);  // also after logrotate moved the file away
        an_->detector().set_config(next.det);
        an_->set_human_lines(!next.quiet);
        blocker_->set_policy(policy, local_protected_addresses());
        o_ = std::move(next);
        j["ok"] = true;
        j["changed"] = d.reloaded;
        j["restart_needed"] = d.restart;
        if (!o_.quiet)
            std::fprintf(stderr, "scanwatch: config reloaded (%s)\n",
                         d.reloaded.empty() ? "no change" : ("changed: " + join(d.reloaded)).c_str());
        if (!d.restart.empty())
            warn("changed in the config but needs a restart, keeping the running value: " + join(d.restart));
    } catch (const std::exception& e) {
        j["ok"] = false;
        j["error"] = e.what();
        warn(std::string("reload failed, keeping the running configuration: ") + e.what());
    }
    j["ts"] = rfc3339(clock_.wall(mono_now_ns()));
    out_.write(j);
}

}  // namespace scanwatch
