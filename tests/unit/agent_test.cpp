// The agent without a kernel: the control protocol's handlers, the SIGHUP
// reload, the sweep's verdicts and the snapshot every figure comes from, on an
// in-memory kernel stand-in (agent/kernel_view.hpp). What the agent answers
// and writes, not how.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "config/config.hpp"
#include "temp_dir.hpp"

using namespace scanwatch;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kS = 1'000'000'000ULL;

// The kernel side in memory: source records and statistics rows the test sets.
class FakeKernel final : public KernelView {
public:
    std::map<Addr, sw_source> sources;
    // slot SW_IF_SLOT_OTHER (0): interfaces not attached; slot 1: lo
    static constexpr unsigned kLo = 1;
    std::vector<sw_stat_row> rows = std::vector<sw_stat_row>(2);
    std::vector<std::string> names = {"other", "lo"};

    std::string xdp_mode() const override { return "generic"; }
    std::vector<std::string> attached() const override { return {"lo (generic XDP)"}; }
    std::vector<sw_stat_row> stat_rows() const override { return rows; }
    std::vector<std::string> slot_names() const override { return names; }
    std::optional<sw_source> source(const Addr& a) const override {
        auto it = sources.find(a);
        return it == sources.end() ? std::nullopt : std::optional<sw_source>(it->second);
    }
    std::optional<sw_wide> wide(const Addr&) const override { return std::nullopt; }
    size_t for_each_source(const SourceVisitor& fn) const override {
        for (const auto& [a, r] : sources)
            fn(a, r);
        return sources.size();
    }
    size_t flows() const override { return 0; }
    BlockMaps block_maps() const override { return {}; }
    int ringbuf_fd() const override { return -1; }
    // The cursor's token holds the index of the next record, in key order.
    std::pair<size_t, bool> walk_sources(MapCursor& c, size_t max, const SourceVisitor& fn) const override {
        uint64_t next = 0;
        if (c.started)
            std::memcpy(&next, c.token, sizeof next);
        size_t read = 0;
        auto it = sources.begin();
        std::advance(it, std::min<uint64_t>(next, sources.size()));
        for (; it != sources.end() && read < max; ++it, ++read)
            fn(it->first, it->second);
        next += read;
        c.started = it != sources.end();
        std::memcpy(c.token, &next, sizeof next);
        return {read, it == sources.end()};
    }
};

RunOptions base_options(const test::TempDir& d) {
    RunOptions o;
    o.ifaces = {"lo"};
    o.json = (d.path / "events.json").string();
    o.state_file = (d.path / "blocks.json").string();
    o.socket = (d.path / "sock").string();
    o.pin_dir = (d.path / "pins").string();
    o.quiet = true;
    return o;
}

// An agent on a fake kernel; `k` stays valid while the agent lives.
struct Rig {
    test::TempDir dir{"agent"};
    FakeKernel* k = nullptr;
    std::unique_ptr<Agent> agent;

    explicit Rig(std::function<void(RunOptions&)> tweak = {}, ReloadOptions reload = {}) {
        RunOptions o = base_options(dir);
        if (tweak)
            tweak(o);
        auto fake = std::make_unique<FakeKernel>();
        k = fake.get();
        agent = std::make_unique<Agent>(o, std::move(reload), std::move(fake));
    }
    nlohmann::json ask(const nlohmann::json& req) { return agent->handle(req); }
    // Every JSON event written so far.
    std::vector<nlohmann::json> events() const {
        std::vector<nlohmann::json> v;
        std::ifstream f(dir.path / "events.json");
        for (std::string line; std::getline(f, line);)
            if (!line.empty())
                v.push_back(nlohmann::json::parse(line));
        return v;
    }
    std::vector<nlohmann::json> events(const std::string& kind) const {
        std::vector<nlohmann::json> v;
        for (auto& e : events())
            if (e["event"] == kind)
                v.push_back(e);
        return v;
    }
};

