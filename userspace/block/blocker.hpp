// Drop rules the XDP program enforces: the block map (LPM trie over the
// 16-byte address form, so exact addresses and CIDRs of both families), the
// allow list that always wins, a cap on active blocks and on new blocks per
// second, and a state file so a restarted agent keeps every block and its
// expiry. Expiry is in the kernel clock (CLOCK_MONOTONIC); the state file
// stores wall time so it survives a reboot too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scanwatch/abi.h"
#include "scanwatch/addr.hpp"
#include "scanwatch/detector.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

struct BlockPolicy {
    bool auto_block = false;          // --block
    bool block_unverified = false;    // --block-unverified
    double block_score = 0.99;        // reports at or above this are blocked
    uint64_t ttl_ns = 3600'000'000'000ULL;
    uint32_t max_blocks = SW_DEFAULT_MAX_BLOCKS;
    uint32_t max_new_per_sec = 100;
    bool fast_path = true;            // let XDP block nmap SYN scanners itself
    uint32_t fast_half_open = 2;      // fast path: half-open or refused nmap probes
    uint32_t fast_ports = 4;          // and this many distinct ports
    std::vector<Cidr> allow;          // never blocked (operator's list)
};

struct BlockEntry {
    Cidr target;
    uint64_t expires_ns = 0;   // kernel clock; 0 = never
    uint64_t created_ns = 0;
    uint32_t reason_code = SW_BR_MANUAL;
    std::string reason;        // "manual", "syn,rpc score 0.99", "fast-path"
};

// The map side, so the blocker works on the live program and in tests alike.
struct BlockMaps {
    int blocks_fd = -1;
    int allow_fd = -1;
    int config_fd = -1;
    int shield_fd = -1;  // sw_shield: answered with SYN cookies, not dropped
    int budget_fd = -1;  // sw_budget: what the XDP fast path spent
};

class Blocker {
public:
    Blocker(BlockMaps maps, BlockPolicy policy, std::string state_path, Clock clock);

    // Loads the state file and reconciles it with the (maybe pinned) kernel
    // map: blocks made by the XDP fast path while no agent ran are adopted,
    // blocks lost with a reboot are put back. Expired ones are dropped.
    void restore(uint64_t now_ns);

    // Addresses that are never blocked: ours, our gateways, loopback, and the
    // allow list. Written to the allow map the XDP program checks.
    void set_protected(const std::vector<Cidr>& extra);

    // Adds a block; returns an error text instead when it is refused.
    std::optional<std::string> add(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code,
                                   const std::string& reason, uint64_t now_ns);
    bool remove(const Cidr& target);
    std::vector<BlockEntry> list() const;
    const BlockEntry* find(const Addr& a) const;
    // Removes expired blocks; returns them (for unblock events).
    std::vector<BlockEntry> expire(uint64_t now_ns);
    // Picks up blocks the XDP fast path made since the last call. The caps
    // hold here too: a block past --max-blocks is removed from the kernel map
    // and listed in *refused (when given) instead.
    std::vector<BlockEntry> adopt_kernel_blocks(uint64_t now_ns, std::vector<BlockEntry>* refused = nullptr);

    // Puts a source that cannot prove itself under the shield (its SYNs are
    // answered with SYN cookies by XDP); false when it already is, or the
    // shield is off (no --block) or unavailable.
    bool shield(const Addr& a, uint64_t now_ns);
    bool shielded(const Addr& a) const;

    // Whether a detector report should become a block; nullopt = yes,
    // otherwise why not ("unproven source", "allow-listed", ...). A block
    // needs evidence nobody can forge in another's name: handshakes (ACKs of
    // our SYN/ACK or of a SYN cookie) on fast_ports ports (sw_source.proven).
    std::optional<std::string> refuse(const ScanReport& r, const sw_source& rec) const;
    bool is_protected(const Addr& a) const;

    const BlockPolicy& policy() const { return policy_; }
    // A new policy (SIGHUP): thresholds, caps and the allow list; blocks stay.
    // `extra` is the protected set as for set_protected().
    void set_policy(const BlockPolicy& p, const std::vector<Cidr>& extra);
    uint64_t created_total() const { return created_; }
    uint64_t refused_cap() const { return refused_cap_; }
    // Fast-path blocks the kernel budget refused (read from the kernel's stats by the caller).
    uint64_t shields_created() const { return shields_; }
    // The state file could not be written: the message, once per new problem.
    std::optional<std::string> take_save_error();
    // The current problem with the state file, "" when the last save worked.
    const std::string& save_error() const { return save_error_; }

private:
    void write_kernel(const BlockEntry& e);
    void sync_config();
    void save();

    BlockMaps maps_;
    BlockPolicy policy_;
    std::string state_path_;
    Clock clock_;
    std::vector<BlockEntry> entries_;
    std::vector<Cidr> protected_;
    uint64_t created_ = 0;
    uint64_t refused_cap_ = 0;
    uint64_t fast_seen_ = 0;   // fast-path blocks (sw_budget.spent) already adopted or refused
    uint64_t shields_ = 0;
    uint64_t window_start_ns_ = 0;
    uint32_t window_count_ = 0;
    std::string save_error_;
    bool save_error_new_ = false;
};

// The host's own addresses (every interface in this network namespace), its
// default gateways, and loopback, as host-prefix CIDRs.
std::vector<Cidr> local_protected_addresses();

sw_lpm_key lpm_key(const Cidr& c);

}  // namespace scanwatch
