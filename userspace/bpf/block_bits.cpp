#include "bpf/block_bits.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "bpf/error.hpp"
#include "scanwatch/addr.hpp"

namespace scanwatch {

namespace {

// The program reads the words and the fast path ORs its bits in: every store
// is atomic (a word is read whole, and the syscall writing a map orders them).
void store(uint64_t* w, uint64_t v) { std::atomic_ref<uint64_t>(*w).store(v, std::memory_order_seq_cst); }
// The agent's bit of a bucket (the kernel's is the one above it).
uint64_t agent_bit(uint32_t bucket) { return 1ull << (2 * (bucket % 32)); }
void set_agent_bit(uint64_t* words, uint32_t bucket) {
    std::atomic_ref<uint64_t>(words[1 + bucket / 32]).fetch_or(agent_bit(bucket), std::memory_order_seq_cst);
}
void clear_agent_bit(uint64_t* words, uint32_t bucket) {
    std::atomic_ref<uint64_t>(words[1 + bucket / 32]).fetch_and(~agent_bit(bucket), std::memory_order_seq_cst);
}

}  // namespace

BlockBits::BlockBits(uint64_t* words) : words_(words) {}

std::unique_ptr<BlockBits> BlockBits::open(int map_fd) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t len = (SW_BB_WORDS * sizeof(uint64_t) + page - 1) / page * page;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (p == MAP_FAILED)
        throw BpfError("mapping the block presence bits (sw_block_bits)", errno);
    auto r = std::make_unique<BlockBits>(static_cast<uint64_t*>(p));
    r->map_len_ = len;
    store(r->words_, 0);  // not trusted until finish_rebuild()
    return r;
}

BlockBits::~BlockBits() {
    if (map_len_)
        munmap(words_, map_len_);
}

bool BlockBits::built() const {
    return std::atomic_ref<uint64_t>(words_[0]).load(std::memory_order_acquire) & SW_BB_BUILT;
}

bool BlockBits::may_cover(const uint8_t* addr) const {
    const uint64_t hdr = std::atomic_ref<uint64_t>(words_[0]).load(std::memory_order_acquire);
    if (!(hdr & SW_BB_BUILT))
        return true;
    const int v4 = sw_addr_is_v4(addr);
    if (hdr & (v4 ? SW_BB_ALL4 : SW_BB_ALL6))
        return true;
    const uint32_t b = sw_block_bucket(addr, v4);
    return (std::atomic_ref<uint64_t>(words_[1 + b / 32]).load(std::memory_order_acquire) >> (2 * (b % 32))) & 3;
}

BlockBits::Key BlockBits::key_of(const sw_lpm_key& k) {
    Key key{static_cast<uint8_t>(k.prefixlen > 128 ? 128 : k.prefixlen), {}};
    std::memcpy(key.second.data(), k.addr, 16);
    for (unsigned i = key.first; i < 128; i++)
        key.second[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    return key;
}

void BlockBits::write_header() {
    uint64_t h = built_ ? SW_BB_BUILT : 0;
    if (all4_)
        h |= SW_BB_ALL4;
    if (all6_)
        h |= SW_BB_ALL6;
    store(words_, h);
}

void BlockBits::count_bucket(uint32_t bucket, bool up) {
    uint16_t& c = count_[bucket];
    if (c == 0xffff)
        return;  // saturated: stays set until the next rebuild (costs lookups, never a miss)
    if (up) {
        if (c++ == 0)
            set_agent_bit(words_, bucket);
    } else if (c && --c == 0) {
        clear_agent_bit(words_, bucket);
    }
}

// Every bucket block k touches, counted up or down; the ALL flags for ranges
// too short to spell out. A block in the IPv4-mapped space is an IPv4 one
// (an address is a /32); any other covers IPv6 buckets, and IPv4 too when it
// contains ::ffff:0:0/96.
void BlockBits::touch(const Key& k, bool up) {
    const unsigned p = k.first;
    const uint8_t* a = k.second.data();
    if (count_.empty())
        count_.assign(SW_BB_BUCKETS, 0);
    auto all = [&](uint32_t& n) { n = up ? n + 1 : n - 1; };
    uint8_t b[16];
    std::memcpy(b, a, 16);
    const Addr net = Addr::from_bytes(a);
    if (p >= 96 && net.is_v4()) {
        const unsigned p4 = p - 96;
        if (p4 < SW_BB_MIN4)
            return all(all4_);
        const uint32_t n = p4 >= SW_BB_G4 ? 1 : 1u << (SW_BB_G4 - p4);
        const uint32_t base = (uint32_t(a[12]) << 16) | (uint32_t(a[13]) << 8) | a[14];
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t bucket = base + i;
            b[12] = uint8_t(bucket >> 16), b[13] = uint8_t(bucket >> 8), b[14] = uint8_t(bucket);
            count_bucket(sw_block_bucket(b, 1), up);
        }
        return;
    }
    if (p < 96 && Cidr{net, p}.contains(Addr::v4(0)))
        all(all4_);  // e.g. ::/0 or ::ffff:0:0/96: every IPv4 address too
    if (p < SW_BB_MIN6)
        return all(all6_);
    const uint32_t n = p >= SW_BB_G6 ? 1 : 1u << (SW_BB_G6 - p);
    const uint64_t base = (uint64_t(a[0]) << 40) | (uint64_t(a[1]) << 32) | (uint64_t(a[2]) << 24) |
                          (uint64_t(a[3]) << 16) | (uint64_t(a[4]) << 8) | a[5];
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t bucket = base + i;
        for (int j = 0; j < 6; j++)
            b[j] = uint8_t(bucket >> (40 - 8 * j));
        count_bucket(sw_block_bucket(b, 0), up);
    }
}

bool BlockBits::add(const sw_lpm_key& k) {
    const Key key = key_of(k);
    if (!counted_.insert(key).second)
        return false;
    touch(key, true);
    write_header();  // ALL flags before the map write
    return true;
}

bool BlockBits::remove(const sw_lpm_key& k) {
    const Key key = key_of(k);
    if (!counted_.erase(key))
        return false;
    touch(key, false);
    write_header();
    return true;
}

void BlockBits::begin_rebuild() {
    built_ = false;
    all4_ = all6_ = 0;
    write_header();  // the program looks every source up meanwhile
    for (uint32_t i = 1; i < SW_BB_WORDS; i++)
        store(words_ + i, 0);
    counted_.clear();
    count_.assign(SW_BB_BUCKETS, 0);
}

void BlockBits::finish_rebuild() {
    built_ = true;
    write_header();
}

}  // namespace scanwatch
