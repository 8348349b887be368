// The Prometheus renderer, listen-address parsing, the event tally and the
// syslog lines: pure functions, no kernel.
#include <gtest/gtest.h>

#include <syslog.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "metrics/metrics.hpp"
#include "output/syslog.hpp"

using namespace scanwatch;

namespace {

MetricsSnapshot sample() {
    MetricsSnapshot s;
    s.version = "0.1.0";
    s.xdp_mode = "native";
    MetricsSnapshot::Iface a{"tg0", {}}, b{"eth\"1\\\n", {}};
    a.stats[SW_S_PACKETS] = 1234;
    a.stats[SW_S_EGRESS] = 77;
    a.stats[SW_S_DROPPED] = 10;
    a.stats[SW_S_DROPPED_EGRESS] = 3;
    a.stats[SW_S_TRUNCATED] = 2;
    a.stats[SW_S_MALFORMED] = 1;
    a.stats[SW_S_EVENTS] = 5;
    b.stats[SW_S_PACKETS] = 9;
    b.stats[SW_S_EVENTS] = 4;
    b.stats[SW_S_EVENTS_LOST] = 6;
    s.ifaces = {a, b};
    s.maps = {{"sources", 12, 65536}, {"flows", 3, 65536}};
    s.sources_tracked = 12;
    s.scans_by_kind = {{"syn", 2}, {"os-detect", 1}};
    s.blocks_created = {{"fast_path", 4}};
    s.sweep = Histogram({0.01, 0.1});
    s.sweep.observe(0.005);
    s.sweep.observe(0.05);
    s.sweep.observe(0.05);
    s.sweep.observe(3);
    s.last_sweep_s = 0.0125;
    return s;
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line)
            return true;
    return false;
}

}  // namespace

TEST(Metrics, EscapesLabelValues) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
    EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
    EXPECT_EQ(escape_label_value("a\nb"), "a\\nb");
}

TEST(Metrics, RendersValuesByInterfaceAndReason) {
    std::string t = render_prometheus(sample());
    EXPECT_TRUE(has_line(t, "scanwatch_packets_total{interface=\"tg0\",direction=\"ingress\"} 1234")) << t;
    EXPECT_TRUE(has_line(t, "scanwatch_packets_total{interface=\"tg0\",direction=\"egress\"} 77"));
    EXPECT_TRUE(has_line(t, "scanwatch_packets_total{interface=\"eth\\\"1\\\\\\n\",direction=\"ingress\"} 9"));
    EXPECT_TRUE(has_line(t, "scanwatch_dropped_packets_total{interface=\"tg0\",reason=\"blocked_ingress\"} 7"));
    EXPECT_TRUE(has_line(t, "scanwatch_dropped_packets_total{interface=\"tg0\",reason=\"blocked_egress_answer\"} 3"));
    EXPECT_TRUE(has_line(t, "scanwatch_parse_errors_total{interface=\"tg0\",reason=\"truncated\"} 2"));
    EXPECT_TRUE(has_line(t, "scanwatch_parse_errors_total{interface=\"tg0\",reason=\"malformed\"} 1"));
    EXPECT_TRUE(has_line(t, "scanwatch_ringbuf_events_total 9"));  // summed over interfaces
    EXPECT_TRUE(has_line(t, "scanwatch_ringbuf_dropped_total{reason=\"full\"} 6"));
    EXPECT_TRUE(has_line(t, "scanwatch_map_entries{map=\"sources\"} 12"));
    EXPECT_TRUE(has_line(t, "scanwatch_map_capacity{map=\"flows\"} 65536"));
    EXPECT_TRUE(has_line(t, "scanwatch_scans_total{kind=\"syn\"} 2"));
    EXPECT_TRUE(has_line(t, "scanwatch_scans_total{kind=\"os-detect\"} 1"));
    EXPECT_TRUE(has_line(t, "scanwatch_blocks_created_total{reason=\"fast_path\"} 4"));
    EXPECT_TRUE(has_line(t, "scanwatch_blocks_created_total{reason=\"detector\"} 0")) << "every reason is always present";
    EXPECT_TRUE(has_line(t, "scanwatch_agent_info{version=\"0.1.0\",xdp_mode=\"native\"} 1"));
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_last_seconds 0.0125"));
}

