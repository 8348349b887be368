// The agent's side of CrowdSec: options checked and secrets read at start,
// verdicts turned into alerts, pulled decisions turned into blocks (in slices,
// so a 100,000-decision start-up never stalls the loop), the reconcile after a
// restart, and the figures for status and metrics. Lives on the agent's
// thread; the network is the Client's threads.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "block/blocker.hpp"
#include "common/errors.hpp"
#include "config/options.hpp"
#include "crowdsec/client.hpp"
#include "crowdsec/lapi.hpp"
#include "metrics/metrics.hpp"

namespace scanwatch::crowdsec {

// A secret from a file: a regular file that only its owner may read or
// write, trimmed, not empty. Throws UsageError naming `what` (never the secret).
std::string read_secret_file(const std::string& path, const std::string& what);

class Link {
public:
    using BlockEvent = std::function<void(const char* kind, const BlockEntry& e, const std::string& why, uint64_t now)>;
    using Refused = std::function<void(const Cidr& target, const std::string& label, const std::string& why, uint64_t now)>;
    // A full list was applied: `added` blocks made from it (told in one
    // event, not one each: a community list is 100,000 of them), `lifted`
    // stale ones (told one by one).
    using Synced = std::function<void(uint64_t added, uint64_t lifted, uint64_t now)>;

    // nullptr when [crowdsec] is not configured. Throws UsageError for a
    // malformed URL, a missing or unsafe secret file, a machine without a
    // password. `warn` takes one line.
    static std::unique_ptr<Link> from_options(const RunOptions& o, const std::function<void(const std::string&)>& warn);

    int event_fd() const { return client_->event_fd(); }
    // Takes what the puller brought and applies up to `budget` decisions to
    // the block list; true when more wait (call again soon).
    bool work(Blocker& b, uint64_t now, const BlockEvent& on_block, const Refused& on_refused, const Synced& on_sync,
              size_t budget = 20000);
    // A verdict: an alert, with the ban when scanwatch blocked the source.
    void alert(const ScanReport& r, const Clock& clock, std::optional<uint64_t> ban_ttl_s);
    void fill(MetricsSnapshot::CrowdSec& m) const;
    nlohmann::json status() const;
    // One line for the start: what is on.
    std::string describe() const;

private:
    explicit Link(ClientOptions o, const std::function<void(const std::string&)>& warn);
    ClientOptions opts_;
    std::unique_ptr<Client> client_;
    DecisionTable table_;
    std::deque<DecisionTable::Op> ops_;
    bool reconcile_after_ops_ = false;  // the startup list is being applied
    uint64_t synced_ = 0;               // blocks made from it so far
    uint64_t refused_ = 0;
    std::function<void(const std::string&)> warn_;
};

}  // namespace scanwatch::crowdsec
