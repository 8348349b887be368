// The agent's mirror (agent/mirror.hpp) against a fake sources map: which
// records it reads, and that spoofed sources cannot make it forget or miss
// a real scanner, nor grow without bound.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "agent/mirror.hpp"

namespace scanwatch {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;
constexpr uint64_t T0 = 1000 * kSec;

const Addr kScanner = *Addr::parse("198.18.0.2");

// The kernel's sources map: records by address, read by key or walked in
// address order (the cursor keeps the last address read).
struct FakeMap {
    std::map<Addr, sw_source> recs;
    uint64_t gets = 0, walked = 0;

    SourceReader reader() {
        return {[this](const Addr& a) -> std::optional<sw_source> {
                    gets++;
                    auto it = recs.find(a);
                    if (it == recs.end())
                        return std::nullopt;
                    return it->second;
                },
                [this](MapCursor& c, size_t max, const SourceVisitor& v) -> std::pair<size_t, bool> {
                    auto it = recs.begin();
                    if (c.started)
                        it = recs.upper_bound(Addr::from_bytes(c.token));
                    size_t n = 0;
                    for (; it != recs.end() && n < max; ++it, n++) {
                        v(it->first, it->second);
                        std::memcpy(c.token, it->first.b.data(), 16);
                        c.started = true;
                    }
                    walked += n;
                    return {n, it == recs.end()};
                }};
    }
};

// A record with n distinct ports (and hosts), probes and failures as nmap -sS
// against closed ports leaves them; hot as the kernel marks it.
sw_source record(unsigned ports, unsigned hosts = 1, bool hot = true, uint64_t last = T0) {
    sw_source r{};
    r.first_ns = T0 - kSec;
    r.last_ns = last;
    const unsigned n = std::max(ports, hosts);
    r.cnt[SW_C_PROBES] = n;
    r.cnt[SW_C_SYN] = n;
    r.cnt[SW_C_SYN_NMAP] = n;
    r.cnt[SW_C_FAIL_RST] = n;
    for (unsigned i = 0; i < ports && i < SW_PORT_BITS; i++)
        r.ports[i / 64] |= 1ULL << (i % 64);
    for (unsigned i = 0; i < hosts && i < SW_HOST_BITS; i++)
        r.hosts[i / 64] |= 1ULL << (i % 64);
    r.ports_new = ports;
    r.hosts_new = hosts;
    if (hot)
        r.flags |= SW_SF_HOT;
    return r;
}

// A one-packet-per-port forged source, cold: two SYNs to one port (the flood of bench/flood.sh).
sw_source cold() {
    sw_source r = record(1, 1, false);
    r.cnt[SW_C_PROBES] = r.cnt[SW_C_SYN] = 2;
    r.cnt[SW_C_FAIL_RST] = 0;
    return r;
}

// A hot source whose every probe was answered: evidence, but no verdict.
sw_source answered(unsigned ports) {
    sw_source r = record(ports, 1);
    r.cnt[SW_C_FAIL_RST] = 0;
    r.cnt[SW_C_ANSWERED] = r.cnt[SW_C_FIRST_OK] = ports;
    return r;
}

Addr forged(uint32_t i) {
    char s[48];
    std::snprintf(s, sizeof s, "2001:2:0:%x::%x", 0x100 + (i >> 16), i & 0xffff);
    return *Addr::parse(s);
}

sw_event event_of(const Addr& a, uint32_t type = SW_EV_THRESHOLD) {
    sw_event e{};
    e.ts_ns = T0;
    std::memcpy(e.saddr, a.b.data(), 16);
    e.type = type;
    e.counter = SW_C_MAX;
    e.value = 4;
    e.proto = 6;
    return e;
}

struct MirrorTest : ::testing::Test {
    FakeMap map;
    EventWriter out{""};
    std::vector<std::string> named;  // sources reported scanners, in order
    Analyzer an{DetectorConfig{}, out, Clock::identity(), false};

    MirrorTest() {
        out.add_sink([this](const nlohmann::ordered_json& j) {
            if (j["event"] == "scan")
                named.push_back(j["src"].get<std::string>());
        });
    }
    bool was_named(const Addr& a) const { return std::count(named.begin(), named.end(), a.str()) > 0; }
    long times_named(const Addr& a) const { return std::count(named.begin(), named.end(), a.str()); }