// The record's bitmaps marked as the XDP program marks them (bpf/account.bpf.h).
void mark_port(sw_source& r, uint16_t port) {
    unsigned b = sw_port_hash(port, 6) % SW_PORT_BITS;
    r.ports[b / 64] |= 1ULL << (b % 64);
}

void mark_host(sw_source& r, uint32_t addr) {
    unsigned h = sw_hash32(addr) % SW_HOST_BITS;
    r.hosts[h / 64] |= 1ULL << (h % 64);
}

// nmap -sS from src over n ports, one in ten open; `proven` ports completed a
// handshake (the evidence a forger cannot produce).
sw_source nmap_syn(unsigned n, unsigned proven, uint64_t now) {
    sw_source r{};
    r.first_ns = now - 2 * kS;
    r.last_ns = now - kS;
    unsigned open = (n + 9) / 10;
    r.cnt[SW_C_PROBES] = n;
    r.cnt[SW_C_SYN] = n;
    r.cnt[SW_C_SYN_NMAP] = n;
    r.cnt[SW_C_SAME_SEQ] = n - 1;
    r.cnt[SW_C_ANSWERED] = open;
    r.cnt[SW_C_FIRST_OK] = open;
    r.cnt[SW_C_HALF_OPEN] = open;
    r.cnt[SW_C_FAIL_RST] = n - open;
    for (unsigned port = 1; port <= n; port++)
        mark_port(r, static_cast<uint16_t>(port));
    mark_host(r, 0xC6120001u);
    for (unsigned i = 0; i < proven; i++)
        r.proven |= 1u << i;
    r.flags |= SW_SF_HOT;  // past its first milestone: the mirror reads it (agent/mirror.hpp)
    return r;
}

const Addr kScanner = *Addr::parse("198.18.0.2");
const Addr kQuiet = *Addr::parse("198.18.0.3");

// ---- the snapshot: one source for status, started, stopped and metrics ----

