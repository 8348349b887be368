// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every map of the program, the load-time settings, and their accessors:
 * runtime config, the clock (live or replay), per-interface statistics.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* Load-time settings. */
const volatile __u8 replay_mode = 0;  /* 1: the clock is sw_clock, set by replay */
/*
 * 1: a source earns a record in sw_sources from its second packet on (the
 * first waits in sw_admit, admit.bpf.h). The agent and replay load with 1;
 * the BPF unit tests of what one packet does to a record load with 0.
 */
const volatile __u8 admit_sources = 1;
/*
 * Random per load (open_skeleton; fixed in replay, so a capture replays the
 * same way): the slot of a SYN in sw_syns and of a first packet in sw_admit
 * depends on it, so a forger cannot aim its packets at a real prober's slot.
 */
const volatile __u32 hash_seed = 0;
/* sw_hash_keys(hash_seed) (abi.h), set with it: the keys of addr_hash_seeded() */
const volatile __u32 hash_keys[4] = {};

/*
 * Per-source records (--max-sources; ~360 B each, preallocated). A source
 * gets one from its second packet on: its first waits in sw_admit (352 KiB
 * of two-way buckets, defined in admit.bpf.h beside struct acct), so a
 * one-packet flood costs bucket writes, not inserts and evictions here, and
 * sw_seen (admit.bpf.h) lets its packets skip the lookup here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SOURCES);
	__type(key, struct in6_addr);
	__type(value, struct sw_source);
} sw_sources SEC(".maps");

/* HyperLogLog sketches of the sources with SW_WIDE_AT ports or hosts (abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_WIDE);
	__type(key, struct in6_addr);
	__type(value, struct sw_wide);
} sw_wide SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_FLOWS);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
} sw_flows SEC(".maps");

/*
 * SYNs waiting for our answer: sw_syns, a direct-mapped array. An inbound
 * SYN (or RFC 1858 tiny first fragment) from a source with a record writes
 * one 12-byte slot, indexed and tagged by a seeded hash of its 5-tuple: no
 * allocation, no lock, no LRU node. A source without a record has its SYN
 * held whole by admission (sw_admit, admit.bpf.h) instead, where our answer
 * finds it: a one-packet source touches one slot, not two. The flow table
 * (sw_flows, an LRU hash) gets an entry only when our
 * SYN/ACK leaves (tcp_answer): only then can the prober's ACK (proof), RST
 * (half-open) or data (RPC) follow. A closed port's RST and an ICMP
 * unreachable clear the slot and never touch sw_flows.
 *
 * A later SYN whose tag falls in the same slot overwrites it; the earlier
 * SYN's answer then matches nothing and is not counted (as when the flow's
 * LRU entry was evicted before). Our SYN/ACK follows a SYN within
 * microseconds (host mode) or one inside round trip (gateway mode): at
 * 1 Mpps of distinct SYNs and 2^18 slots, a slot lives ~260 ms on average.
 * hash_seed keeps a forger from aiming at the slot of a given prober's SYN.
 * 12 bytes x 2^18 = 3 MiB, preallocated.
 */
#define SW_SYN_SLOTS (1u << 18)
#define SW_SYN_NMAP 1   /* the SYN carried nmap's raw fingerprint (win 1024, MSS 1460 only) */
#define SW_SYN_FIRST 2  /* its source's first probe of this port or host (sw_account) */
#define SW_SYN_FRAG 4   /* a tiny first fragment: only our answer tells it was a SYN */

struct sw_syn {
	__u32 tag;   /* syn_tag(); 0 = free */
	__u32 isn;   /* the prober's ISN, host order */
	__u8 flags;  /* SW_SYN_* */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_SYN_SLOTS);
	__type(key, __u32);
	__type(value, struct sw_syn);
} sw_syns SEC(".maps");

