// The model behind `scanwatch top`: what the user sees for given agent
// replies (sorting, filtering, rates between samples, ages, durations,
// percentages, the sparkline), with no terminal and no agent.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ui/model.hpp"

namespace scanwatch::ui {
namespace {

using nlohmann::json;

json source(const std::string& src, double score, uint64_t probes, std::vector<std::string> kinds = {},
            const std::string& state = "watching") {
    json j{{"src", src},
           {"kinds", kinds},
           {"tool", kinds.empty() ? "unknown" : "nmap"},
           {"ports", probes},
           {"hosts", 1},
           {"probes", probes},
           {"score", score},
           {"scanner", state != "watching"},
           {"answered", 1},
           {"failed", probes > 0 ? probes - 1 : 0},
           {"first_seen", "2026-11-26T21:00:00.000Z"},
           {"last_seen", "2026-11-26T21:00:30.500Z"},
           {"idle_s", 2.0},
           {"evidence", {{"probes", probes}, {"syn", probes}, {"half_open", 1}}},
           {"rpc_programs", json::array()},
           {"state", state},
           {"block", nullptr}};
    if (state == "blocked")
        j["block"] = {{"target", src + "/32"}, {"reason", "manual"}, {"manual", true}, {"ttl_left_s", 599}};
    return j;
}

json reply(std::vector<json> rows, uint64_t packets = 0) {
    return {{"ok", true}, {"sources", rows}, {"packets", packets}, {"dropped", 7},
            {"xdp_mode", "native"}, {"ifaces", {"tg0"}}, {"blocks", 1}};
}

std::vector<std::string> order(const TopModel& m) {
    std::vector<std::string> out;
    for (const auto* r : m.view())
        out.push_back(r->src);
    return out;
}

using V = std::vector<std::string>;

// ---- formatting -----------------------------------------------------------

TEST(TopFormat, AgesUseOneFlooredUnit) {
    EXPECT_EQ(format_age(0), "0s");
    EXPECT_EQ(format_age(5.9), "5s");
    EXPECT_EQ(format_age(59.99), "59s");
    EXPECT_EQ(format_age(60), "1m");
    EXPECT_EQ(format_age(3 * 60 + 59), "3m");
    EXPECT_EQ(format_age(3599), "59m");
    EXPECT_EQ(format_age(2 * 3600 + 1), "2h");
    EXPECT_EQ(format_age(86399), "23h");
    EXPECT_EQ(format_age(4 * 86400), "4d");
    EXPECT_EQ(format_age(-1), "-");
}

TEST(TopFormat, DurationsUseUpToTwoUnits) {
    EXPECT_EQ(format_duration(45), "45s");
    EXPECT_EQ(format_duration(125), "2m05s");
    EXPECT_EQ(format_duration(600), "10m");
    EXPECT_EQ(format_duration(3720), "1h02m");
    EXPECT_EQ(format_duration(3600), "1h");
    EXPECT_EQ(format_duration(90000), "1d01h");
    EXPECT_EQ(format_duration(-3), "-");
}

TEST(TopFormat, TimeLeftRoundsToItsUnit) {
    EXPECT_EQ(format_time_left(599), "10m");
    EXPECT_EQ(format_time_left(542), "9m");
    EXPECT_EQ(format_time_left(3599), "1h");
    EXPECT_EQ(format_time_left(12), "12s");
}

TEST(TopFormat, FailedPercentIsFlooredAndUnknownWithoutAttempts) {
    EXPECT_EQ(format_percent(0, 0), "-");
    EXPECT_EQ(format_percent(999, 1), "99%");  // only all-failed shows 100%
    EXPECT_EQ(format_percent(1000, 0), "100%");
    EXPECT_EQ(format_percent(1, 3), "25%");
    EXPECT_EQ(format_percent(0, 5), "0%");
}

TEST(TopFormat, RatesAndCounts) {
    EXPECT_EQ(format_rate(std::nullopt), "-");
    EXPECT_EQ(format_rate(0.0), "0");
    EXPECT_EQ(format_rate(0.5), "0.5");
    EXPECT_EQ(format_rate(150.2), "150");
    EXPECT_EQ(format_rate(123456.0), "123.5k");
    EXPECT_EQ(format_rate(4.1e6), "4.1M");
    EXPECT_EQ(format_count(65535), "65535");
    EXPECT_EQ(format_count(123456), "123k");
    EXPECT_EQ(format_count(12345678), "12.3M");
}

TEST(TopFormat, KindsFitTheirColumn) {
    EXPECT_EQ(fit_kinds({}, 10), "-");
    EXPECT_EQ(fit_kinds({"syn", "os-detect"}, 13), "syn,os-detect");
    EXPECT_EQ(fit_kinds({"syn", "os-detect", "service-detect"}, 12), "syn,+2");
    EXPECT_EQ(fit_kinds({"service-detect", "rpc"}, 4), "+2");
    EXPECT_EQ(fit("198.18.0.2", 12), "198.18.0.2  ");
    EXPECT_EQ(fit("2001:2::1234:5678", 10), "2001:2::1~");
    EXPECT_EQ(fit("42", 5, true), "   42");
}

TEST(TopFormat, Rfc3339) {
    auto a = parse_rfc3339("2026-11-26T21:00:00.000Z");
    auto b = parse_rfc3339("2026-11-26T21:00:30.500Z");
    ASSERT_TRUE(a && b);
    EXPECT_DOUBLE_EQ(*b - *a, 30.5);
    EXPECT_FALSE(parse_rfc3339("yesterday"));
}

TEST(TopFormat, SparklineScalesToThePeak) {
    EXPECT_EQ(sparkline({0.0, std::nullopt, 1.0, 4.0, 8.0}, false), "  .=@");
    EXPECT_EQ(sparkline({0.0, 0.0}, false), "  ");
    EXPECT_EQ(sparkline({2.0, 8.0}, true), "\u2582\u2588");
}

// ---- rows -----------------------------------------------------------------

TEST(TopModel, ReadsTheAgentsRows) {
    TopModel m;
    m.ingest(100, reply({source("198.18.0.2", 0.99, 1000, {"syn"}, "blocked")}, 5000));
    ASSERT_EQ(m.rows().size(), 1u);
    const SourceRow& r = m.rows()[0];
    EXPECT_EQ(r.src, "198.18.0.2");
    EXPECT_EQ(r.kinds, V{"syn"});
    EXPECT_EQ(r.tool, "nmap");
    EXPECT_EQ(r.failed, 999u);
    EXPECT_DOUBLE_EQ(r.first_age_s, 32.5);  // last - first + idle
    EXPECT_DOUBLE_EQ(r.last_age_s, 2.0);
    ASSERT_TRUE(r.block);
    EXPECT_EQ(r.block->target, "198.18.0.2/32");
    EXPECT_EQ(format_cell(r, Column::State, 11), "blocked 10m");
    EXPECT_EQ(format_cell(r, Column::Failed, 7), "    99%");
    EXPECT_EQ(format_cell(r, Column::First, 5), "  32s");
    EXPECT_EQ(m.totals().scanners_now, 1u);
    EXPECT_EQ(m.totals().dropped, 7u);
    EXPECT_EQ(m.totals().xdp_mode, "native");
}

TEST(TopModel, BlocksWithoutASourceGetARow) {
    TopModel m;
    json blocks{{"ok", true},
                {"blocks",
                 {{{"target", "198.18.0.2/32"}, {"reason", "manual"}, {"manual", true}, {"ttl_left_s", 599}},
                  {{"target", "198.18.0.5/32"}, {"reason", "manual"}, {"manual", true}, {"ttl_left_s", 60}},
                  {{"target", "198.18.4.0/24"}, {"reason", "manual"}, {"manual", true}, {"ttl_left_s", nullptr}}}}};
    m.ingest(0, reply({source("198.18.0.2", 0.99, 1000, {"syn"}, "blocked")}), nullptr, blocks);
    EXPECT_EQ(order(m), (V{"198.18.0.2", "198.18.0.5", "198.18.4.0/24"}));
    const SourceRow* r = m.find("198.18.0.5");
    ASSERT_TRUE(r && r->block);
    EXPECT_TRUE(r->block_only);
    EXPECT_EQ(r->block->target, "198.18.0.5/32");  // what u sends
    EXPECT_EQ(format_cell(*r, Column::State, 11), "blocked 1m ");
    EXPECT_EQ(format_cell(*m.find("198.18.4.0/24"), Column::State, 13), "blocked never");  // not blank
    EXPECT_FALSE(m.find("198.18.0.2")->block_only);
    EXPECT_EQ(m.totals().tracked, 1u);  // blocks are not tracked sources
}

TEST(TopModel, RatesComeFromDeltasBetweenSamples) {
    TopModel m;
    m.ingest(10.0, reply({source("198.18.0.2", 0.99, 100)}, 1000));
    EXPECT_FALSE(m.rows()[0].probe_rate);  // one sample: no rate yet
    EXPECT_FALSE(m.totals().packets_per_s);
    m.ingest(12.0, reply({source("198.18.0.2", 0.99, 400), source("198.18.0.3", 0.1, 50)}, 3000));
    ASSERT_TRUE(m.find("198.18.0.2")->probe_rate);
    EXPECT_DOUBLE_EQ(*m.find("198.18.0.2")->probe_rate, 150.0);
    EXPECT_FALSE(m.find("198.18.0.3")->probe_rate);  // new source: unknown, not 25/s
    EXPECT_DOUBLE_EQ(*m.totals().packets_per_s, 1000.0);
    // a counter that went backwards (record evicted, agent restarted): unknown
    m.ingest(13.0, reply({source("198.18.0.2", 0.99, 10)}, 100));
    EXPECT_FALSE(m.find("198.18.0.2")->probe_rate);
    EXPECT_FALSE(m.totals().packets_per_s);
    EXPECT_EQ(rate_from_delta(5, 5, 1.0), 0.0);
    EXPECT_FALSE(rate_from_delta(5, 6, 0.0));
    EXPECT_FALSE(rate_from_delta(std::nullopt, 6, 1.0));
}

TEST(TopModel, RateSeriesKeepsTheLastMinute) {
    TopModel m;
    uint64_t probes = 0;
    for (int t = 0; t <= 90; t++) {
        probes += t < 80 ? 10 : 100;
        m.ingest(t, reply({source("198.18.0.2", 0.99, probes)}));
    }
    auto s = m.rate_series("198.18.0.2", 60);
    ASSERT_EQ(s.size(), 60u);
    EXPECT_TRUE(std::all_of(s.begin(), s.end(), [](auto v) { return v.has_value(); }));
    EXPECT_DOUBLE_EQ(*s.front(), 10.0);
    EXPECT_DOUBLE_EQ(*s.back(), 100.0);
    auto wide = m.rate_series("198.18.0.2", 6);  // 10 s per cell, the peak wins
    EXPECT_DOUBLE_EQ(*wide.back(), 100.0);
    EXPECT_DOUBLE_EQ(*wide.front(), 10.0);
    EXPECT_TRUE(m.rate_series("198.18.0.9", 10)[0] == std::nullopt);
}

// ---- sorting and filtering ---------------------------------------------------

TEST(TopSort, ByScoreThenAddressWhateverOrderTheAgentSent) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.10", 0.5, 5), source("198.18.0.9", 0.99, 5), source("2001:2::2", 0.5, 5),
                       source("198.18.0.2", 0.5, 5)}));
    // numeric address order: .2 before .10, IPv4 before IPv6
    EXPECT_EQ(order(m), (V{"198.18.0.9", "198.18.0.2", "198.18.0.10", "2001:2::2"}));
    m.ingest(1, reply({source("2001:2::2", 0.5, 5), source("198.18.0.2", 0.5, 5), source("198.18.0.9", 0.99, 5),
                       source("198.18.0.10", 0.5, 5)}));
    EXPECT_EQ(order(m), (V{"198.18.0.9", "198.18.0.2", "198.18.0.10", "2001:2::2"}));
}

