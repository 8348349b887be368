// The block list without a kernel: index, dedupe, refusals, expiry, the state
// file's cadence, hardening and recovery. Kernel writes are counted, not made.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "block/blocker.hpp"

using namespace scanwatch;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kS = 1'000'000'000ULL;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/sw-blocker-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

Blocker make(const std::string& state = "", uint32_t max_blocks = 1000000) {
    BlockPolicy p;
    p.max_blocks = max_blocks;
    p.max_new_per_sec = 1000000;
    Blocker b(BlockMaps{}, p, state, Clock::identity());
    b.set_protected({Cidr::parse("127.0.0.0/8"), Cidr::parse("::1"), Cidr::parse("198.18.0.1")});
    return b;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST(Blocker, SecondBlockRenewsInsteadOfCreating) {
    Blocker b = make();
    auto c = Cidr::parse("198.18.5.5");
    EXPECT_EQ(b.put(c, 60 * kS, SW_BR_MANUAL, "manual", 10 * kS).kind, BlockOutcome::Created);
    EXPECT_EQ(b.put(c, 60 * kS, SW_BR_MANUAL, "manual", 20 * kS).kind, BlockOutcome::Updated);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(b.created_total(), 1u);
    EXPECT_EQ(b.get(c)->expires_ns, 80 * kS);
    EXPECT_EQ(b.kernel_writes(), 2u);  // the expiry changed
    // The same expiry again: nothing to write to the kernel.
    EXPECT_EQ(b.put(c, 60 * kS, SW_BR_MANUAL, "manual", 20 * kS).kind, BlockOutcome::Updated);
    EXPECT_EQ(b.kernel_writes(), 2u);
}

TEST(Blocker, LongestPrefixWins) {
    Blocker b = make();
    ASSERT_TRUE(b.put(Cidr::parse("198.18.7.0/24"), 0, SW_BR_MANUAL, "net", 1));
    ASSERT_TRUE(b.put(Cidr::parse("198.18.7.9"), 0, SW_BR_MANUAL, "host", 2));
    ASSERT_TRUE(b.put(Cidr::parse("2001:2::/48"), 0, SW_BR_MANUAL, "v6net", 3));
    EXPECT_EQ(b.find(*Addr::parse("198.18.7.9"))->reason, "host");
    EXPECT_EQ(b.find(*Addr::parse("198.18.7.10"))->reason, "net");
    EXPECT_EQ(b.find(*Addr::parse("2001:2::77"))->reason, "v6net");
    EXPECT_EQ(b.find(*Addr::parse("198.18.8.1")), nullptr);
    EXPECT_TRUE(b.remove(Cidr::parse("198.18.7.9")));
    EXPECT_EQ(b.find(*Addr::parse("198.18.7.9"))->reason, "net");
    // Host bits in the CIDR name the same network.
    EXPECT_EQ(b.put(Cidr::parse("198.18.7.0/24"), 0, SW_BR_MANUAL, "net2", 4).kind, BlockOutcome::Updated);
}

TEST(Blocker, RefusalNamesTheRuleOfTheTargetsFamily) {
    Blocker b = make();
    auto v6 = b.put(Cidr::parse("::/0"), 0, SW_BR_MANUAL, "manual", 1);
    EXPECT_FALSE(v6);
    EXPECT_NE(v6.error.find("protected address ::1/128"), std::string::npos) << v6.error;
    auto v4 = b.put(Cidr::parse("0.0.0.0/0"), 0, SW_BR_MANUAL, "manual", 1);
    EXPECT_FALSE(v4);
    EXPECT_NE(v4.error.find("127.0.0.0/8"), std::string::npos) << v4.error;
    EXPECT_EQ(b.size(), 0u);
}

TEST(Blocker, CapHoldsAndCountsRefusals) {
    Blocker b = make("", 3);
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(b.put(Cidr::parse("198.18.9." + std::to_string(i + 10)), 0, SW_BR_CROWDSEC, "cs", 1));
    auto r = b.put(Cidr::parse("198.18.9.99"), 0, SW_BR_MANUAL, "manual", 1);
    EXPECT_FALSE(r);
    EXPECT_EQ(b.refused_cap(), 1u);
    // Renewing one in force is no new block.
    EXPECT_TRUE(b.put(Cidr::parse("198.18.9.10"), 5 * kS, SW_BR_CROWDSEC, "cs", 1));
}

TEST(Blocker, ExpiresExactlyWhatIsDue) {
    Blocker b = make();
    for (int i = 1; i <= 200; i++)
        ASSERT_TRUE(b.put(Cidr::parse("198.19.0." + std::to_string(i)), uint64_t(i) * kS, SW_BR_MANUAL, "m", 0));
    ASSERT_TRUE(b.put(Cidr::parse("198.19.1.1"), 0, SW_BR_MANUAL, "never", 0));
    // Renewing moves an entry later in the expiry order.
    ASSERT_TRUE(b.put(Cidr::parse("198.19.0.1"), 500 * kS, SW_BR_MANUAL, "m", 0));
    auto gone = b.expire(100 * kS);
    EXPECT_EQ(gone.size(), 99u);  // 2..100
    EXPECT_EQ(b.size(), 102u);
    EXPECT_NE(b.find(*Addr::parse("198.19.0.1")), nullptr);
    EXPECT_EQ(b.find(*Addr::parse("198.19.0.100")), nullptr);
    EXPECT_EQ(b.expire(100 * kS).size(), 0u);
    EXPECT_EQ(b.expire(1000 * kS).size(), 101u);
    EXPECT_EQ(b.size(), 1u);
}

TEST(Blocker, StateFileAtMostOnceASecondAndNoCrowdSec) {
    TempDir d;
    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto state = d.path / "blocks.json";
    Blocker b = make(state);
    b.restore(0);
    uint64_t saves0 = b.saves();
    for (int i = 0; i < 1000; i++) {
        ASSERT_TRUE(b.put(Cidr::parse("198.18." + std::to_string(i / 250 + 10) + "." + std::to_string(i % 250 + 1)), 0,
                          SW_BR_MANUAL, "manual", 5 * kS + uint64_t(i)));
        b.save_if_due(5 * kS + uint64_t(i));
    }
    ASSERT_TRUE(b.put(Cidr::parse("2001:2::9"), 60 * kS, SW_BR_CROWDSEC, "crowdsec: cscli/manual", 5 * kS));
    EXPECT_LE(b.saves() - saves0, 1u);
    b.save_if_due(5 * kS + 999'000'000ULL);  // still inside the second
    EXPECT_LE(b.saves() - saves0, 1u);
    b.flush();
    auto j = nlohmann::json::parse(slurp(state));
    EXPECT_EQ(j.size(), 1000u);  // the CrowdSec decision is pulled again at start, not saved
    for (const auto& e : j)
        EXPECT_NE(e["target"], "2001:2::9/128");
    EXPECT_EQ(fs::status(state).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    // Nothing changed: no write.
    uint64_t s = b.saves();
    b.flush();
    b.save_if_due(100 * kS);
    EXPECT_EQ(b.saves(), s);
}

TEST(Blocker, StateFileRoundTripsEveryFieldAndOddReasons) {
    // save() writes the file by hand: what restore() reads back is what was put.
    TempDir d;
    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto state = d.path / "blocks.json";
    const std::string odd = "syn \"quoted\" back\\slash\nline \x01 caf\xc3\xa9";
    {
        Blocker b = make(state);
        b.restore(0);
        ASSERT_TRUE(b.put(Cidr::parse("198.18.7.0/24"), 600 * kS, SW_BR_DETECTOR, odd, 5 * kS));
        ASSERT_TRUE(b.put(Cidr::parse("2001:2::7"), 0, SW_BR_MANUAL, "manual", 6 * kS));
        b.flush();
    }
    auto j = nlohmann::json::parse(slurp(state));  // valid JSON whatever the reason held
    ASSERT_EQ(j.size(), 2u);
    Blocker again = make(state);
    again.restore(7 * kS);
    ASSERT_EQ(again.size(), 2u);
    const BlockEntry* r = again.get(Cidr::parse("198.18.7.0/24"));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->reason, odd);
    EXPECT_EQ(r->reason_code, uint32_t(SW_BR_DETECTOR));
    EXPECT_EQ(r->expires_ns, 605 * kS);
    EXPECT_EQ(r->created_ns, 5 * kS);
    const BlockEntry* m = again.get(Cidr::parse("2001:2::7"));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->expires_ns, 0u);  // never expires
    EXPECT_EQ(m->created_ns, 6 * kS);
}

