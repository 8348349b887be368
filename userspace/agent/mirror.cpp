#include "agent/mirror.hpp"

#include <algorithm>
#include <vector>

namespace scanwatch {

namespace {
constexpr uint64_t kProvenBonus = uint64_t{1} << 32;  // above any count a record can hold
}

Mirror::Mirror(Analyzer& an, SourceReader map, MirrorLimits lim) : an_(an), map_(std::move(map)), lim_(lim) {
    lim_.max_tracked = std::max<size_t>(lim_.max_tracked, 1);
    lim_.walk_per_sweep = std::max<size_t>(lim_.walk_per_sweep, 1);
    lim_.refresh_per_sweep = std::max<size_t>(lim_.refresh_per_sweep, 1);
    lim_.admit_per_sweep = std::max<size_t>(lim_.admit_per_sweep, 1);
}

uint64_t Mirror::evidence(const sw_source& rec) {
    const uint32_t* c = rec.cnt;
    uint64_t e = distinct_ports(rec) + distinct_hosts(rec) + uint64_t{c[SW_C_HALF_OPEN]} + c[SW_C_CONNECT] +
                 c[SW_C_RPC] + c[SW_C_SV_PROBE] + c[SW_C_OS_TS] + c[SW_C_OS_URG] + c[SW_C_OS_UDP];
    if (rec.flags & SW_SF_PROVEN)
        e += kProvenBonus;
    return e;
}

bool Mirror::hot(const sw_source& rec) const {
    if (rec.flags & (SW_SF_HOT | SW_SF_FAST_BLOCKED))
        return true;
    // The kernel's mark comes with a source's first event (4 distinct ports or
    // hosts at the earliest): a lower --min-ports/--min-hosts is met here.
    const DetectorConfig& cfg = an_.detector().config();
    return (cfg.min_ports < 4 && distinct_ports(rec) >= cfg.min_ports) ||
           (cfg.min_hosts < 4 && distinct_hosts(rec) >= cfg.min_hosts);
}

bool Mirror::idle(const sw_source& rec, uint64_t now) const {
    return now > rec.last_ns && now - rec.last_ns > an_.detector().config().idle_forget_ns;
}

void Mirror::on_event(const sw_event& e) {
    an_.count_event(e);
    marked_.insert(Addr::from_bytes(e.saddr));
}

void Mirror::flush(uint64_t now) {
    for (const Addr& a : marked_) {
        if (tracks(a)) {
            refresh(a, now);
            continue;
        }
        auto rec = map_.get(a);
        if (!rec || !offer(a, *rec, now, true))
            an_.detector().forget(a);  // what its event told (RPC) goes with it
    }
    marked_.clear();
    stats_.tracked = tracked_.size();
}

size_t Mirror::sweep(uint64_t now) {
    marked_.clear();  // a sweep reads the tracked ones anyway; the others are offered below
    size_t read = 0;
    // The tracked sources' turns: the next refresh_per_sweep of them, each
    // going to the back of the queue while it stays tracked.
    for (size_t n = turns_.size(), done = 0; n > 0 && done < lim_.refresh_per_sweep; n--) {
        auto [a, gen] = turns_.front();
        turns_.pop_front();
        auto it = tracked_.find(a);
        if (it == tracked_.end() || it->second.gen != gen)
            continue;  // evicted, or taken in again with a newer turn
        refresh(a, now);
        read++;
        done++;
        if (tracks(a))
            turns_.emplace_back(a, gen);
    }
    if (!stats_.walk_position && !cursor_.started)
        pass_start_ns_ = now;
    // Hot sources found by earlier slices first, then this slice's; each
    // taken in is judged, so they are limited per sweep.
    size_t admitted = 0;
    while (!found_.empty() && admitted < lim_.admit_per_sweep) {
        Addr a = found_.front();
        found_.pop_front();
        auto rec = tracks(a) ? std::nullopt : map_.get(a);
        read++;
        if (rec && !idle(*rec, now) && offer(a, *rec, now, false)) {
            stats_.found_by_walk++;
            admitted++;
        }
    }
    auto [n, ended] = map_.walk(cursor_, lim_.walk_per_sweep, [&](const Addr& a, const sw_source& rec) {
        if (tracks(a) || !hot(rec) || idle(rec, now))
            return;
        if (admitted >= lim_.admit_per_sweep) {
            if (found_.size() < lim_.max_tracked)
                found_.push_back(a);  // beyond that: the next pass finds it again
            return;
        }
        if (offer(a, rec, now, false)) {
            stats_.found_by_walk++;
            admitted++;
        }
    });
    read += n;
    stats_.walk_position += n;
    if (ended) {
        stats_.walk_passes++;
        stats_.map_records = stats_.walk_position;
        stats_.walk_pass_s = static_cast<double>(now - std::min(now, pass_start_ns_)) / 1e9;
        stats_.walk_position = 0;
        cursor_ = MapCursor{};
    }
    // Sources forgotten above may have left detector state behind them (an
    // RPC event is remembered before its record is read): idle ones go here.
    an_.detector().expire(now);
    stats_.tracked = tracked_.size();
    stats_.last_read = read;
    return read;
}

void Mirror::refresh(const Addr& a, uint64_t now) {
    auto rec = map_.get(a);
    if (!rec || idle(*rec, now)) {
        untrack(a);  // the LRU evicted it, or it went quiet for longer than we remember sources
        return;
    }
    auto it = tracked_.find(a);
    set_evidence(a, it->second, evidence(*rec));
    if (an_.judge(a, *rec, now))
        set_verdict(a, tracked_.find(a)->second);
}

bool Mirror::offer(const Addr& a, const sw_source& rec, uint64_t now, bool judge_anyway) {
    const uint64_t ev = evidence(rec);
    if (!make_room(ev, false)) {
        if (!judge_anyway) {
            stats_.refused++;
            return false;
        }
        // Judged once without a slot: a verdict earns one (a verdict outranks
        // evidence), anything else is forgotten again.
        if (!an_.judge(a, rec, now) || !make_room(ev, true)) {
            stats_.refused++;
            return false;
        }
        add(a, ev).verdict = true;
        stats_.admitted++;
        return true;
    }
    add(a, ev);
    evictable_.emplace(ev, a);
    stats_.admitted++;
    if (an_.judge(a, rec, now))
        set_verdict(a, tracked_.find(a)->second);
    return true;
}

Mirror::Entry& Mirror::add(const Addr& a, uint64_t ev) {
    Entry& e = tracked_[a];
    e.evidence = ev;
    e.gen = ++gen_;
    turns_.emplace_back(a, e.gen);
    return e;
}

// Frees a slot for a newcomer with `ev` evidence: takes the least evidenced
// tracked source without a verdict, if it has less (any, for a verdict).
bool Mirror::make_room(uint64_t ev, bool for_verdict) {
    if (tracked_.size() < lim_.max_tracked)
        return true;
    if (evictable_.empty())
        return false;
    auto least = *evictable_.begin();
    if (!for_verdict && least.first >= ev)
        return false;
    untrack(least.second);
    stats_.evicted++;
    return true;
}

void Mirror::untrack(const Addr& a) {
    auto it = tracked_.find(a);
    if (it == tracked_.end())
        return;
    if (!it->second.verdict)
        evictable_.erase({it->second.evidence, a});
    tracked_.erase(it);
    an_.detector().forget(a);
}

void Mirror::set_evidence(const Addr& a, Entry& e, uint64_t ev) {
    if (e.evidence == ev)
        return;
    if (!e.verdict) {
        evictable_.erase({e.evidence, a});
        evictable_.emplace(ev, a);
    }
    e.evidence = ev;
}

void Mirror::set_verdict(const Addr& a, Entry& e) {
    if (e.verdict)
        return;
    evictable_.erase({e.evidence, a});
    e.verdict = true;
}

}  // namespace scanwatch
