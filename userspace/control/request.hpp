// Control-socket requests without the socket: line framing, the JSON envelope
// and the validation of each command's fields. Pure code (no kernel, no fds),
// so the unit tests and the fuzzer (tests/fuzz) run it as the agent does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "scanwatch/addr.hpp"

namespace scanwatch {

constexpr size_t kMaxRequestBytes = 64 * 1024;

// The bytes one client has sent so far, up to the first newline.
class RequestFramer {
public:
    explicit RequestFramer(size_t limit = kMaxRequestBytes) : limit_(limit) {}
    // Adds received bytes; false once more than `limit` bytes have arrived.
    bool feed(std::string_view bytes);
    // The first complete line, without its newline.
    std::optional<std::string> line() const;
    size_t size() const { return buf_.size(); }

private:
    size_t limit_;
    std::string buf_;
};

// A request the agent can act on. Its fields are checked here, not by the handler.
struct ControlRequest {
    std::string cmd;                // status, sources, blocks, block, unblock
    size_t limit = 500;             // sources: at most this many rows
    std::optional<Cidr> target;     // block, unblock
    std::optional<uint64_t> ttl_ns; // block: "ttl_s" (0 = never expires); unset: the policy's TTL
};

// A request that is well-formed JSON but asks for something invalid; what()
// is the error reply.
struct RequestError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Checks a parsed request object with a string "cmd". Throws RequestError or
// std::invalid_argument (a bad CIDR) with a one-line reason.
ControlRequest parse_control_request(const nlohmann::json& req);

// The reply to one request line: parses it, checks the envelope, calls
// handler, and turns every exception into {"ok":false,"error":...}.
nlohmann::json answer_request_line(std::string_view line,
                                   const std::function<nlohmann::json(const nlohmann::json&)>& handler);

}  // namespace scanwatch