TEST(Blocker, DamagedStateFileIsMovedAsideAndReplaced) {
    TempDir d;
    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto state = d.path / "blocks.json";
    std::ofstream(state) << "[{\"target\": \"198.18.0.9\", \"exp";
    Blocker b = make(state);
    auto notes = b.restore(0);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("damaged"), std::string::npos) << notes[0];
    EXPECT_NE(notes[0].find("moved to"), std::string::npos) << notes[0];
    int aside = 0;
    for (const auto& e : fs::directory_iterator(d.path))
        if (e.path().filename().string().rfind("blocks.json.corrupt-", 0) == 0) {
            aside++;
            EXPECT_EQ(slurp(e.path()), "[{\"target\": \"198.18.0.9\", \"exp");
        }
    EXPECT_EQ(aside, 1);
    EXPECT_EQ(nlohmann::json::parse(slurp(state)), nlohmann::json::array());
}

TEST(Blocker, RestoreValidatesEntriesLikeAdd) {
    TempDir d;
    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto state = d.path / "blocks.json";
    nlohmann::json arr = nlohmann::json::array();
    auto entry = [](const std::string& t) {
        return nlohmann::json{{"target", t}, {"expires_wall_ns", 0}, {"created_wall_ns", 1}, {"reason_code", 1},
                              {"reason", "manual"}};
    };
    arr.push_back(entry("0.0.0.0/0"));
    arr.push_back(entry("::/0"));
    arr.push_back(entry("198.18.0.1"));  // protected (our address in this test)
    arr.push_back(entry("198.18.44.4"));
    arr.push_back(nlohmann::json{{"target", "not an address"}});
    std::ofstream(state) << arr.dump();
    Blocker b = make(state);
    auto notes = b.restore(0);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_NE(b.find(*Addr::parse("198.18.44.4")), nullptr);
    EXPECT_EQ(b.find(*Addr::parse("198.18.44.5")), nullptr);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("skipped 4 entries"), std::string::npos) << notes[0];
    // The refused ones are gone from the fresh file.
    EXPECT_EQ(nlohmann::json::parse(slurp(state)).size(), 1u);
}

