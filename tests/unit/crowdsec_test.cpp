// CrowdSec without a network: the URL, Go durations as LAPI 1.4.6 writes
// them, the stream's JSON (captured from a 1.4.6 LAPI), the alert we push, and
// the decision table (several decisions on one target, deletions sent again,
// startup lists that replace everything).
#include <gtest/gtest.h>

#include "crowdsec/lapi.hpp"

using namespace scanwatch;
using namespace scanwatch::crowdsec;

namespace {
constexpr int64_t kS = 1'000'000'000LL;
}

TEST(CrowdSecUrl, AcceptsWhatTheLapiListensOn) {
    auto u = parse_lapi_url("http://127.0.0.1:8080/");
    EXPECT_EQ(u.origin(), "http://127.0.0.1:8080");
    EXPECT_EQ(u.base, "");
    auto v6 = parse_lapi_url("https://[2001:2::10]/crowdsec/");
    EXPECT_EQ(v6.origin(), "https://[2001:2::10]:443");
    EXPECT_EQ(v6.base, "/crowdsec");
    EXPECT_EQ(parse_lapi_url("http://lapi.example:8081").port, 8081);
}

TEST(CrowdSecUrl, RefusesMalformedOnes) {
    for (const char* bad : {"", "127.0.0.1:8080", "htp://x:1/", "http://", "http://:8080/", "http://h:0/",
                            "http://h:65536/", "http://h:80x/", "http://[2001:2::1/", "http://h:8080/?a=1",
                            "http://a b/", "http://h:/"})
        EXPECT_THROW(parse_lapi_url(bad), std::invalid_argument) << bad;
}

TEST(CrowdSecDuration, ReadsGoDurations) {
    EXPECT_EQ(parse_go_duration_ns("4h"), 4 * 3600 * kS);
    EXPECT_EQ(parse_go_duration_ns("59m59.554554596s"), 3599 * kS + 554554596);
    EXPECT_EQ(parse_go_duration_ns("3h59m58.947818532s"), (3 * 3600 + 59 * 60 + 58) * kS + 947818532);
    EXPECT_EQ(parse_go_duration_ns("-11.869954ms"), -11869954);
    EXPECT_EQ(parse_go_duration_ns("1.5us"), 1500);
    EXPECT_EQ(parse_go_duration_ns("0"), 0);
    for (const char* bad : {"", "h", "5", "5d", "1h-2m", "--1s", "1.2.3s"})
        EXPECT_THROW(parse_go_duration_ns(bad), std::invalid_argument) << bad;
}

TEST(CrowdSecStream, ParsesWhatLapi146Sends) {
    // As GET /v1/decisions/stream answered on Debian's 1.4.6.
    auto j = nlohmann::json::parse(R"({"deleted":[{"duration":"-11.869954ms","id":2,"origin":"cscli",
        "scenario":"manual 'ban' from 'cscli'","scope":"Ip","type":"ban","value":"198.18.2.2"}],
        "new":[{"duration":"59m59.554554596s","id":4,"origin":"cscli-import","scenario":"manual","scope":"Ip",
        "type":"ban","value":"198.18.3.1"},{"duration":"3h59m58.9s","id":3,"origin":"cscli",
        "scenario":"manual 'ban' from 'cscli'","scope":"Range","type":"ban","value":"2001:2:0:5::/64"},
        {"id":"x"}]})");
    size_t bad = 0;
    StreamBatch b = parse_stream(j, &bad);
    EXPECT_EQ(bad, 1u);
    ASSERT_EQ(b.added.size(), 2u);
    ASSERT_EQ(b.deleted.size(), 1u);
    EXPECT_EQ(b.added[1].scope, "Range");
    EXPECT_EQ(b.added[1].value, "2001:2:0:5::/64");
    EXPECT_EQ(b.deleted[0].id, 2);
    auto empty = parse_stream(nlohmann::json::parse(R"({"deleted":null,"new":null})"));
    EXPECT_TRUE(empty.added.empty() && empty.deleted.empty());
    EXPECT_THROW(parse_stream(nlohmann::json::array()), std::invalid_argument);
}