TEST(TopSort, InvertFlipsTheKeyButNotTheTieBreak) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.3", 0.5, 5), source("198.18.0.9", 0.99, 5), source("198.18.0.2", 0.5, 5)}));
    m.inverted = true;
    EXPECT_EQ(order(m), (V{"198.18.0.2", "198.18.0.3", "198.18.0.9"}));
}

TEST(TopSort, EachColumnHasItsNaturalDirection) {
    TopModel m;
    auto a = source("198.18.0.2", 0.9, 100, {"syn"}, "scanner");
    auto b = source("198.18.0.3", 0.5, 300, {"fin", "xmas"}, "blocked");
    auto c = source("198.18.0.4", 0.2, 10);
    c["idle_s"] = 0.5;
    m.ingest(0, reply({a, b, c}));
    m.sort_key = Column::Ports;
    EXPECT_EQ(order(m), (V{"198.18.0.3", "198.18.0.2", "198.18.0.4"}));
    m.sort_key = Column::State;  // blocked, scanner, watching
    EXPECT_EQ(order(m), (V{"198.18.0.3", "198.18.0.2", "198.18.0.4"}));
    m.sort_key = Column::Kinds;  // by name, sources without kinds last
    EXPECT_EQ(order(m), (V{"198.18.0.3", "198.18.0.2", "198.18.0.4"}));
    m.sort_key = Column::Last;  // most recently active first
    EXPECT_EQ(order(m).front(), "198.18.0.4");
    m.sort_key = Column::Source;
    EXPECT_EQ(order(m), (V{"198.18.0.2", "198.18.0.3", "198.18.0.4"}));
    m.inverted = true;
    EXPECT_EQ(order(m), (V{"198.18.0.4", "198.18.0.3", "198.18.0.2"}));
}