TEST(Blocker, RefusesADirectoryOthersCanWriteAndASymlinkedFile) {
    TempDir d;
    fs::permissions(d.path, fs::perms::all, fs::perm_options::replace);  // 0777, no sticky bit
    Blocker open_dir = make(d.path / "blocks.json");
    EXPECT_THROW(open_dir.restore(0), std::runtime_error);

    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto victim = d.path / "victim";
    std::ofstream(victim) << "precious\n";
    fs::create_symlink(victim, d.path / "blocks.json");
    Blocker linked = make(d.path / "blocks.json");
    EXPECT_THROW(linked.restore(0), std::runtime_error);
    EXPECT_EQ(slurp(victim), "precious\n");
}

TEST(Blocker, SaveNeverWritesThroughASymlink) {
    TempDir d;
    fs::permissions(d.path, fs::perms::owner_all, fs::perm_options::replace);
    auto state = d.path / "blocks.json";
    Blocker b = make(state);
    b.restore(0);
    // Planted after start: the save replaces the link, the target is untouched.
    auto victim = d.path / "victim";
    std::ofstream(victim) << "precious\n";
    fs::remove(state);
    fs::create_symlink(victim, state);
    // The old fixed temporary name, planted too.
    fs::create_symlink(victim, d.path / "blocks.json.tmp");
    ASSERT_TRUE(b.put(Cidr::parse("198.18.3.3"), 0, SW_BR_MANUAL, "manual", kS));
    b.flush();
    EXPECT_EQ(slurp(victim), "precious\n");
    EXPECT_FALSE(fs::is_symlink(state));
    EXPECT_EQ(nlohmann::json::parse(slurp(state)).size(), 1u);
}

TEST(Blocker, HundredThousandBlocksStayIndexed) {
    Blocker b = make();
    for (uint32_t i = 0; i < 100000; i++)
        ASSERT_TRUE(b.put(Cidr{Addr::v4(0xC6120000u + 0x100u + i), 128}, (i % 100 + 1) * kS, SW_BR_CROWDSEC, "cs", 0));
    EXPECT_EQ(b.size(), 100000u);
    EXPECT_EQ(b.kernel_writes(), 100000u);
    EXPECT_NE(b.find(Addr::v4(0xC6120000u + 0x100u + 77777)), nullptr);
    EXPECT_EQ(b.expire(50 * kS).size(), 50000u);
    EXPECT_EQ(b.list().size(), 50000u);
}
