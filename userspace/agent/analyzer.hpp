// Feeds the detector from the kernel's evidence, the same way for the live
// agent and for replay: ring-buffer events mark sources to re-judge at once,
// and a periodic sweep re-judges every source. Reports go to the writer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>

#include "scanwatch/detector.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

using SourceLookup = std::function<std::optional<sw_source>(const Addr&)>;
using SourceVisitor = std::function<void(const Addr&, const sw_source&)>;
using SourceScan = std::function<size_t(const SourceVisitor&)>;
using WideLookup = std::function<std::optional<sw_wide>(const Addr&)>;

class Analyzer {
public:
    Analyzer(DetectorConfig cfg, EventWriter& out, Clock clock, bool human_lines);

    // A ring-buffer event: remembered, and its source re-judged at the next flush().
    void on_event(const sw_event& e);
    // Re-judges the sources touched by events since the last flush.
    void flush(const SourceLookup& lookup, uint64_t now_ns);
    // Re-judges every source; returns how many records were read.
    size_t sweep(const SourceScan& scan, uint64_t now_ns);

    // For a caller that picks the sources itself (Mirror): an event counted and
    // given to the detector, without marking its source for flush().
    void count_event(const sw_event& e);
    // Judges one source from its record; true when the detector reported it a
    // scanner (the report written, or held back by `repeat`).
    bool judge(const Addr& a, const sw_source& rec, uint64_t now_ns);

    // Called for each report, with the record it was judged from, before it is
    // written (the blocker hooks in here); returns the action: "alert" or "block".
    std::function<std::string(const ScanReport&, const sw_source&)> on_report;
    // Asked first: true holds the report back as a repeat of one already
    // written (the Mirror's memory of what it said about sources it let go).
    std::function<bool(const ScanReport&, const sw_source&)> repeat;
    // Told of each report written.
    std::function<void(const ScanReport&, const sw_source&)> written;
    // The sw_wide sketches of a source with SW_WIDE_AT ports or hosts (the
    // kernel's map); unset, counts stop at the bitmaps' range.
    WideLookup wide;

    Detector& detector() { return det_; }
    void set_human_lines(bool on) { human_ = on; }
    uint64_t events() const { return events_; }
    uint64_t reports() const { return reports_; }

private:
    Detector det_;
    EventWriter& out_;
    Clock clock_;
    bool human_;
    std::unordered_set<Addr> touched_;
    uint64_t events_ = 0;
    uint64_t reports_ = 0;
};

}  // namespace scanwatch
