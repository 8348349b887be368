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

/* The SYN's tag in sw_syns, never 0; the slot is tag % SW_SYN_SLOTS. */
static __always_inline __u32 syn_tag(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	__u32 h = sw_hash32(pending_hash(prober, us, sport, dport) ^ hash_seed);
	return h ? h : 1;
}

static __always_inline struct sw_syn *syn_slot(__u32 tag)
{
	__u32 i = tag & (SW_SYN_SLOTS - 1);
	return bpf_map_lookup_elem(&sw_syns, &i);
}

/* An inbound SYN: remembered until our answer. sc->syn_tag tells account() its slot. */
static __always_inline void syn_note(struct scratch *sc, const __u8 *prober, const __u8 *us,
				     __be16 sport, __be16 dport, __u32 isn, __u8 flags)
{
	__u32 tag = syn_tag(prober, us, sport, dport);
	struct sw_syn *e = syn_slot(tag);

	sc->syn_tag = tag;
	if (!e)
		return;
	e->tag = tag;
	e->isn = isn;
	e->flags = flags;
}

/*
 * Marks the SYN this packet is (tcp_in just noted it; sc->syn_tag) as a
 * first contact (a port or host this source had not tried before): its
 * answer then counts in the sequential test, while repeated connections to
 * the same service do not pile up benign credit.
 */
static __always_inline void mark_first_contact(void)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&sw_scratch, &zero);
	struct sw_syn *e;

	if (!sc)
		return;
	e = syn_slot(sc->syn_tag);
	if (e && e->tag == sc->syn_tag)
		e->flags |= SW_SYN_FIRST;
}

/* Per-CPU scratch holding the flow key of a segment from the prober. */
static __always_inline struct scratch *probe_flow(struct pkt *p, struct tcphdr *th)
{
	struct scratch *sc = get_scratch();

	if (sc)
		flow_key(&sc->fk, p->saddr, p->daddr, th->source, th->dest, IPPROTO_TCP_);
	return sc;
}
