// The per-interface statistics of the BPF programs (abi.h: sw_stats rows,
// sw_ifslots buckets), shared by the live loader and the test runner.
#pragma once

#include <cstdint>
#include <vector>

#include "scanwatch/abi.h"

namespace scanwatch {

// Every row of a sw_stats map (index = interface slot), each summed over CPUs.
// Throws BpfError.
std::vector<sw_stat_row> read_stat_rows(int stats_fd);

// Sum of statistic idx (SW_S_*) over every slot.
uint64_t stat_total(const std::vector<sw_stat_row>& rows, unsigned idx);

// Gives ifindex its statistics slot in a sw_ifslots map. Returns false when
// the ifindex's bucket already holds SW_IF_WAYS other interfaces: its packets
// then count in SW_IF_SLOT_OTHER. An ifindex already present is re-pointed.
// Throws BpfError on a map error.
bool set_if_slot(int ifslots_fd, uint32_t ifindex, uint32_t slot);

}  // namespace scanwatch
