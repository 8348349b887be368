// Errors every layer may raise and main() maps to exit codes.
#pragma once

#include <stdexcept>

namespace scanwatch {

// A usage error: exit 2 with its one-line message.
struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

}  // namespace scanwatch
