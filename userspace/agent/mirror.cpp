#include "agent/mirror.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>
#include <vector>

namespace scanwatch {

namespace {
constexpr uint64_t kProvenBonus = uint64_t{1} << 32;  // above any count a record can hold
constexpr uint8_t kUsed = 1, kTool = 2, kDecoy = 4;

uint32_t sat32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }
uint8_t proven_ports(const sw_source& rec) { return static_cast<uint8_t>(std::popcount(rec.proven)); }
uint8_t said_flags(const ScanReport& r) {
    return kUsed | (r.tool != "unknown" ? kTool : 0) | (r.evidence.count("decoy") ? kDecoy : 0);
}

// A 64-bit finalizer (every input bit moves every output bit): the bucket
// comes from its low bits, IPv6 addresses differ in their high ones.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t random64() {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
}
}  // namespace

// ---- ReportMemory ------------------------------------------------------------

ReportMemory::ReportMemory(size_t capacity, uint64_t seed) {
    const size_t n = std::bit_ceil(std::max(capacity, kWays));
    slots_.resize(n);
    buckets_mask_ = n / kWays - 1;
    seed_[0] = seed;
    seed_[1] = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
}

// The bucket's kWays entries: used ones first, the most recently reported first.
ReportMemory::Said* ReportMemory::bucket(const Addr& a) {
    uint64_t x, y;
    std::memcpy(&x, a.b.data(), 8);
    std::memcpy(&y, a.b.data() + 8, 8);
    const uint64_t h = mix64(mix64(x ^ seed_[0]) ^ y ^ seed_[1]);
    return &slots_[(h & buckets_mask_) * kWays];
}

const ReportMemory::Said* ReportMemory::find(const Addr& a) const {
    const Said* b = const_cast<ReportMemory*>(this)->bucket(a);
    for (size_t i = 0; i < kWays && (b[i].flags & kUsed); i++)
        if (b[i].addr == a)
            return &b[i];
    return nullptr;
}

bool ReportMemory::repeat(const ScanReport& r, const sw_source& rec) const {
    const Said* s = find(r.src);
    if (!s)
        return false;
    const uint8_t f = said_flags(r);
    const bool grew = grown_by_half(r.ports, r.probes, s->ports, s->probes);  // the detector's own rule
    return !(r.kind_bits & ~s->kinds) && !((f & kTool) && !(s->flags & kTool)) && (f & kDecoy) == (s->flags & kDecoy) &&
           proven_ports(rec) <= s->proven && !grew;
}

void ReportMemory::note(const ScanReport& r, const sw_source& rec) {
    Said* b = bucket(r.src);
    size_t at = 0;
    while (at < kWays && (b[at].flags & kUsed) && b[at].addr != r.src)
        at++;
    Said s;
    if (at < kWays && (b[at].flags & kUsed)) {
        s = b[at];  // said before: merged
    } else if (at == kWays) {
        // Full: the least recently reported unproven entry goes, else the least recent.
        at = kWays - 1;
        for (size_t i = kWays; i-- > 0;)
            if (!b[i].proven) {
                at = i;
                break;
            }
        used_--;
    }
    if (!(s.flags & kUsed))
        used_++;
    s.addr = r.src;
    s.kinds |= r.kind_bits;
    s.ports = std::max<uint32_t>(sat32(r.ports), 1);
    s.probes = std::max<uint32_t>(sat32(r.probes), 1);
    s.proven = std::max(s.proven, proven_ports(rec));
    s.flags = static_cast<uint8_t>((s.flags & kTool) | said_flags(r));
    // to the front of its bucket
    std::memmove(&b[1], &b[0], at * sizeof(Said));
    b[0] = s;
}

// ---- Mirror ------------------------------------------------------------------

Mirror::Mirror(Analyzer& an, SourceReader map, MirrorLimits lim)
    : an_(an), map_(std::move(map)), lim_(lim), said_(lim.remembered, random64()) {
    lim_.max_tracked = std::max<size_t>(lim_.max_tracked, 1);
    lim_.walk_per_sweep = std::max<size_t>(lim_.walk_per_sweep, 1);
    lim_.refresh_per_sweep = std::max<size_t>(lim_.refresh_per_sweep, 1);
    lim_.admit_per_sweep = std::max<size_t>(lim_.admit_per_sweep, 1);
    lim_.remembered = said_.capacity();
    an_.repeat = [this](const ScanReport& r, const sw_source& rec) {
        if (!said_.repeat(r, rec))
            return false;
        stats_.repeats_held++;
        return true;
    };
    an_.written = [this](const ScanReport& r, const sw_source& rec) {
        said_.note(r, rec);
        stats_.remembered = said_.size();
    };
}

