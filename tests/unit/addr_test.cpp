#include <gtest/gtest.h>

#include <stdexcept>

#include "scanwatch/addr.hpp"

using scanwatch::Addr;
using scanwatch::Cidr;

TEST(Addr, ParsesIpv4AsMapped) {
    auto a = Addr::parse("198.18.0.2");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(a->str(), "198.18.0.2");
    EXPECT_EQ(a->b[10], 0xff);
    EXPECT_EQ(a->b[11], 0xff);
    EXPECT_EQ(a->b[12], 198);
    EXPECT_EQ(a->b[15], 2);
    EXPECT_EQ(*a, Addr::v4(0xC6120002));
}

TEST(Addr, ParsesIpv6) {
    auto a = Addr::parse("2001:2::1");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->is_v4());
    EXPECT_EQ(a->str(), "2001:2::1");
    EXPECT_EQ(Addr::parse("2001:0002:0000::0001")->str(), "2001:2::1");  // RFC 5952 form
}

TEST(Addr, Ipv4MappedTextIsIpv4) {
    auto a = Addr::parse("::ffff:198.18.0.2");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(*a, *Addr::parse("198.18.0.2"));
    EXPECT_EQ(a->str(), "198.18.0.2");
}

TEST(Addr, RejectsGarbage) {
    for (const char* bad : {"foo", "", "1.2.3", "1.2.3.256", "1.2.3.4/24", "2001:::1", "::g", " 1.2.3.4"})
        EXPECT_FALSE(Addr::parse(bad)) << bad;
}

TEST(Addr, RejectsTextWithANul) {
    EXPECT_FALSE(Addr::parse(std::string("198.18.0.1\0junk", 15)));
    EXPECT_FALSE(Addr::parse(std::string("2001:2::\0", 9)));
    EXPECT_THROW(Cidr::parse(std::string("198.18.0.0\0/15", 14)), std::invalid_argument);
}

TEST(Addr, FromBytesRoundTrip) {
    auto a = *Addr::parse("2001:2::42");
    EXPECT_EQ(Addr::from_bytes(a.b.data()), a);
}

TEST(Cidr, ParsesNetworks) {
    auto c = Cidr::parse("198.18.0.0/15");
    EXPECT_EQ(c.prefix, 96u + 15);
    EXPECT_EQ(c.str(), "198.18.0.0/15");
    auto c6 = Cidr::parse("2001:2::/48");
    EXPECT_EQ(c6.prefix, 48u);
    EXPECT_EQ(c6.str(), "2001:2::/48");
}

TEST(Cidr, BareAddressIsHostPrefix) {
    EXPECT_EQ(Cidr::parse("198.18.0.2").prefix, 128u);
    EXPECT_EQ(Cidr::parse("198.18.0.2").str(), "198.18.0.2/32");
    EXPECT_EQ(Cidr::parse("2001:2::1").str(), "2001:2::1/128");
}

TEST(Cidr, ClearsHostBits) {
    EXPECT_EQ(Cidr::parse("198.19.255.7/15").str(), "198.18.0.0/15");
    EXPECT_EQ(Cidr::parse("2001:2:0:ffff::1/48").str(), "2001:2::/48");
}

TEST(Cidr, RejectsBadInput) {
    for (const char* bad : {"1.2.3.4/33", "::1/129", "foo", "foo/8", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/8x",
                            "/8", ""})
        EXPECT_THROW(Cidr::parse(bad), std::invalid_argument) << bad;
}

TEST(Cidr, ErrorMessageNamesTheInput) {
    try {
        Cidr::parse("1.2.3.4/33");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("1.2.3.4/33"), std::string::npos);
    }
}

TEST(Cidr, Contains) {
    auto c = Cidr::parse("198.18.0.0/15");
    EXPECT_TRUE(c.contains(*Addr::parse("198.18.0.1")));
    EXPECT_TRUE(c.contains(*Addr::parse("198.19.255.255")));
    EXPECT_FALSE(c.contains(*Addr::parse("198.20.0.0")));
    EXPECT_FALSE(c.contains(*Addr::parse("10.0.0.1")));
    EXPECT_FALSE(c.contains(*Addr::parse("2001:2::1")));

    auto c6 = Cidr::parse("2001:2::/48");
    EXPECT_TRUE(c6.contains(*Addr::parse("2001:2::1")));
    EXPECT_TRUE(c6.contains(*Addr::parse("2001:2:0:ffff::1")));
    EXPECT_FALSE(c6.contains(*Addr::parse("2001:3::1")));
    EXPECT_FALSE(c6.contains(*Addr::parse("198.18.0.1")));

    EXPECT_TRUE(Cidr::parse("0.0.0.0/0").contains(*Addr::parse("203.0.113.9")));
    EXPECT_FALSE(Cidr::parse("0.0.0.0/0").contains(*Addr::parse("2001:2::1")));
    EXPECT_TRUE(Cidr::parse("::/0").contains(*Addr::parse("2001:2::1")));
    EXPECT_TRUE(Cidr::parse("198.18.0.2").contains(*Addr::parse("198.18.0.2")));
    EXPECT_FALSE(Cidr::parse("198.18.0.2").contains(*Addr::parse("198.18.0.3")));
}
