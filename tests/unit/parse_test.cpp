#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "scanwatch/addr.hpp"
#include "scanwatch/parse.hpp"

using namespace scanwatch;

namespace {

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration_ns("90"), 90'000'000'000ULL);
    EXPECT_EQ(parse_duration_ns("250ms"), 250'000'000ULL);
    EXPECT_EQ(parse_duration_ns("1h30m"), 5400'000'000'000ULL);
    EXPECT_EQ(parse_duration_ns("2D"), 172800'000'000'000ULL);
    for (const char* bad : {"", "0", "1h30", "5x", "-1s", "1s "})
        EXPECT_THROW(parse_duration_ns(bad), std::invalid_argument) << bad;
}

TEST(QuoteInput, PrintableAsciiStaysAsItIs) {
    EXPECT_EQ(quote_input("10 minutes"), "'10 minutes'");
    EXPECT_EQ(quote_input(""), "''");
}

TEST(QuoteInput, EscapesWhatCouldBreakTheLine) {
    EXPECT_EQ(quote_input(std::string("2d\0x", 4)), "'2d\\x00x'");
    EXPECT_EQ(quote_input("a\nb'\\"), "'a\\x0ab\\x27\\x5c'");
    EXPECT_EQ(quote_input("\xc3\xa9"), "'\\xc3\\xa9'");  // never half a UTF-8 sequence
    std::string q = quote_input(std::string(500, 'x'));
    EXPECT_EQ(q, "'" + std::string(80, 'x') + "...'");
}

TEST(QuoteInput, ErrorsNameTheWholeInputOnOneLine) {
    // A NUL used to end the C string of what(): "'2d" and nothing else.
    std::string d = error_of([] { parse_duration_ns(std::string("2d\0\0", 4)); });
    EXPECT_NE(d.find("'2d\\x00\\x00' is not a duration"), std::string::npos) << d;
    std::string c = error_of([] { Cidr::parse("198.18.0.1\n/8"); });
    EXPECT_EQ(c.find('\n'), std::string::npos) << c;
    EXPECT_NE(c.find("is not an IPv4 or IPv6 address"), std::string::npos) << c;
}

TEST(Duration, ADotIsNotANumber) {
    // std::stold used to reject it with the bare message "stold".
    for (const char* bad : {".", ".s", "1h.m"}) {
        std::string e = error_of([&] { parse_duration_ns(bad); });
        EXPECT_NE(e.find("is not a duration (expected a number"), std::string::npos) << bad << ": " << e;
    }
    EXPECT_EQ(parse_duration_ns(".5s"), 500'000'000ULL);
    EXPECT_EQ(parse_duration_ns("2.s"), 2'000'000'000ULL);
}

TEST(Duration, HugeNumbersAreTooLongNotOutOfRange) {
    // std::stold's std::out_of_range used to escape (exit 1, message "stold").
    std::string e = error_of([] { parse_duration_ns(std::string(5000, '9')); });
    EXPECT_NE(e.find("is not a duration (too long"), std::string::npos) << e;
    EXPECT_THROW(parse_duration_ns("99999999999d"), std::invalid_argument);
}

TEST(Duration, BelowOneNanosecondIsRefused) {
    // Used to return 0, which `block --ttl` sends as "never expires".
    std::string e = error_of([] { parse_duration_ns("0.0000000001"); });
    EXPECT_NE(e.find("shorter than 1 ns"), std::string::npos) << e;
    EXPECT_EQ(parse_duration_ns("0.000000001"), 1u);
}
