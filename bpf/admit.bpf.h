// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Admission: a source earns a record in sw_sources (an LRU hash: an
 * allocation, a lock, and an eviction once full) only with its second
 * packet. Its first waits in sw_admit, a direct-mapped array (maps.bpf.h):
 * one 80-byte slot write, whatever the traffic.
 * Included once by scanwatch.bpf.c, in the order given there.
 *
 * What this is worth against a forger:
 * - One packet per forged address (a spoofed SYN flood, backscatter, a
 *   million spoofed sources) never inserts and never evicts: it overwrites
 *   admission slots only. The records of real probers stay where they are.
 * - A forged packet can overwrite a real prober's held first packet only by
 *   landing in its slot before its second packet comes. The slot is a hash
 *   of the address under hash_seed (random per load), so a forger cannot aim
 *   at it: it can only flood. At R forged packets/s and SW_ADMIT_SLOTS slots
 *   a held packet survives an interval t with probability exp(-R t / slots);
 *   nmap's probes come milliseconds apart (1 Mpps, 5 ms: 93 %). A forgotten
 *   first packet costs the prober one probe of evidence (its second packet
 *   is held in its place, its third makes the record), never a wrong count,
 *   and the slot keeps the whole address, so no forged packet is ever
 *   counted as the prober's (a tag would let one collide).
 * - Two packets per forged address do make records, as every source did
 *   before: the forger pays twice the packets per insert, and the LRU keeps
 *   the records that are used (a scanner's record is looked up with each of
 *   its probes, which marks it referenced, so LRU rotation keeps it active
 *   while unreferenced ones are evicted first).
 * - Two CPUs writing one slot at once can tear it; the whole-address compare
 *   then fails and the first packet is forgotten (or, with a torn address
 *   equal to a real one, one probe of evidence lands on it: never proof,
 *   which only sw_pending and the flow table give).
 *
 * What the detector sees: a source with one packet has no record (it is not
 * in `scanwatch top`, events, or the agent's sweep); with its second, the
 * record holds both exactly as before (the held packet is accounted first,
 * with its own time, TTL, seq and counters). Answers to a held packet (our
 * SYN/ACK or RST, an ICMP unreachable) add their counters to the held copy.
 *
 * A held SYN is also its own entry of sw_syns (flow.bpf.h): the held copy has
 * the prober's ports and ISN, so our SYN/ACK finds it here (held_syn) and a
 * one-packet source costs one random slot write instead of two. A SYN still
 * unanswered when its source's record is made is written to sw_syns then
 * (sw_account replays it with o.syn_flow set).
 */
#pragma once

/*
 * The held first packets: 2^11 buckets of two ways, bucket = the low bits of
 * the source's addr_hash_seeded(). A way holds the whole struct acct (80
 * bytes: addresses, time, TTL, what the packet said); the bucket's first
 * bytes hold each way's tag (the hash, never 0; 0 = free) and when it was
 * held, so a packet of a source held nowhere reads one cache line and writes
 * the free or the older way. Two ways, so that two sources sharing a bucket
 * whose packets alternate both get records (with one way each packet threw
 * the other's out, and neither ever made a second); a forger's packet must
 * now be one of two landing in the bucket to throw a held packet out.
 * 176 B x 2^11 = 352 KiB, preallocated, small enough to stay in cache: the
 * 5 MiB table before (2^16 slots) cost a new source's SYN a miss of ~100 ns.
 * The price is a shorter life under a flood (below).
 */
#define SW_ADMIT_WAYS 2
#define SW_ADMIT_BUCKETS (1u << 11)

struct sw_admit_bucket {
	__u32 tag[SW_ADMIT_WAYS];   /* addr_hash_seeded() | 1 of the held packet's source; 0 = free */
	__u32 when[SW_ADMIT_WAYS];  /* now >> 20 (~1 ms) when it was held */
	struct acct e[SW_ADMIT_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_ADMIT_BUCKETS);
	__type(key, __u32);
	__type(value, struct sw_admit_bucket);
} sw_admit SEC(".maps");

/* Per CPU: the held packet being accounted after its source's record was made. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acct);
} sw_admit_held SEC(".maps");

#define SW_ADMIT_HELD 0      /* sw_account(): held (or dropped): nothing more to do */
#define SW_ADMIT_PROMOTED 2  /* sw_account(): record made; account sw_admit_held, then this */

/*
 * Which sources may have a record: sw_seen, one byte per cell, indexed by
 * the high bits of the source's addr_hash_seeded() (the admission slot takes
 * the low ones). A cell holds the epoch (2^36 ns of the clock, 68.7 s) in
 * which a record of one of its sources was last used by a packet of that
 * source, or 0. A packet whose cell is older than the previous epoch goes
 * straight to admission: it skips the lookup in sw_sources, whose miss (a
 * random bucket, then its chain, in state sized for --max-sources) was half
 * of a new source's SYN.
 *
 * What it is worth against a forger and what it can cost:
 * - It only ever says "maybe": a forger who makes records (two packets per
 *   address) makes cells current, which costs the lookups every packet paid
 *   before, nothing else. Nothing clears a cell; cells age with the clock.
 * - A source whose record outlived its cell (no packet for two epochs) has
 *   its next packet held by admission like a first one, and its packet after
 *   that finds the held one, the record (BPF_NOEXIST fails, the lookup does
 *   not) and accounts both, marking the cell. A held packet can be lost to
 *   a flood overwriting its slot: one probe of evidence, at most once per
 *   idle spell of two epochs.
 * - Answers (our SYN/ACK, RST, ICMP) always look the record up: they are
 *   not the flood's packets and carry counters no later packet repeats.
 * Sized at load from --max-sources (four cells per record, at least 2^18:
 * 256 KiB, the default's), so the cells of a full map are mostly zero.
 */
const volatile __u32 seen_shift = 32 - 18; /* 32 - log2(cells), set at load */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (1u << 18) / 8);
	__type(key, __u32);
	__type(value, __u64);
} sw_seen SEC(".maps");

