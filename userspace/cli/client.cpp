// Commands that talk to a running agent over its control socket.
#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "control/control.hpp"
#include "scanwatch/addr.hpp"
#include "scanwatch/parse.hpp"
#include "ui/model.hpp"

namespace scanwatch {

namespace {

nlohmann::json ask(const ClientOptions& c, const nlohmann::json& req) {
    auto resp = control_request(c.socket, req);
    if (!resp.is_object() || !resp.value("ok", false))
        throw std::runtime_error(resp.is_object() && resp.contains("error") ? resp["error"].get<std::string>()
                                                                           : "the agent refused the request");
    return resp;
}

Cidr target_arg(const std::string& t) {
    try {
        return Cidr::parse(t);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
}

}  // namespace

int block_command(const ClientOptions& c, const std::string& target, const std::string& ttl) {
    Cidr cidr = target_arg(target);
    nlohmann::json req{{"cmd", "block"}, {"target", cidr.str()}};
    if (!ttl.empty()) {
        uint64_t ns;
        if (ttl == "0" || ttl == "never")
            ns = 0;
        else
            try {
                ns = parse_duration_ns(ttl);
            } catch (const std::invalid_argument& e) {
                throw UsageError(std::string("--ttl: ") + e.what());
            }
        req["ttl_s"] = static_cast<double>(ns) / 1e9;
    }
    auto resp = ask(c, req);
    if (resp.value("updated", false))
        std::printf("%s was already blocked: expiry renewed\n", cidr.str().c_str());
    else
        std::printf("blocked %s\n", cidr.str().c_str());
    return 0;
}

int unblock_command(const ClientOptions& c, const std::string& target) {
    Cidr cidr = target_arg(target);
    ask(c, {{"cmd", "unblock"}, {"target", cidr.str()}});
    std::printf("unblocked %s\n", cidr.str().c_str());
    return 0;
}

int blocks_command(const ClientOptions& c) {
    auto resp = ask(c, {{"cmd", "blocks"}});
    if (c.json) {
        std::printf("%s\n", resp["blocks"].dump().c_str());
        return 0;
    }
    std::printf("%-40s %-10s %-24s %s\n", "TARGET", "TTL LEFT", "EXPIRES", "REASON");
    for (const auto& b : resp["blocks"]) {
        // one TTL format with `top`: 56m, 3h, 2d (rounded), or never
        std::string left = b["ttl_left_s"].is_null() ? "never" : ui::format_time_left(b["ttl_left_s"].get<double>());
        std::string exp = b["expires"].is_null() ? "-" : b["expires"].get<std::string>();
        std::printf("%-40s %-10s %-24s %s\n", b["target"].get<std::string>().c_str(), left.c_str(), exp.c_str(),
                    b["reason"].get<std::string>().c_str());
    }
    return 0;
}

int status_command(const ClientOptions& c) {
    auto resp = ask(c, {{"cmd", "status"}});
    resp.erase("ok");
    if (c.json) {
        std::printf("%s\n", resp.dump().c_str());
        return 0;
    }
    std::string ifaces;
    for (const auto& i : resp["ifaces"])
        ifaces += (ifaces.empty() ? "" : ", ") + i.get<std::string>();
    std::printf("scanwatch %s, pid %d, up %.0fs on %s (%s XDP)\n", resp["version"].get<std::string>().c_str(),
                resp["pid"].get<int>(), resp["uptime_s"].get<double>(), ifaces.c_str(),
                resp["xdp_mode"].get<std::string>().c_str());
    // "1 source", "2 sources"
    auto n = [&](const char* key, const char* one, const char* many) {
        auto v = resp[key].get<uint64_t>();
        return std::to_string(v) + " " + (v == 1 ? one : many);
    };
    std::printf("%s, %s, %s dropped, %s, %s, %s%s\n", n("packets", "packet", "packets").c_str(),
                n("probes", "probe", "probes").c_str(), std::to_string(resp["dropped"].get<uint64_t>()).c_str(),
                n("sources", "source", "sources").c_str(), n("scanners", "scanner", "scanners").c_str(),
                n("blocks", "block", "blocks").c_str(),
                resp["block_enabled"].get<bool>() ? " (automatic blocking on)" : "");
    // the sources closest to a verdict, and what each lacks
    if (auto w = resp.find("watching"); w != resp.end() && w->is_array())
        for (const auto& x : *w) {
            std::string why;
            for (const auto& r : x.value("why_not", nlohmann::json::array()))
                if (r.is_string())
                    why += (why.empty() ? "" : "; ") + r.get<std::string>();
            std::printf("not a scanner (yet): %s: %s\n", x.value("src", std::string("?")).c_str(),
                        why.empty() ? "-" : why.c_str());
        }
    return 0;
}

}  // namespace scanwatch
