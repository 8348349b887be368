#include <cstring>
#include <cstdlib>

#include "bpf/error.hpp"

namespace scanwatch {

// libbpf returns negative errnos, the raw syscalls positive ones: store it positive.
BpfError::BpfError(const std::string& what, int err)
    : std::runtime_error(what + ": " + std::strerror(std::abs(err))), err_(std::abs(err)) {}

}  // namespace scanwatch
