// The block presence bits' bookkeeping (userspace/bpf/block_bits.cpp) over a
// plain word array: what the XDP program would decide (may_cover, the same
// abi.h functions) is checked against the blocks themselves. The rule under
// test: a source inside a live block is always looked up (no false
// negative), and bits no block needs are cleared.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "bpf/block_bits.hpp"
#include "scanwatch/addr.hpp"

using namespace scanwatch;

namespace {

sw_lpm_key key(std::string_view cidr) {
    Cidr c = Cidr::parse(cidr);
    sw_lpm_key k{};
    k.prefixlen = c.prefix;
    std::memcpy(k.addr, c.addr.b.data(), 16);
    return k;
}

struct Bits {
    std::vector<uint64_t> words = std::vector<uint64_t>(SW_BB_WORDS, 0);
    BlockBits b{words.data()};
    Bits() {
        b.begin_rebuild();
        b.finish_rebuild();
    }
    bool covers(std::string_view a) { return b.may_cover(Addr::parse(a)->b.data()); }
    // bits set anywhere (the agent's and the kernel's), header aside
    size_t set() const {
        size_t n = 0;
        for (size_t i = 1; i < words.size(); i++)
            n += static_cast<size_t>(__builtin_popcountll(words[i]));
        return n;
    }
};

}  // namespace

TEST(BlockBits, NotTrustedUntilRebuilt) {
    std::vector<uint64_t> words(SW_BB_WORDS, 0);
    words[0] = SW_BB_BUILT;  // as a pinned map left by an earlier agent
    BlockBits b(words.data());
    b.begin_rebuild();
    EXPECT_FALSE(b.built());
    EXPECT_TRUE(b.may_cover(Addr::parse("198.18.0.2")->b.data())) << "not built: every source is looked up";
    b.finish_rebuild();
    EXPECT_TRUE(b.built());
    EXPECT_FALSE(b.may_cover(Addr::parse("198.18.0.2")->b.data()));
}

TEST(BlockBits, EachKindOfBlockCoversItsSources) {
    Bits t;
    t.b.add(key("198.18.5.16/28"));
    EXPECT_TRUE(t.covers("198.18.5.20"));
    EXPECT_TRUE(t.covers("198.18.5.200")) << "same /24 bucket: looked up (the trie says no)";
    EXPECT_FALSE(t.covers("198.18.6.20"));
    t.b.add(key("2001:2:0:5::/64"));
    EXPECT_TRUE(t.covers("2001:2:0:5::9"));
    EXPECT_TRUE(t.covers("2001:2:0:6::9")) << "same /48 bucket";
    EXPECT_FALSE(t.covers("2001:2:1::9"));
    t.b.add(key("198.18.9.9"));
    t.b.add(key("2001:2:7::7"));
    EXPECT_TRUE(t.covers("198.18.9.9"));
    EXPECT_TRUE(t.covers("2001:2:7::7"));
    EXPECT_EQ(t.b.blocks(), 4u);
}

TEST(BlockBits, ShortPrefixesSpellOutTheirBucketsOrSetAll) {
    Bits t;
    t.b.add(key("10.0.0.0/8"));  // 65,536 /24 buckets
    for (const char* a : {"10.0.0.1", "10.128.7.7", "10.255.255.255"})
        EXPECT_TRUE(t.covers(a)) << a;
    EXPECT_EQ(t.words[0] & (SW_BB_ALL4 | SW_BB_ALL6), 0u) << "a /8 is spelled out";
    t.b.add(key("192.0.0.0/4"));
    EXPECT_TRUE(t.words[0] & SW_BB_ALL4) << "shorter than /8: every IPv4 source";
    EXPECT_TRUE(t.covers("203.0.113.1"));
    EXPECT_FALSE(t.covers("2001:3::1"));
    t.b.add(key("2001:2::/40"));  // 256 /48 buckets
    EXPECT_TRUE(t.covers("2001:2:ff::1"));
    EXPECT_FALSE(t.words[0] & SW_BB_ALL6);
    t.b.add(key("2001::/24"));
    EXPECT_TRUE(t.words[0] & SW_BB_ALL6);
    EXPECT_TRUE(t.covers("2001:ff::1"));
    t.b.remove(key("192.0.0.0/4"));
    t.b.remove(key("2001::/24"));
    EXPECT_EQ(t.words[0], SW_BB_BUILT);
    EXPECT_FALSE(t.covers("203.0.113.1"));
    EXPECT_TRUE(t.covers("10.9.9.9"));
}

TEST(BlockBits, AnIpv6RangeOverTheMappedSpaceCoversIpv4) {
    Bits t;
    t.b.add(key("::/0"));
    EXPECT_EQ(t.words[0], SW_BB_BUILT | SW_BB_ALL4 | SW_BB_ALL6);
    t.b.remove(key("::/0"));
    t.b.add(key("::/80"));  // holds ::ffff:0:0/96, every IPv4 address
    EXPECT_TRUE(t.covers("198.18.0.2"));
    EXPECT_TRUE(t.covers("::7")) << "and its own /48";
    EXPECT_FALSE(t.covers("2001:2::7"));
    t.b.remove(key("::/80"));
    EXPECT_FALSE(t.covers("198.18.0.2"));
}