/*
 * Blocks come in two maps, so that the common case costs one hash lookup:
 * sw_block_addrs holds single addresses (the 16-byte form, IPv4 mapped) in a
 * hash (one jhash of 16 bytes and a bucket walk, whatever its size), and
 * sw_blocks, an LPM trie, holds only ranges (prefix < 128) and is looked up
 * only when the agent says it holds some (SW_CFG_RANGES): a trie lookup walks
 * up to one node per prefix length in use, which at 100,000 entries costs
 * about three times a hash lookup. Neither is preallocated: an entry costs
 * memory (about 100 bytes) only while it exists; the hash's bucket array
 * (16 bytes per power-of-two slot of max_entries) is allocated at load.
 * Both are sized by --max-blocks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct in6_addr);
	__type(value, struct sw_block);
} sw_block_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_DEFAULT_MAX_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_key);
	__type(value, struct sw_block);
} sw_blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_key);
	__type(value, __u32);
} sw_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_config);
} sw_cfg SEC(".maps");

/*
 * Replay clock, one slot per CPU (index bpf_get_smp_processor_id()): each
 * replay thread runs on its own CPU and sets its slot before each packet.
 * Replay resizes it to the number of CPUs and maps it (BPF_F_MMAPABLE).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_clock);
} sw_clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_IF_SLOTS);
	__type(key, __u32);
	__type(value, struct sw_stat_row);
} sw_stats SEC(".maps");

/* ifindex -> statistics slot, written by the agent (abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_IF_BUCKETS);
	__type(key, __u32);
	__type(value, struct sw_ifslot);
} sw_ifslots SEC(".maps");

/* Per-CPU room for keys and values: the call chain's 512-byte stack is full. */
struct scratch {
	struct sw_lpm_key k;
	struct sw_block b;
	struct sw_flow_key fk;
	struct sw_flow fv;
	struct sw_shield sv;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} sw_scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sw_scratch, &zero);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SW_RINGBUF_BYTES);
} sw_events SEC(".maps");



/* Adds v to statistic idx (SW_S_*) in the row of interface slot `slot`. */
static __always_inline void stat_add(__u32 slot, __u32 idx, __u64 v)
{
	struct sw_stat_row *r = bpf_map_lookup_elem(&sw_stats, &slot);
	if (r && idx < SW_S_MAX)
		r->s[idx] += v;
}

/* The statistics slot the agent gave this interface; SW_IF_SLOT_OTHER if none. */
static __always_inline __u8 if_slot(__u32 ifindex)
{
	__u32 bucket = ifindex % SW_IF_BUCKETS;
	struct sw_ifslot *b = bpf_map_lookup_elem(&sw_ifslots, &bucket);
	if (!b || !ifindex)
		return SW_IF_SLOT_OTHER;
	if (b->ifindex[0] == ifindex)
		return b->slot[0];
	if (b->ifindex[1] == ifindex)
		return b->slot[1];
	return SW_IF_SLOT_OTHER;
}

static __always_inline struct sw_config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sw_cfg, &zero);
}

/*
 * The programs' one clock. Live it is CLOCK_MONOTONIC as of the last timer
 * tick (bpf_ktime_get_coarse_ns: one read of the timekeeper, 1-4 ms behind
 * the exact clock, never ahead of it), not bpf_ktime_get_ns: that reads the
 * TSC, and under a hypervisor the read cost a SYN 20-25 ns of its 130
 * (sw_prog_bench, bench/README.md). Nothing here needs better than a tick:
 * first/last seen, event times and the per-second budgets are compared in
 * seconds, and a block expires at most one tick late. Every live read goes
 * through here, so the programs never mix two clocks (a later read is never
 * smaller than an earlier one, which the rate windows' unsigned differences
 * rely on). The agent's CLOCK_MONOTONIC is the same clock, read exactly.
 */
static __always_inline __u64 sw_now(void)
{
	if (replay_mode) {
		__u32 cpu = bpf_get_smp_processor_id();
		struct sw_clock *c = bpf_map_lookup_elem(&sw_clock, &cpu);
		return c ? c->ns : 0;
	}
	return bpf_ktime_get_coarse_ns();
}

/*
 * Block presence bits in front of sw_block_addrs and sw_blocks (abi.h,
 * SW_BB_*): a source whose bucket's bits are clear is under no block and
 * skips both lookups. The agent writes them through the mmap
 * (BPF_F_MMAPABLE: no syscall per word); the fast path sets its own bit.
 * Pinned beside the block maps so a restarted agent and the program it takes
 * over share one copy. The loader clears SW_BB_BUILT at every load; the agent
 * sets it after rebuilding the bits from the block maps.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_BB_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} sw_block_bits SEC(".maps");
