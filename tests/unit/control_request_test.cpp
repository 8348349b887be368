// Control-socket requests without a socket: framing, envelope, field checks.
#include <gtest/gtest.h>

#include "control/request.hpp"

using namespace scanwatch;
using nlohmann::json;

namespace {

json answer(std::string_view line) {
    return answer_request_line(line, [](const json& j) {
        auto r = parse_control_request(j);
        json out{{"ok", true}, {"cmd", r.cmd}, {"limit", r.limit}};
        if (r.target)
            out["target"] = r.target->str();
        if (r.ttl_ns)
            out["ttl_ns"] = *r.ttl_ns;
        return out;
    });
}

}  // namespace

TEST(RequestFramer, WaitsForTheNewline) {
    RequestFramer f;
    EXPECT_TRUE(f.feed("{\"cmd\":"));
    EXPECT_FALSE(f.line());
    EXPECT_TRUE(f.feed("\"status\"}\nextra"));
    ASSERT_TRUE(f.line());
    EXPECT_EQ(*f.line(), "{\"cmd\":\"status\"}");
}

TEST(RequestFramer, RefusesMoreThanTheLimit) {
    RequestFramer f(16);
    EXPECT_TRUE(f.feed(std::string(16, 'x')));
    EXPECT_FALSE(f.feed("y"));
}

TEST(ControlRequest, EnvelopeErrors) {
    EXPECT_EQ(answer("not json")["error"], "request is not valid JSON");
    EXPECT_EQ(answer("[1,2]")["error"], "request must be a JSON object with a string \"cmd\"");
    EXPECT_EQ(answer("{\"cmd\":3}")["error"], "request must be a JSON object with a string \"cmd\"");
    EXPECT_EQ(answer("{\"cmd\":\"reboot\"}")["error"], "unknown command 'reboot'");
    EXPECT_EQ(answer("{\"cmd\":\"reboot\"}")["ok"], false);
}

TEST(ControlRequest, BlockFields) {
    auto r = answer(R"({"cmd":"block","target":"198.18.0.9/15","ttl_s":1.5})");
    EXPECT_EQ(r["ok"], true);
    EXPECT_EQ(r["target"], "198.18.0.0/15");
    EXPECT_EQ(r["ttl_ns"], 1'500'000'000ULL);
    EXPECT_FALSE(answer(R"({"cmd":"block","target":"2001:2::1"})").contains("ttl_ns"));
    EXPECT_EQ(answer(R"({"cmd":"block"})")["error"], "missing \"target\"");
    EXPECT_EQ(answer(R"({"cmd":"unblock","target":7})")["error"], "missing \"target\"");
    EXPECT_EQ(answer(R"({"cmd":"block","target":"198.18.0.1","ttl_s":-1})")["ok"], false);
    EXPECT_EQ(answer(R"({"cmd":"block","target":"198.18.0.1","ttl_s":"1h"})")["ok"], false);
    auto bad = answer(R"({"cmd":"block","target":"198.18.0.1/33"})");
    EXPECT_EQ(bad["ok"], false);
    EXPECT_NE(bad["error"].get<std::string>().find("prefix length"), std::string::npos);
}

TEST(ControlRequest, SourcesLimit) {
    EXPECT_EQ(answer(R"({"cmd":"sources"})")["limit"], 500);
    EXPECT_EQ(answer(R"({"cmd":"sources","limit":20})")["limit"], 20);
    // 1e300 used to be cast to int (undefined behaviour), "all" to be "not valid JSON".
    for (const char* bad : {R"({"cmd":"sources","limit":1e300})", R"({"cmd":"sources","limit":-1})",
                            R"({"cmd":"sources","limit":"all"})", R"({"cmd":"sources","limit":2.5})"}) {
        auto r = answer(bad);
        EXPECT_EQ(r["ok"], false) << bad;
        EXPECT_EQ(r["error"], "\"limit\" must be a whole number of rows (0 or more)") << bad;
    }
}
