// Which of the kernel's source records the live agent reads, and when.
//
// The sources map can hold a million records, nearly all of them one- or
// two-packet sources (spoofed floods, ordinary clients). The agent mirrors
// only hot sources: those whose record raised a ring-buffer event (the kernel
// sets SW_SF_HOT at a source's first event, account.bpf.h). It reads them by
// key: at once when an event names them, and every sweep while it tracks
// them. A bounded, resumable walk reads a fixed number of map records per
// sweep, so a hot source whose event was lost or held back (ring full, hot
// budget spent) is still found within one pass over the map.
//
// Bounded against a forger: at most max_tracked sources are mirrored (and so
// held by the detector). A forger can give spoofed sources verdicts (SYNs to
// closed ports), so a verdict alone does not hold a slot. When full, a
// newcomer takes, in this order:
//   1. the slot of a settled unproven source with a verdict (no packet for
//      the probe timeout + the re-emit interval: nothing left to judge), oldest first;
//   2. the slot of the least evidenced unproven source, with a verdict or
//      not, if the newcomer has more evidence; a newcomer judged a scanner at
//      its event may take any unjudged source's slot;
//   3. the slot of a settled proven source with a verdict, oldest first.
// A settled newcomer takes no slot: it is judged once and forgotten (the
// walk skips those already reported), so settled sources cannot churn.
// A proven source (SW_SF_PROVEN: it acknowledged our SYN/ACK, which only the
// address's owner receives) is never evicted while active, and outranks any
// unproven one. What was said about a source outlives its slot: ReportMemory
// holds a report back when it says nothing the last one did not (so a
// source that comes back is not reported twice), and lets through what
// escalates (a new kind, a named tool, new proof, counts grown by half).
// Blocks are the Blocker's and are not touched by any of this.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "agent/analyzer.hpp"

namespace scanwatch {

// What the agent reported about a source, kept after its slot (and the
// detector's state) is gone: the union of its reports' kinds, whether a tool
// was named, its proven ports, the decoy mark, its ports and probes at the
// last report. Fixed size: `capacity` 32-byte entries (the full address, so
// no two sources can share one: a false match would silence a scanner) in
// buckets of 8, placed by a hash seeded per process so a forger cannot aim
// at a bucket. A full bucket drops its least recently reported unproven
// entry, or its least recently reported one when all are proven: a forger's
// spoofed sources can push out each other and unproven ones, not proven ones.
class ReportMemory {
public:
    static constexpr size_t kWays = 8;
    explicit ReportMemory(size_t capacity, uint64_t seed);

    // Does this report say nothing the last written about its source did not?
    bool repeat(const ScanReport& r, const sw_source& rec) const;
    bool knows(const Addr& a) const { return find(a) != nullptr; }
    // A report was written: remember it (merged with what was said before).
    void note(const ScanReport& r, const sw_source& rec);
    size_t size() const { return used_; }
    size_t capacity() const { return slots_.size(); }

private:
    struct Said {
        Addr addr;
        uint32_t kinds = 0;   // ScanReport::kind_bits, all reports'
        uint32_t ports = 0;   // at the last report (at least 1)
        uint32_t probes = 0;  // idem
        uint8_t proven = 0;   // proven ports (sw_source.proven bits), most seen
        uint8_t flags = 0;    // kUsed | kTool | kDecoy
        uint16_t unused = 0;
    };
    static_assert(sizeof(Said) == 32);
    Said* bucket(const Addr& a);
    const Said* find(const Addr& a) const;

    std::vector<Said> slots_;
    size_t buckets_mask_ = 0;
    uint64_t seed_[2] = {};
    size_t used_ = 0;
};

// Where a walk of the map stands (an opaque batch position of the map).
struct MapCursor {
    uint8_t token[16] = {};
    bool started = false;  // false: the next read starts at the map's beginning
};

// The kernel's sources map as the mirror reads it: the live map, a fake in tests.
struct SourceReader {
    // One record, by key.
    std::function<std::optional<sw_source>(const Addr&)> get;
    // Reads records from where `cursor` stands, calling the visitor for each,
    // until about `max` were read or the map ended. Returns how many were read
    // and whether the map ended (the cursor then starts over).
    std::function<std::pair<size_t, bool>(MapCursor& cursor, size_t max, const SourceVisitor&)> walk;
};

struct MirrorLimits {
    size_t max_tracked = 16384;    // sources mirrored, and so held by the detector
    size_t walk_per_sweep = 32768; // map records the background walk reads per sweep
    // Tracked sources re-read per sweep, in turn (events re-read theirs at
    // once): a full mirror is re-judged every max_tracked / refresh_per_sweep
    // sweeps (2 s at 250 ms, within the 3 s probe timeout), and a sweep stays short.
    size_t refresh_per_sweep = 2048;
    // Hot sources the walk takes in (and judges) per sweep; more found in one
    // slice wait in a queue of at most max_tracked for the next sweeps.
    size_t admit_per_sweep = 1024;
    // Sources whose reports are remembered after they leave (ReportMemory):
    // 32 bytes each, 2 MiB by default. Rounded up to a power of two, at least 8.
    size_t remembered = 65536;
};

struct MirrorStats {
    uint64_t tracked = 0;          // sources mirrored now
    uint64_t admitted = 0;         // hot sources taken in (events and walk)
    uint64_t found_by_walk = 0;    // of them, found by the walk (their event was lost or held back)
    uint64_t evicted = 0;          // tracked sources that gave their slot to a newcomer
    uint64_t evicted_judged = 0;   // of them, sources with a verdict (quiet, or less evidenced and unproven)
    uint64_t refused = 0;          // hot sources kept out: no tracked source was worth less
    uint64_t repeats_held = 0;     // reports held back: a source that came back, with nothing new to say
    uint64_t remembered = 0;       // sources in the report memory
    uint64_t rejudged = 0;         // sources reported before, judged scanners again after they came back
    uint64_t walk_passes = 0;      // complete passes of the walk over the map
    uint64_t walk_position = 0;    // records read so far in the current pass
    uint64_t map_records = 0;      // records the latest complete pass read (the map's fill, ~)
    double walk_pass_s = 0;        // how long the latest complete pass took: the most a lost event delays
    uint64_t last_read = 0;        // records the latest sweep read (tracked + walk)
};

class Mirror {
public:
    // Hooks the report memory into `an` (its repeat/written) until destroyed.
    Mirror(Analyzer& an, SourceReader map, MirrorLimits lim = {});
    ~Mirror();
    Mirror(const Mirror&) = delete;
    Mirror& operator=(const Mirror&) = delete;