TEST(Metrics, HistogramIsCumulative) {
    std::string t = render_prometheus(sample());
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_bucket{le=\"0.01\"} 1")) << t;
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_bucket{le=\"0.1\"} 3"));
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_bucket{le=\"+Inf\"} 4"));
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_count 4"));
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_sum 3.105"));
}

// Format rules: every family has one HELP and one TYPE before its samples,
// its samples are contiguous, counters end in _total.
TEST(Metrics, FamiliesAreWellFormed) {
    std::string t = render_prometheus(sample());
    ASSERT_FALSE(t.empty());
    EXPECT_EQ(t.back(), '\n');
    std::istringstream in(t);
    std::map<std::string, std::string> type;
    std::set<std::string> closed;
    std::string current;
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("# HELP ", 0) == 0)
            continue;
        if (l.rfind("# TYPE ", 0) == 0) {
            std::istringstream w(l.substr(7));
            std::string name, ty;
            w >> name >> ty;
            EXPECT_FALSE(type.count(name)) << "second TYPE for " << name;
            type[name] = ty;
            if (ty == "counter") {
                EXPECT_TRUE(name.ends_with("_total")) << name;
            }
            continue;
        }
        std::string name = l.substr(0, l.find_first_of("{ "));
        std::string family = name;
        for (const char* suf : {"_bucket", "_sum", "_count"})
            if (name.ends_with(suf) && type[name.substr(0, name.size() - strlen(suf))] == "histogram")
                family = name.substr(0, name.size() - strlen(suf));
        EXPECT_TRUE(type.count(family)) << "no TYPE before " << l;
        if (family != current) {
            EXPECT_FALSE(closed.count(family)) << family << " is not contiguous";
            closed.insert(current);
            current = family;
        }
    }
    EXPECT_GE(type.size(), 20u);
}

TEST(Metrics, NoInterfacesStillRenders) {
    MetricsSnapshot s;
    std::string t = render_prometheus(s);
    EXPECT_TRUE(has_line(t, "# TYPE scanwatch_packets_total counter"));
    EXPECT_TRUE(has_line(t, "scanwatch_sources_tracked 0"));
    EXPECT_TRUE(has_line(t, "scanwatch_sweep_duration_seconds_bucket{le=\"+Inf\"} 0"));
}

TEST(ListenAddress, ParsesIpv4AndBracketedIpv6) {
    auto a = parse_listen_address("127.0.0.1:9100");
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 9100);
    EXPECT_FALSE(a.ipv6);
    auto b = parse_listen_address("[::1]:65535");
    EXPECT_EQ(b.host, "::1");
    EXPECT_EQ(b.port, 65535);
    EXPECT_TRUE(b.ipv6);
    EXPECT_EQ(parse_listen_address("0.0.0.0:1").port, 1);
}

TEST(ListenAddress, RejectsBadValues) {
    for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":9100", "127.0.0.1:0", "127.0.0.1:65536",
                            "127.0.0.1:9x", "localhost:9100", "::1:9100", "[::1]9100", "[::1:9100", "[1.2.3.4]:80",
                            "300.1.1.1:80", "127.0.0.1:-1", "127.0.0.1:123456"})
        EXPECT_THROW(parse_listen_address(bad), std::invalid_argument) << bad;
}

