// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The probe-flow table: keys, and marking the flow of a first contact.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

static __always_inline void flow_key(struct sw_flow_key *k, const __u8 *sa, const __u8 *da,
				     __be16 sp, __be16 dp, __u8 proto)
{
	__builtin_memcpy(k->saddr, sa, 16);
	__builtin_memcpy(k->daddr, da, 16);
	k->sport = sp;
	k->dport = dp;
	k->proto = proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/*
 * Marks the flow a SYN just opened as a first contact (a port or host this
 * source had not tried before): its answer then counts in the sequential
 * test, while repeated connections to the same service do not pile up
 * benign credit. Key in per-CPU scratch: the call chain's stack is full.
 */
static __always_inline void mark_first_contact(const __u8 *saddr, const __u8 *daddr, struct obs *o)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&sw_scratch, &zero);
	struct sw_flow *f;

	if (!sc)
		return;
	__builtin_memcpy(sc->fk.saddr, saddr, 16);
	__builtin_memcpy(sc->fk.daddr, daddr, 16);
	sc->fk.sport = bpf_htons(o->sport);
	sc->fk.dport = o->dport;
	sc->fk.proto = IPPROTO_TCP_;
	sc->fk.pad[0] = sc->fk.pad[1] = sc->fk.pad[2] = 0;
	f = bpf_map_lookup_elem(&sw_flows, &sc->fk);
	if (f)
		f->first_contact = 1;
}

/* Per-CPU scratch holding the flow key of a segment from the prober. */
static __always_inline struct scratch *probe_flow(struct pkt *p, struct tcphdr *th)
{
	struct scratch *sc = get_scratch();

	if (sc)
		flow_key(&sc->fk, p->saddr, p->daddr, th->source, th->dest, IPPROTO_TCP_);
	return sc;
}