TEST(Snapshot, StatusStoppedAndMetricsShowTheSameFigures) {
    AgentSnapshot s;
    s.version = "9.9.9";
    s.ifaces = {"eth0"};
    s.xdp_mode = "native";
    s.start_ns = 10 * kS;
    s.now_ns = 13 * kS + 500'000'000ULL;
    s.rows.resize(3);
    s.slot_names = {"other", "eth0", "eth1"};
    s.rows[1].s[SW_S_PACKETS] = 100;
    s.rows[SW_IF_SLOT_OTHER].s[SW_S_PACKETS] = 23;  // unattached interfaces count too
    s.rows[1].s[SW_S_DROPPED] = 7;
    s.rows[1].s[SW_S_EVENTS_LOST] = 3;
    s.rows[2].s[SW_S_COOKIES] = 5;
    sum_stats(s);
    s.sources_in_map = 42;
    s.max_sources = 1024;
    s.sources = 40;
    s.scanners = 2;
    s.reports = 4;
    s.events = 11;
    s.blocks = 1;
    s.blocks_created = 3;
    s.last_sweep_ms = 1.23456;
    s.sweeps = 14;
    s.shields_created = 4;
    s.shields_counted = true;
    s.shields_agent = 2;
    s.shields_fast_path = 1;
    s.flows_counted = true;
    s.flows = 77;

    auto st = status_json(s);
    EXPECT_EQ(st["packets"], 123);
    EXPECT_EQ(st["dropped"], 7);
    EXPECT_EQ(st["events_lost"], 3);
    EXPECT_EQ(st["syn_cookies"], 5);
    EXPECT_EQ(st["sources_in_map"], 42);
    EXPECT_EQ(st["scanners"], 2);
    EXPECT_EQ(st["blocks"], 1);
    EXPECT_EQ(st["blocks_created"], 3);
    EXPECT_DOUBLE_EQ(st["uptime_s"].get<double>(), 3.5);
    EXPECT_DOUBLE_EQ(st["last_sweep_ms"].get<double>(), 1.23);
    EXPECT_TRUE(st["state_file_error"].is_null());
    EXPECT_TRUE(st["crowdsec"].is_null());
    EXPECT_EQ(st["shields"], 3);
    EXPECT_EQ(st["shields_fast_path"], 1);
    EXPECT_EQ(st["shields_created"], 4);

    auto sp = stopped_json(s, "SIGTERM");
    EXPECT_EQ(sp["packets"].get<uint64_t>(), st["packets"].get<uint64_t>());
    EXPECT_EQ(sp["dropped"].get<uint64_t>(), st["dropped"].get<uint64_t>());
    EXPECT_EQ(sp["scanners"].get<uint64_t>(), st["scanners"].get<uint64_t>());
    EXPECT_EQ(sp["blocks_active"].get<uint64_t>(), st["blocks"].get<uint64_t>());
    EXPECT_EQ(sp["blocks_created"].get<uint64_t>(), st["blocks_created"].get<uint64_t>());
    EXPECT_EQ(sp["sources_in_map"].get<uint64_t>(), st["sources_in_map"].get<uint64_t>());
    EXPECT_EQ(sp["reports"], 4);
    EXPECT_EQ(sp["events"], 11);
    EXPECT_EQ(sp["sweeps"], 14);
    EXPECT_DOUBLE_EQ(sp["seconds"].get<double>(), 3.5);

    MetricsSnapshot m;
    m.maps = {{"sources", 0, 1024}, {"flows", 0, 1024}, {"blocks", 0, 1024}};
    fill_metrics(s, m);
    EXPECT_EQ(m.maps[0].entries, 42u);
    EXPECT_EQ(m.maps[2].entries, 1u);
    EXPECT_EQ(m.blocks_active, 1u);
    EXPECT_EQ(m.scanners, 2u);
    EXPECT_EQ(m.ring_events_received, 11u);
    ASSERT_EQ(m.ifaces.size(), 3u);  // "other" saw packets, so it is listed
    EXPECT_EQ(m.ifaces[1].name, "eth0");
    EXPECT_EQ(m.ifaces[0].stats[SW_S_PACKETS] + m.ifaces[1].stats[SW_S_PACKETS], st["packets"].get<uint64_t>());
    EXPECT_EQ(m.ifaces[2].stats[SW_S_COOKIES], 5u);
    EXPECT_EQ(m.maps[1].entries, 77u);
    EXPECT_EQ(m.shields_agent, 2u);
    EXPECT_EQ(m.shields_fast_path, 1u);
    EXPECT_EQ(m.shields_created, 4u);
    // a snapshot that did not walk the maps leaves their last counts standing
    s.flows_counted = s.shields_counted = false;
    s.flows = s.shields_agent = 0;
    fill_metrics(s, m);
    EXPECT_EQ(m.maps[1].entries, 77u);
    EXPECT_EQ(m.shields_agent, 2u);
    // an "other" slot without traffic is left out
    s.rows[SW_IF_SLOT_OTHER].s[SW_S_PACKETS] = 0;
    fill_metrics(s, m);
    ASSERT_EQ(m.ifaces.size(), 2u);
    EXPECT_EQ(m.ifaces[0].name, "eth0");
}

// The events are a contract (DESIGN.md): their keys, in this order.
TEST(Snapshot, StartedAndStoppedKeepTheirKeysInOrder) {
    AgentSnapshot s;
    s.crowdsec = {{"lapi_url", "http://127.0.0.1:8080/"}, {"reachable", false}};
    const auto started = started_json(s);
    const auto stopped = stopped_json(s, "duration");
    std::vector<std::string> keys;
    for (auto it = started.begin(); it != started.end(); ++it)
        keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"event", "ifaces", "xdp_mode", "block", "blocks_restored", "pin_dir",
                                              "socket", "crowdsec", "ts"}));
    EXPECT_EQ(started["crowdsec"], "http://127.0.0.1:8080/");
    keys.clear();
    for (auto it = stopped.begin(); it != stopped.end(); ++it)
        keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"event", "reason", "ts", "seconds", "packets", "probes", "sources",
                                              "scanners", "reports", "events", "events_lost", "sources_in_map",
                                              "max_sources", "sources_map_full", "dropped", "blocks_active",
                                              "blocks_created", "truncated", "malformed", "sweeps"}));
}

