// Drop rules the XDP program enforces: the block map (LPM trie over the
// 16-byte address form, so exact addresses and CIDRs of both families), the
// allow list that always wins, a cap on active blocks and on new blocks per
// second, and a state file so a restarted agent keeps every block and its
// expiry. Expiry is in the kernel clock (CLOCK_MONOTONIC); the state file
// stores wall time so it survives a reboot too.
//
// The list is indexed: a hash by (prefix, address) for add/remove, one probe
// per prefix length in use for the longest match, and an expiry-ordered set,
// so adding, finding and expiring cost O(1)/O(log n) whatever the list holds.
// The state file is written at most about once a second (the pinned kernel
// map holds the blocks meanwhile) and at stop (flush()). CrowdSec decisions
// are not written to it: they are pulled again at start.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/block_map.hpp"
#include "bpf/block_bits.hpp"
#include "common/defaults.hpp"
#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"
#include "scanwatch/detector.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

struct BlockPolicy {
    bool auto_block = false;          // --block
    bool block_unverified = false;    // --block-unverified
    double block_score = defaults::kBlockScore;  // reports at or above this are blocked
    uint64_t ttl_ns = defaults::kBlockTtlNs;
    uint32_t max_blocks = defaults::kMaxBlocks;
    uint32_t max_new_per_sec = defaults::kMaxNewBlocksPerSec;
    bool fast_path = defaults::kFastBlock;       // let XDP block nmap SYN scanners itself
    uint32_t fast_half_open = 2;      // fast path: half-open or refused nmap probes
    uint32_t fast_ports = 4;          // and this many distinct ports
    std::vector<Cidr> allow;          // never blocked (operator's list)
};

struct BlockEntry {
    Cidr target;
    uint64_t expires_ns = 0;   // kernel clock; 0 = never
    uint64_t created_ns = 0;
    uint32_t reason_code = SW_BR_MANUAL;
    std::string reason;        // "manual", "syn,rpc score 0.99", "fast-path", "crowdsec: cscli/manual 'ban' on ..."
    bool persist = true;       // written to the state file (CrowdSec decisions are not)
};

// The map side, so the blocker works on the live program and in tests alike.
// A negative blocks_fd means "no kernel" (unit tests, benchmarks of the list
// itself): the list works, kernel writes are only counted.
struct BlockMaps {
    int blocks_fd = -1;
    int allow_fd = -1;
    int config_fd = -1;
    int shield_fd = -1;  // sw_shield: answered with SYN cookies, not dropped
    int budget_fd = -1;  // sw_budget: what the XDP fast path spent
    int addrs_fd = -1;   // single addresses (bpf/block_map.hpp); blocks_fd holds the ranges
    int block_bits_fd = -1;  // sw_block_bits: the blocks' presence bits (bpf/block_bits.hpp)
};

// What add() did.
struct BlockOutcome {
    enum Kind { Created, Updated, Refused } kind = Refused;
    std::string error;  // Refused: why, one line
    explicit operator bool() const { return kind != Refused; }
};

class Blocker {
public:
    Blocker(BlockMaps maps, BlockPolicy policy, std::string state_path, Clock clock);

    // Rebuilds the blocks' presence bits from the block maps first (pinned
    // maps may hold blocks an older build wrote without them), then loads the
    // state file and reconciles it with the (maybe pinned) kernel map: blocks
    // made by the XDP fast path while no agent ran are adopted, blocks lost
    // with a reboot are put back. Expired ones are dropped; each
    // entry is checked as add() checks it (a file holding 0.0.0.0/0 blocks
    // nobody). A damaged file is moved aside with a timestamp and the agent
    // starts anyway. Returns the lines to tell the operator (one per problem).
    // Throws only for a state directory others can write or a symlinked file.
    std::vector<std::string> restore(uint64_t now_ns);

    // Addresses that are never blocked: ours, our gateways, loopback, and the
    // allow list. Written to the allow map the XDP program checks.
    void set_protected(const std::vector<Cidr>& extra);

    // Adds a block or renews it (a second add of the same target updates its
    // expiry and reason: Updated, nothing new counted). Refused: the text.
    // Detector blocks spend from the per-second cap; manual and CrowdSec
    // blocks only from the total cap.
    BlockOutcome put(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code, const std::string& reason,
                     uint64_t now_ns);
    // The same, answering only the refusal text (nullopt: in force).
    std::optional<std::string> add(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code,
                                   const std::string& reason, uint64_t now_ns);
    bool remove(const Cidr& target);
    // Every block, oldest first.
    std::vector<BlockEntry> list() const;
    size_t size() const { return entries_.size(); }
    // The block on exactly this target, or null.
    const BlockEntry* get(const Cidr& target) const;
    // The most specific block covering a, or null.
    const BlockEntry* find(const Addr& a) const;
    // Removes expired blocks; returns them (for unblock events).
    std::vector<BlockEntry> expire(uint64_t now_ns);
    // The fast path sets its own presence bit for each block it makes
    // (BlockBits: the kernel's bit of the bucket), which only a rebuild
    // clears: a long run with --block would gather bits of blocks long gone,
    // each costing the lookups of its bucket's sources. Rebuilds the bits
    // from the maps when fast-path blocks left since the last rebuild and
    // kBitsRebuildNs passed (or `force`). True when it rebuilt.
    static constexpr uint64_t kBitsRebuildNs = 600'000'000'000ull;  // 10 min
    bool refresh_bits(uint64_t now_ns, bool force = false);
    // Picks up blocks the XDP fast path made since the last call. Walks the
    // kernel map only when `force` or when the kernel's budget says the fast
    // path made blocks we have not seen, so a large list costs nothing per
    // sweep. The caps hold here too: a block past --max-blocks, or one that
    // covers a protected address, is removed from the kernel map and listed in
    // *refused (when given) instead.
    std::vector<BlockEntry> adopt_kernel_blocks(uint64_t now_ns, bool force = true,
                                                std::vector<BlockEntry>* refused = nullptr);

