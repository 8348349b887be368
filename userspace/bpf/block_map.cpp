#include "bpf/block_map.hpp"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "bpf/skel.hpp"

namespace scanwatch {

void put_kernel_block(const BlockMapFds& m, const sw_lpm_key& k, const sw_block& b) {
    int rc = k.prefixlen >= 128 ? bpf_map_update_elem(m.addrs_fd, k.addr, &b, BPF_ANY)
                                : bpf_map_update_elem(m.ranges_fd, &k, &b, BPF_ANY);
    if (rc != 0)
        throw BpfError(k.prefixlen >= 128 ? "writing the block map (addresses)" : "writing the block map (ranges)",
                       errno);
}

bool erase_kernel_block(const BlockMapFds& m, const sw_lpm_key& k) {
    return k.prefixlen >= 128 ? bpf_map_delete_elem(m.addrs_fd, k.addr) == 0
                              : bpf_map_delete_elem(m.ranges_fd, &k) == 0;
}

void for_each_kernel_block(const BlockMapFds& m, const std::function<void(const sw_lpm_key&, const sw_block&)>& fn) {
    // Collected first: fn may delete what it is shown.
    std::vector<std::pair<sw_lpm_key, sw_block>> seen;
    {
        sw_lpm_key k{}, next{};
        const void* prev = nullptr;
        while (bpf_map_get_next_key(m.ranges_fd, prev, &next) == 0) {
            sw_block v{};
            if (bpf_map_lookup_elem(m.ranges_fd, &next, &v) == 0)
                seen.emplace_back(next, v);
            k = next;
            prev = &k;
        }
    }
    {
        uint8_t a[16]{}, next[16]{};
        const void* prev = nullptr;
        while (bpf_map_get_next_key(m.addrs_fd, prev, next) == 0) {
            sw_block v{};
            sw_lpm_key k{};
            k.prefixlen = 128;
            std::memcpy(k.addr, next, 16);
            if (bpf_map_lookup_elem(m.addrs_fd, next, &v) == 0)
                seen.emplace_back(k, v);
            std::memcpy(a, next, 16);
            prev = a;
        }
    }
    for (const auto& [k, v] : seen)
        fn(k, v);
}

void describe_kernel_blocks(sw_config& c, size_t addresses, size_t ranges) {
    c.n_blocks = static_cast<uint32_t>(addresses);
    if (ranges)
        c.flags |= SW_CFG_RANGES;
    else
        c.flags &= ~SW_CFG_RANGES;
}

}  // namespace scanwatch
