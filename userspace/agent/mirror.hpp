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
// held by the detector). When full, a newcomer takes the slot of the least
// evidenced tracked source without a verdict, and only with more evidence
// than it; a source with a verdict is never evicted for room (it leaves when
// its kernel record is gone or idle past the detector's idle_forget).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "agent/analyzer.hpp"

namespace scanwatch {

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
};

struct MirrorStats {
    uint64_t tracked = 0;          // sources mirrored now
    uint64_t admitted = 0;         // hot sources taken in (events and walk)
    uint64_t found_by_walk = 0;    // of them, found by the walk (their event was lost or held back)
    uint64_t evicted = 0;          // tracked sources that gave their slot to one with more evidence
    uint64_t refused = 0;          // hot sources kept out: the tracked ones all had more evidence or a verdict
    uint64_t walk_passes = 0;      // complete passes of the walk over the map
    uint64_t walk_position = 0;    // records read so far in the current pass
    uint64_t map_records = 0;      // records the latest complete pass read (the map's fill, ~)
    double walk_pass_s = 0;        // how long the latest complete pass took: the most a lost event delays
    uint64_t last_read = 0;        // records the latest sweep read (tracked + walk)
};

class Mirror {
public:
    Mirror(Analyzer& an, SourceReader map, MirrorLimits lim = {});

    // A ring-buffer event: its source is hot; it is read by key at the next flush().
    void on_event(const sw_event& e);
    // Reads and judges the sources named by events since the last flush.
    void flush(uint64_t now_ns);
    // Re-reads and judges every tracked source, then walks the next slice of
    // the map for hot sources not tracked yet. Returns the records read.
    size_t sweep(uint64_t now_ns);

    bool tracks(const Addr& a) const { return tracked_.count(a) != 0; }
    const MirrorStats& stats() const { return stats_; }
    const MirrorLimits& limits() const { return lim_; }

    // Evidence used to rank sources for a slot: distinct ports and hosts, and
    // probes that needed an answer from us; a proven source (it completed a
    // handshake, so its address is not forged) outranks any unproven one.
    static uint64_t evidence(const sw_source& rec);

private:
    struct Entry {
        uint64_t evidence = 0;
        uint64_t gen = 0;      // its place in turns_
        bool verdict = false;  // judged a scanner: never evicted for room
    };
    Entry& add(const Addr& a, uint64_t evidence);
    // Judges a source already tracked; drops it when its record is gone or idle.
    void refresh(const Addr& a, uint64_t now_ns);
    // A hot source not tracked yet: takes a slot if it may (and is judged);
    // `judge_anyway` judges it once even without a slot (events, which the
    // kernel budgets), keeping it only if that gave it a verdict.
    bool offer(const Addr& a, const sw_source& rec, uint64_t now_ns, bool judge_anyway);
    bool make_room(uint64_t evidence, bool for_verdict);
    void untrack(const Addr& a);
    void set_evidence(const Addr& a, Entry& e, uint64_t ev);
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
    std::set<std::pair<uint64_t, Addr>> evictable_;  // (evidence, source) of tracked sources without a verdict
    std::unordered_set<Addr> marked_;                // named by events since the last flush
    std::deque<std::pair<Addr, uint64_t>> turns_;    // tracked sources in refresh order (stale gens skipped)
    std::deque<Addr> found_;                         // hot sources the walk found, waiting for admit_per_sweep
    uint64_t gen_ = 0;
};

}  // namespace scanwatch
