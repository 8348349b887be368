// The kernel's two block maps seen as one (bpf/maps.bpf.h): a single address
// (prefix 128) lives in the exact hash sw_block_addrs, a range in the LPM
// trie sw_blocks. Every write, delete and walk of the block maps goes through
// these functions, so nothing else needs to know the split. A block's
// presence bits (block_bits.hpp) are set before it enters its map and
// cleared after it left, here, when the maps come with them.
#pragma once

#include <cstddef>
#include <functional>

#include "scanwatch/abi.h"

namespace scanwatch {
class BlockBits;
}

namespace scanwatch {

struct BlockMapFds {
    int ranges_fd = -1;  // sw_blocks: LPM trie, prefixes < 128
    int addrs_fd = -1;   // sw_block_addrs: hash, 16-byte addresses
    // sw_block_bits' bookkeeping; null: blocks are written without it, which
    // is safe only while nobody set SW_BB_BUILT (the program then looks every source up).
    BlockBits* bits = nullptr;
};

// Writes (or replaces) one block. Throws BpfError (e.g. the map is full).
void put_kernel_block(const BlockMapFds& m, const sw_lpm_key& k, const sw_block& b);
// Deletes one block; false when it was not there.
bool erase_kernel_block(const BlockMapFds& m, const sw_lpm_key& k);
// Every block of both maps (addresses as prefix 128).
void for_each_kernel_block(const BlockMapFds& m, const std::function<void(const sw_lpm_key&, const sw_block&)>& fn);
// What the program needs to know about the maps' contents, in the agent's
// sw_config (the only writer): how many addresses, and whether ranges exist.
void describe_kernel_blocks(sw_config& c, size_t addresses, size_t ranges);

}  // namespace scanwatch