    // forged(from) .. forged(to - 1) arrive with `rec` and an event each, read at `now`.
    void arrive(Mirror& m, uint32_t from, uint32_t to, const sw_source& rec, uint64_t now) {
        for (uint32_t i = from; i < to; i++) {
            map.recs[forged(i)] = rec;
            m.on_event(event_of(forged(i)));
        }
        m.flush(now);
    }
    // Four forged scanners fill a 4-slot mirror at T0 and go quiet; four more
    // take their slots 10 s later. Returns that time.
    uint64_t fill_then_replace(Mirror& m) {
        arrive(m, 0, 4, record(10), T0);
        const uint64_t t1 = T0 + 10 * kSec;
        arrive(m, 4, 8, record(10, 1, true, t1), t1);
        return t1;
    }
};

TEST_F(MirrorTest, ReadsOnlyHotSourcesByKeyAndAFixedSliceOfTheMap) {
    for (uint32_t i = 0; i < 20000; i++)
        map.recs[forged(i)] = cold();
    map.recs[kScanner] = record(100);
    Mirror m(an, map.reader(), {.max_tracked = 64, .walk_per_sweep = 1000});

    m.on_event(event_of(kScanner));
    m.flush(T0);
    EXPECT_EQ(map.gets, 1u) << "the event's source only, by key";
    EXPECT_EQ(map.walked, 0u);
    EXPECT_TRUE(m.tracks(kScanner));
    EXPECT_TRUE(was_named(kScanner));

    map.gets = 0;
    size_t read = m.sweep(T0 + kSec);
    EXPECT_EQ(map.gets, 1u) << "a sweep reads the tracked sources by key";
    EXPECT_EQ(map.walked, 1000u) << "and one slice of the map";
    EXPECT_EQ(read, 1001u);
    EXPECT_EQ(m.stats().tracked, 1u);
    EXPECT_EQ(an.detector().tracked(), 1u) << "cold sources cost the detector nothing";
}

TEST_F(MirrorTest, TheWalkFindsAHotSourceWhoseEventWasLost) {
    for (uint32_t i = 0; i < 5000; i++)
        map.recs[forged(i)] = cold();
    const Addr late = *Addr::parse("2001:2:0:1ff::1");  // walked last: after every forged(i)
    map.recs[late] = record(100);
    Mirror m(an, map.reader(), {.max_tracked = 64, .walk_per_sweep = 1000});
    int sweeps = 0;
    while (!m.tracks(late) && sweeps < 20)
        m.sweep(T0 + kSec * ++sweeps);
    EXPECT_EQ(sweeps, 6) << "5001 records, 1000 a sweep: found in the sixth";
    EXPECT_TRUE(was_named(late));
    EXPECT_EQ(m.stats().found_by_walk, 1u);
    EXPECT_EQ(m.stats().walk_passes, 1u);
    EXPECT_EQ(m.stats().map_records, 5001u);
}

// A lower --min-ports than the kernel's first event (4 ports) is met by the walk.
TEST_F(MirrorTest, TheWalkAppliesALowMinPorts) {
    DetectorConfig cfg;
    cfg.min_ports = 3;
    an.detector().set_config(cfg);
    map.recs[kScanner] = record(3, 1, false);
    Mirror m(an, map.reader(), {.max_tracked = 8, .walk_per_sweep = 100});
    m.sweep(T0);
    EXPECT_TRUE(m.tracks(kScanner));
    cfg.min_ports = 5;
    an.detector().set_config(cfg);
    const Addr other = *Addr::parse("198.18.0.3");
    map.recs[other] = record(3, 1, false);
    m.sweep(T0);
    EXPECT_FALSE(m.tracks(other));
}

// Forged hot sources with less evidence than the scanner cannot take its slot,
// and never grow the mirror or the detector past the cap.
TEST_F(MirrorTest, ForgedHotSourcesCannotEvictTheScanner) {
    map.recs[kScanner] = record(40);
    map.recs[kScanner].cnt[SW_C_FAIL_RST] = 0;  // no answer yet: no verdict, only its evidence keeps it
    map.recs[kScanner].cnt[SW_C_SYN_NMAP] = 0;
    Mirror m(an, map.reader(), {.max_tracked = 64, .walk_per_sweep = 4096});
    m.on_event(event_of(kScanner));
    m.flush(T0);
    ASSERT_TRUE(m.tracks(kScanner));
    for (uint32_t i = 0; i < 10000; i++) {
        map.recs[forged(i)] = answered(4 + i % 30);  // each hot, fewer ports than the scanner, no verdict
        m.on_event(event_of(forged(i)));
        if (i % 500 == 0)
            m.flush(T0);
    }
    m.flush(T0);
    for (int s = 1; s <= 5; s++)
        m.sweep(T0 + s * kSec / 10);  // before its probes time out: still no verdict
    EXPECT_TRUE(m.tracks(kScanner));
    EXPECT_FALSE(was_named(kScanner));
    EXPECT_LE(m.stats().tracked, 64u);
    EXPECT_LE(an.detector().tracked(), 64u);
    EXPECT_GT(m.stats().refused, 0u);
}

// A scanner that starts small (its first event at 4 ports) while the mirror is
// full of forged sources with more evidence: its later milestones bring it in,
// and once it has more evidence than the least of them it keeps its slot.
TEST_F(MirrorTest, AScannerGrowingPastForgedSourcesTakesASlot) {
    Mirror m(an, map.reader(), {.max_tracked = 32, .walk_per_sweep = 4096});
    for (uint32_t i = 0; i < 32; i++) {
        map.recs[forged(i)] = answered(20);
        m.on_event(event_of(forged(i)));
    }
    m.flush(T0);
    ASSERT_EQ(m.stats().tracked, 32u);
    map.recs[kScanner] = record(4);
    map.recs[kScanner].cnt[SW_C_FAIL_RST] = 0;  // no answer yet: no verdict
    m.on_event(event_of(kScanner));
    m.flush(T0);
    EXPECT_FALSE(m.tracks(kScanner)) << "4 ports < the forged sources' 21";
    map.recs[kScanner] = record(64);
    m.on_event(event_of(kScanner));
    m.flush(T0 + kSec);
    EXPECT_TRUE(m.tracks(kScanner));
    EXPECT_TRUE(was_named(kScanner));
    EXPECT_EQ(m.stats().tracked, 32u);
    EXPECT_EQ(m.stats().evicted, 1u);
}

// A forger can give its sources verdicts (spoofed SYNs to closed ports) until
// every slot holds one, and keep them sending. A verdict does not hold a slot
// against more evidence: a scanner with more takes the least evidenced
// forged one's slot; one with less is still judged at each of its events.
TEST_F(MirrorTest, ActiveForgedVerdictsYieldToAScannerWithMoreEvidence) {
    Mirror m(an, map.reader(), {.max_tracked = 16, .walk_per_sweep = 4096});
    for (uint32_t i = 0; i < 100; i++) {
        map.recs[forged(i)] = record(100 + i, 1);
        m.on_event(event_of(forged(i)));
    }
    m.flush(T0);
    EXPECT_EQ(m.stats().tracked, 16u);
    EXPECT_LE(an.detector().tracked(), 16u);
    const Addr weak = *Addr::parse("198.18.0.9");
    map.recs[weak] = record(50);
    m.on_event(event_of(weak));
    m.flush(T0);
    EXPECT_TRUE(was_named(weak)) << "judged at its event without a slot";
    EXPECT_FALSE(m.tracks(weak)) << "50 ports < every active forged source's";
    map.recs[kScanner] = record(400);
    m.on_event(event_of(kScanner));
    m.flush(T0);
    EXPECT_TRUE(was_named(kScanner));
    EXPECT_TRUE(m.tracks(kScanner));
    EXPECT_EQ(m.stats().tracked, 16u);
    EXPECT_LE(an.detector().tracked(), 16u);
    EXPECT_EQ(m.stats().evicted_judged, 1u);
}

// The forger's verdicts hold every slot, then it stops sending (a forger who
// keeps 16,384 sources sending pays for it; one who stops pays nothing). A
// scanner whose first event comes with less evidence than any of them, and
// no verdict yet, takes a quiet one's slot; its evidence then grows with no
// event (nmap between milestones) and the sweeps re-read it and name it.
TEST_F(MirrorTest, QuietForgedVerdictsGiveTheirSlotsToAScannerBetweenMilestones) {
    Mirror m(an, map.reader(), {.max_tracked = 16, .walk_per_sweep = 4096});
    arrive(m, 0, 16, record(6), T0);
    ASSERT_EQ(named.size(), 16u) << "every slot holds a verdict";
    const uint64_t t1 = T0 + 10 * kSec;  // > probe timeout + re-emit interval since their last packet
    map.recs[kScanner] = record(4, 1, true, t1);
    m.on_event(event_of(kScanner));
    m.flush(t1);
    EXPECT_TRUE(m.tracks(kScanner)) << "4 ports < the forged sources' 6, but they are quiet";
    EXPECT_FALSE(was_named(kScanner)) << "4 ports < --min-ports";
    for (int s = 1; s <= 3; s++) {
        map.recs[kScanner] = record(4 + 4 * s, 1, true, t1 + s * kSec / 4);  // no event: between milestones
        m.sweep(t1 + s * kSec / 4);
    }
    EXPECT_TRUE(was_named(kScanner)) << "re-read by the sweeps";
    EXPECT_EQ(m.stats().evicted_judged, 1u);
    EXPECT_EQ(m.stats().tracked, 16u);
    EXPECT_LE(an.detector().tracked(), 16u);
}

// A source whose slot went to a newcomer and that comes back (its next event,
// or the walk) is judged afresh: it is not reported a second time for what
// was already said.
TEST_F(MirrorTest, AnEvictedVerdictSourceThatComesBackIsNotReportedTwice) {
    Mirror m(an, map.reader(), {.max_tracked = 4, .walk_per_sweep = 4096});
    const uint64_t t1 = fill_then_replace(m);
    ASSERT_FALSE(m.tracks(forged(0)));
    ASSERT_EQ(m.stats().evicted_judged, 4u);
    EXPECT_EQ(an.detector().tracked(), 4u) << "the evicted ones are forgotten by the detector";
    const uint64_t t2 = t1 + 10 * kSec;
    map.recs[forged(0)] = record(12, 1, true, t2);  // a little more, not half as much again
    m.on_event(event_of(forged(0)));
    m.flush(t2);
    m.sweep(t2 + kSec);  // the walk skips the settled ones already reported
    EXPECT_TRUE(m.tracks(forged(0)));
    EXPECT_EQ(times_named(forged(0)), 1);
    EXPECT_EQ(named.size(), 8u);
    EXPECT_EQ(m.stats().repeats_held, 1u) << "the walk does not judge settled, reported sources again";
    EXPECT_EQ(m.stats().remembered, 8u);
    EXPECT_EQ(m.scanners(), 8u) << "a source that came back counts once";
}

// A hot source whose events were all lost, found by the walk after it went
// quiet: judged once and named, it takes no slot (nothing left to re-read).
TEST_F(MirrorTest, ASettledSourceIsJudgedOnceAndTakesNoSlot) {
    Mirror m(an, map.reader(), {.max_tracked = 4, .walk_per_sweep = 4096});
    const uint64_t t1 = T0 + 10 * kSec;
    sw_source active = answered(5);
    active.last_ns = t1;
    arrive(m, 0, 4, active, t1);
    map.recs[kScanner] = record(30);  // last packet at T0: settled at t1
    m.sweep(t1);
    EXPECT_TRUE(was_named(kScanner));
    EXPECT_FALSE(m.tracks(kScanner));
    EXPECT_EQ(m.stats().evicted, 0u);
    EXPECT_EQ(an.detector().tracked(), 4u);
}

// What escalates is reported again: a new kind, new proof (handshakes, which
// may make it blockable), counts grown by half.
TEST_F(MirrorTest, AnEvictedSourceThatComesBackWithMoreIsReportedAgain) {
    Mirror m(an, map.reader(), {.max_tracked = 4, .walk_per_sweep = 4096});
    const uint64_t t1 = fill_then_replace(m);
    ASSERT_EQ(m.stats().evicted_judged, 4u);
    const uint64_t t2 = t1 + 10 * kSec;
    sw_source fin = record(10, 1, true, t2);
    fin.cnt[SW_C_FIN] = 4;
    fin.cnt[SW_C_PROBES] += 4;  // 14 probes: not half as many again
    fin.cnt[SW_C_FAIL_RST] += 4;
    map.recs[forged(0)] = fin;  // a FIN scan too
    sw_source proof = record(10, 1, true, t2);
    proof.proven = 0x3f;  // handshakes on 6 ports
    proof.flags |= SW_SF_PROVEN;
    map.recs[forged(1)] = proof;
    map.recs[forged(2)] = record(15, 1, true, t2);  // ports grown by half
    map.recs[forged(3)] = record(11, 1, true, t2);  // nothing that matters: held back
    std::vector<nlohmann::ordered_json> again;
    out.add_sink([&](const nlohmann::ordered_json& j) { again.push_back(j); });
    for (uint32_t i = 0; i < 4; i++)
        m.on_event(event_of(forged(i)));
    m.flush(t2);
    EXPECT_EQ(times_named(forged(0)), 2) << "new kind";
    EXPECT_EQ(times_named(forged(1)), 2) << "new proof";
    EXPECT_EQ(times_named(forged(2)), 2) << "grown by half";
    EXPECT_EQ(times_named(forged(3)), 1) << "nothing new";
    bool fin_said = false;
    for (const auto& j : again)
        if (j["src"] == forged(0).str())
            for (const auto& k : j["kinds"])
                fin_said |= k == "fin";
    EXPECT_TRUE(fin_said);
    EXPECT_EQ(m.stats().repeats_held, 1u);
}

// A proven source (handshakes: not forged) keeps its slot while unproven ones
// can give theirs, quiet or not; and never gives it while it is active.
TEST_F(MirrorTest, ProvenSourcesAreKeptInPreferenceToUnprovenOnes) {
    Mirror m(an, map.reader(), {.max_tracked = 4, .walk_per_sweep = 4096});
    const Addr p1 = *Addr::parse("198.18.0.21"), p2 = *Addr::parse("198.18.0.22");
    for (const Addr& p : {p1, p2}) {
        sw_source r = record(10);
        r.proven = 0x3f;
        r.flags |= SW_SF_PROVEN;
        map.recs[p] = r;
        m.on_event(event_of(p));
    }
    arrive(m, 0, 2, record(10), T0);
    ASSERT_EQ(named.size(), 4u);
    // all four quiet: two newcomers take the unproven ones' slots
    const uint64_t t1 = T0 + 10 * kSec;
    arrive(m, 2, 4, record(10, 1, true, t1), t1);
    EXPECT_TRUE(m.tracks(p1));
    EXPECT_TRUE(m.tracks(p2));
    EXPECT_FALSE(m.tracks(forged(0)));
    EXPECT_FALSE(m.tracks(forged(1)));
    // the active unproven newcomers keep theirs (as much evidence): a quiet proven one goes
    arrive(m, 4, 5, record(10, 1, true, t1), t1);
    EXPECT_TRUE(m.tracks(forged(4)));
    EXPECT_EQ(m.tracks(p1) + m.tracks(p2), 1);
    // an active proven source is never evicted
    const Addr kept = m.tracks(p1) ? p1 : p2;
    map.recs[kept].last_ns = t1;
    m.sweep(t1);
    arrive(m, 5, 6, record(10, 1, true, t1 + kSec), t1 + kSec);
    EXPECT_TRUE(m.tracks(kept));
    EXPECT_FALSE(m.tracks(forged(5)));
    EXPECT_TRUE(was_named(forged(5))) << "still judged at its event";
}

// The memory of reports stays at its size whatever a forger sends, and a
// forger's unproven entries push out each other, not a proven source's.
TEST(ReportMemory, StaysBoundedAndKeepsProvenEntries) {
    ReportMemory mem(64, 12345);
    EXPECT_EQ(mem.capacity(), 64u);
    ScanReport proven_r;
    proven_r.src = kScanner;
    proven_r.kinds = {"connect"};
    proven_r.kind_bits = 2;
    proven_r.ports = proven_r.probes = 40;
    sw_source proven_rec{};
    proven_rec.proven = 0xff;
    mem.note(proven_r, proven_rec);
    ScanReport r = proven_r;
    r.kinds = {"syn"};
    r.kind_bits = 1;
    for (uint32_t i = 0; i < 20000; i++) {
        r.src = forged(i);
        mem.note(r, sw_source{});
        ASSERT_LE(mem.size(), 64u);
    }
    EXPECT_EQ(mem.size(), 64u);
    EXPECT_TRUE(mem.repeat(proven_r, proven_rec)) << "the proven source's entry is still there";
    r.src = forged(19999);
    EXPECT_TRUE(mem.repeat(r, sw_source{})) << "the latest is remembered";
    r.src = forged(0);
    EXPECT_FALSE(mem.repeat(r, sw_source{})) << "the oldest unproven ones were pushed out";
}

// A verdict outranks evidence: a scanner judged at its event takes the slot of
// the least evidenced unjudged source even when that one has more evidence.
TEST_F(MirrorTest, AVerdictEarnsASlotOverMoreEvidence) {
    Mirror m(an, map.reader(), {.max_tracked = 8, .walk_per_sweep = 4096});
    for (uint32_t i = 0; i < 8; i++) {
        map.recs[forged(i)] = answered(300);
        m.on_event(event_of(forged(i)));
    }
    m.flush(T0);
    map.recs[kScanner] = record(50);
    m.on_event(event_of(kScanner));
    m.flush(T0);
    EXPECT_TRUE(was_named(kScanner));
    EXPECT_TRUE(m.tracks(kScanner));
    EXPECT_EQ(m.stats().tracked, 8u);
}

// A sweep re-reads refresh_per_sweep tracked sources, in turn: each within
// max_tracked / refresh_per_sweep sweeps, whatever the churn.
TEST_F(MirrorTest, TrackedSourcesAreReReadInTurn) {
    Mirror m(an, map.reader(), {.max_tracked = 100, .walk_per_sweep = 1, .refresh_per_sweep = 10});
    for (uint32_t i = 0; i < 100; i++) {
        map.recs[forged(i)] = answered(20);
        m.on_event(event_of(forged(i)));
    }
    m.flush(T0);
    ASSERT_EQ(m.stats().tracked, 100u);
    for (uint32_t i = 0; i < 100; i++)
        map.recs.erase(forged(i));  // each is dropped at its next turn
    std::vector<size_t> left;
    for (int s = 1; s <= 10; s++) {
        map.gets = 0;
        m.sweep(T0 + s * kSec / 10);
        EXPECT_EQ(map.gets, 10u) << "sweep " << s;
        left.push_back(m.stats().tracked);
    }
    EXPECT_EQ(left.front(), 90u);
    EXPECT_EQ(left.back(), 0u);
}

// A walk slice full of forged hot sources takes in (and judges) only
// admit_per_sweep of them a sweep; the rest wait for the next sweeps.
TEST_F(MirrorTest, TheWalkTakesInAFewHotSourcesPerSweep) {
    for (uint32_t i = 0; i < 1000; i++)
        map.recs[forged(i)] = record(4, 1);
    Mirror m(an, map.reader(), {.max_tracked = 500, .walk_per_sweep = 5000, .refresh_per_sweep = 500,
                                .admit_per_sweep = 100});
    m.sweep(T0);
    EXPECT_EQ(m.stats().tracked, 100u);
    m.sweep(T0 + kSec / 10);
    EXPECT_EQ(m.stats().tracked, 200u) << "from the queue, without walking again";
    for (int s = 2; s < 10; s++)
        m.sweep(T0 + s * kSec / 10);
    EXPECT_EQ(m.stats().tracked, 500u);
}

// RPC events are remembered by the detector before the record is read: from
// sources the mirror does not take, they must not stay behind.
TEST_F(MirrorTest, EventsFromSourcesWithoutARecordLeaveNoState) {
    Mirror m(an, map.reader(), {.max_tracked = 16, .walk_per_sweep = 4096});
    for (uint32_t i = 0; i < 5000; i++) {
        sw_event e = event_of(forged(i), SW_EV_RPC);
        e.value = 100000;
        m.on_event(e);
    }
    m.flush(T0);
    EXPECT_EQ(an.detector().tracked(), 0u);
    EXPECT_EQ(m.stats().tracked, 0u);
}

TEST_F(MirrorTest, ASourceWhoseRecordIsGoneIsForgotten) {
    map.recs[kScanner] = record(100);
    Mirror m(an, map.reader(), {.max_tracked = 16, .walk_per_sweep = 4096});
    m.on_event(event_of(kScanner));
    m.flush(T0);
    ASSERT_TRUE(m.tracks(kScanner));
    map.recs.erase(kScanner);
    m.sweep(T0 + kSec);
    EXPECT_FALSE(m.tracks(kScanner));
    EXPECT_EQ(an.detector().tracked(), 0u);
}

}  // namespace
}  // namespace scanwatch