TEST(Snapshot, TheAgentsSnapshotReadsItsParts) {
    Rig r;
    r.k->rows[FakeKernel::kLo].s[SW_S_PACKETS] = 50;
    r.k->rows[SW_IF_SLOT_OTHER].s[SW_S_PACKETS] = 5;
    ASSERT_TRUE(r.ask({{"cmd", "block"}, {"target", "198.18.0.9"}})["ok"].get<bool>());
    auto s = r.agent->snapshot(mono_now_ns());
    EXPECT_EQ(s.stat(SW_S_PACKETS), 55u);
    EXPECT_EQ(s.blocks, 1u);
    EXPECT_EQ(s.blocks_created, 1u);
    EXPECT_EQ(s.ifaces, std::vector<std::string>{"lo"});
    EXPECT_EQ(s.xdp_mode, "generic");
    EXPECT_EQ(s.pid, getpid());
    // the started event came from the same snapshot, taken at start
    auto started = r.events("started");
    ASSERT_EQ(started.size(), 1u);
    EXPECT_EQ(started[0]["blocks_restored"], 0);
    EXPECT_EQ(started[0]["xdp_mode"], "generic");
}

// ---- the control protocol --------------------------------------------------

TEST(AgentControl, StatusAnswersFromTheKernelAndTheBlockList) {
    Rig r([](RunOptions& o) { o.block = true; });
    r.k->rows[FakeKernel::kLo].s[SW_S_PACKETS] = 1000;
    r.k->rows[FakeKernel::kLo].s[SW_S_PROBES] = 30;
    r.k->rows[FakeKernel::kLo].s[SW_S_BLOCKS_REFUSED] = 2;
    r.ask({{"cmd", "block"}, {"target", "198.18.7.0/24"}});
    auto s = r.ask({{"cmd", "status"}});
    EXPECT_TRUE(s["ok"].get<bool>());
    EXPECT_EQ(s["packets"], 1000);
    EXPECT_EQ(s["probes"], 30);
    EXPECT_EQ(s["blocks_refused_kernel"], 2);
    EXPECT_EQ(s["blocks"], 1);
    EXPECT_EQ(s["block_enabled"], true);
    EXPECT_EQ(s["ifaces"], nlohmann::json::array({"lo"}));
    EXPECT_TRUE(s["watching"].is_array());
}

TEST(AgentControl, BlockListUnblock) {
    Rig r;
    auto b = r.ask({{"cmd", "block"}, {"target", "198.18.0.9"}, {"ttl_s", 600}});
    ASSERT_TRUE(b["ok"].get<bool>()) << b;
    EXPECT_FALSE(b["updated"].get<bool>());
    EXPECT_TRUE(b["expires"].is_string());
    // a second block of the same target renews it: one block, one event
    auto again = r.ask({{"cmd", "block"}, {"target", "198.18.0.9"}});
    EXPECT_TRUE(again["updated"].get<bool>());
    auto list = r.ask({{"cmd", "blocks"}});
    ASSERT_EQ(list["blocks"].size(), 1u);
    EXPECT_EQ(list["blocks"][0]["target"], "198.18.0.9/32");
    EXPECT_EQ(list["blocks"][0]["by"], "manual");
    EXPECT_EQ(list["blocks"][0]["manual"], true);
    EXPECT_EQ(r.events("block").size(), 1u);

    EXPECT_TRUE(r.ask({{"cmd", "unblock"}, {"target", "198.18.0.9"}})["ok"].get<bool>());
    auto gone = r.ask({{"cmd", "unblock"}, {"target", "198.18.0.9"}});
    EXPECT_FALSE(gone["ok"].get<bool>());
    EXPECT_NE(gone["error"].get<std::string>().find("is not blocked"), std::string::npos);
    auto unblocks = r.events("unblock");
    ASSERT_EQ(unblocks.size(), 1u);
    EXPECT_EQ(unblocks[0]["reason"], "manual");
    EXPECT_TRUE(r.ask({{"cmd", "blocks"}})["blocks"].empty());
}

