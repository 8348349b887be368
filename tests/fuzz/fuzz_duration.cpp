// Durations as users type them (--block-ttl, --probe-timeout, block --ttl).
// Invariants: only std::invalid_argument escapes, with a one-line reason; an accepted
// duration is positive and within the bound; a whole number of seconds
// printed as "Ns" parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "check.hpp"
#include "scanwatch/parse.hpp"

using namespace scanwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    uint64_t ns = 0;
    try {
        ns = parse_duration_ns(text);
    } catch (const std::invalid_argument& e) {
        // One clear line on stderr: the whole reason, no line breaks.
        std::string_view why(e.what());
        CHECK(why.find("is not a duration") != std::string_view::npos);
        CHECK(why.find('\n') == std::string_view::npos && why.find('\r') == std::string_view::npos);
        return 0;
    }
    CHECK(ns > 0);
    CHECK(ns <= 3'200'000'000'000'000'000ULL);
    // Whole seconds print and parse back exactly.
    if (ns % 1'000'000'000ULL == 0) {
        std::string s = std::to_string(ns / 1'000'000'000ULL) + "s";
        CHECK(parse_duration_ns(s) == ns);
    }
    return 0;
}
