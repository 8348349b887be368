#include "crowdsec/link.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace scanwatch::crowdsec {

std::string read_secret_file(const std::string& path, const std::string& what) {
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        throw UsageError(what + ": cannot read '" + path + "': " + std::strerror(errno));
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        throw UsageError(what + ": '" + path + "' is not a regular file");
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
        throw UsageError(what + ": '" + path + "' has mode " + mode +
                         "; a secret must be readable by its owner only (chmod 600)");
    }
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 && text.size() < 65536)
        text.append(buf, static_cast<size_t>(n));
    close(fd);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.pop_back();
    size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start])))
        start++;
    text.erase(0, start);
    if (text.empty())
        throw UsageError(what + ": '" + path + "' is empty");
    if (text.find_first_of("\r\n") != std::string::npos)
        throw UsageError(what + ": '" + path + "' holds more than one line");
    return text;
}

std::unique_ptr<Link> Link::from_options(const RunOptions& o, const std::function<void(const std::string&)>& warn) {
    const bool any = !o.crowdsec_machine.empty() || !o.crowdsec_password_file.empty() || !o.crowdsec_password.empty() ||
                     !o.crowdsec_key_file.empty() || !o.crowdsec_key.empty() || !o.crowdsec_origins.empty() ||
                     !o.crowdsec_scenarios_containing.empty() || !o.crowdsec_scenarios_not_containing.empty();
    if (o.crowdsec_url.empty()) {
        if (any)
            throw UsageError("--crowdsec-url (crowdsec.lapi_url) is needed with the other CrowdSec settings");
        return nullptr;
    }
    ClientOptions c;
    try {
        c.url = parse_lapi_url(o.crowdsec_url);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--crowdsec-url: ") + e.what());
    }
    if (o.crowdsec_pull_interval_ns < 1'000'000'000ULL || o.crowdsec_pull_interval_ns > 3600'000'000'000ULL)
        throw UsageError("--crowdsec-pull-interval must be between 1s and 1h");
    c.pull_interval_ns = o.crowdsec_pull_interval_ns;
    c.machine_id = o.crowdsec_machine;
    if (!c.machine_id.empty()) {
        if (!o.crowdsec_password_file.empty())
            c.password = read_secret_file(o.crowdsec_password_file, "--crowdsec-password-file");
        else if (!o.crowdsec_password.empty()) {
            c.password = o.crowdsec_password;
            warn("crowdsec.machine_password is written in the config file; keep it in machine_password_file "
                 "(mode 600) instead");
        } else
            throw UsageError("--crowdsec-machine " + c.machine_id +
                             " needs --crowdsec-password-file (crowdsec.machine_password_file)");
    } else if (!o.crowdsec_password_file.empty() || !o.crowdsec_password.empty()) {
        throw UsageError("a CrowdSec machine password without --crowdsec-machine (crowdsec.machine_id)");
    }
    if (!o.crowdsec_key_file.empty())
        c.bouncer_key = read_secret_file(o.crowdsec_key_file, "--crowdsec-key-file");
    else if (!o.crowdsec_key.empty()) {
        c.bouncer_key = o.crowdsec_key;
        warn("crowdsec.bouncer_key is written in the config file; keep it in bouncer_key_file (mode 600) instead");
    }
    c.filter = DecisionFilter{o.crowdsec_origins, o.crowdsec_scenarios_containing, o.crowdsec_scenarios_not_containing};
    try {
        check_filter(c.filter);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (!c.filter.empty() && c.bouncer_key.empty())
        throw UsageError("the CrowdSec decision filters need --crowdsec-key-file (crowdsec.bouncer_key_file): "
                         "they choose which decisions are pulled");
    if (c.machine_id.empty() && c.bouncer_key.empty())
        throw UsageError("--crowdsec-url needs --crowdsec-machine (push alerts) or --crowdsec-key-file (pull "
                         "decisions), or both");
    return std::unique_ptr<Link>(new Link(std::move(c), warn));
}

Link::Link(ClientOptions o, const std::function<void(const std::string&)>& warn) : opts_(o), warn_(warn) {
    table_.set_filter(opts_.filter);
    client_ = std::make_unique<Client>(std::move(o), warn);
}

std::string Link::describe() const {
    std::string s = "crowdsec: Local API " + opts_.url.origin() + opts_.url.base;
    if (client_->pushing())
        s += ", pushing alerts as machine '" + opts_.machine_id + "'";
    if (client_->pulling())
        s += ", pulling decisions every " + std::to_string(opts_.pull_interval_ns / 1'000'000'000ULL) + "s" +
             (opts_.filter.empty() ? "" : " (" + opts_.filter.describe() + ")");
    return s;
}

bool Link::work(Blocker& b, uint64_t now, const BlockEvent& on_block, const Refused& on_refused, const Synced& on_sync,
                size_t budget) {
    for (auto& batch : client_->take()) {
        if (batch.startup) {
            ops_.clear();  // the startup list replaces everything before it
            reconcile_after_ops_ = true;
            synced_ = 0;
            if (batch.added.size() >= 10000)
                warn_("crowdsec: full list of " + std::to_string(batch.added.size()) + " decisions: the Local API took " +
                      std::to_string(batch.fetch_ns / 1'000'000) + " ms to send it, parsing " +
                      std::to_string(batch.parse_ns / 1'000'000) + " ms");
        }
        for (auto& op : table_.apply(batch, now))
            ops_.push_back(std::move(op));
    }
    size_t done = 0;
    b.hold_config(true);
    while (!ops_.empty() && done < budget) {
        DecisionTable::Op op = std::move(ops_.front());
        ops_.pop_front();
        done++;
        const BlockEntry* have = b.get(op.target);
        if (op.kind == DecisionTable::Op::Lift) {
            // Only what CrowdSec put there: a local block on the same target stays.
            if (have && have->reason_code == SW_BR_CROWDSEC) {
                BlockEntry gone = *have;
                b.remove(op.target);
                on_block("unblock", gone, "crowdsec: decision deleted", now);
            }
            continue;
        }
        if (have && have->reason_code != SW_BR_CROWDSEC)
            continue;  // blocked locally already; the local block keeps its own expiry
        uint64_t ttl = op.expires_ns > now ? op.expires_ns - now : 1;
        BlockOutcome r;
        try {
            r = b.put(op.target, ttl, SW_BR_CROWDSEC, op.label, now);
        } catch (const std::exception& e) {  // the kernel map is full: refused like the cap
            r = BlockOutcome{BlockOutcome::Refused, e.what()};
        }
        if (!r) {
            refused_++;
            table_.forget(op.target);
            on_refused(op.target, op.label, r.error, now);
            continue;
        }
        if (op.sync && r.kind == BlockOutcome::Created)
            synced_++;
        else if (r.kind == BlockOutcome::Created || (have && have->reason != op.label))
            on_block("block", *b.get(op.target), op.label, now);
    }
    b.hold_config(false);
    if (ops_.empty() && reconcile_after_ops_) {
        // After a restart the pinned map still holds the decisions of the last
        // run: whatever the startup list no longer has is stale.
        reconcile_after_ops_ = false;
        uint64_t lifted = 0;
        for (const auto& e : b.list())
            if (e.reason_code == SW_BR_CROWDSEC && !table_.holds(e.target)) {
                b.remove(e.target);
                on_block("unblock", e, "crowdsec: no longer decided", now);
                lifted++;
            }
        on_sync(synced_, lifted, now);
        synced_ = 0;
    }
    return !ops_.empty();
}

void Link::alert(const ScanReport& r, const Clock& clock, std::optional<uint64_t> ban_ttl_s) {
    if (!client_->pushing())
        return;
    client_->push(alert_json(r, scan_line(r), clock.wall(r.first_seen_ns), clock.wall(r.last_seen_ns), ban_ttl_s));
}

void Link::fill(MetricsSnapshot::CrowdSec& m) const {
    ClientStats s = client_->stats();
    m.enabled = true;
    m.reachable = s.reachable;
    m.alerts_pushed = s.pushed;
    m.alerts_failed = s.failed;
    m.alerts_queued = s.queued;
    m.alerts_dropped = s.dropped;
    m.last_pull_s = s.last_pull_s;
    m.decisions_by_origin = table_.by_origin();
    m.refused = refused_;
}

nlohmann::json Link::status() const {
    ClientStats s = client_->stats();
    nlohmann::json j;
    j["lapi_url"] = opts_.url.origin() + opts_.url.base + "/";
    j["reachable"] = s.reachable;
    j["push"] = client_->pushing();
    j["pull"] = client_->pulling();
    j["alerts_pushed"] = s.pushed;
    j["alerts_failed"] = s.failed;
    j["alerts_queued"] = s.queued;
    j["alerts_dropped"] = s.dropped;
    j["pulls"] = s.pulls;
    j["decisions"] = table_.size();
    j["decisions_pending"] = ops_.size();
    j["decisions_refused"] = refused_;
    j["decisions_filtered"] = table_.filtered();
    j["filter"] = nlohmann::json{{"origins", opts_.filter.origins},
                                 {"scenarios_containing", opts_.filter.scenarios_containing},
                                 {"scenarios_not_containing", opts_.filter.scenarios_not_containing}};
    j["last_pull"] = s.last_pull_s > 0 ? nlohmann::json(rfc3339(static_cast<uint64_t>(s.last_pull_s * 1e9))) : nlohmann::json();
    return j;
}

}  // namespace scanwatch::crowdsec
