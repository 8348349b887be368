// Addresses as the kernel keys them: 16 bytes, IPv4 mapped as ::ffff:a.b.c.d.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace scanwatch {

struct Addr {
    std::array<uint8_t, 16> b{};

    static Addr from_bytes(const uint8_t* p16);
    static Addr v4(uint32_t host_order);
    // Parses "198.18.0.2" or "2001:2::1"; nullopt when it is not an address.
    static std::optional<Addr> parse(std::string_view text);

    bool is_v4() const;
    std::string str() const;  // dotted quad for IPv4, RFC 5952 text for IPv6
    auto operator<=>(const Addr&) const = default;
};

// An address with a prefix length over the 16-byte form (IPv4 /n is 96+n).
struct Cidr {
    Addr addr;
    unsigned prefix = 128;  // over the 16-byte form

    // "198.18.0.0/15", "2001:2::/48", or a bare address (host prefix).
    // Throws std::invalid_argument with a one-line reason.
    static Cidr parse(std::string_view text);
    bool contains(const Addr& a) const;
    std::string str() const;
};

}  // namespace scanwatch

template <>
struct std::hash<scanwatch::Addr> {
    size_t operator()(const scanwatch::Addr& a) const noexcept {
        uint64_t x, y;
        __builtin_memcpy(&x, a.b.data(), 8);
        __builtin_memcpy(&y, a.b.data() + 8, 8);
        return std::hash<uint64_t>{}(x * 0x9e3779b97f4a7c15ULL ^ y);
    }
};