    // A ring-buffer event: its source is hot; it is read by key at the next flush().
    void on_event(const sw_event& e);
    // Reads and judges the sources named by events since the last flush.
    void flush(uint64_t now_ns);
    // Re-reads and judges every tracked source, then walks the next slice of
    // the map for hot sources not tracked yet. Returns the records read.
    size_t sweep(uint64_t now_ns);

    bool tracks(const Addr& a) const { return tracked_.count(a) != 0; }
    // Sources ever judged scanners, each once while the report memory holds
    // it (the detector counts a source again when it comes back).
    uint64_t scanners() const;
    const MirrorStats& stats() const { return stats_; }
    const MirrorLimits& limits() const { return lim_; }

    // Evidence used to rank sources for a slot: distinct ports and hosts, and
    // probes that needed an answer from us; a proven source (it completed a
    // handshake, so its address is not forged) outranks any unproven one.
    static uint64_t evidence(const sw_source& rec);

private:
    struct Entry {
        uint64_t evidence = 0;
        uint64_t last_ns = 0;  // the record's last packet, as last read
        uint64_t gen = 0;      // its place in turns_
        bool verdict = false;  // judged a scanner
        bool proven = false;   // SW_SF_PROVEN
    };
    Entry& add(const Addr& a, const sw_source& rec);
    // Judges a source already tracked; drops it when its record is gone or idle.
    void refresh(const Addr& a, uint64_t now_ns);
    // A hot source not tracked yet: takes a slot if it may (and is judged);
    // `judge_anyway` judges it once even without a slot (events, which the
    // kernel budgets), keeping it only if that gave it a verdict. A settled
    // one is judged once (unless it was reported before) and takes no slot.
    enum class Offer { taken, looked, refused };
    Offer offer(const Addr& a, const sw_source& rec, uint64_t now_ns, bool judge_anyway);
    // Judges a source the detector holds nothing on (not tracked).
    bool judge_new(const Addr& a, const sw_source& rec, uint64_t now_ns);
    bool make_room(uint64_t evidence, bool for_verdict, uint64_t now_ns);
    // No packet for the probe timeout + the re-emit interval: its probes have
    // all timed out and any update it was due is written, so judging it again
    // cannot change a thing until it sends again.
    bool settled(uint64_t last_ns, uint64_t now_ns) const;
    std::optional<Addr> quiet(bool proven, uint64_t now_ns) const;
    void untrack(const Addr& a);
    // Entries are indexed by what ranks them for eviction: index() after any change.
    void index(const Addr& a, const Entry& e);
    void unindex(const Addr& a, const Entry& e);
    void update(const Addr& a, Entry& e, const sw_source& rec);
    void set_verdict(const Addr& a, Entry& e);
    bool hot(const sw_source& rec) const;
    bool idle(const sw_source& rec, uint64_t now_ns) const;

    Analyzer& an_;
    SourceReader map_;
    MirrorLimits lim_;
    MirrorStats stats_;
    MapCursor cursor_;
    uint64_t pass_start_ns_ = 0;
    std::unordered_map<Addr, Entry> tracked_;
    using Ranked = std::set<std::pair<uint64_t, Addr>>;
    Ranked unjudged_;  // (evidence, source) of tracked sources without a verdict
    Ranked judged_;    // (evidence, source) of unproven ones with a verdict
    Ranked quiet_[2];  // (last packet, source) of those with a verdict: [0] unproven, [1] proven
    ReportMemory said_;
    std::unordered_set<Addr> marked_;                // named by events since the last flush
    std::deque<std::pair<Addr, uint64_t>> turns_;    // tracked sources in refresh order (stale gens skipped)
    std::deque<Addr> found_;                         // hot sources the walk found, waiting for admit_per_sweep
    uint64_t gen_ = 0;
};

}  // namespace scanwatch
