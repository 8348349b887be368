// conversation_hash(): which replay thread a packet goes to. What matters is
// that packets the XDP program must see in order land together.
#include <gtest/gtest.h>

#include <set>

#include "packet.hpp"
#include "replay/partition.hpp"

using namespace scanwatch;
using swtest::Packet;

namespace {
uint32_t h(const Packet& p) { return conversation_hash(p.build()); }
}  // namespace

TEST(Partition, BothDirectionsOfAConnectionGoTogether) {
    for (auto [a, b] : {std::pair{"198.18.0.2", "198.18.0.1"}, std::pair{"2001:2::2", "2001:2::1"}}) {
        uint32_t syn = h(Packet::tcp(a, b, 40000, 80).syn());
        EXPECT_EQ(syn, h(Packet::tcp(b, a, 80, 40000).syn().ack()));
        EXPECT_EQ(syn, h(Packet::tcp(a, b, 40000, 80).rst()));
        EXPECT_EQ(syn, h(Packet::tcp(a, b, 40000, 80).syn().vlan(10))) << "VLAN tags do not matter";
        EXPECT_NE(syn, h(Packet::tcp(a, b, 40001, 80).syn())) << "another connection";
        EXPECT_EQ(h(Packet::udp(a, b, 5353, 53)), h(Packet::udp(b, a, 53, 5353)));
    }
}

TEST(Partition, IcmpErrorGoesWithThePacketItQuotes) {
    Packet probe = Packet::udp("198.18.0.2", "198.18.0.1", 40000, 161);
    EXPECT_EQ(h(probe), h(Packet::icmp("198.18.0.1", "198.18.0.2", 3, 3).quote(probe)));
    Packet syn = Packet::tcp("198.18.0.2", "198.18.0.1", 40000, 80).syn();
    EXPECT_EQ(h(syn), h(Packet::icmp("198.18.0.1", "198.18.0.2", 3, 13).quote(syn, 28)));
    Packet syn6 = Packet::tcp("2001:2::2", "2001:2::1", 40000, 80).syn();
    EXPECT_EQ(h(syn6), h(Packet::icmp("2001:2::1", "2001:2::2", 1, 4).quote(syn6)));
}

TEST(Partition, ConversationsSpreadOverThreads) {
    std::set<uint32_t> seen;
    for (uint16_t port = 40000; port < 40064; port++)
        seen.insert(h(Packet::tcp("127.0.0.1", "127.0.0.1", port, 7000).syn()) % 2);
    EXPECT_EQ(seen.size(), 2u) << "one host's many connections use both threads";
}

TEST(Partition, LaterFragmentsGoWithTheAddressPair) {
    auto first = Packet::tcp("198.18.0.2", "198.18.0.1", 40000, 80).syn().l4_slice(0, 8).frag(0, true);
    auto later = Packet::tcp("198.18.0.2", "198.18.0.1", 40000, 80).syn().l4_slice(8, 12).frag(8, false);
    auto other = Packet::tcp("198.18.0.2", "198.18.0.1", 40001, 81).syn().l4_slice(8, 12).frag(8, false);
    EXPECT_EQ(h(later), h(other)) << "no ports: the pair decides";
    EXPECT_NE(h(first), 0u);
    EXPECT_EQ(conversation_hash({}), 0u);
}