TEST(AgentControl, AllowListedTargetIsRefusedAndTold) {
    Rig r([](RunOptions& o) { o.allow = {"198.18.5.0/24"}; });
    auto b = r.ask({{"cmd", "block"}, {"target", "198.18.5.7"}});
    EXPECT_FALSE(b["ok"].get<bool>());
    EXPECT_FALSE(b["error"].get<std::string>().empty());
    auto refused = r.events("block_refused");
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0]["by"], "manual");
    EXPECT_EQ(refused[0]["src"], "198.18.5.7/32");
    EXPECT_EQ(r.agent->blocker().size(), 0u);
}

TEST(AgentControl, UnknownAndMalformedRequests) {
    Rig r;
    // the server turns these exceptions into error replies
    try {
        r.ask({{"cmd", "reboot"}});
        ADD_FAILURE() << "an unknown command was answered";
    } catch (const std::exception& e) {
        EXPECT_STREQ(e.what(), "unknown command 'reboot'");
    }
    EXPECT_ANY_THROW(r.ask({{"cmd", "block"}}));
    EXPECT_ANY_THROW(r.ask({{"cmd", "block"}, {"target", "not-an-address"}}));
}

TEST(AgentControl, SourcesAreSortedByScoreAndLimited) {
    Rig r;
    uint64_t now = mono_now_ns();
    sw_source quiet{};
    quiet.first_ns = quiet.last_ns = now - kS;
    quiet.cnt[SW_C_PROBES] = 1;
    r.k->sources[kQuiet] = quiet;
    r.k->sources[kScanner] = nmap_syn(40, 0, now);
    r.agent->sweep(now);
    auto all = r.ask({{"cmd", "sources"}});
    ASSERT_TRUE(all["ok"].get<bool>());
    ASSERT_EQ(all["sources"].size(), 2u);
    EXPECT_EQ(all["sources"][0]["src"], "198.18.0.2");
    EXPECT_EQ(all["sources"][0]["scanner"], true);
    EXPECT_EQ(all["sources"][1]["src"], "198.18.0.3");
    EXPECT_EQ(all["sources"][1]["state"], "watching");
    EXPECT_EQ(all["sources"][1]["why_not"][0], "1 probe so far: judged from the second");
    auto one = r.ask({{"cmd", "sources"}, {"limit", 1u}});
    ASSERT_EQ(one["sources"].size(), 1u);
    EXPECT_EQ(one["sources"][0]["src"], "198.18.0.2");
}

// ---- verdicts: a forged source is never blocked ------------------------------

TEST(AgentVerdicts, ProvenScannerIsBlocked) {
    Rig r([](RunOptions& o) { o.block = true; });
    uint64_t now = mono_now_ns();
    r.k->sources[kScanner] = nmap_syn(40, 8, now);
    r.agent->sweep(now);
    ASSERT_NE(r.agent->blocker().find(kScanner), nullptr);
    auto blocks = r.events("block");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0]["by"], "detector");
    auto scans = r.events("scan");
    ASSERT_FALSE(scans.empty());
    EXPECT_EQ(scans.back()["action"], "block");
}