TEST(TopSort, ByRateWithUnknownRatesLast) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.9, 100), source("198.18.0.3", 0.9, 100)}));
    m.ingest(1, reply({source("198.18.0.2", 0.9, 110), source("198.18.0.3", 0.9, 200), source("198.18.0.1", 0.9, 5)}));
    m.sort_key = Column::ProbeRate;
    EXPECT_EQ(order(m), (V{"198.18.0.3", "198.18.0.2", "198.18.0.1"}));
}

TEST(TopFilter, MatchesAddressOrKind) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.9, 100, {"syn", "os-detect"}), source("198.18.1.7", 0.9, 100, {"fin"}),
                       source("2001:2::5", 0.1, 3)}));
    m.filter = "os-det";
    EXPECT_EQ(order(m), V{"198.18.0.2"});
    m.filter = "FIN";
    EXPECT_EQ(order(m), V{"198.18.1.7"});
    m.filter = "198.18.";
    EXPECT_EQ(order(m), (V{"198.18.0.2", "198.18.1.7"}));
    m.filter = "2001:2::";
    EXPECT_EQ(order(m), V{"2001:2::5"});
    m.filter = "nothing-like-this";
    EXPECT_TRUE(order(m).empty());
    m.filter = "";
    EXPECT_EQ(order(m).size(), 3u);
}

