// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Admission: a source earns a record in sw_sources (an LRU hash: an
 * allocation, a lock, and an eviction once full) only with its second
 * packet. Its first waits in sw_admit, an array of two-way buckets (below):
 * one 80-byte write, whatever the traffic.
 * Included once by scanwatch.bpf.c, in the order given there.
 *
 * What this is worth against a forger:
 * - One packet per forged address (a spoofed SYN flood, backscatter, a
 *   million spoofed sources) never inserts and never evicts: it overwrites
 *   admission slots only. The records of real probers stay where they are.
 * - Forged packets can throw a real prober's held first packet out only by
 *   landing in its bucket, two of them, before its second packet comes. The
 *   bucket is a keyed hash of the address (keys random per load), so a
 *   forger cannot aim at it: it can only flood. At R forged packets/s, with
 *   m = R t / SW_ADMIT_BUCKETS, a held packet survives an interval t with
 *   probability e^-m (1 + m): at 1 Mpps 91 % for 1 ms (nmap's first probes
 *   to a host come back to back), 30 % for 5 ms; at 100,000 packets/s 91 %
 *   for 10 ms. The table is that small to stay in cache (see below). A
 *   forgotten packet costs the prober one probe of evidence (its next packet
 *   is held in its place, the one after makes the record), never a wrong
 *   count, and the way keeps the whole address, so no forged packet is ever
 *   counted as the prober's (a tag alone would let one collide).
 * - Two packets per forged address do make records, as every source did
 *   before: the forger pays twice the packets per insert, and the LRU keeps
 *   the records that are used (a scanner's record is looked up with each of
 *   its probes, which marks it referenced, so LRU rotation keeps it active
 *   while unreferenced ones are evicted first).
 * - Two CPUs writing one way at once can tear it. A promotion copies the
 *   held packet, then claims the way from the tag it found; a hold writes
 *   its packet, then swaps the tag. So a promotion that wins its claim may
 *   have copied part of a hold written meanwhile, and credit the held source
 *   with that packet's fields, a proof among them (a held ACK that completed
 *   our handshake carries one). OPEN: bench/README, "fifth step", has the
 *   race test that shows it and the claim-first fix, reverted because it
 *   lost probes under `replay --threads 2`.
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
#define SW_ADMIT_RECORD 3    /* sw_account(): another CPU made the record meanwhile: account this again */

/*
 * Which sources may have a record: sw_seen, a blocked Bloom filter of 64-bit
 * words, the word picked by the high bits of the source's
 * addr_hash_seeded() (the admission bucket takes the low ones). A word's top
 * nibble is an epoch (2^36 ns of the clock, 68.7 s; mod 16), its other 60
 * bits the filter: a source sets three (sw_seen_bits() and sw_seen_maybe()
 * in abi.h, which the tests share). A packet whose source finds its three
 * bits set in a word of this epoch or the one before had its record used
 * since: only then is it looked up in
 * sw_sources, whose miss (a random bucket, then its chain, in state sized
 * for --max-sources: 300-600 ns here once the map is full) was half of a new
 * source's SYN. Anything else goes straight to admission.
 *
 * Marking (a packet whose record was used, or made): in the word's own
 * epoch the bits are OR-ed in; one epoch on, the bits are carried into the
 * new epoch with it; older, the bits restart with it alone. A full map has
 * two records per word on average; three bits of 60 make a false "maybe"
 * (a lookup that misses) for ~0.2 % of new sources. The byte cells before
 * (four bits each, one per source) said "maybe" for ~6 %: with a full
 * 65,536-record map that was ~35 ns on every new source's SYN.
 *
 * What it is worth against a forger and what it can cost:
 * - Its "maybe" costs only the lookup every packet paid before: a forger
 *   who makes records (two packets per address) sets bits, nothing else.
 *   Bits are never cleared while their word is marked every epoch, and a
 *   mark is atomic (an OR, or a compare-and-swap when the epoch turns), so
 *   no CPU's mark takes another's bits away.
 * - A source whose bits are gone (its record unused for two epochs) has
 *   its next packet held by admission like a first one, and its packet
 *   after that finds the held one and the record (BPF_NOEXIST fails, the
 *   lookup does not), accounts both and sets the bits. A held packet can be
 *   thrown out by a flood before that: one probe of evidence. A word left
 *   unmarked for 16 epochs or more may read as current (the epoch number
 *   wraps): its old bits cost lookups, never a record skipped.
 * - Answers (our SYN/ACK, RST, ICMP) always look the record up: they are
 *   not the flood's packets and carry counters no later packet repeats.
 * Sized at load from --max-sources (a word per two records, at least 2^15
 * words: 256 KiB for the default), small enough to stay in cache.
 */
