// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-source records: lookup and creation, first/last seen, the port and
 * host sketches, and what one packet says about its source (struct obs).
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * Every address hashed is 4-aligned (struct pkt's at offsets 12 and 28, the
 * scratch key's, struct acct's): word loads, not the byte loads and register
 * spills of a memcpy from an unknown alignment (the call chain's stack is full).
 * sw_addr_hash (abi.h): the agent computes the same sketch bits.
 */
static __always_inline __u32 addr_hash(const __u8 *a)
{
	return sw_addr_hash(__builtin_assume_aligned(a, 4));
}

/*
 * An address's hash under this load's secret keys (hash_keys, from
 * hash_seed): the prober's side of the sw_admit slot, of the sw_syns tag and
 * of the sw_pending slot. addr_hash() has no key and inverts easily: a forger
 * can compute an IPv6 address with the same addr_hash() as any prober's, so
 * a key applied only to its result would leave the two sharing every slot
 * under every key. Keyed from the first multiply (sw_addr_hash_keyed, NH),
 * which addresses collide depends on keys the forger does not know.
 */
static __always_inline __u32 addr_hash_seeded(const __u8 *a)
{
	/* each key read as the volatile it is: set at load, not the {} the compiler sees */
	return sw_addr_hash_keyed(__builtin_assume_aligned(a, 4), hash_keys[0], hash_keys[1], hash_keys[2],
				  hash_keys[3]);
}

/* All-zero template for new source records (lives in .rodata, not on the stack). */
static const struct sw_source sw_zero_source;

/* Creates the record of a source that has none (a lookup just missed). */
static __always_inline struct sw_source *new_source(const __u8 *addr, __u32 slot)
{
	struct sw_source *s;

	/* BPF_NOEXIST: another CPU may have created it first; either way look it up */
	bpf_map_update_elem(&sw_sources, addr, &sw_zero_source, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&sw_sources, addr);
	if (!s)
		stat_add(slot, SW_S_SOURCE_FULL, 1);
	return s;
}

/*
 * Several CPUs (RX queues, replay threads) may update one record at once,
 * not necessarily in time order: first/last seen keep the extremes.
 */
static __always_inline void seen_at(struct sw_source *s, __u64 now)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 old = s->first_ns;
		if (old && old <= now)
			break;
		if (__sync_val_compare_and_swap(&s->first_ns, old, now) == old)
			break;
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 old = s->last_ns;
		if (old >= now)
			break;
		if (__sync_val_compare_and_swap(&s->last_ns, old, now) == old)
			break;
	}
}