// ---- the cursor ----------------------------------------------------------------

TEST(TopCursor, FollowsTheSelectedSourceWhenRowsMove) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.9, 1), source("198.18.0.3", 0.5, 1), source("198.18.0.4", 0.1, 1)}));
    Cursor c;
    auto v = m.view();
    c.sync(v, 10);
    c.move(v, 1, 10);
    EXPECT_EQ(c.src, "198.18.0.3");
    // .3 becomes the top scorer: the selection moves with it
    m.ingest(1, reply({source("198.18.0.2", 0.9, 1), source("198.18.0.3", 0.99, 1), source("198.18.0.4", 0.1, 1)}));
    v = m.view();
    c.sync(v, 10);
    EXPECT_EQ(c.index, 0u);
    EXPECT_EQ(c.selected(v)->src, "198.18.0.3");
    // it goes away: the selection stays at its place
    m.ingest(2, reply({source("198.18.0.2", 0.9, 1), source("198.18.0.4", 0.1, 1)}));
    v = m.view();
    c.sync(v, 10);
    EXPECT_EQ(c.selected(v)->src, "198.18.0.2");
    c.move(v, 100, 10);
    EXPECT_EQ(c.selected(v)->src, "198.18.0.4");
}

TEST(TopCursor, StaysOnTheTopRowUntilTheUserMoves) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.5, 1), source("198.18.0.3", 0.2, 1)}));
    Cursor c;
    auto v = m.view();
    c.sync(v, 10);
    EXPECT_EQ(c.src, "198.18.0.2");
    // a scanner arrives with a higher score: the selection is the top row
    m.ingest(1, reply({source("198.18.0.2", 0.5, 1), source("198.18.0.3", 0.2, 1), source("198.18.0.9", 0.99, 1)}));
    v = m.view();
    c.sync(v, 10);
    EXPECT_EQ(c.selected(v)->src, "198.18.0.9");
}

TEST(TopCursor, KeepsTheSelectionVisible) {
    TopModel m;
    std::vector<json> rows;
    for (int i = 1; i <= 20; i++)
        rows.push_back(source("198.18.0." + std::to_string(i), 0.5, 1));
    m.ingest(0, reply(rows));
    auto v = m.view();
    Cursor c;
    c.sync(v, 5);
    c.move(v, 7, 5);
    EXPECT_EQ(c.index, 7u);
    EXPECT_EQ(c.top, 3u);
    c.move(v, -6, 5);
    EXPECT_EQ(c.top, 1u);
}

// ---- layout ----------------------------------------------------------------------