const volatile __u32 seen_shift = 32 - 15; /* 32 - log2(words), set at load */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1u << 15);
	__type(key, __u32);
	__type(value, __u64);
} sw_seen SEC(".maps");

static __always_inline __u64 *seen_word(__u32 sh)
{
	__u32 w = sh >> (seen_shift & 31);

	return bpf_map_lookup_elem(&sw_seen, &w);
}

static __always_inline void seen_mark(__u64 *word, __u32 sh, __u64 now)
{
	__u64 bits = sw_seen_bits(sh), e = sw_seen_epoch(now), v, nv;

	if (!word)
		return;
	v = *word;
	/* twice at most: a compare-and-swap lost to another CPU's turn of the epoch */
	for (int i = 0; i < 2; i++) {
		if ((v >> SW_SEEN_FILTER_BITS) == e) {
			if ((v & bits) != bits)
				__sync_fetch_and_or(word, bits);
			return;
		}
		nv = (e << SW_SEEN_FILTER_BITS) | bits;
		if (((e - (v >> SW_SEEN_FILTER_BITS)) & 15) == 1)
			nv |= v & SW_SEEN_FILTER_MASK;
		__u64 was = __sync_val_compare_and_swap(word, v, nv);
		if (was == v)
			return;
		v = was;
	}
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
 * source's addr_hash_seeded() (0 for an answer: computed here); word: its
 * sw_seen word, marked when the record is made (NULL for an answer).
 * Returns SW_ADMIT_HELD, SW_ADMIT_PROMOTED
 * (the record now exists and the held first packet is in this CPU's
 * sw_admit_held) or SW_ADMIT_RECORD.
 */
static __always_inline int admit(struct acct *a, __u32 sh, __u64 *word)
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
		held->create = SW_ACCT_REPLAY;
		/*
		 * Several CPUs (RX queues, replay threads) may see one source's
		 * packets at once. The word is marked and the record made (or
		 * found) before the way is claimed, and the claim is an atomic
		 * compare-and-swap (a full barrier; this runs once per record):
		 * one CPU wins the held packet; a loser (another packet of the
		 * source found the same held one) accounts its own packet to the
		 * record. A packet held meanwhile finds both (below).
		 */
		seen_mark(word, sh, a->now);
		if (!new_source(a->saddr, a->slot))
			return SW_ADMIT_HELD;
		if (__sync_val_compare_and_swap(&b->tag[way & 1], tag, 0) != tag)
			return SW_ADMIT_RECORD;
		return SW_ADMIT_PROMOTED;
	}
	if (!a->create)
		return SW_ADMIT_HELD; /* an answer to a packet no way holds */
	/*
	 * Its first packet (or its held one was thrown out). A SYN keeps
	 * o.syn_flow: it waits here for our answer (held_syn), not in sw_syns,
	 * and is a first contact by definition (its source's first probe). It
	 * takes a free way, else the one held longer (way 0 on a tie), by a
	 * compare-and-swap of the tag, so two first packets of one source on
	 * two CPUs are not both held (one would never be accounted): the loser
	 * looks again and finds the winner's packet (then it is the second
	 * packet: once more, to promote it) or gives its own up. The atomic
	 * costs a new source's SYN ~10 ns; without it, `scanwatch replay
	 * --threads 2` lost probes of ncsa/port_scan.pcap in 1 run of 20 under
	 * load (replay.ground_truth_threads).
	 */
	way = !b->tag[0] ? 0 : !b->tag[1] ? 1 : b->when[1] < b->when[0];
	__u32 old = b->tag[way & 1];
	__builtin_memcpy(&b->e[way & 1], a, sizeof(*a));
	b->when[way & 1] = a->now >> 20;
	if (__sync_val_compare_and_swap(&b->tag[way & 1], old, tag) != old)
		return admit_way(b, tag, a->saddr) >= 0 ? SW_ADMIT_RECORD : SW_ADMIT_HELD;
	/*
	 * Held. Another CPU may have made this source's record since this
	 * packet read its word or missed its lookup: then nothing would ever
	 * account this packet, since the source's later packets go to its
	 * record. The promoting CPU marks the word and makes the record before
	 * it claims the way this packet did not find, and the compare-and-swap
	 * above was a full barrier: so this packet reads the word again, and
	 * with its bits set and the record there it takes its way back (a
	 * compare-and-swap: the promoting CPU may take it too) and goes to the
	 * record. A second lookup only when the bits are set: ~0.2 % of new
	 * sources once the map is full (sw_seen above).
	 */
	if (word && sw_seen_maybe(*word, sh, a->now) && find_source(a->saddr) &&
	    __sync_val_compare_and_swap(&b->tag[way & 1], tag, 0) == tag)
		return SW_ADMIT_RECORD;
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
