// The block presence bits (abi.h SW_BB_*, map sw_block_bits): the agent's
// side. Two bits per hashed bucket (an IPv4 /24, an IPv6 /48) say "a block
// may cover an address here"; the XDP program looks the block maps up only
// for a source whose bucket has a bit set. Blocking is a security control,
// so a clear pair must never be wrong:
// - add() runs BEFORE a block (address or range) enters a map: its bits and
//   ALL flags are set first;
// - remove() runs AFTER it left, and clears the agent's bit only when no
//   block still counted needs it (a count per bucket, kept here);
// - the XDP fast path sets the kernel's bit of a bucket itself, before its
//   block enters the map and again after; only a rebuild clears those;
// - a map this process did not build is not trusted: open() clears
//   SW_BB_BUILT (the program then looks every source up, as before the bits
//   existed) and finish_rebuild() sets it after begin_rebuild() zeroed every
//   bit and the caller add()ed every block the maps hold (read after the
//   zeroing, so a fast-path block made meanwhile is either read or sets its
//   own bit after the zeroing: its second OR follows its insert, so if the
//   zeroing came after both ORs, the insert came before the read).
// A set bit that no block needs (a hash collision, a saturated count, an
// expired fast-path block) only costs the lookups. Only the agent and the
// fast path write the map, so a forger's packets cannot set bits: the most a
// forger can do is send from a bucket that holds a block, and pay the
// lookups the program made for everybody before the bits existed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scanwatch/abi.h"

namespace scanwatch {

class BlockBits {
public:
    // Over SW_BB_WORDS words that outlive this object (a test's vector).
    explicit BlockBits(uint64_t* words);
    // Over the kernel map sw_block_bits (mmap-ed: BPF_F_MMAPABLE). Clears
    // SW_BB_BUILT: the bits are not trusted until finish_rebuild(). Throws BpfError.
    static std::unique_ptr<BlockBits> open(int map_fd);
    ~BlockBits();
    BlockBits(const BlockBits&) = delete;
    BlockBits& operator=(const BlockBits&) = delete;

    // Clears SW_BB_BUILT, every bit (the kernel's too) and every count.
    void begin_rebuild();
    // Sets SW_BB_BUILT: call once every block the maps hold was add()ed.
    void finish_rebuild();
    // Counts block k (an address: prefix 128, or a range) and sets its bits;
    // call before writing it to a map. False when k was already counted (a
    // renewal: nothing changes).
    bool add(const sw_lpm_key& k);
    // Uncounts block k and clears the bits no other block needs; call after
    // deleting it from its map. False when k was not counted.
    bool remove(const sw_lpm_key& k);

    bool built() const;
    // What the XDP program decides for addr: may a block cover it?
    bool may_cover(const uint8_t* addr) const;
    size_t blocks() const { return counted_.size(); }

private:
    using Key = std::pair<uint8_t, std::array<uint8_t, 16>>;
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept {
            return std::hash<std::string_view>{}(
                       std::string_view(reinterpret_cast<const char*>(k.second.data()), k.second.size())) ^
                   k.first;
        }
    };
    static Key key_of(const sw_lpm_key& k);
    void touch(const Key& k, bool up);
    void count_bucket(uint32_t bucket, bool up);
    void write_header();

    uint64_t* words_;
    size_t map_len_ = 0;  // mmap length when open() mapped it
    std::unordered_set<Key, KeyHash> counted_;
    std::vector<uint16_t> count_;  // per bucket, sized on the first block; 0xffff sticks
    uint32_t all4_ = 0, all6_ = 0;
    bool built_ = false;
};

}  // namespace scanwatch
