#include "bpf/block_map.hpp"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "bpf/map_walk.hpp"
#include "bpf/block_bits.hpp"
#include "bpf/skel.hpp"

namespace scanwatch {

void put_kernel_block(const BlockMapFds& m, const sw_lpm_key& k, const sw_block& b) {
    const bool addr = k.prefixlen >= 128;
    // The bits first: the program must never skip the maps for a block they hold.
    const bool counted = m.bits && m.bits->add(k);
    if ((addr ? bpf_map_update_elem(m.addrs_fd, k.addr, &b, BPF_ANY)
              : bpf_map_update_elem(m.ranges_fd, &k, &b, BPF_ANY)) != 0) {
        const int err = errno;
        if (counted)
            m.bits->remove(k);  // never entered the map
        throw BpfError(addr ? "writing the block map (addresses)" : "writing the block map (ranges)", err);
    }
}

bool erase_kernel_block(const BlockMapFds& m, const sw_lpm_key& k) {
    const bool gone = k.prefixlen >= 128 ? bpf_map_delete_elem(m.addrs_fd, k.addr) == 0
                                         : bpf_map_delete_elem(m.ranges_fd, &k) == 0;
    if (m.bits)
        m.bits->remove(k);  // after the map let it go
    return gone;
}

void for_each_kernel_block(const BlockMapFds& m, const std::function<void(const sw_lpm_key&, const sw_block&)>& fn) {
    // Collected first: fn may delete what it is shown.
    std::vector<std::pair<sw_lpm_key, sw_block>> seen = map_entries<sw_lpm_key, sw_block>(m.ranges_fd);
    walk_map_entries(m.addrs_fd, sizeof(sw_lpm_key::addr), sizeof(sw_block), [&](const void* a, const void* v) {
        sw_lpm_key k{};
        k.prefixlen = 128;
        std::memcpy(k.addr, a, sizeof k.addr);
        seen.emplace_back(k, *static_cast<const sw_block*>(v));
    });
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
