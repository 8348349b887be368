// The model behind `scanwatch top`: samples of the agent's `sources` and
// `status` replies, rates from the deltas between samples, sorting with a
// stable order, filtering, the text of cells, header, details and legend.
// No ncurses here: the view (ui/top.cpp) only places these strings on the
// screen, and `top --once` prints them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scanwatch/addr.hpp"

namespace scanwatch::ui {

// ---- formatting ----------------------------------------------------------

// An age or a duration in one unit, floored: "0s", "59s", "3m", "2h", "4d";
// "-" when unknown (negative or not finite).
std::string format_age(double seconds);
// A duration in up to two units: "45s", "2m05s", "10m", "1h02m", "1d03h"; "-" when unknown.
std::string format_duration(double seconds);
// Time left in one unit, rounded: 599 s is "10m", 542 s "9m", 3599 s "1h"; "-" when unknown.
std::string format_time_left(double seconds);
// failed / (failed + answered) as a whole percentage, floored so that only an
// all-failed source shows 100%; "-" when nothing was answered or failed.
std::string format_percent(uint64_t failed, uint64_t answered);
// A rate: "-" (unknown), "0", "0.5", "12", "950", "12.3k", "4.1M".
std::string format_rate(std::optional<double> per_s);
// A count: as is up to 99999, then "123k", "12.3M".
std::string format_count(uint64_t n);
// Kinds joined by ',' to fit in width, the rest counted: "syn,os-detect", "syn,+2", "-".
std::string fit_kinds(const std::vector<std::string>& kinds, size_t width);
// text cut to width (the last character replaced by '~' when cut), or padded.
std::string fit(std::string_view text, size_t width, bool right_align = false);
// "2026-11-26T21:03:04.123Z" -> seconds since the epoch.
std::optional<double> parse_rfc3339(std::string_view text);
// One cell per value (values are rates; nullopt = no sample there), scaled
// to the largest value: ' ' for zero or no data, then 8 levels. unicode picks
// "▁▂▃▄▅▆▇█", else ".:-=+*#@".
std::string sparkline(const std::vector<std::optional<double>>& values, bool unicode);

// ---- rows and samples ----------------------------------------------------

struct BlockState {
    std::string target;                 // "198.18.0.2/32": what `unblock` must name
    std::string reason;
    bool manual = false;
    std::optional<double> ttl_left_s;   // nullopt: never expires
};

struct SourceRow {
    std::string src;
    Addr addr;                          // for ordering by address
    std::vector<std::string> kinds;
    std::string tool = "unknown";
    uint64_t ports = 0, hosts = 0, probes = 0, answered = 0, failed = 0;
    double score = 0;
    bool scanner = false;
    std::string state = "watching";     // watching | scanner | blocked
    std::optional<BlockState> block;
    double first_age_s = -1, last_age_s = -1;  // at the time of the sample
    std::map<std::string, uint64_t> evidence;
    std::vector<uint32_t> rpc_programs;
    std::vector<std::string> why_not;   // what a verdict lacks (not scanners)
    std::optional<double> probe_rate;   // probes/s since the previous sample
    bool block_only = false;            // a block the agent has no source record for
};

// One object of the agent's `sources` reply; tolerant of missing fields.
SourceRow row_from_json(const nlohmann::json& j);

struct Totals {
    uint64_t packets = 0, dropped = 0;
    std::optional<double> packets_per_s;
    uint64_t tracked = 0;               // sources the detector tracks (status), else rows
    uint64_t scanners_now = 0;          // rows judged scanners (blocked ones too)
    uint64_t scanners_seen = 0;         // reported since the agent started (status)
    uint64_t blocks = 0;
    std::string xdp_mode = "?";
    std::vector<std::string> ifaces;
    double uptime_s = -1;
    bool block_enabled = false;
    uint64_t events_lost = 0;
};

enum class Column { Source, Kinds, Tool, Ports, Hosts, ProbeRate, Failed, First, Last, State, Score };
constexpr Column kAllColumns[] = {Column::Source, Column::Kinds, Column::Tool,  Column::Ports,
                                  Column::Hosts,  Column::ProbeRate, Column::Failed, Column::First,
                                  Column::Last,   Column::State, Column::Score};
const char* column_name(Column c);      // "SOURCE", "PROBES/s", ...
std::optional<Column> column_from_name(std::string_view name);  // case-insensitive

// ---- sorting and filtering ----------------------------------------------

// a goes before b. Each column has a natural direction (counts, rates and
// scores largest first; names, ages smallest first; state blocked, scanner,
// watching); inverted flips it. Ties always go by address, then the
// address text, so equal rows keep their places from sample to sample.
bool row_before(const SourceRow& a, const SourceRow& b, Column key, bool inverted);
void sort_rows(std::vector<const SourceRow*>& rows, Column key, bool inverted);
// Case-insensitive substring of the address, or of one of the kinds, the tool
// or the state. An empty filter matches everything.
bool matches(const SourceRow& r, std::string_view filter);

// Rate from two readings of a counter; nullopt when there is no earlier
// reading, the interval is not positive, or the counter went backwards (the
// agent restarted or the record was evicted).
std::optional<double> rate_from_delta(std::optional<uint64_t> before, uint64_t now, double dt_s);

// ---- the model -----------------------------------------------------------

class TopModel {
public:
    explicit TopModel(double history_s = 60) : history_s_(history_s) {}