static __always_inline int addr_eq(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

static __always_inline struct sw_source *find_source(const __u8 *addr)
{
	return bpf_map_lookup_elem(&sw_sources, addr);
}

#define BIT(c) (1ULL << (c))

/*
 * What one packet says about the address it is accounted to. The protocol
 * handlers only classify; account() is the one place that touches a source
 * record, so the verifier sees that code once and every counter behaves the
 * same way.
 */
struct obs {
	__u32 mask;      /* BIT(SW_C_*) counters 0..31 to add one to; OBS_ADD() for any */
	__u32 seqval;    /* seq (or ack of ACK probes) for the shared-seq check */
	union {
		struct {         /* rpc */
			__u32 rpc_prog;
			__u32 rpc_vers;
		};
		struct {         /* a SYN from an OS stack (scanner_os); opts 0 = not one */
			__u32 os_syn_opts;
			__u16 os_syn_win;
			__u16 os_pad;
		};
	};
	__be16 dport;
	__u16 port_key;  /* what goes into the port sketch (port, or protocol for -sO) */
	__u16 sport;
	__u8 probe;      /* a probe: sketches, TTL range, probe count */
	__u8 seq_track;  /* compare seq and source port with the previous probe */
	__u8 rpc;        /* 1 = RPC CALL seen (rpc_first: at the start of a flow) */
	__u8 rpc_first;
	__u8 half_open;  /* bare RST completing a half-open probe: keep its TTL */
	__u8 verified;   /* it answers our packets (a hint for the detector; not proof) */
	__u8 no_port;    /* a probe of the host, not of a port (ICMP echo/timestamp) */
	__u8 syn_flow;   /* a SYN that opened a flow: mark it when it is a first contact */
	__u8 proven;     /* it ACKed our SYN/ACK (or a SYN cookie) on o->dport: not forged */
	__u8 mask_hi;    /* counters 32..SW_C_MASK_BITS-1: bit c - 32 */
};
/* 32 bytes: it sits twice on sw_l4_xdp's stack, which the call chain fills */
_Static_assert(sizeof(struct obs) == 32, "struct obs grew");
_Static_assert(SW_C_MASK_BITS == 40, "struct obs holds 32 + 8 counter bits");

/* Count counter c (a constant) for this packet, whichever word holds it. */
#define OBS_ADD(o, c)                                            \
	do {                                                     \
		if ((c) < 32)                                    \
			(o)->mask |= 1u << ((c) & 31);           \
		else                                             \
			(o)->mask_hi |= 1u << (((c) - 32) & 7);  \
	} while (0)

/* Powers of two up to 1024: the crossings worth telling the agent about now. */
static __always_inline int milestone(__u32 v)
{
	return v && v <= 1024 && (v & (v - 1)) == 0;
}

/*
 * Counters whose first step is news: they need a real exchange with us (a
 * half-open or connect probe completes only when the source receives our
 * SYN/ACK) or are nmap's own markers. The others start telling at 4, so a
 * flood of spoofed one-packet sources cannot fill the ring buffer.
 */
#define SW_URGENT_COUNTERS                                                              \
	(BIT(SW_C_HALF_OPEN) | BIT(SW_C_CONNECT) | BIT(SW_C_SV_PROBE) | BIT(SW_C_OS_TS) |    \
	 BIT(SW_C_OS_URG) | BIT(SW_C_OS_UDP))

static __always_inline int counter_milestone(__u32 idx, __u32 v)
{
	return milestone(v) && (v >= 4 || (SW_URGENT_COUNTERS & BIT(idx)));
}

static __always_inline int sketch_set(__u64 *words, __u32 nwords, __u32 bit)
{
	__u32 w = (bit >> 6) & (nwords - 1);
	__u64 m = 1ULL << (bit & 63);

	if (words[w] & m)
		return 0;
	/* the old value: when two CPUs set the same bit, only one counts it */
	return !(__sync_fetch_and_or(&words[w], m) & m);
}

/* The arguments of sw_account(): scalars only, so it can be a global function. */
struct acct {
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 now;
	struct obs o;
	__u8 proto;
	__u8 ttl;
	__u8 create;  /* 1: a packet from saddr (may create its record); 0: an answer to it;
			 SW_ACCT_REPLAY: its held first packet (admit.bpf.h) */
	__u8 slot;    /* statistics slot of the interface */
	__u8 pad[4];
};
#define SW_ACCT_REPLAY 2

/*
 * Offer hash h to a HyperLogLog sketch (abi.h): raise its register to the
 * hash's rank. One read when the register is already as high (a repeated
 * port or host); otherwise a compare-and-swap of the register's word, retried
 * when another CPU changed the word meanwhile. Returns 1 when this raised the
 * register from 0 (a first: exact until two items share a register).
 */
static __always_inline int hll_add(__u64 *words, __u32 h)
{
	__u32 reg = sw_hll_reg(h);
	__u64 rank = sw_hll_rank(h);
	__u32 w = (reg >> 4) & (SW_HLL_WORDS - 1);
	__u32 shift = (reg & 15) * 4;
	__u64 old = words[w];

	for (int i = 0; i < 4; i++) {
		__u64 cur = (old >> shift) & 15;
		if (cur >= rank)
			return 0;
		__u64 seen = __sync_val_compare_and_swap(&words[w], old,
							 (old & ~(15ULL << shift)) | (rank << shift));
		if (seen == old)
			return cur == 0;
		old = seen;
	}
	return 0;
}

/* The second stage's empty sketches (in .rodata, not on the stack). */
static const struct sw_wide sw_zero_wide;

/*
 * A probe of a source whose bitmaps counted SW_WIDE_AT ports or hosts: into
 * its HyperLogLog sketches (map sw_wide), made now when missing. ph is the
 * port hash (unused when no_port), ah the destination address's hash.
 */
static __always_inline void wide_add(const __u8 *saddr, const struct sw_source *s, __u32 ph, __u32 ah,
				     int no_port)
{
	struct sw_wide *w = bpf_map_lookup_elem(&sw_wide, saddr);

	if (!w) {
		bpf_map_update_elem(&sw_wide, saddr, &sw_zero_wide, BPF_NOEXIST);
		w = bpf_map_lookup_elem(&sw_wide, saddr);
		if (!w)
			return;
		/* what the sketches missed (another CPU may write the same) */
		w->ports_before = s->ports_new;
		w->hosts_before = s->hosts_new;
	}
	if (!no_port)
		hll_add(w->ports, ph);
	hll_add(w->hosts, ah);
}
