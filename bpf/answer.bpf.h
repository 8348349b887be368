// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Our own answers to probes (TC egress in host mode, the inside interface's
 * ingress in gateway mode): SYN/ACK, RST, ICMP unreachable.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * Answers from a protected host to a prober: our SYN/ACK or our RST to its
 * SYN. p describes the answer (saddr = us, daddr = prober). Returns 1 when
 * the packet answered a SYN waiting in sw_syns, or held whole by admission
 * when its source has no record yet (held_syn, admit.bpf.h). Our SYN/ACK is
 * where a probe's flow is made (sw_flows): from here on the prober's ACK,
 * RST or data can follow. A RST (closed port) only frees the slot.
 */
static __always_inline int tcp_answer(struct pkt *p, struct tcphdr *th, __u8 flags, __u64 now)
{
	struct scratch *sc = get_scratch();
	struct obs o = { .dport = th->source };
	__u32 ack = bpf_ntohl(th->ack_seq);
	struct sw_flow *nf;
	struct sw_syn *e;
	struct acct *h;
	__u32 tag;

	if (!sc)
		return 0;
	nf = &sc->fv;
	__builtin_memset(nf, 0, sizeof(*nf));
	/* the SYN's slot and what it said, copied out before anything else */
	tag = syn_tag(p->daddr, p->saddr, th->dest, th->source);
	e = syn_slot(tag);
	if (e && e->tag == tag && ack == e->isn + 1) {
		nf->isn = e->isn;
		nf->syn_nmap = !!(e->flags & SW_SYN_NMAP);
		nf->first_contact = !!(e->flags & SW_SYN_FIRST);
		nf->frag = !!(e->flags & SW_SYN_FRAG);
		e->tag = 0; /* answered: a second answer to it is not counted again */
	} else if ((h = held_syn(p->daddr, p->saddr, th->dest, th->source)) && ack == h->o.seqval + 1) {
		/* the first packet of a source without a record, held whole (admit.bpf.h) */
		nf->isn = h->o.seqval;
		nf->syn_nmap = !!(h->o.mask & BIT(SW_C_SYN_NMAP));
		nf->first_contact = 1; /* its source's first probe */
		nf->frag = !!(h->o.mask & BIT(SW_C_FRAG_TINY));
		h->o.syn_flow = 0; /* answered */
	} else {
		return 0;
	}
	if (flags & TH_SYN) {
		nf->syn_ns = now;
		nf->our_isn = bpf_ntohl(th->seq);
		nf->state = SW_FS_SYNACK;
		o.mask = BIT(SW_C_ANSWERED) | (nf->first_contact ? BIT(SW_C_FIRST_OK) : 0);
		/* a tiny first fragment we answered with SYN/ACK was a SYN */
		if (nf->frag)
			OBS_ADD(&o, SW_C_FRAG_SYN);
		flow_key(&sc->fk, p->daddr, p->saddr, th->dest, th->source, IPPROTO_TCP_);
		if (bpf_map_update_elem(&sw_flows, &sc->fk, nf, BPF_ANY))
			stat_add(p->slot, SW_S_FLOW_FULL, 1);
		else
			stat_add(p->slot, SW_S_FLOWS_NEW, 1);
		/* the prober's ACK of it, the one proof, is looked for from now on */
		pending_set(p->daddr, p->saddr, th->dest, th->source);
	} else {
		o.mask = BIT(SW_C_FAIL_RST); /* closed port */
		if (nf->frag)
			OBS_ADD(&o, SW_C_FRAG_RST);
	}
	account(now, p->daddr, p->saddr, IPPROTO_TCP_, 0, &o, 0, p->slot);
	return 1;
}

/* ICMP / ICMPv6 destination unreachable quoting a probe: a failed attempt. */
static __always_inline void icmp_unreach(struct pkt *p, void *inner, void *end, __u64 now)
{
	struct scratch *sc = get_scratch();
	struct obs o = { .mask = BIT(SW_C_FAIL_ICMP) };
	struct sw_flow_key *k;
	__u8 slot = p->slot;
	__be16 *ports;

	if (!sc)
		return;
	k = &sc->fk;
	__builtin_memset(k, 0, sizeof(*k));

	if (!p->ipv6) {
		struct iphdr *ip = inner;
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return;
		sw_v4_mapped(k->saddr, ip->saddr);
		sw_v4_mapped(k->daddr, ip->daddr);
		k->proto = ip->protocol;
		ports = inner + ip->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = inner;
		if ((void *)(ip6 + 1) > end)
			return;
		__builtin_memcpy(k->saddr, &ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &ip6->daddr, 16);
		k->proto = ip6->nexthdr;
		ports = (void *)(ip6 + 1);
	}
	if ((void *)(ports + 2) <= end) {
		k->sport = ports[0];
		k->dport = ports[1];
	}
	/* The quoted packet must be one the address we answer sent. */
	if (!addr_eq(k->saddr, p->daddr))
		return;
	if (k->proto == IPPROTO_TCP_) {
		/* the SYN it quotes gets no other answer */
		__u32 tag = syn_tag(k->saddr, k->daddr, k->sport, k->dport);
		struct sw_syn *e = syn_slot(tag);
		struct acct *h;
		if (e && e->tag == tag)
			e->tag = 0;
		else if ((h = held_syn(k->saddr, k->daddr, k->sport, k->dport)))
			h->o.syn_flow = 0;
		bpf_map_delete_elem(&sw_flows, k);
	}
	o.dport = k->dport;
	account(now, k->saddr, k->daddr, k->proto, 0, &o, 0, slot);
}
