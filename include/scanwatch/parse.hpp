// Parsers for user input: durations ("90", "30s", "10m", "1h30m", "2d").
#pragma once

#include <cstdint>
#include <string_view>

namespace scanwatch {

// Nanoseconds; throws std::invalid_argument with a one-line reason.
uint64_t parse_duration_ns(std::string_view text);

}  // namespace scanwatch