TEST(BlockBits, ABucketStaysWhileAnotherBlockNeedsIt) {
    Bits t;
    t.b.add(key("198.18.5.16/28"));
    t.b.add(key("198.18.5.32/28"));
    t.b.add(key("198.18.5.7"));
    t.b.remove(key("198.18.5.16/28"));
    EXPECT_TRUE(t.covers("198.18.5.40")) << "198.18.5.32/28 still needs the bucket";
    t.b.remove(key("198.18.5.32/28"));
    EXPECT_TRUE(t.covers("198.18.5.7")) << "the address still needs it";
    t.b.remove(key("198.18.5.7"));
    EXPECT_FALSE(t.covers("198.18.5.7"));
    EXPECT_EQ(t.set(), 0u);
}

TEST(BlockBits, RenewalsAndUnknownRemovalsCountNothing) {
    Bits t;
    EXPECT_TRUE(t.b.add(key("198.18.5.16/28")));
    EXPECT_FALSE(t.b.add(key("198.18.5.16/28"))) << "a renewal";
    EXPECT_FALSE(t.b.add(key("198.18.5.17/28"))) << "the same network, host bits aside";
    EXPECT_FALSE(t.b.remove(key("198.18.6.0/28")));
    EXPECT_TRUE(t.b.remove(key("198.18.5.16/28")));
    EXPECT_FALSE(t.covers("198.18.5.20")) << "one add, one remove";
}

TEST(BlockBits, TheKernelsOwnBitSurvivesTheAgentsClear) {
    Bits t;
    const Addr fast = *Addr::parse("198.18.5.99");
    const uint32_t b = sw_block_bucket(fast.b.data(), 1);
    t.words[1 + b / 32] |= 2ull << (2 * (b % 32));  // what the XDP fast path sets
    t.b.add(key("198.18.5.16/28"));
    t.b.remove(key("198.18.5.16/28"));
    EXPECT_TRUE(t.covers("198.18.5.99")) << "the fast path's block is still looked up";
    t.b.begin_rebuild();
    EXPECT_EQ(t.set(), 0u) << "a rebuild clears it (the caller re-adds what the maps hold)";
}

// Random blocks of every kind, added and removed in random order: every
// address inside a live block is always covered, and once all are gone no
// bit is left.
TEST(BlockBits, NeverAFalseNegativeAndNothingLeftBehind) {
    Bits t;
    std::mt19937 rng(15);
    auto rnd = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    std::vector<Cidr> live;
    auto make = [&]() {
        Addr a;
        const bool v4 = rnd(2);
        if (v4) {
            a = Addr::v4((198u << 24) | (18u << 16) | rnd(1u << 17));  // 198.18.0.0/15
        } else {
            a = *Addr::parse("2001:2::");
            for (int i = 6; i < 16; i++)
                a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(rnd(256));
            a.b[5] = static_cast<uint8_t>(rnd(4));
        }
        static const unsigned p4[] = {12, 16, 20, 24, 28, 31, 32};
        static const unsigned p6[] = {40, 46, 48, 56, 64, 100, 128};
        unsigned p = v4 ? 96 + p4[rnd(7)] : p6[rnd(7)];
        return Cidr{a, p};
    };
    auto inside = [&](const Cidr& c) {
        Addr a = c.addr;
        for (unsigned i = c.prefix; i < 128; i++)
            if (rnd(2))
                a.b[i / 8] ^= static_cast<uint8_t>(0x80u >> (i % 8));
        return a;
    };
    auto lpm = [](const Cidr& c) {
        sw_lpm_key k{};
        k.prefixlen = c.prefix;
        std::memcpy(k.addr, c.addr.b.data(), 16);
        return k;
    };
    for (int step = 0; step < 4000; step++) {
        if (live.empty() || rnd(3)) {
            Cidr c = make();
            t.b.add(lpm(c));
            live.push_back(c);
        } else {
            size_t i = rnd(static_cast<uint32_t>(live.size()));
            Cidr c = live[i];
            live.erase(live.begin() + static_cast<long>(i));
            // the same network may be live twice (added twice, counted once):
            // it leaves only with its last copy, as the agent's index has it once
            auto same = [&](const Cidr& o) { return o.prefix == c.prefix && o.contains(c.addr); };
            if (std::none_of(live.begin(), live.end(), same))
                t.b.remove(lpm(c));
        }
        for (int probe = 0; probe < 8 && !live.empty(); probe++) {
            const Cidr& c = live[rnd(static_cast<uint32_t>(live.size()))];
            Addr a = inside(c);
            ASSERT_TRUE(t.b.may_cover(a.b.data())) << a.str() << " inside " << c.str() << " at step " << step;
        }
    }
    for (const auto& c : live)
        t.b.remove(lpm(c));
    EXPECT_EQ(t.set(), 0u);
    EXPECT_EQ(t.words[0], SW_BB_BUILT);
    EXPECT_EQ(t.b.blocks(), 0u);
}
