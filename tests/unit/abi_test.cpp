// The kernel<->user ABI must not change size by accident: the BPF object and
// the agent are built from the same header but may be built apart.
#include <gtest/gtest.h>

#include <cstddef>

#include "scanwatch/abi.h"

static_assert(sizeof(struct sw_source) == 288);
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
    EXPECT_EQ(sizeof(sw_source), 288u);
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
    EXPECT_LE(SW_S_DROPPED_EGRESS, SW_S_MAX - 1);
    EXPECT_EQ(SW_IF_SLOT_OTHER, 0);
    EXPECT_GT(SW_IF_SLOTS, 1);
    EXPECT_LE(SW_IF_SLOTS, 256);  // struct pkt / struct acct carry the slot in a __u8
}
