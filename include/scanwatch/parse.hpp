// Parsers for user input: durations ("90", "30s", "10m", "1h30m", "2d").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace scanwatch {

// Nanoseconds; throws std::invalid_argument with a one-line reason.
uint64_t parse_duration_ns(std::string_view text);

// User input quoted for an error message: 'text', with control characters,
// quotes, backslashes and bytes >= 0x80 as \xNN and anything past 80 bytes cut
// to "...", so the message stays one line of printable ASCII (and valid
// UTF-8 in a JSON reply) whatever the input held.
std::string quote_input(std::string_view text);

// One word of a comma-separated list handed to another program (CrowdSec's
// origins and scenario words): not empty, printable ASCII, no comma, no
// space at either end. Throws std::invalid_argument (one line).
void check_list_word(std::string_view word);

}  // namespace scanwatch