    // One sample at monotonic time now_s: the agent's `sources` reply and,
    // when there are, its `status` and `blocks` replies. A block without a
    // source row (blocked before it sent anything the kernel kept, or a
    // CIDR) gets a row of its own, so that it can be seen and unblocked.
    void ingest(double now_s, const nlohmann::json& sources, const nlohmann::json& status = nullptr,
                const nlohmann::json& blocks = nullptr);

    const Totals& totals() const { return totals_; }
    const std::vector<SourceRow>& rows() const { return rows_; }
    size_t samples() const { return samples_; }
    double last_sample_s() const { return now_s_; }
    const SourceRow* find(std::string_view src) const;

    // The rows that match the filter, in display order.
    std::vector<const SourceRow*> view() const;

    // probes/s of src over the last window_s, in cells buckets (oldest
    // first; nullopt where no sample fell). The largest rate in a bucket wins.
    std::vector<std::optional<double>> rate_series(std::string_view src, size_t cells, double window_s = 60) const;

    Column sort_key = Column::Score;
    bool inverted = false;
    std::string filter;

private:
    double history_s_;
    double now_s_ = 0;
    size_t samples_ = 0;
    std::vector<SourceRow> rows_;
    Totals totals_;
    std::optional<uint64_t> prev_packets_;
    double prev_t_ = 0;
    std::unordered_map<std::string, uint64_t> prev_probes_;
    std::unordered_map<std::string, std::deque<std::pair<double, double>>> history_;  // src -> (t, probes/s)
};

// ---- the selected row ---------------------------------------------------

// Keeps the selection on the same source when rows move, and the selected
// row inside the visible window.
struct Cursor {
    std::string src;      // selected source ("" = none)
    size_t index = 0;     // its position in the view
    size_t top = 0;       // first visible row
    bool follow = false;  // set by move(): the user chose src, keep it selected

    // After the view changed: follow src once the user chose it (else, and
    // when it is gone, stay at the same index).
    void sync(const std::vector<const SourceRow*>& view, size_t visible);
    // Moves by delta rows (clamped) and keeps it visible.
    void move(const std::vector<const SourceRow*>& view, long delta, size_t visible);
    const SourceRow* selected(const std::vector<const SourceRow*>& view) const {
        return index < view.size() ? view[index] : nullptr;
    }
};

// ---- text layout ---------------------------------------------------------

struct LaidColumn {
    Column id;
    size_t width;
    bool right;           // right-aligned
};

// The table's columns for a screen width: the fixed ones at their widths,
// SOURCE as wide as the longest address (11..39), KINDS as wide as the
// longest list of kinds (16 at least) when there is room for it.
// When the width is short, SCORE goes first, then FIRST, then HOSTS, then
// TOOL, so KINDS keeps at least 10 cells.
std::vector<LaidColumn> layout_columns(size_t width, const std::vector<const SourceRow*>& rows);
std::string format_cell(const SourceRow& r, Column c, size_t width);
// One line: the cells separated by one space. The header line when r is null.
std::string format_row(const SourceRow* r, const std::vector<LaidColumn>& cols);

struct HeaderInfo {
    std::string socket;
    double delay_s = 1;
    bool paused = false;
    std::string error;    // the last failure talking to the agent, if any (the view shows it below)
};
// The lines above the table (three).
std::vector<std::string> header_lines(const TopModel& m, const HeaderInfo& h, size_t width);

// The details pane of one source (no wrapping beyond width; cut instead).
std::vector<std::string> detail_lines(const TopModel& m, const SourceRow& r, size_t width, bool unicode);

// The key legend that fits in width: (key, label) pairs; shorter labels when narrow.
std::vector<std::pair<std::string, std::string>> legend(size_t width, bool unicode);

// The help text.
std::vector<std::string> help_lines();

// `top --once`: plain text (header, table) and JSON (the sources reply plus totals).
std::string snapshot_text(const TopModel& m, const HeaderInfo& h, size_t width);
nlohmann::json snapshot_json(const TopModel& m, const nlohmann::json& sources_reply);

// Evidence counters that back a kind ("syn" -> syn, syn_nmap, syn_noopt, half_open).
std::vector<std::string> evidence_for_kind(std::string_view kind);

}  // namespace scanwatch::ui
