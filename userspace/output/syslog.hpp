// --syslog: one readable line per detection and per block/unblock, made from
// the same JSON events the EventWriter writes (it is one of its sinks).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace scanwatch {

struct SyslogLine {
    int priority;      // LOG_WARNING, LOG_NOTICE, LOG_INFO
    std::string text;  // "scan from 198.18.0.2: syn by nmap, 1000 ports on 1 host, score 0.99, action block"
};

// The line for an event, or nothing for events that get none (started, stopped).
std::optional<SyslogLine> syslog_line(const nlohmann::ordered_json& e);

// "1h", "1h30m", "45s", "2d"; 0 is "ever" (never expires).
std::string short_duration(uint64_t seconds);

// openlog("scanwatch", LOG_PID, LOG_DAEMON) for the process lifetime.
class Syslog {
public:
    Syslog();
    ~Syslog();
    Syslog(const Syslog&) = delete;
    Syslog& operator=(const Syslog&) = delete;
    void on_event(const nlohmann::ordered_json& e);
};

}  // namespace scanwatch
