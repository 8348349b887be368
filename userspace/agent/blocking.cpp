// Verdicts become blocks (or shields, or stay alerts), the block events that
// tell of them, the XDP fast path's blocks adopted, and CrowdSec both ways:
// every verdict goes out as an alert, pulled decisions come in as blocks.
#include <algorithm>
#include <cstdio>

#include "agent/agent.hpp"

namespace scanwatch {

const char* block_by(uint32_t reason_code) {
    switch (reason_code) {
    case SW_BR_MANUAL: return "manual";
    case SW_BR_FAST_PATH: return "fast_path";
    case SW_BR_CROWDSEC: return "crowdsec";
    default: return "detector";
    }
}

void Agent::block_event(const char* kind, const BlockEntry& e, const std::string& why, uint64_t now) {
    nlohmann::ordered_json j;
    j["event"] = kind;
    j["src"] = e.target.prefix == 128 ? e.target.addr.str() : e.target.str();
    j["target"] = e.target.str();
    j["reason"] = why.empty() ? e.reason : why;
    j["by"] = block_by(e.reason_code);
    j["ttl_s"] = e.expires_ns ? nlohmann::ordered_json((e.expires_ns - std::min(e.expires_ns, e.created_ns)) / 1'000'000'000ULL)
                              : nlohmann::ordered_json();
    j["expires"] = e.expires_ns ? nlohmann::ordered_json(rfc3339(clock_.wall(e.expires_ns))) : nlohmann::ordered_json();
    j["ts"] = rfc3339(clock_.wall(now));
    out_.write(j);
    // CrowdSec's blocks come by the thousand: one summary line per pull instead.
    if (!o_.quiet && e.reason_code != SW_BR_CROWDSEC)
        std::fprintf(stderr, "scanwatch: %s %s (%s)\n", kind, j["src"].get<std::string>().c_str(),
                     j["reason"].get<std::string>().c_str());
}

// A report becomes a block when the policy allows it.
void Agent::refused_event(const std::string& src, const std::string& why, const char* by, uint64_t now) {
    if (!o_.quiet)
        std::fprintf(stderr, "scanwatch: not blocking %s: %s\n", src.c_str(), why.c_str());
    nlohmann::ordered_json j{{"event", "block_refused"}, {"src", src}, {"reason", why}, {"by", by},
                             {"ts", rfc3339(clock_.wall(now))}};
    out_.write(j);
}

// A source that cannot prove itself is shielded instead (SYN cookies).
void Agent::shield_event(const Addr& a, const std::string& why, const char* by, uint64_t now) {
    nlohmann::ordered_json j{{"event", "shield"}, {"src", a.str()}, {"reason", why}, {"by", by},
                             {"ttl_s", blocker_->policy().ttl_ns / 1'000'000'000ULL}, {"ts", rfc3339(clock_.wall(now))}};
    out_.write(j);
    if (!o_.quiet)
        std::fprintf(stderr, "scanwatch: shield %s (%s)\n", a.str().c_str(), why.c_str());
}

std::string Agent::decide(const ScanReport& r, const sw_source& rec) {
    Blocker& blocker = *blocker_;
    if (blocker.find(r.src))
        return "block";
    if (auto no = blocker.refuse(r, rec)) {
        // no proof: answered with SYN cookies instead, never dropped
        if (!o_.block || r.score < blocker.policy().block_score || blocker.is_protected(r.src))
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
}

// Every verdict goes to CrowdSec as an alert, with the ban when we blocked.
std::string Agent::on_report(const ScanReport& r, const sw_source& rec) {
    std::string action = decide(r, rec);
    if (cs_) {
        std::optional<uint64_t> ban;
        const BlockEntry* b = action == "block" ? blocker_->find(r.src) : nullptr;
        if (b && b->reason_code != SW_BR_CROWDSEC) {
            uint64_t now = mono_now_ns();
            ban = b->expires_ns ? std::max<uint64_t>(1, (b->expires_ns > now ? b->expires_ns - now : 0) / 1'000'000'000ULL) : 0;
        }
        cs_->alert(r, clock_, ban);
    }
    return action;
}

// A block the XDP fast path made: told like any block, and to CrowdSec as
// an alert with its ban (the detector may never report a source cut off
// after a handful of probes).
void Agent::adopted(const BlockEntry& e, uint64_t now) {
    block_event("block", e, "", now);
    if (cs_ && e.reason_code == SW_BR_FAST_PATH) {
        ScanReport r;
        r.src = e.target.addr;
        r.kinds = {"connect"};  // proven by handshakes on several ports (shield.bpf.h)
        r.tool = "unknown";
        r.score = 1.0;
        r.first_seen_ns = r.last_seen_ns = e.created_ns;
        uint64_t ttl = e.expires_ns ? std::max<uint64_t>(1, (e.expires_ns > now ? e.expires_ns - now : 0) / 1'000'000'000ULL) : 0;
        cs_->alert(r, clock_, ttl);
    }
}

// Blocks the XDP fast path made; the caps hold for them too.
void Agent::adopt(uint64_t now, bool force) {
    std::vector<BlockEntry> refused;
    for (const auto& e : blocker_->adopt_kernel_blocks(now, force, &refused))
        adopted(e, now);
    for (const auto& e : refused)
        refused_event(e.target.prefix == 128 ? e.target.addr.str() : e.target.str(), e.reason, "fast_path", now);
}

// Pulled decisions become blocks; refusals are said once and counted.
void Agent::crowdsec_work(uint64_t now) {
    auto cs_block = [&](const char* kind, const BlockEntry& e, const std::string& why, uint64_t t) {
        (kind[0] == 'b' ? cs_put_ : cs_lifted_)++;
        if (!cs_first_ns_)
            cs_first_ns_ = t;
        block_event(kind, e, why, t);
    };
    auto cs_refused = [&](const Cidr& t, const std::string& label, const std::string& why, uint64_t at) {
        if (!o_.quiet)
            std::fprintf(stderr, "scanwatch: crowdsec: not enforcing the ban on %s (%s): %s\n", t.str().c_str(),
                         label.c_str(), why.c_str());
        out_.write(nlohmann::ordered_json{{"event", "block_refused"}, {"src", t.str()}, {"reason", why},
                                          {"by", "crowdsec"}, {"decision", label}, {"ts", rfc3339(clock_.wall(at))}});
    };
    auto cs_synced = [&](uint64_t added, uint64_t lifted, uint64_t at) {
        size_t in_force = 0;
        for (const auto& e : blocker_->list())
            in_force += e.reason_code == SW_BR_CROWDSEC;
        out_.write(nlohmann::ordered_json{{"event", "crowdsec_sync"}, {"added", added}, {"lifted", lifted},
                                          {"in_force", in_force}, {"ts", rfc3339(clock_.wall(at))}});
        if (!o_.quiet)
            std::fprintf(stderr, "scanwatch: crowdsec: full list applied: %llu new bans, %llu stale lifted, %zu in force\n",
                         static_cast<unsigned long long>(added), static_cast<unsigned long long>(lifted), in_force);
    };
    cs_more_ = cs_->work(*blocker_, now, cs_block, cs_refused, cs_synced);
    if (!cs_more_ && (cs_put_ || cs_lifted_)) {
        if (!o_.quiet)
            std::fprintf(stderr, "scanwatch: crowdsec: %llu bans applied, %llu lifted in %.0f ms (%zu blocks in all)\n",
                         static_cast<unsigned long long>(cs_put_), static_cast<unsigned long long>(cs_lifted_),
                         (mono_now_ns() - cs_first_ns_) / 1e6, blocker_->size());
        cs_put_ = cs_lifted_ = cs_first_ns_ = 0;
    }
}

}  // namespace scanwatch
