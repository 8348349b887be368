// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SYNs waiting for our answer (sw_syns) and the probe-flow table's keys.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * Copies a 16-byte address in four words. Every caller passes struct pkt's
 * addresses (offsets 12 and 28 of an 8-aligned struct) into the per-CPU
 * scratch's key (8-aligned): a byte-wise copy spilled registers to a stack
 * the call chain needs.
 */
static __always_inline void addr_copy4(__u8 *dst, const __u8 *src)
{
	__u32 *d = __builtin_assume_aligned(dst, 4);
	const __u32 *s = __builtin_assume_aligned(src, 4);

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
}

static __always_inline void flow_key(struct sw_flow_key *k, const __u8 *sa, const __u8 *da,
				     __be16 sp, __be16 dp, __u8 proto)
{
	addr_copy4(k->saddr, sa);
	addr_copy4(k->daddr, da);
	k->sport = sp;
	k->dport = dp;
	k->proto = proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/*
 * The SYN's tag in sw_syns, never 0; the slot is tag % SW_SYN_SLOTS.
 * prober_sh: addr_hash_seeded(prober); us_h: addr_hash(us). The seeded part
 * is mixed with our address before the ports go in, so that not even the
 * prober's own address with another of our addresses has ports computable
 * to land on a given SYN's slot.
 */
static __always_inline __u32 syn_tag_h(__u32 prober_sh, __u32 us_h, __be16 sport, __be16 dport)
{
	__u32 h = sw_hash32(sw_hash32(prober_sh ^ us_h) ^ ((__u32)sport << 16 | dport));
	return h ? h : 1;
}

static __always_inline __u32 syn_tag(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	return syn_tag_h(addr_hash_seeded(prober), addr_hash(us), sport, dport);
}

static __always_inline struct sw_syn *syn_slot(__u32 tag)
{
	__u32 i = tag & (SW_SYN_SLOTS - 1);
	return bpf_map_lookup_elem(&sw_syns, &i);
}

/*
 * A SYN accounted to its source's record (account.bpf.h): remembered in
 * sw_syns until our answer. A SYN from a source without a record writes no
 * slot: admission holds it whole (admit.bpf.h), and held_syn() finds it
 * there. sh: addr_hash_seeded(a->saddr); us_h: addr_hash(a->daddr); first:
 * its source's first probe of this port or host.
 */
static __always_inline void syn_note(const struct acct *a, __u32 sh, __u32 us_h, __u64 mask, int first)
{
	__u32 tag = syn_tag_h(sh, us_h, bpf_htons(a->o.sport), a->o.dport);
	struct sw_syn *e = syn_slot(tag);

	if (!e)
		return;
	e->tag = tag;
	e->isn = a->o.seqval;
	e->flags = (mask & BIT(SW_C_SYN_NMAP) ? SW_SYN_NMAP : 0) | (first ? SW_SYN_FIRST : 0) |
		   (mask & BIT(SW_C_FRAG_TINY) ? SW_SYN_FRAG : 0);
}

/* Per-CPU scratch holding the flow key of a segment from the prober. */
static __always_inline struct scratch *probe_flow(struct pkt *p, struct tcphdr *th)
{
	struct scratch *sc = get_scratch();

	if (sc)
		flow_key(&sc->fk, p->saddr, p->daddr, th->source, th->dest, IPPROTO_TCP_);
	return sc;
}