static Decision dec(int64_t id, const std::string& value, int64_t dur_s, const std::string& scope = "Ip",
                    const std::string& type = "ban", const std::string& origin = "cscli",
                    const std::string& scenario = "manual") {
    Decision d;
    d.id = id;
    d.value = value;
    d.scope = scope;
    d.type = type;
    d.origin = origin;
    d.scenario = scenario;
    d.duration_ns = dur_s * kS;
    return d;
}

TEST(CrowdSecTable, TheLastDecisionOnATargetHoldsTheBlock) {
    DecisionTable t;
    StreamBatch b;
    b.startup = true;
    b.added = {dec(1, "198.18.5.5", 60), dec(2, "198.18.5.5", 600, "Ip", "ban", "crowdsec"),
               dec(3, "2001:2::/48", 60, "Range"), dec(4, "198.18.6.6", 60, "Ip", "captcha"),
               dec(5, "FR", 60, "Country"), dec(6, "not-an-ip", 60)};
    auto ops = t.apply(b, 1000 * kS);
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_EQ(t.ignored(), 3u);
    for (const auto& op : ops) {
        EXPECT_EQ(op.kind, DecisionTable::Op::Put);
        if (op.target.str() == "198.18.5.5/32") {
            EXPECT_EQ(op.expires_ns, uint64_t(1600 * kS));
            EXPECT_EQ(op.label, "crowdsec: crowdsec/manual");
        }
    }
    // The longer one is deleted: the block goes on with the shorter one.
    StreamBatch del;
    del.deleted = {dec(2, "198.18.5.5", -1)};
    ops = t.apply(del, 1001 * kS);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, DecisionTable::Op::Put);
    EXPECT_EQ(ops[0].expires_ns, uint64_t(1060 * kS));
    // LAPI 1.4.6 sends a deletion again on later pulls: nothing happens.
    EXPECT_TRUE(t.apply(del, 1002 * kS).empty());
    del.deleted = {dec(1, "198.18.5.5", -1)};
    ops = t.apply(del, 1003 * kS);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, DecisionTable::Op::Lift);
    EXPECT_EQ(t.by_origin().at("cscli"), 1u);  // the range
}

TEST(CrowdSecTable, AStartupListReplacesEverything) {
    DecisionTable t;
    StreamBatch first;
    first.startup = true;
    first.added = {dec(1, "198.18.5.5", 60), dec(2, "198.18.7.0/24", 60, "Range")};
    t.apply(first, 0);
    StreamBatch again;
    again.startup = true;
    again.added = {dec(9, "198.18.7.0/24", 60, "Range")};
    auto ops = t.apply(again, 0);
    ASSERT_EQ(ops.size(), 2u);
    int puts = 0, lifts = 0;
    for (const auto& op : ops)
        (op.kind == DecisionTable::Op::Put ? puts : lifts)++;
    EXPECT_EQ(puts, 1);
    EXPECT_EQ(lifts, 1);
    EXPECT_FALSE(t.holds(Cidr::parse("198.18.5.5")));
    EXPECT_TRUE(t.holds(Cidr::parse("198.18.7.0/24")));
    t.forget(Cidr::parse("198.18.7.0/24"));
    EXPECT_EQ(t.size(), 0u);
}

TEST(CrowdSecAlert, CarriesTheVerdictAndTheBan) {
    ScanReport r;
    r.src = *Addr::parse("2001:2::2");
    r.kinds = {"syn", "rpc"};
    r.tool = "nmap";
    r.ports = 1000;
    r.hosts = 1;
    r.probes = 1010;
    r.score = 0.999;
    auto a = alert_json(r, "msg", 1'700'000'000'000'000'000ULL, 1'700'000'001'000'000'000ULL, 3600);
    EXPECT_EQ(a["scenario"], "scanwatch/syn-scan");
    EXPECT_EQ(a["source"]["scope"], "Ip");
    EXPECT_EQ(a["source"]["value"], "2001:2::2");
    EXPECT_EQ(a["events_count"], 1010);
    EXPECT_EQ(a["remediation"], true);
    ASSERT_EQ(a["decisions"].size(), 1u);
    EXPECT_EQ(a["decisions"][0]["origin"], "scanwatch");
    EXPECT_EQ(a["decisions"][0]["type"], "ban");
    EXPECT_EQ(a["decisions"][0]["duration"], "3600s");
    bool ports = false;
    for (const auto& m : a["meta"])
        ports |= m["key"] == "ports" && m["value"] == "1000";
    EXPECT_TRUE(ports);
    // The fields LAPI 1.4.6's swagger requires.
    for (const char* f : {"scenario", "scenario_hash", "scenario_version", "message", "events_count", "start_at",
                          "stop_at", "capacity", "leakspeed", "simulated", "events", "source"})
        EXPECT_TRUE(a.contains(f)) << f;
    // An alert only: no decision, and no remediation for the LAPI's profiles to act on.
    auto only = alert_json(r, "msg", 0, 0, std::nullopt);
    EXPECT_TRUE(only["decisions"].empty());
    EXPECT_EQ(only["remediation"], false);
}

