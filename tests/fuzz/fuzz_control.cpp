// Control-socket requests as the agent receives them: bytes arrive in chunks
// of any size, are framed into one line (size-limited), parsed as JSON and
// validated field by field (control/request.hpp), exactly as ControlServer and
// `scanwatch run` do, minus the socket and the kernel.
// Invariants: nothing throws out of the framing/answer path; every reply is a
// JSON object with a boolean "ok", an error reply has a non-empty string
// "error", and every reply can be serialized (ControlServer::reply dumps it);
// a validated request has the fields its command needs, within their ranges.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "check.hpp"
#include "control/request.hpp"

using namespace scanwatch;

namespace {

nlohmann::json handle(const nlohmann::json& j) {
    ControlRequest r = parse_control_request(j);
    CHECK(!r.cmd.empty());
    if (r.cmd == "block" || r.cmd == "unblock") {
        CHECK(r.target.has_value());
        CHECK(r.target->prefix <= 128);
    } else {
        CHECK(r.cmd == "status" || r.cmd == "sources" || r.cmd == "blocks");
        CHECK(!r.target && !r.ttl_ns);
    }
    if (r.ttl_ns)
        CHECK(r.cmd == "block" && *r.ttl_ns <= 3'000'000'000'000'000'000ULL);
    nlohmann::json out{{"ok", true}, {"cmd", r.cmd}, {"limit", r.limit}};
    if (r.target)
        out["target"] = r.target->str();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    // A small limit lets short inputs reach the "too large" path too.
    size_t limit = in.ConsumeBool() ? kMaxRequestBytes : in.ConsumeIntegralInRange<size_t>(1, 512);
    RequestFramer framer(limit);
    bool too_large = false;
    while (in.remaining_bytes() > 0 && !too_large) {
        size_t chunk = in.ConsumeIntegralInRange<size_t>(1, 64);
        std::string bytes = in.ConsumeBytesAsString(chunk);
        too_large = !framer.feed(bytes);
        if (!too_large)
            CHECK(framer.size() <= limit);
    }
    if (too_large)
        return 0;  // the agent replies "request too large" and closes
    auto line = framer.line();
    if (!line)
        return 0;  // the agent waits for the rest
    CHECK(line->find('\n') == std::string::npos);
    nlohmann::json reply = answer_request_line(*line, handle);
    CHECK(reply.is_object());
    CHECK(reply.contains("ok") && reply["ok"].is_boolean());
    if (!reply["ok"].get<bool>())
        CHECK(reply.contains("error") && reply["error"].is_string() && !reply["error"].get<std::string>().empty());
    std::string wire = reply.dump();  // throws on invalid UTF-8: the agent would die
    CHECK(wire.find('\n') == std::string::npos);
    return 0;
}
