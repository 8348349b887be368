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
 * The held first packets: slot = seeded hash of the source address, the
 * whole struct acct (80 bytes: addresses, time, TTL, what the packet said)
 * with create = 1 marking a used slot. 80 bytes x 2^16 = 5 MiB,
 * preallocated; no allocation or lock per packet.
 */
#define SW_ADMIT_SLOTS (1u << 16)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_ADMIT_SLOTS);
	__type(key, __u32);
	__type(value, struct acct);
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

/* The slot of saddr (addr_hash_seeded: a forger cannot compute a colliding address). */
static __always_inline struct acct *admit_slot(const __u8 *saddr)
{
	__u32 i = addr_hash_seeded(saddr) & (SW_ADMIT_SLOTS - 1);

	return bpf_map_lookup_elem(&sw_admit, &i);
}

/*
 * For a packet (or an answer to one) whose source has no record. Returns
 * SW_ADMIT_HELD or SW_ADMIT_PROMOTED (the record now exists and the held
 * first packet is in this CPU's sw_admit_held).
 */
static __always_inline int admit(struct acct *a)
{
	struct acct *h = admit_slot(a->saddr);
	struct acct *held;
	__u32 zero = 0;

	if (!h || a->create == SW_ACCT_REPLAY)
		return SW_ADMIT_HELD;
	if (h->create && addr_eq(h->saddr, a->saddr)) {
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
		h->create = 0; /* the slot is free again */
		held->create = SW_ACCT_REPLAY;
		if (!new_source(a->saddr, a->slot))
			return SW_ADMIT_HELD;
		return SW_ADMIT_PROMOTED;
	}
	if (!a->create)
		return SW_ADMIT_HELD; /* an answer to a packet no slot holds */
	/*
	 * Its first packet (or the slot's other address is forgotten). A SYN
	 * keeps o.syn_flow: it waits here for our answer (held_syn), not in
	 * sw_syns, and is a first contact by definition (its source's first probe).
	 */
	__builtin_memcpy(h, a, sizeof(*h));
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
	struct acct *h;

	if (!admit_sources)
		return NULL;
	h = admit_slot(prober);
	if (!h || h->create != 1 || !h->o.syn_flow || h->o.dport != dport ||
	    h->o.sport != bpf_ntohs(sport) || !addr_eq(h->saddr, prober) || !addr_eq(h->daddr, us))
		return NULL;
	return h;
}