TEST(CrowdSecFilter, QueryIsWhatLapi146Reads) {
    DecisionFilter f;
    EXPECT_EQ(f.query(), "");
    f.origins = {"cscli", "crowdsec"};
    f.scenarios_containing = {"ssh", "manual 'ban'"};
    f.scenarios_not_containing = {"a&b=c"};
    EXPECT_EQ(f.query(), "origins=cscli,crowdsec&scenarios_containing=ssh,manual%20%27ban%27"
                         "&scenarios_not_containing=a%26b%3Dc");
}

TEST(CrowdSecFilter, AdmitsLikeTheLapi) {
    DecisionFilter f;
    EXPECT_TRUE(f.admits("anything", "any/thing"));
    f.origins = {"cscli", "CAPI"};
    EXPECT_TRUE(f.admits("cscli", "x"));
    EXPECT_FALSE(f.admits("capi", "x"));  // origins: exact
    EXPECT_FALSE(f.admits("cscli-import", "x"));
    f.origins.clear();
    f.scenarios_containing = {"SSH", "scan"};
    f.scenarios_not_containing = {"test"};
    EXPECT_TRUE(f.admits("o", "crowdsecurity/ssh-bf"));  // words: case-insensitive
    EXPECT_TRUE(f.admits("o", "scanwatch/syn-scan"));
    EXPECT_FALSE(f.admits("o", "crowdsecurity/http-probing"));
    EXPECT_FALSE(f.admits("o", "crowdsecurity/ssh-TEST"));
}

TEST(CrowdSecFilter, RefusesBadWords) {
    DecisionFilter f;
    EXPECT_NO_THROW(check_filter(f));
    f.origins = {"cscli", ""};
    EXPECT_THROW(check_filter(f), std::invalid_argument);
    f.origins = {"a,b"};
    EXPECT_THROW(check_filter(f), std::invalid_argument);
    f.origins = {" cscli"};
    EXPECT_THROW(check_filter(f), std::invalid_argument);
    f.origins = {"cs\ncli"};
    EXPECT_THROW(check_filter(f), std::invalid_argument);
    f.origins = {};
    f.scenarios_containing = {"ssh-bf"};
    f.scenarios_not_containing = {"SSH"};  // excludes all that the other lets in
    try {
        check_filter(f);
        ADD_FAILURE() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()), "--crowdsec-scenarios-not-containing 'SSH' excludes every scenario "
                                         "--crowdsec-scenarios-containing 'ssh-bf' lets in");
    }
    f.scenarios_not_containing = {"http"};
    EXPECT_NO_THROW(check_filter(f));
}

TEST(CrowdSecTable, AFilteredDecisionNeverBecomesABlock) {
    // A Local API that ignores the query parameters: the table filters again.
    DecisionTable t;
    DecisionFilter f;
    f.origins = {"cscli"};
    f.scenarios_not_containing = {"test"};
    t.set_filter(f);
    StreamBatch b;
    b.startup = true;
    b.added = {dec(1, "198.18.5.5", 60), dec(2, "198.18.5.6", 60, "Ip", "ban", "crowdsec"),
               dec(3, "198.18.5.7", 60, "Ip", "ban", "cscli", "manual test")};
    auto ops = t.apply(b, 0);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].target.str(), "198.18.5.5/32");
    EXPECT_EQ(t.filtered(), 2u);
    EXPECT_EQ(t.size(), 1u);
}