#define SW_SEEN_EPOCH_SHIFT 36

static __always_inline __u8 *seen_cell(__u32 sh)
{
	__u32 c = sh >> (seen_shift & 31), w = c >> 3;
	__u8 *p = bpf_map_lookup_elem(&sw_seen, &w);

	return p ? p + (c & 7) : NULL;
}

static __always_inline __u8 seen_epoch(__u64 now)
{
	return 0x80 | ((now >> SW_SEEN_EPOCH_SHIFT) & 0x7f);
}

/* Marked in this epoch or the one before: its sources may have a record. */
static __always_inline int seen_current(__u8 v, __u64 now)
{
	return (v & 0x80) && ((seen_epoch(now) - v) & 0x7f) <= 1;
}

static __always_inline void seen_mark(__u8 *cell, __u64 now)
{
	__u8 v = seen_epoch(now);

	if (cell && *cell != v)
		*cell = v;
}

/* The bucket of a source whose addr_hash_seeded() is sh: a forger cannot compute a colliding address. */
static __always_inline struct sw_admit_bucket *admit_bucket(__u32 sh)
{
	__u32 i = sh & (SW_ADMIT_BUCKETS - 1);

	return bpf_map_lookup_elem(&sw_admit, &i);
}

/* The way of b holding a packet of saddr (tag: its hash | 1), or -1. */
static __always_inline int admit_way(struct sw_admit_bucket *b, __u32 tag, const __u8 *saddr)
{
	if (b->tag[0] == tag && addr_eq(b->e[0].saddr, saddr))
		return 0;
	if (b->tag[1] == tag && addr_eq(b->e[1].saddr, saddr))
		return 1;
	return -1;
}

