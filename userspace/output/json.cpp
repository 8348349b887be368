#include "scanwatch/output.hpp"

#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace scanwatch {

Clock Clock::live() {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec; };
    return Clock{ns(rt) - ns(mono)};
}

std::string rfc3339(uint64_t wall_ns) {
    time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000ULL);
    unsigned ms = static_cast<unsigned>((wall_ns / 1'000'000ULL) % 1000);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
    return buf;
}

nlohmann::ordered_json scan_json(const ScanReport& r, const Clock& clock, uint64_t now_kernel_ns,
                                 const std::string& action) {
    nlohmann::ordered_json j;
    j["event"] = "scan";
    j["src"] = r.src.str();
    j["kinds"] = r.kinds;
    j["tool"] = r.tool;
    j["scanner_os"] = r.scanner_os;
    j["ports"] = r.ports;
    j["hosts"] = r.hosts;
    j["probes"] = r.probes;
    j["score"] = score_value(r.score);
    j["first_seen"] = rfc3339(clock.wall(r.first_seen_ns));
    j["ts"] = rfc3339(clock.wall(now_kernel_ns));
    j["action"] = action;
    nlohmann::ordered_json ev = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.evidence)
        ev[k] = v;
    j["evidence"] = ev;
    if (!r.rpc_programs.empty())
        j["rpc_programs"] = r.rpc_programs;
    return j;
}

std::string scan_line(const ScanReport& r) {
    std::ostringstream o;
    o << r.src.str() << " scans";
    if (r.tool != "unknown")
        o << " with " << r.tool;
    o << " (";
    for (size_t i = 0; i < r.kinds.size(); i++)
        o << (i ? ", " : "") << r.kinds[i];
    o << "): " << r.ports << (r.ports == 1 ? " port, " : " ports, ") << r.hosts
      << (r.hosts == 1 ? " host, " : " hosts, ") << r.probes << " probes, score " << format_score(r.score);
    return o.str();
}

namespace {

// (file, owned) for a path: "-" is stdout, empty is nothing.
std::pair<std::FILE*, bool> open_events(const std::string& path) {
    if (path.empty())
        return {nullptr, false};
    if (path == "-")
        return {stdout, false};
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f)
        throw std::runtime_error("cannot open '" + path + "' for the JSON events: " + std::strerror(errno));
    return {f, true};
}

}  // namespace

EventWriter::EventWriter(const std::string& path) { std::tie(f_, owned_) = open_events(path); }

void EventWriter::reopen(const std::string& path) {
    auto [f, owned] = open_events(path);
    if (owned_ && f_)
        std::fclose(f_);
    f_ = f;
    owned_ = owned;
}

EventWriter::~EventWriter() {
    if (owned_ && f_)
        std::fclose(f_);
}

void EventWriter::write(const nlohmann::ordered_json& obj) {
    for (const auto& sink : sinks_)
        sink(obj);
    if (!f_)
        return;
    std::string line = obj.dump();
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fflush(f_);
}

}  // namespace scanwatch