TEST(EventTally, CountsEachKindOncePerSource) {
    EventTally t;
    using J = nlohmann::ordered_json;
    t.on_event(J{{"event", "scan"}, {"src", "198.18.0.2"}, {"kinds", {"syn"}}});
    t.on_event(J{{"event", "scan"}, {"src", "198.18.0.2"}, {"kinds", {"syn", "os-detect"}}});
    t.on_event(J{{"event", "scan"}, {"src", "198.18.0.3"}, {"kinds", {"syn"}}});
    t.on_event(J{{"event", "block"}, {"src", "198.18.0.2"}, {"by", "fast_path"}});
    t.on_event(J{{"event", "block"}, {"src", "198.18.0.3"}, {"by", "manual"}});
    t.on_event(J{{"event", "block_refused"}, {"src", "198.18.0.4"}});
    t.on_event(J{{"event", "unblock"}, {"src", "198.18.0.3"}});
    t.on_event(J{{"event", "started"}});
    MetricsSnapshot s;
    t.fill(s);
    EXPECT_EQ(s.scans_by_kind, (std::map<std::string, uint64_t>{{"syn", 2}, {"os-detect", 1}}));
    EXPECT_EQ(s.scan_events, 3u);
    EXPECT_EQ(s.blocks_created, (std::map<std::string, uint64_t>{{"fast_path", 1}, {"manual", 1}}));
    EXPECT_EQ(s.blocks_refused, 1u);
    EXPECT_EQ(s.unblocks, 1u);
}

TEST(EventTally, MemoryIsBounded) {
    EventTally t(2);
    using J = nlohmann::ordered_json;
    for (const char* src : {"198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.2"})
        t.on_event(J{{"event", "scan"}, {"src", src}, {"kinds", {"udp"}}});
    MetricsSnapshot s;
    t.fill(s);
    // the table was cleared when the third source came: 198.18.0.2 counts again
    EXPECT_EQ(s.scans_by_kind["udp"], 4u);
}

TEST(Syslog, ScanLine) {
    nlohmann::ordered_json e{{"event", "scan"}, {"src", "198.18.0.2"}, {"kinds", {"syn", "os-detect"}},
                             {"tool", "nmap"}, {"ports", 1000}, {"hosts", 1}, {"score", 0.99}, {"action", "block"}};
    auto l = syslog_line(e);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "scan from 198.18.0.2: syn,os-detect by nmap, 1000 ports on 1 host, score 0.99, action block");
    EXPECT_EQ(l->priority, LOG_WARNING);
    e["tool"] = "unknown";
    e["ports"] = 1;
    e["hosts"] = 40;
    EXPECT_EQ(syslog_line(e)->text,
              "scan from 198.18.0.2: syn,os-detect by an unknown tool, 1 port on 40 hosts, score 0.99, action block");
}

TEST(Syslog, BlockAndUnblockLines) {
    nlohmann::ordered_json b{{"event", "block"}, {"src", "198.18.0.2"}, {"target", "198.18.0.2/32"},
                             {"reason", "syn score 0.999"}, {"by", "detector"}, {"ttl_s", 3600}};
    EXPECT_EQ(syslog_line(b)->text, "blocked 198.18.0.2 for 1h (detector: syn score 0.999)");
    b["by"] = "fast_path";
    b["reason"] = "fast-path: nmap SYN probes";
    EXPECT_EQ(syslog_line(b)->text, "blocked 198.18.0.2 for 1h (fast-path: nmap SYN probes)");
    b["by"] = "manual";
    b["reason"] = "manual";
    b["ttl_s"] = 5400;
    EXPECT_EQ(syslog_line(b)->text, "blocked 198.18.0.2 for 1h30m (manual)");
    b["ttl_s"] = nullptr;
    EXPECT_EQ(syslog_line(b)->text, "blocked 198.18.0.2 until unblocked (manual)");
    nlohmann::ordered_json u{{"event", "unblock"}, {"src", "198.18.0.0/24"}, {"reason", "expired"}};
    EXPECT_EQ(syslog_line(u)->text, "unblocked 198.18.0.0/24 (expired)");
    EXPECT_FALSE(syslog_line({{"event", "started"}}));
}

TEST(Syslog, ShortDurations) {
    EXPECT_EQ(short_duration(45), "45s");
    EXPECT_EQ(short_duration(3600), "1h");
    EXPECT_EQ(short_duration(86400 + 120), "1d2m");
    EXPECT_EQ(short_duration(0), "ever");
}
