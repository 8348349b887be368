#include "scanwatch/addr.hpp"
#include "scanwatch/parse.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace scanwatch {

Addr Addr::from_bytes(const uint8_t* p16) {
    Addr a;
    std::memcpy(a.b.data(), p16, 16);
    return a;
}

Addr Addr::v4(uint32_t host_order) {
    Addr a;
    a.b[10] = a.b[11] = 0xff;
    uint32_t be = htonl(host_order);
    std::memcpy(a.b.data() + 12, &be, 4);
    return a;
}

std::optional<Addr> Addr::parse(std::string_view text) {
    // inet_pton reads a C string: text with a NUL would be cut there, and
    // "198.18.0.1\0junk" taken for 198.18.0.1.
    if (text.find('\0') != std::string_view::npos)
        return std::nullopt;
    std::string s(text);
    Addr a;
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        a.b[10] = a.b[11] = 0xff;
        std::memcpy(a.b.data() + 12, &v4, 4);
        return a;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        std::memcpy(a.b.data(), &v6, 16);
        return a;
    }
    return std::nullopt;
}

bool Addr::is_v4() const {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b.data(), prefix, 12) == 0;
}

std::string Addr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4())
        inet_ntop(AF_INET, b.data() + 12, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, b.data(), buf, sizeof buf);
    return buf;
}

Cidr Cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    auto host = text.substr(0, slash);
    auto a = Addr::parse(host);
    if (!a)
        throw std::invalid_argument(quote_input(text) + " is not an IPv4 or IPv6 address or CIDR");
    Cidr c{*a, 128};
    if (slash == std::string_view::npos)
        return c;
    auto len_text = text.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    unsigned max = a->is_v4() ? 32 : 128;
    if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size() || len > max)
        throw std::invalid_argument(quote_input(text) + " has a bad prefix length (0-" +
                                    std::to_string(max) + ")");
    c.prefix = a->is_v4() ? 96 + len : len;
    // Clear host bits so equal networks compare equal.
    for (unsigned i = 0; i < 128; i++)
        if (i >= c.prefix)
            c.addr.b[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    return c;
}

bool Cidr::contains(const Addr& x) const {
    for (unsigned i = 0; i < prefix; i++) {
        uint8_t m = static_cast<uint8_t>(0x80u >> (i % 8));
        if ((addr.b[i / 8] & m) != (x.b[i / 8] & m))
            return false;
    }
    return true;
}

std::string Cidr::str() const {
    unsigned len = addr.is_v4() ? prefix - 96 : prefix;
    return addr.str() + "/" + std::to_string(len);
}

}  // namespace scanwatch
