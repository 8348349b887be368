// The kernel<->user ABI must not change size by accident: the BPF object and
// the agent are built from the same header but may be built apart.
#include <gtest/gtest.h>

#include <cstddef>

#include "scanwatch/abi.h"
#include "scanwatch/counters.hpp"

#include <set>
#include <string>

static_assert(sizeof(struct sw_source) == 320);
static_assert(sizeof(struct sw_wide) == 2 * SW_HLL_REGS / 2 + 8);  // 4-bit registers, two sketches
static_assert(sizeof(struct sw_event) == 64);
static_assert(sizeof(struct sw_flow_key) == 40);
static_assert(sizeof(struct sw_flow) == 24);
static_assert(sizeof(struct sw_config) == 64);
static_assert(sizeof(struct sw_shield) == 32);
static_assert(sizeof(struct sw_budget) == 24);
static_assert(sizeof(struct sw_lpm_key) == 20);
static_assert(sizeof(struct sw_block) == 24);
static_assert(sizeof(struct sw_clock) == 64);
static_assert(sizeof(struct sw_ifslot) == 16);
static_assert(sizeof(struct sw_stat_row) == 192);

TEST(Abi, StructSizes) {
    EXPECT_EQ(sizeof(sw_source), 320u);
    EXPECT_EQ(sizeof(sw_event), 64u);
    EXPECT_EQ(sizeof(sw_flow_key), 40u);
    EXPECT_EQ(sizeof(sw_flow), 24u);
    EXPECT_EQ(sizeof(sw_config), 64u);
    EXPECT_EQ(sizeof(sw_shield), 32u);
    EXPECT_EQ(sizeof(sw_budget), 24u);
    EXPECT_EQ(sizeof(sw_lpm_key), 20u);
    EXPECT_EQ(sizeof(sw_block), 24u);
    EXPECT_EQ(sizeof(sw_clock), 64u);
    EXPECT_EQ(sizeof(sw_ifslot), 16u);
    EXPECT_EQ(sizeof(sw_stat_row), 192u);
}

TEST(Abi, Layout) {
    EXPECT_EQ(SW_PORT_BITS % 64, 0);
    EXPECT_EQ(SW_HOST_BITS % 64, 0);
    EXPECT_EQ(offsetof(sw_source, cnt), 16u);
    EXPECT_EQ(offsetof(sw_event, saddr), 8u);
    EXPECT_EQ(offsetof(sw_lpm_key, addr), 4u);
    EXPECT_LE(SW_C_FIRST_OK, SW_C_MAX - 1);
    // the counters' indexes are ABI: the table only ever grows at its end
    EXPECT_EQ(SW_C_SYN_NMAP, 2);
    EXPECT_EQ(SW_C_FIRST_OK, 31);
    EXPECT_EQ(SW_C_FRAG_SYN, 32);
    EXPECT_LE(SW_C_MAX, SW_C_MASK_BITS);
    EXPECT_LE(SW_S_DROPPED_EGRESS, SW_S_MAX - 1);
    EXPECT_EQ(SW_IF_SLOT_OTHER, 0);
    EXPECT_GT(SW_IF_SLOTS, 1);
    EXPECT_LE(SW_IF_SLOTS, 256);  // struct pkt / struct acct carry the slot in a __u8
}

// One table names every counter: names unique, none empty, kinds from DESIGN.md's vocabulary.
TEST(Abi, CounterTable) {
    const std::set<std::string> vocabulary = {"syn", "connect", "fin", "null", "xmas", "maimon", "ack",
        "custom-flags", "udp", "ip-protocol", "sctp", "os-detect", "service-detect", "rpc", "discovery", "sweep"};
    std::set<std::string> names;
    for (unsigned c = 0; c < SW_C_MAX; c++) {
        EXPECT_TRUE(names.insert(scanwatch::kCounters[c].name).second) << scanwatch::kCounters[c].name;
        EXPECT_STRNE(scanwatch::kCounters[c].name, "");
        std::string k = scanwatch::kCounters[c].kinds, w;
        for (size_t i = 0; i <= k.size(); i++) {
            if (i == k.size() || k[i] == ' ') {
                if (!w.empty()) {
                    EXPECT_TRUE(vocabulary.count(w)) << scanwatch::kCounters[c].name << ": " << w;
                }
                w.clear();
            } else {
                w += k[i];
            }
        }
    }
    EXPECT_STREQ(scanwatch::kCounters[SW_C_NULL].id, "NULL");
    EXPECT_TRUE(scanwatch::counter_backs_kind(SW_C_ICMP_ODD, "discovery"));
    EXPECT_TRUE(scanwatch::counter_backs_kind(SW_C_ICMP_ODD, "os-detect"));
    EXPECT_FALSE(scanwatch::counter_backs_kind(SW_C_ICMP_ODD, "os"));
}
