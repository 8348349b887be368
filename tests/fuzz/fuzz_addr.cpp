// Addresses and CIDRs as users type them (--allow, block/unblock, control
// requests). Invariants: Addr::parse never throws and accepts only a whole
// address; Cidr::parse throws only std::invalid_argument with a one-line
// reason; what parses prints back to text that parses to the same value;
// host bits are clear; a network contains its own address.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "check.hpp"
#include "scanwatch/addr.hpp"

using namespace scanwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto a = Addr::parse(text)) {
        CHECK(text.find('\0') == std::string_view::npos);  // the whole text is the address
        std::string s = a->str();
        CHECK(!s.empty());
        auto again = Addr::parse(s);
        CHECK(again && *again == *a);
        CHECK(Addr::from_bytes(a->b.data()) == *a);
    }

    try {
        Cidr c = Cidr::parse(text);
        CHECK(c.prefix <= 128);
        CHECK(!c.addr.is_v4() || c.prefix >= 96);
        for (unsigned i = c.prefix; i < 128; i++)
            CHECK((c.addr.b[i / 8] & (0x80u >> (i % 8))) == 0);
        CHECK(c.contains(c.addr));
        std::string s = c.str();
        Cidr again = Cidr::parse(s);  // must not throw
        CHECK(again.prefix == c.prefix && again.addr == c.addr);
        CHECK(again.str() == s);
    } catch (const std::invalid_argument& e) {
        // One clear line on stderr: the whole reason, no line breaks.
        std::string_view why(e.what());
        CHECK(why.find("'") == 0 && why.find('\n') == std::string_view::npos &&
              why.find('\r') == std::string_view::npos);
        CHECK(why.find("is not an IPv4") != std::string_view::npos || why.find("prefix length") != std::string_view::npos);
    }
    return 0;
}
