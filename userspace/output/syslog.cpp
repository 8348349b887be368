#include "output/syslog.hpp"

#include <syslog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace scanwatch {

std::string short_duration(uint64_t s) {
    if (s == 0)
        return "ever";
    static const std::pair<uint64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    std::string out;
    for (const auto& [n, u] : units)
        if (s >= n) {
            out += std::to_string(s / n) + u;
            s %= n;
        }
    return out;
}

namespace {

std::string str(const nlohmann::ordered_json& e, const char* k, const char* dflt = "?") {
    return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : dflt;
}

uint64_t count(const nlohmann::ordered_json& e, const char* k) {
    if (!e.contains(k) || !e[k].is_number_integer())
        return 0;
    return e[k].is_number_unsigned() ? e[k].get<uint64_t>() : static_cast<uint64_t>(std::max<int64_t>(0, e[k].get<int64_t>()));
}

}  // namespace

std::optional<SyslogLine> syslog_line(const nlohmann::ordered_json& e) {
    const std::string type = str(e, "event", "");
    if (type == "scan") {
        std::string kinds;
        if (e.contains("kinds") && e["kinds"].is_array())
            for (const auto& k : e["kinds"])
                if (k.is_string())
                    kinds += (kinds.empty() ? "" : ",") + k.get<std::string>();
        std::string tool = str(e, "tool", "unknown");
        uint64_t ports = count(e, "ports"), hosts = count(e, "hosts");
        char score[32];
        std::snprintf(score, sizeof score, "%g", e.contains("score") && e["score"].is_number() ? e["score"].get<double>() : 0.0);
        std::string t = "scan from " + str(e, "src") + ": " + (kinds.empty() ? "unclassified" : kinds) + " by " +
                        (tool == "unknown" ? "an unknown tool" : tool) + ", " + std::to_string(ports) +
                        (ports == 1 ? " port on " : " ports on ") + std::to_string(hosts) +
                        (hosts == 1 ? " host" : " hosts") + ", score " + score + ", action " + str(e, "action");
        return SyslogLine{LOG_WARNING, t};
    }
    if (type == "block") {
        uint64_t ttl = count(e, "ttl_s");
        std::string by = str(e, "by", "detector"), why = str(e, "reason", "");
        std::replace(by.begin(), by.end(), '_', '-');
        // "(manual)", "(detector: syn score 0.999)"; a reason that already names its maker stands alone
        std::string paren = why.rfind(by, 0) == 0 ? why : by + (why.empty() ? "" : ": " + why);
        return SyslogLine{LOG_NOTICE, "blocked " + str(e, "src") + (ttl ? " for " + short_duration(ttl) : " until unblocked") +
                                          " (" + paren + ")"};
    }
    if (type == "unblock")
        return SyslogLine{LOG_INFO, "unblocked " + str(e, "src") + " (" + str(e, "reason") + ")"};
    if (type == "block_refused")
        return SyslogLine{LOG_WARNING, "not blocking " + str(e, "src") + ": " + str(e, "reason")};
    return std::nullopt;
}

Syslog::Syslog() { openlog("scanwatch", LOG_PID, LOG_DAEMON); }
Syslog::~Syslog() { closelog(); }

void Syslog::on_event(const nlohmann::ordered_json& e) {
    if (auto l = syslog_line(e))
        syslog(l->priority, "%s", l->text.c_str());
}

}  // namespace scanwatch