    // Puts a source that cannot prove itself under the shield (its SYNs are
    // answered with SYN cookies by XDP); false when it already is, or the
    // shield is off (no --block) or unavailable.
    bool shield(const Addr& a, uint64_t now_ns);
    bool shielded(const Addr& a) const;
    // Sources the agent put under the shield since it started.
    uint64_t shields_created() const { return shields_; }
    // Shields in force now (unexpired entries of sw_shield), by who made
    // them: the agent (a verdict it could not block on) or the XDP fast path.
    // Walks the map (at most SW_DEFAULT_MAX_SHIELDS entries, in batches).
    struct ShieldCount {
        uint64_t agent = 0, fast_path = 0;
        uint64_t total() const { return agent + fast_path; }
    };
    ShieldCount shields_active(uint64_t now_ns) const;

    // Whether a detector report should become a block; nullopt = yes,
    // otherwise why not ("unproven source", "allow-listed", ...). A block
    // needs evidence nobody can forge in another's name: handshakes (ACKs of
    // our SYN/ACK or of a SYN cookie) on fast_ports ports (sw_source.proven).
    std::optional<std::string> refuse(const ScanReport& r, const sw_source& rec) const;
    bool is_protected(const Addr& a) const;
    // The protected network target would cover, preferring one of target's
    // own family (so ::/0 names ::1, not 127.0.0.0/8); nullopt when none.
    std::optional<Cidr> protected_overlap(const Cidr& target) const;

    const BlockPolicy& policy() const { return policy_; }
    // A new policy (SIGHUP): thresholds, caps and the allow list; blocks stay.
    // `extra` is the protected set as for set_protected().
    void set_policy(const BlockPolicy& p, const std::vector<Cidr>& extra);
    uint64_t created_total() const { return created_; }
    uint64_t refused_cap() const { return refused_cap_; }
    // Between hold_config(true) and hold_config(false) the config map's block
    // count is written once, at the end (a batch of 100,000 decisions).
    void hold_config(bool on);
    // Writes to the kernel block map so far (one per new or changed block).
    uint64_t kernel_writes() const { return kernel_writes_; }

    // Writes the state file when something changed and the last write is at
    // least a second old; flush() writes now if anything changed (at stop).
    void save_if_due(uint64_t now_ns);
    void flush();
    // State-file writes so far (for tests and benchmarks).
    uint64_t saves() const { return saves_; }
    // The state file could not be written: the message, once per new problem.
    std::optional<std::string> take_save_error();
    // The current problem with the state file, "" when the last save worked.
    const std::string& save_error() const { return save_error_; }

private:
    struct Key {
        Addr addr;
        uint8_t prefix = 128;
        bool operator==(const Key&) const = default;
        auto operator<=>(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept { return std::hash<Addr>{}(k.addr) ^ (size_t(k.prefix) * 0x9e3779b97f4a7c15ULL); }
    };
    static Key key_of(const Cidr& c);
    std::vector<const BlockEntry*> oldest_first() const;

    // The kernel side: the only places that touch the block map.
    void kernel_put(const BlockEntry& e);
    BlockMapFds kernel_maps() const;
    void kernel_delete(const Cidr& target);
    void rebuild_bits(uint64_t now_ns);  // block_bits_ from the maps (restore, refresh_bits)
    std::vector<std::pair<Cidr, sw_block>> kernel_read() const;

    void index(const Key& k, const BlockEntry& e);
    void unindex(const Key& k, const BlockEntry& e);
    void erase(std::unordered_map<Key, BlockEntry, KeyHash>::iterator it);
    void sync_config();
    void save();

    BlockMaps maps_;
    std::unique_ptr<BlockBits> block_bits_;  // null without the map (tests, benchmarks of the list)
    BlockPolicy policy_;
    std::string state_path_;
    Clock clock_;
    std::unordered_map<Key, BlockEntry, KeyHash> entries_;
    std::array<uint32_t, 129> per_prefix_{};          // entries per prefix length
    std::set<std::pair<uint64_t, Key>> by_expiry_;    // entries that expire
    std::vector<Cidr> protected_;
    uint64_t created_ = 0;
    uint64_t refused_cap_ = 0;
    uint64_t kernel_writes_ = 0;
    uint64_t fast_seen_ = 0;   // fast-path blocks (sw_budget.spent) already adopted or refused
    uint64_t fast_gone_ = 0;   // fast-path blocks deleted since the bits were last rebuilt
    uint64_t bits_built_ns_ = 0;  // when the bits were last rebuilt (restore, refresh_bits)
    uint64_t shields_ = 0;     // shields the agent made
    uint64_t window_start_ns_ = 0;
    uint32_t window_count_ = 0;
    bool hold_config_ = false, config_due_ = false;  // the config map's n_blocks after our last write
    bool dirty_ = false;              // persisted blocks changed since the last save
    uint64_t last_save_ns_ = 0;
    uint64_t saves_ = 0;
    std::string save_error_;
    bool save_error_new_ = false;
};

// The host's own addresses (every interface in this network namespace), its
// default gateways, and loopback, as host-prefix CIDRs.
std::vector<Cidr> local_protected_addresses();

sw_lpm_key lpm_key(const Cidr& c);

}  // namespace scanwatch
