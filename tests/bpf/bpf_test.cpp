#include <gtest/gtest.h>
#include "bpf/prog_runner.hpp"
#include "packet.hpp"
using namespace scanwatch;
using namespace swtest;
TEST(Smoke, Loads) {
    ProgRunner r;
    auto f = nmap::syn("198.18.0.2", "198.18.0.1", 40000, 80).build();
    EXPECT_EQ(r.run_xdp(f, 2000000000ull), 2);
    auto s = r.source(*Addr::parse("198.18.0.2"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->cnt[SW_C_SYN_NMAP], 1u);
    for (size_t n = 0; n < 14; n++) {
        std::vector<uint8_t> t(f.begin(), f.begin() + n);
        try { r.run_xdp(t, 1); printf("len %zu ok\n", n); } catch (BpfError& e) { printf("len %zu: %s\n", n, e.what()); }
        try { r.run_tc(t, 1); printf("tc len %zu ok\n", n); } catch (BpfError& e) { printf("tc len %zu: %s\n", n, e.what()); }
    }
}
