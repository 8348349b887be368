// CrowdSec's Local API (LAPI), the parts without a network: the URL, Go
// durations as the LAPI writes them, decisions from the stream, the alert a
// scan verdict becomes, and the table that turns a stream of decisions into
// blocks (several decisions may ban one target; the block goes with the last).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "scanwatch/addr.hpp"
#include "scanwatch/detector.hpp"

namespace scanwatch::crowdsec {

struct LapiUrl {
    std::string scheme;  // http | https
    std::string host;    // without brackets
    int port = 0;
    std::string base;    // path prefix without the trailing slash ("" for "/")
    // "http://host:port" with brackets for IPv6, what the HTTP client takes.
    std::string origin() const;
};
// Throws std::invalid_argument (one line) for anything but
// http(s)://HOST[:PORT][/PATH/].
LapiUrl parse_lapi_url(const std::string& text);

// Go's time.Duration text: "59m59.55s", "3h59m58.9s", "-11.8ms", "4h". Throws
// std::invalid_argument.
int64_t parse_go_duration_ns(const std::string& text);

struct Decision {
    int64_t id = 0;
    std::string origin, type, scope, value, scenario;
    int64_t duration_ns = 0;  // remaining; <= 0: expired
};
struct StreamBatch {
    std::vector<Decision> added, deleted;
    bool startup = false;  // the full list: anything not in it is stale
    uint64_t fetch_ns = 0, parse_ns = 0;  // how long the request and the parsing took
};
// Which decisions the bouncer pulls: GET /v1/decisions/stream's filters in
// LAPI 1.4.6 (`origins`: exact origin names; `scenarios_containing`: the
// scenario holds one of these words; `scenarios_not_containing`: it holds none;
// words case-insensitive). Sent as query parameters, and applied again to what
// arrives, so a Local API that ignored them still cannot slip a filtered-out
// decision into the block map.
struct DecisionFilter {
    std::vector<std::string> origins, scenarios_containing, scenarios_not_containing;
    bool empty() const { return origins.empty() && scenarios_containing.empty() && scenarios_not_containing.empty(); }
    // "origins=cscli,crowdsec&scenarios_containing=ssh" (percent-encoded; "" when empty).
    std::string query() const;
    bool admits(const std::string& origin, const std::string& scenario) const;
    // "origins cscli,crowdsec; scenarios without 'test'" for the start line.
    std::string describe() const;
};
// Throws std::invalid_argument naming the setting (one line) for an empty
// word, a comma in a word, a non-printable byte, or a word that is both
// wanted and unwanted.
void check_filter(const DecisionFilter& f);

// GET /v1/decisions/stream's body ({"new": [...]|null, "deleted": [...]|null}).
// Entries that are not objects with an id are skipped (counted in `bad`).
StreamBatch parse_stream(const nlohmann::json& body, size_t* bad = nullptr);

// The scenario of a verdict: "scanwatch/syn-scan" for kinds {syn, ...}.
std::string scenario_of(const ScanReport& r);
// One element of POST /v1/alerts. ban_ttl_s: the block's TTL when scanwatch
// blocked the source (0 = never expires: sent as 87600h), nullopt: an alert only.
nlohmann::json alert_json(const ScanReport& r, const std::string& message, uint64_t start_wall_ns,
                          uint64_t stop_wall_ns, std::optional<uint64_t> ban_ttl_s);

// What the bouncer does with decisions: ban decisions of scope Ip or Range
// become blocks until the last decision on their target ends.
class DecisionTable {
public:
    struct Op {
        enum Kind { Put, Lift, Refuse } kind;
        Cidr target;
        uint64_t expires_ns = 0;  // Put: kernel clock
        std::string label;        // Put: "crowdsec: <origin>/<scenario>"
        std::string why;          // Refuse: the reason
        bool sync = false;        // from a full (startup) list
    };
    // New decisions and deletions at now_ns (kernel clock). A startup batch
    // replaces everything: targets not in it are lifted.
    std::vector<Op> apply(const StreamBatch& b, uint64_t now_ns);
    // Decisions the filter does not admit are dropped like ignored ones (and
    // counted in filtered()).
    void set_filter(DecisionFilter f) { filter_ = std::move(f); }
    // Decisions the safety rules refused: dropped here so they are not tried
    // again (and not logged again) until the LAPI sends them anew.
    void forget(const Cidr& target);
    // Active decisions by origin (for the metric), and in all.
    std::map<std::string, uint64_t> by_origin() const;
    size_t size() const { return by_id_.size(); }
    // Whether some decision still bans exactly this target.
    bool holds(const Cidr& target) const { return by_target_.count(target) != 0; }
    // Decisions of scope/type scanwatch does not enforce (captcha, Country, ...).
    uint64_t ignored() const { return ignored_; }
    uint64_t filtered() const { return filtered_; }

private:
    struct Held {
        Cidr target;
        uint64_t expires_ns;
        std::string origin, scenario;
    };
    struct CidrLess {
        bool operator()(const Cidr& a, const Cidr& b) const {
            return std::tie(a.prefix, a.addr) < std::tie(b.prefix, b.addr);
        }
    };
    void drop(int64_t id, std::set<Cidr, CidrLess>& touched);
    std::unordered_map<int64_t, Held> by_id_;
    std::map<Cidr, std::set<int64_t>, CidrLess> by_target_;
    uint64_t ignored_ = 0, filtered_ = 0;
    DecisionFilter filter_;
};

}  // namespace scanwatch::crowdsec