TEST(TopLayout, AllColumnsAt80WithKindsRoom) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.9, 1, {"syn"})}));
    auto v = m.view();
    auto cols = layout_columns(80, v);
    std::vector<Column> ids;
    size_t width = 0;
    for (const auto& c : cols) {
        ids.push_back(c.id);
        width += c.width + 1;
    }
    EXPECT_LE(width - 1, 80u);
    // SCORE, the default sort key, stays; FIRST and HOSTS make room (issue 17)
    for (Column want : {Column::Source, Column::Kinds, Column::Tool, Column::Ports, Column::ProbeRate,
                        Column::Failed, Column::Last, Column::State, Column::Score})
        EXPECT_NE(std::find(ids.begin(), ids.end(), want), ids.end()) << column_name(want);
    std::string head = format_row(nullptr, cols);
    EXPECT_EQ(head.rfind("SOURCE", 0), 0u);
    EXPECT_NE(head.find("PROBES/s"), std::string::npos);
    EXPECT_LE(head.size(), 80u);
    // a long IPv6 address: still fits in 80, KINDS keeps some room
    m.ingest(1, reply({source("2001:2:0:1234:5678:9abc:def0:1234", 0.9, 1, {"syn"})}));
    v = m.view();
    cols = layout_columns(80, v);
    EXPECT_LE(format_row(v[0], cols).size(), 80u);
    EXPECT_TRUE(std::any_of(cols.begin(), cols.end(), [](const LaidColumn& c) { return c.id == Column::Score; }));
}

TEST(TopSnapshot, TextAndJsonNameTheScanner) {
    TopModel m;
    auto r = reply({source("198.18.0.2", 0.99, 1000, {"syn"}, "scanner")}, 42);
    m.ingest(0, r);
    HeaderInfo h;
    h.socket = "/run/scanwatch.sock";
    std::string text = snapshot_text(m, h, 120);
    EXPECT_NE(text.find("198.18.0.2  syn"), std::string::npos) << text;
    EXPECT_NE(text.find("scanner"), std::string::npos);
    EXPECT_NE(text.find("XDP native on tg0"), std::string::npos);
    auto j = snapshot_json(m, r);
    EXPECT_FALSE(j.contains("ok"));
    EXPECT_EQ(j["sources"][0]["src"], "198.18.0.2");
    EXPECT_EQ(j["totals"]["scanners_now"], 1);
    EXPECT_EQ(j["totals"]["packets"], 42);
}

TEST(TopDetails, KindsWithTheirEvidenceAndNoInventedPorts) {
    TopModel m;
    m.ingest(0, reply({source("198.18.0.2", 0.99, 1000, {"syn"}, "blocked")}));
    auto lines = detail_lines(m, m.rows()[0], 100, false);
    std::string all;
    for (const auto& l : lines)
        all += l + "\n";
    EXPECT_NE(all.find("syn            syn 1000, half_open 1"), std::string::npos) << all;
    EXPECT_NE(all.find("port list is not kept"), std::string::npos);
    EXPECT_NE(all.find("manual on 198.18.0.2/32, 9m59s left"), std::string::npos) << all;
    EXPECT_NE(all.find("probes/s, last 60s"), std::string::npos);
    for (const auto& l : lines)
        EXPECT_LE(l.size(), 100u);
    // many counters wrap onto more lines instead of running off a narrow pane
    auto busy = source("198.18.0.2", 0.99, 1000, {"syn"});
    for (const char* k : {"fail_rst", "same_seq", "same_sport", "rst_in", "synack_in", "zmap_ipid", "frag"})
        busy["evidence"][k] = 123456;
    m.ingest(1, reply({busy}));
    lines = detail_lines(m, m.rows()[0], 60, false);
    size_t other = 0;
    for (const auto& l : lines) {
        EXPECT_LE(l.size(), 60u) << l;
        EXPECT_NE(l.substr(0, l.find_last_not_of(' ') + 1).back(), '~') << l;  // nothing cut
        other += l.find("other evidence") != std::string::npos || l.rfind("                ", 0) == 0;
    }
    EXPECT_GE(other, 2u);
}

TEST(TopLegend, FitsAt80) {
    for (size_t w : {80u, 120u}) {
        size_t n = 0;
        auto items = legend(w, false);
        for (const auto& [k, l] : items)
            n += k.size() + (l.empty() ? 0 : 1 + l.size()) + 1;
        EXPECT_LE(n - 1, w);
        EXPECT_EQ(items.size(), 10u);
        EXPECT_EQ(items.front().first, "q");
    }
}

}  // namespace
}  // namespace scanwatch::ui