// Without handshakes the address may be someone else's (nmap -D, hping3
// --rand-source): the agent reports it but blocks nothing.
TEST(AgentVerdicts, UnprovenScannerIsNotBlocked) {
    Rig r([](RunOptions& o) { o.block = true; });
    uint64_t now = mono_now_ns();
    r.k->sources[kScanner] = nmap_syn(40, 0, now);
    r.agent->sweep(now);
    EXPECT_EQ(r.agent->blocker().find(kScanner), nullptr);
    EXPECT_TRUE(r.events("block").empty());
    auto scans = r.events("scan");
    ASSERT_FALSE(scans.empty());
    EXPECT_NE(scans.back()["action"], "block");
}

// A block is the Blocker's: the mirror giving the blocked source's slot away
// (it went quiet once blocked, and a forger's sources fill the mirror) forgets
// the detector's state only. The block stays, and the source coming back is
// neither reported nor blocked a second time.
TEST(AgentVerdicts, ABlockOutlivesItsSourcesMirrorSlot) {
    Rig r([](RunOptions& o) { o.block = true; });
    const uint64_t now = mono_now_ns();
    r.k->sources[kScanner] = nmap_syn(40, 8, now);
    r.agent->sweep(now);
    ASSERT_NE(r.agent->blocker().find(kScanner), nullptr);
    // 20 s later: the blocked scanner sent nothing since (XDP drops it); a
    // forger's 16,384 unproven sources, each with a verdict and active, come in
    const uint64_t later = now + 20 * kS;
    std::vector<sw_event> evs;
    for (uint32_t i = 0; i < 16384; i++) {
        const Addr a = Addr::v4(0xC6130000u + i);  // 198.19.x.y
        r.k->sources[a] = nmap_syn(40, 0, later);
        sw_event e{};
        e.type = SW_EV_THRESHOLD;
        std::memcpy(e.saddr, a.b.data(), 16);
        evs.push_back(e);
    }
    r.agent->on_events(evs, later);
    const AgentSnapshot s = r.agent->snapshot(later);
    EXPECT_EQ(s.mirror.tracked, 16384u);
    EXPECT_EQ(s.mirror.evicted_judged, 1u) << "the settled proven scanner gave its slot, last";
    ASSERT_NE(r.agent->blocker().find(kScanner), nullptr) << "its block stays";
    EXPECT_TRUE(r.events("unblock").empty());
    // it comes back (its block expired elsewhere, or it reaches us by another path)
    r.k->sources[kScanner] = nmap_syn(42, 8, later + kS);
    sw_event e{};
    e.type = SW_EV_THRESHOLD;
    std::memcpy(e.saddr, kScanner.b.data(), 16);
    r.agent->on_events({e}, later + kS);
    EXPECT_EQ(r.events("block").size(), 1u);
    size_t said = 0;
    for (const auto& j : r.events("scan"))
        said += j["src"] == kScanner.str();
    EXPECT_EQ(said, 1u);
    EXPECT_EQ(r.agent->snapshot(later + kS).scanners, 16385u) << "the forger's sources and the scanner, once each";
}

TEST(AgentVerdicts, KernelBudgetRefusalIsTold) {
    Rig r([](RunOptions& o) { o.block = true; });
    sw_event e{};
    e.type = SW_EV_BLOCK_REFUSED;
    std::memcpy(e.saddr, kScanner.b.data(), 16);
    r.agent->on_events({e}, mono_now_ns());
    auto refused = r.events("block_refused");
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0]["by"], "fast_path");
    EXPECT_EQ(refused[0]["src"], "198.18.0.2");
}

// ---- SIGHUP: the config read again and applied to the parts -------------------