/*
 * For a packet (or an answer to one) whose source has no record. sh: its
 * source's addr_hash_seeded() (0 for an answer: computed here); cell: its
 * sw_seen cell, marked when the record is made. Returns SW_ADMIT_HELD or
 * SW_ADMIT_PROMOTED (the record now exists and the held first packet is in
 * this CPU's sw_admit_held).
 */
static __always_inline int admit(struct acct *a, __u32 sh, __u8 *cell)
{
	struct sw_admit_bucket *b;
	struct acct *h, *held;
	__u32 zero = 0, tag;
	int way;

	if (a->create == SW_ACCT_REPLAY)
		return SW_ADMIT_HELD;
	if (!sh)
		sh = addr_hash_seeded(a->saddr);
	b = admit_bucket(sh);
	if (!b)
		return SW_ADMIT_HELD;
	tag = sh | 1;
	way = admit_way(b, tag, a->saddr);
	if (way >= 0) {
		h = &b->e[way & 1];
		if (!a->create) {
			/* our answer to its held packet: kept with it */
			h->o.mask |= a->o.mask;
			h->o.mask_hi |= a->o.mask_hi;
			return SW_ADMIT_HELD;
		}
		held = bpf_map_lookup_elem(&sw_admit_held, &zero);
		if (!held)
			return SW_ADMIT_HELD;
		__builtin_memcpy(held, h, sizeof(*held));
		b->tag[way & 1] = 0; /* the way is free again */
		held->create = SW_ACCT_REPLAY;
		if (!new_source(a->saddr, a->slot))
			return SW_ADMIT_HELD;
		seen_mark(cell, a->now);
		return SW_ADMIT_PROMOTED;
	}
	if (!a->create)
		return SW_ADMIT_HELD; /* an answer to a packet no way holds */
	/*
	 * Its first packet (or its held one was thrown out). A SYN keeps
	 * o.syn_flow: it waits here for our answer (held_syn), not in sw_syns,
	 * and is a first contact by definition (its source's first probe). It
	 * takes a free way, else the one held longer (way 0 on a tie).
	 */
	way = !b->tag[0] ? 0 : !b->tag[1] ? 1 : b->when[1] < b->when[0];
	__builtin_memcpy(&b->e[way & 1], a, sizeof(*a));
	b->when[way & 1] = a->now >> 20;
	b->tag[way & 1] = tag;
	return SW_ADMIT_HELD;
}

/*
 * The held first packet of prober, if it is the SYN (or tiny first fragment)
 * from sport to us:dport still waiting for our answer; NULL otherwise. Our
 * SYN/ACK, RST or ICMP unreachable looks here when sw_syns has no slot for it.
 *
 * Against a forger: the held copy makes a flow only when our own answer
 * matches it in all of prober, us, both ports and ack = ISN + 1, and our
 * stack answers only a SYN it received, so no forged packet can make a flow
 * (or, through the flow, a proof) for an address that did not send that SYN:
 * the same bar as sw_syns. A forged packet landing in the slot (a flood: the
 * slot is a seeded hash) overwrites the held SYN; our answer then matches
 * nothing and the real prober loses that one flow's evidence (its first
 * probe's answer), as when a sw_syns slot is overwritten. A torn slot (two
 * CPUs writing it at once) mixes two packets' fields; our answer matches it
 * only if the address it is sent to chose the other packet's ports and ISN.
 */
static __always_inline struct acct *held_syn(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	struct sw_admit_bucket *b;
	struct acct *h;
	__u32 sh;
	int way;

	if (!admit_sources)
		return NULL;
	sh = addr_hash_seeded(prober);
	b = admit_bucket(sh);
	if (!b)
		return NULL;
	way = admit_way(b, sh | 1, prober);
	if (way < 0)
		return NULL;
	h = &b->e[way & 1];
	if (h->create != 1 || !h->o.syn_flow || h->o.dport != dport || h->o.sport != bpf_ntohs(sport) ||
	    !addr_eq(h->daddr, us))
		return NULL;
	return h;
}