Mirror::~Mirror() {
    an_.repeat = nullptr;
    an_.written = nullptr;
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
        if (!rec || offer(a, *rec, now, true) != Offer::taken)
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
        const Offer o = rec && !idle(*rec, now) ? offer(a, *rec, now, false) : Offer::refused;
        stats_.found_by_walk += o == Offer::taken;
        admitted += o != Offer::refused;
    }
    auto [n, ended] = map_.walk(cursor_, lim_.walk_per_sweep, [&](const Addr& a, const sw_source& rec) {
        if (tracks(a) || !hot(rec) || idle(rec, now) || (settled(rec.last_ns, now) && said_.knows(a)))
            return;
        if (admitted >= lim_.admit_per_sweep) {
            if (found_.size() < lim_.max_tracked)
                found_.push_back(a);  // beyond that: the next pass finds it again
            return;
        }
        const Offer o = offer(a, rec, now, false);
        stats_.found_by_walk += o == Offer::taken;
        admitted += o != Offer::refused;
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
    update(a, tracked_.find(a)->second, *rec);
    if (an_.judge(a, *rec, now))
        set_verdict(a, tracked_.find(a)->second);
}

Mirror::Offer Mirror::offer(const Addr& a, const sw_source& rec, uint64_t now, bool judge_anyway) {
    if (settled(rec.last_ns, now)) {
        if (!said_.knows(a))
            judge_new(a, rec, now);
        an_.detector().forget(a);
        return Offer::looked;
    }
    const uint64_t ev = evidence(rec);
    if (!make_room(ev, false, now)) {
        if (!judge_anyway) {
            stats_.refused++;
            return Offer::refused;
        }
        // Judged once without a slot: a verdict may earn one, anything else
        // is forgotten again.
        if (!judge_new(a, rec, now) || !make_room(ev, true, now)) {
            stats_.refused++;
            return Offer::looked;
        }
        Entry& e = add(a, rec);
        e.verdict = true;
        index(a, e);
        stats_.admitted++;
        return Offer::taken;
    }
    index(a, add(a, rec));
    stats_.admitted++;
    if (judge_new(a, rec, now))
        set_verdict(a, tracked_.find(a)->second);
    return Offer::taken;
}

// The detector holds nothing on a source not tracked: one that was reported
// before and is judged a scanner again counts once more in its
// scanners_reported(), which scanners() takes back.
bool Mirror::judge_new(const Addr& a, const sw_source& rec, uint64_t now) {
    const bool said = said_.knows(a);
    const bool scanner = an_.judge(a, rec, now);
    stats_.rejudged += said && scanner;
    return scanner;
}

uint64_t Mirror::scanners() const {
    const uint64_t n = an_.detector().scanners_reported();
    return n - std::min(n, stats_.rejudged);
}

Mirror::Entry& Mirror::add(const Addr& a, const sw_source& rec) {
    Entry& e = tracked_[a];
    e.evidence = evidence(rec);
    e.last_ns = rec.last_ns;
    e.proven = (rec.flags & SW_SF_PROVEN) != 0;
    e.gen = ++gen_;
    turns_.emplace_back(a, e.gen);
    return e;
}

bool Mirror::settled(uint64_t last, uint64_t now) const {
    const DetectorConfig& cfg = an_.detector().config();
    return now > last && now - last > cfg.probe_timeout_ns + cfg.reemit_interval_ns;
}

// Of the sources with a verdict (proven or not), the one whose last packet is
// the oldest, if it is settled.
std::optional<Addr> Mirror::quiet(bool proven, uint64_t now) const {
    const Ranked& q = quiet_[proven];
    if (q.empty() || !settled(q.begin()->first, now))
        return std::nullopt;
    return q.begin()->second;
}

// Frees a slot for a newcomer with `ev` evidence (the order is mirror.hpp's).
bool Mirror::make_room(uint64_t ev, bool for_verdict, uint64_t now) {
    if (tracked_.size() < lim_.max_tracked)
        return true;
    std::optional<Addr> victim = quiet(false, now);
    if (!victim) {
        // the least evidenced unproven source; on a tie the one already reported
        const auto* j = judged_.empty() ? nullptr : &*judged_.begin();
        const auto* u = unjudged_.empty() ? nullptr : &*unjudged_.begin();
        const auto* least = j && (!u || j->first <= u->first) ? j : u;
        if (least && least->first < ev)
            victim = least->second;
        else if (for_verdict && u)
            victim = u->second;  // a verdict outranks evidence
        else
            victim = quiet(true, now);
    }
    if (!victim)
        return false;
    stats_.evicted++;
    stats_.evicted_judged += tracked_.find(*victim)->second.verdict;
    untrack(*victim);
    return true;
}

void Mirror::untrack(const Addr& a) {
    auto it = tracked_.find(a);
    if (it == tracked_.end())
        return;
    unindex(a, it->second);
    tracked_.erase(it);
    an_.detector().forget(a);
}

void Mirror::index(const Addr& a, const Entry& e) {
    if (!e.verdict) {
        unjudged_.emplace(e.evidence, a);
        return;
    }
    if (!e.proven)
        judged_.emplace(e.evidence, a);
    quiet_[e.proven].emplace(e.last_ns, a);
}

void Mirror::unindex(const Addr& a, const Entry& e) {
    if (!e.verdict) {
        unjudged_.erase({e.evidence, a});
        return;
    }
    if (!e.proven)
        judged_.erase({e.evidence, a});
    quiet_[e.proven].erase({e.last_ns, a});
}

void Mirror::update(const Addr& a, Entry& e, const sw_source& rec) {
    const uint64_t ev = evidence(rec);
    const bool proven = (rec.flags & SW_SF_PROVEN) != 0;
    if (e.evidence == ev && e.last_ns == rec.last_ns && e.proven == proven)
        return;
    unindex(a, e);
    e.evidence = ev;
    e.last_ns = rec.last_ns;
    e.proven = proven;
    index(a, e);
}

void Mirror::set_verdict(const Addr& a, Entry& e) {
    if (e.verdict)
        return;
    unindex(a, e);
    e.verdict = true;
    index(a, e);
}

}  // namespace scanwatch
