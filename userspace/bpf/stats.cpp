#include "bpf/stats.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "bpf/skel.hpp"

namespace scanwatch {

std::vector<sw_stat_row> read_stat_rows(int stats_fd) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        throw BpfError("counting possible CPUs", -ncpu);
    std::vector<sw_stat_row> rows(SW_IF_SLOTS);
    std::vector<sw_stat_row> per_cpu(static_cast<size_t>(ncpu));
    for (uint32_t slot = 0; slot < SW_IF_SLOTS; slot++) {
        if (bpf_map_lookup_elem(stats_fd, &slot, per_cpu.data()) != 0)
            throw BpfError("reading the statistics of slot " + std::to_string(slot), errno);
        for (const auto& c : per_cpu)
            for (unsigned i = 0; i < SW_S_MAX; i++)
                rows[slot].s[i] += c.s[i];
    }
    return rows;
}

uint64_t stat_total(const std::vector<sw_stat_row>& rows, unsigned idx) {
    uint64_t sum = 0;
    if (idx < SW_S_MAX)
        for (const auto& r : rows)
            sum += r.s[idx];
    return sum;
}

bool set_if_slot(int ifslots_fd, uint32_t ifindex, uint32_t slot) {
    uint32_t bucket = ifindex % SW_IF_BUCKETS;
    sw_ifslot b{};
    if (bpf_map_lookup_elem(ifslots_fd, &bucket, &b) != 0)
        throw BpfError("reading the interface slot map", errno);
    int way = -1;
    for (int w = 0; w < SW_IF_WAYS; w++)
        if (b.ifindex[w] == ifindex) {
            way = w;
            break;
        }
    for (int w = 0; way < 0 && w < SW_IF_WAYS; w++)
        if (b.ifindex[w] == 0)
            way = w;
    if (way < 0)
        return false;
    // Slot first, then the ifindex that makes the way match: a packet never
    // sees this ifindex with a stale slot.
    b.slot[way] = slot;
    if (bpf_map_update_elem(ifslots_fd, &bucket, &b, BPF_ANY) != 0)
        throw BpfError("writing the interface slot map", errno);
    b.ifindex[way] = ifindex;
    if (bpf_map_update_elem(ifslots_fd, &bucket, &b, BPF_ANY) != 0)
        throw BpfError("writing the interface slot map", errno);
    return true;
}

}  // namespace scanwatch
