#include "control/request.hpp"

namespace scanwatch {

bool RequestFramer::feed(std::string_view bytes) {
    buf_.append(bytes);
    return buf_.size() <= limit_;
}

std::optional<std::string> RequestFramer::line() const {
    auto nl = buf_.find('\n');
    if (nl == std::string::npos)
        return std::nullopt;
    return buf_.substr(0, nl);
}

ControlRequest parse_control_request(const nlohmann::json& req) {
    if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
        throw RequestError("request must be a JSON object with a string \"cmd\"");
    ControlRequest r;
    r.cmd = req["cmd"].get<std::string>();
    if (r.cmd == "status" || r.cmd == "blocks")
        return r;
    if (r.cmd == "sources") {
        if (req.contains("limit")) {
            // Checked, not req.value<int>(): a float beyond int's range made that cast undefined.
            const auto& l = req["limit"];
            if (!l.is_number_unsigned())
                throw RequestError("\"limit\" must be a whole number of rows (0 or more)");
            r.limit = static_cast<size_t>(l.get<uint64_t>());
        }
        return r;
    }
    if (r.cmd == "block" || r.cmd == "unblock") {
        if (!req.contains("target") || !req["target"].is_string())
            throw RequestError("missing \"target\"");
        r.target = Cidr::parse(req["target"].get<std::string>());
        if (r.cmd == "block" && req.contains("ttl_s")) {
            const auto& t = req["ttl_s"];
            if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 3.0e9)
                throw RequestError("\"ttl_s\" must be a number of seconds (0 = never expires)");
            r.ttl_ns = static_cast<uint64_t>(t.get<double>() * 1e9);
        }
        return r;
    }
    throw RequestError("unknown command '" + r.cmd + "'");
}

nlohmann::json answer_request_line(std::string_view line,
                                   const std::function<nlohmann::json(const nlohmann::json&)>& handler) {
    try {
        auto req = nlohmann::json::parse(line);
        if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
            return {{"ok", false}, {"error", "request must be a JSON object with a string \"cmd\""}};
        return handler(req);
    } catch (const nlohmann::json::exception&) {
        return {{"ok", false}, {"error", "request is not valid JSON"}};
    } catch (const std::exception& e) {
        return {{"ok", false}, {"error", e.what()}};
    }
}

}  // namespace scanwatch
