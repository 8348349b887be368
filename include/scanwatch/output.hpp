// JSON events (one object per line, flushed as they happen) and the short
// human lines on stderr. Field names are the interface contract of DESIGN.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scanwatch/detector.hpp"

namespace scanwatch {

// Converts the kernel's clock (CLOCK_MONOTONIC in live mode, capture time in
// replay) into wall-clock nanoseconds since the epoch.
struct Clock {
    int64_t offset_ns = 0;  // wall = kernel + offset
    static Clock live();     // from CLOCK_REALTIME - CLOCK_MONOTONIC now
    static Clock identity() { return {}; }  // replay: the capture clock is wall time
    uint64_t wall(uint64_t kernel_ns) const { return static_cast<uint64_t>(static_cast<int64_t>(kernel_ns) + offset_ns); }
};

// "2026-11-26T21:03:04.123Z"
std::string rfc3339(uint64_t wall_ns);

// The `scan` event's JSON object for a report.
nlohmann::ordered_json scan_json(const ScanReport& r, const Clock& clock, uint64_t now_kernel_ns,
                                 const std::string& action);

// One line for a person: "198.18.0.2 scans with nmap (syn, rpc): 1000 ports, 1 host, score 0.99"
std::string scan_line(const ScanReport& r);

class EventWriter {
public:
    // path "-" is stdout; empty path writes nothing.
    explicit EventWriter(const std::string& path);
    ~EventWriter();
    EventWriter(const EventWriter&) = delete;
    EventWriter& operator=(const EventWriter&) = delete;

    // Writes the event to the file (if any) and hands it to every sink.
    void write(const nlohmann::ordered_json& obj);
    // Switches to another path (or reopens the same one after logrotate moved
    // it). On failure it throws and keeps writing where it did.
    void reopen(const std::string& path);
    bool enabled() const { return f_ != nullptr; }
    // Another consumer of every event (syslog, metrics); called in write()'s thread.
    using Sink = std::function<void(const nlohmann::ordered_json&)>;
    void add_sink(Sink s) { sinks_.push_back(std::move(s)); }

private:
    std::vector<Sink> sinks_;
    std::FILE* f_ = nullptr;
    bool owned_ = false;
};

}  // namespace scanwatch