TEST(AgentReload, PolicyAndThresholdsChangeBlocksStay) {
    RunOptions next;
    Rig r({}, [&] { return next; });
    next = r.agent->options();
    ASSERT_TRUE(r.ask({{"cmd", "block"}, {"target", "198.18.0.9"}})["ok"].get<bool>());
    next.block = true;
    next.block_score = 0.6;
    next.det.min_ports = 9;
    next.allow = {"198.18.8.0/24"};
    r.agent->reload();
    auto ev = r.events("reload");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0]["ok"].get<bool>()) << ev[0];
    auto changed = ev[0]["changed"].get<std::vector<std::string>>();
    EXPECT_EQ(changed, (std::vector<std::string>{"detect.min_ports", "block.enabled", "block.score", "block.allow"}));
    EXPECT_TRUE(ev[0]["restart_needed"].empty());
    // applied to the parts
    EXPECT_TRUE(r.agent->blocker().policy().auto_block);
    EXPECT_DOUBLE_EQ(r.agent->blocker().policy().block_score, 0.6);
    EXPECT_EQ(r.agent->detector_config().min_ports, 9u);
    EXPECT_TRUE(r.agent->blocker().is_protected(*Addr::parse("198.18.8.1")));
    EXPECT_EQ(r.ask({{"cmd", "status"}})["block_enabled"], true);
    // the block list kept its block
    EXPECT_NE(r.agent->blocker().find(*Addr::parse("198.18.0.9")), nullptr);
}

TEST(AgentReload, RestartKeysKeepTheirRunningValue) {
    RunOptions next;
    Rig r({}, [&] { return next; });
    next = r.agent->options();
    const std::string socket = next.socket;
    next.socket = "/run/elsewhere.sock";
    next.ifaces = {"lo", "eth9"};
    r.agent->reload();
    auto ev = r.events("reload");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0]["ok"].get<bool>());
    EXPECT_TRUE(ev[0]["changed"].empty());
    EXPECT_EQ(ev[0]["restart_needed"].get<std::vector<std::string>>(),
              (std::vector<std::string>{"agent.interfaces", "agent.socket"}));
    EXPECT_EQ(r.agent->options().socket, socket);
    EXPECT_EQ(r.agent->options().ifaces, std::vector<std::string>{"lo"});
}

TEST(AgentReload, ABadConfigChangesNothing) {
    bool bad_file = true;
    RunOptions next;
    Rig r({}, [&]() -> RunOptions {
        if (bad_file)
            throw ConfigError("scanwatch.toml:3: block.score: must be at least 0.5");
        return next;
    });
    next = r.agent->options();
    next.block = true;
    r.agent->reload();
    // and options that fail the agent's own checks
    bad_file = false;
    next.allow = {"198.18.0.0/99"};
    r.agent->reload();
    auto ev = r.events("reload");
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_FALSE(ev[0]["ok"].get<bool>());
    EXPECT_NE(ev[0]["error"].get<std::string>().find("block.score"), std::string::npos);
    EXPECT_FALSE(ev[1]["ok"].get<bool>());
    EXPECT_FALSE(r.agent->options().block);
    EXPECT_FALSE(r.agent->blocker().policy().auto_block);
}

TEST(AgentReload, WithoutAConfigThereIsNothingToReload) {
    Rig r;
    r.agent->reload();
    auto ev = r.events("reload");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0]["ok"].get<bool>());
    EXPECT_EQ(ev[0]["error"], "no config to reload");
}

// ---- defaults: one set, whichever part reads them ----------------------------

TEST(AgentDefaults, RunOptionsAndBlockPolicyAgree) {
    RunOptions o;
    BlockPolicy fresh;
    BlockPolicy from = block_policy(o);
    EXPECT_EQ(from.auto_block, fresh.auto_block);
    EXPECT_EQ(from.block_unverified, fresh.block_unverified);
    EXPECT_EQ(from.block_score, fresh.block_score);
    EXPECT_EQ(from.ttl_ns, fresh.ttl_ns);
    EXPECT_EQ(from.max_blocks, fresh.max_blocks);
    EXPECT_EQ(from.max_new_per_sec, fresh.max_new_per_sec);
    EXPECT_EQ(from.fast_path, fresh.fast_path);
    EXPECT_EQ(o.pin_dir, KernelOptions{}.pin_dir);
    EXPECT_EQ(o.max_blocks, KernelOptions{}.max_blocks);
}

}  // namespace
