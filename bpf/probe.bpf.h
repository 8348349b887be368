// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Classifying what arrives from the wire, per protocol: each handler fills
 * a struct obs and says whether it is accounted to the packet's source.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * Is this ACK the one that completes a handshake we answered, acknowledging
 * our SYN/ACK's seq + 1? One array read for every ACK (sw_pending); the flow
 * table only for flows we sent a SYN/ACK on. A global function: its stack is
 * not the packet path's.
 */
__noinline int sw_ack_proof(struct pkt *p, __be16 sport, __be16 dport, __u32 ack)
{
	struct scratch *sc;
	struct sw_flow *f;
	__u32 *pend;

	if (!p || p->no_pending) /* the shield looked already: not pending */
		return 0;
	pend = pending_get(p->saddr, p->daddr, sport, dport);
	if (!pend)
		return 0;
	sc = get_scratch();
	if (!sc)
		return 0;
	flow_key(&sc->fk, p->saddr, p->daddr, sport, dport, IPPROTO_TCP_);
	f = bpf_map_lookup_elem(&sw_flows, &sc->fk);
	if (!f || f->state != SW_FS_SYNACK || ack != f->our_isn + 1)
		return 0;
	f->state = SW_FS_ESTAB;
	*pend = 0;
	return 1;
}

/* Classifies a TCP segment. Returns 1 when o should be accounted to p->saddr. */
static __always_inline int tcp_in(struct pkt *p, void *l4, void *end, __u64 now, struct obs *o)
{
	struct tcphdr *th = l4;
	struct sw_flow_key *k;
	struct scratch *sc;
	struct sw_flow *f;
	__u8 flags;
	__u32 doff;
	/* the shield answers only a segment classified here as its SYN or proof */
	__u8 act = p->act;

	p->act = SW_ACT_NONE;
	__be16 *ports = l4;
	if ((void *)(ports + 2) > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	/*
	 * By the IP length, not data_end: a short frame is padded to 60 bytes on
	 * Ethernet, and the padding is not a TCP header.
	 */
	if (p->l4_len < sizeof(*th)) {
		if (!p->frag_first || p->l4_len < 4) {
			stat_add(p->slot, SW_S_MALFORMED, 1);
			return 0;
		}
		/* -f: a first fragment with the ports but not the flags */
		o->dport = ports[1];
		o->port_key = bpf_ntohs(ports[1]);
		o->probe = 1;
		o->mask = BIT(SW_C_FRAG) | BIT(SW_C_FRAG_TINY);
		/*
		 * -f sends 8 bytes: the seq is there, and nmap's repeats across
		 * ports like its unfragmented probes' (what the flags were only the
		 * reassembled packet tells).
		 */
		if (p->l4_len >= 8 && (void *)(ports + 4) <= end) {
			__be32 seq;

			__builtin_memcpy(&seq, ports + 2, 4);
			o->seqval = bpf_ntohl(seq);
			o->sport = bpf_ntohs(ports[0]);
			o->seq_track = 1;
			o->syn_flow = 1; /* a first contact's answer counts, as for a SYN */
			/*
			 * RFC 1858's tiny fragment: noted as a SYN (sw_account:
			 * syn_note, or held whole by admission), so our answer to
			 * the reassembled probe (SYN/ACK: it was a SYN) and the
			 * scanner's RST to it count as for -sS.
			 */
		}
		return 1;
	}
	if ((void *)(th + 1) > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	flags = ((__u8 *)th)[13];
	doff = th->doff * 4;
	if (doff < 20 || doff > p->l4_len) {
		stat_add(p->slot, SW_S_MALFORMED, 1);
		return 0;
	}
	/* options cut short (a truncated capture): not parsed into a probe */
	if ((void *)th + doff > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	o->dport = th->dest;
	o->port_key = bpf_ntohs(th->dest);
	o->sport = bpf_ntohs(th->source);
	o->seqval = bpf_ntohl(th->seq);
	if (p->frag)
		o->mask |= BIT(SW_C_FRAG);

	/* The common path first: ACK-carrying segments of ordinary connections. */
	if ((flags & (TH_ACK | TH_SYN | TH_RST | TH_FIN)) == TH_ACK) {
		__u32 plen = p->l4_len - doff;
		int proof = 0;

		if (act == SW_ACT_PROOF) {
			/* it ACKed a SYN cookie (shield.bpf.h checked it) */
			p->act = act;
			o->proven = o->verified = 1;
			return 1;
		}
		if (sw_ack_proof(p, th->source, th->dest, bpf_ntohl(th->ack_seq)))
			o->proven = proof = 1;
		if (th->seq == 0 && plen == 0) {
			/* ACK probe (-sA, -sW, -PA): nmap puts seq 0 on them */
			o->mask |= BIT(SW_C_ACK_PROBE);
			if (doff == 20 && (th->window == bpf_htons(64) || th->window == bpf_htons(512)))
				OBS_ADD(o, SW_C_HPING);
			o->seqval = bpf_ntohl(th->ack_seq);
			o->probe = o->seq_track = 1;
			return 1;
		}
		/* -O's T4/T6: an empty ACK with nmap's 20 bytes of options (TSval
		 * 0xFFFFFFFF); a stack's ACKs carry 12 (Linux) or none */
		if (plen == 0 && doff == 40 && tcp_ts_marker(th, end, doff - 20)) {
			o->mask |= BIT(SW_C_OS_TS);
			o->probe = 1;
			return 1;
		}

		if (sv_probe((void *)th + (doff & 0x3c), end, plen)) {
			o->mask |= BIT(SW_C_SV_PROBE);
			return 1;
		}
		if (plen < 28)
			return proof;
		if (!rpc_call((void *)th + (doff & 0x3c), end, plen, 1, o))
			return proof;
		sc = probe_flow(p, th);
		if (!sc)
			return 0;
		k = &sc->fk;
		f = bpf_map_lookup_elem(&sw_flows, k);
		if (f) {
			o->rpc_first = bpf_ntohl(th->seq) == f->isn + 1;
			bpf_map_delete_elem(&sw_flows, k);
		}
		o->mask |= BIT(SW_C_RPC);
		o->rpc = 1;
		return 1;
	}

	/*
	 * Flag sets no connection uses (SYN with RST, RST with FIN, SYN+FIN with
	 * ACK, all six): a probe whatever answers it, one-way as well as live.
	 * SYN+FIN alone goes on as a SYN (its answers are tracked like one).
	 */
	if ((flags & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST) ||
	    (flags & (TH_RST | TH_FIN)) == (TH_RST | TH_FIN) ||
	    (flags & (TH_SYN | TH_FIN | TH_ACK)) == (TH_SYN | TH_FIN | TH_ACK)) {
		o->mask |= BIT(SW_C_ODD_FLAGS);
		o->probe = o->seq_track = 1;
		return 1;
	}

	if ((flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
		/* a protected host's answer (gateway mode), or backscatter */
		tcp_answer(p, th, flags, now);
		return 0;
	}

	if (flags & TH_RST) {
		if ((flags & TH_ACK) && tcp_answer(p, th, flags, now))
			return 0;
		sc = probe_flow(p, th);
		if (!sc)
			return 0;
		k = &sc->fk;
		f = bpf_map_lookup_elem(&sw_flows, k);
		if (!f)
			return 0;
		int seq_ok = bpf_ntohl(th->seq) == f->isn + 1;
		if (flags & TH_ACK) {
			/*
			 * A handshake only if it acknowledged our SYN/ACK: by its own ACK
			 * before (ESTAB) or by this one. The seq alone the forger chose;
			 * a RST|ACK with a guessed ack proves nothing and leaves the flow.
			 */
			int acked = f->state == SW_FS_ESTAB ||
				    (f->state == SW_FS_SYNACK && bpf_ntohl(th->ack_seq) == f->our_isn + 1);
			if (!acked)
				return 0;
			bpf_map_delete_elem(&sw_flows, k);
			o->verified = o->proven = 1;
			if (seq_ok)
				o->mask |= BIT(SW_C_CONNECT); /* handshake, then RST without data */
			return 1;
		}
		int hit = f->state == SW_FS_SYNACK && seq_ok;
		bpf_map_delete_elem(&sw_flows, k);
		if (!hit)
			return 0;
		/*
		 * SYN, SYN/ACK, bare RST: a half-open probe's evidence, but no proof:
		 * a bystander's kernel sends the same RST to a SYN forged in its name.
		 * "verified" only tells the detector the address answers.
		 */
		o->verified = 1;
		o->mask |= BIT(SW_C_HALF_OPEN);
		o->half_open = 1;
		return 1;
	}

	if (flags & TH_SYN) {
		__u32 optlen = doff - 20;
		__u8 *opt = (__u8 *)(th + 1);

		o->probe = o->seq_track = o->syn_flow = 1;
		o->mask |= BIT(SW_C_SYN);
		/* SYN with FIN, PSH or URG: no stack opens a connection so */
		if (flags & (TH_FIN | TH_PSH | TH_URG))
			o->mask |= BIT(SW_C_ODD_FLAGS);
		if (optlen == 0) {
			o->mask |= BIT(SW_C_SYN_NOOPT);
			if (th->window == bpf_htons(64) || th->window == bpf_htons(512))
				OBS_ADD(o, SW_C_HPING); /* hping3 -S: window 64 (3.0.0: 512) */
		} else if (optlen == 4) {
			if ((void *)(opt + 4) <= end && th->window == bpf_htons(1024) &&
			    opt[0] == 2 && opt[1] == 4 && opt[2] == 0x05 && opt[3] == 0xb4)
				o->mask |= BIT(SW_C_SYN_NMAP);
		} else if (tcp_ts_marker(th, end, optlen)) {
			o->mask |= BIT(SW_C_OS_TS);
		} else if (!(flags & ~(TH_SYN | TH_ECE | TH_CWR))) {
			/* a stack's SYN: what tells the scanner's OS */
			o->os_syn_win = bpf_ntohs(th->window);
			o->os_syn_opts = tcp_opt_order(th, end, optlen);
		}
		if (th->urg_ptr && !(flags & TH_URG))
			o->mask |= BIT(SW_C_OS_URG);
		/* zmap 4.1+: its option layouts with window 65535 and no DF */
		if (!p->ipv6 && !p->df && th->window == bpf_htons(65535) && flags == TH_SYN &&
		    zmap_syn_opts(opt, end, optlen))
			OBS_ADD(o, SW_C_ZMAP_SYN);
		/* masscan: IP ID = (daddr ^ dport ^ seq) & 0xffff, all host order */
		if (!p->ipv6) {
			__u32 d;
			__builtin_memcpy(&d, p->daddr + 12, 4);
			if (p->ip_id == ((bpf_ntohl(d) ^ bpf_ntohs(th->dest) ^ bpf_ntohl(th->seq)) & 0xffff))
				OBS_ADD(o, SW_C_MASSCAN_IPID);
		}
		if (act == SW_ACT_COOKIE) {
			p->act = act;
			o->syn_flow = 0; /* noted nowhere: no first contact to mark */
			return 1; /* the shield answers it: the host never sees it */
		}

		/*
		 * No flow yet: sw_account() notes the SYN in one slot of sw_syns
		 * (flow.bpf.h), or admission holds it whole (admit.bpf.h) for a
		 * source without a record. The flow is made when our SYN/ACK
		 * leaves, the only answer a flow is needed for.
		 */
		return 1;
	}

	/* No SYN, no RST: FIN/NULL/Xmas/Maimon probes, or a connection closing. */
	if ((flags & (TH_FIN | TH_ACK)) == (TH_FIN | TH_ACK)) {
		if (th->seq == 0) {
			o->mask |= BIT(SW_C_MAIMON);
			o->seqval = bpf_ntohl(th->ack_seq);
			o->probe = o->seq_track = 1;
			return 1;
		}
		/* an ordinary close: forget the flow early */
		sc = probe_flow(p, th);
		if (!sc)
			return 0;
		k = &sc->fk;
		bpf_map_delete_elem(&sw_flows, k);
		return 0;
	}
	if (flags & TH_ACK)
		return 0; /* URG+ACK etc. mid-connection */

	o->probe = o->seq_track = 1;
	/* -O's T2 (no flags) and T7 (FIN+PSH+URG) carry nmap's options */
	if (doff > 20 && tcp_ts_marker(th, end, doff - 20))
		o->mask |= BIT(SW_C_OS_TS);
	if (doff == 20 && (th->window == bpf_htons(64) || th->window == bpf_htons(512)))
		OBS_ADD(o, SW_C_HPING); /* hping3 -F/-U/-P ...: window 64 (3.0.0: 512) */
	/* all eight flag bits: CWR or ECE alone is no NULL probe */
	if (flags == TH_FIN)
		o->mask |= BIT(SW_C_FIN);
	else if (flags == 0)
		o->mask |= BIT(SW_C_NULL);
	else if (flags == (TH_FIN | TH_PSH | TH_URG))
		o->mask |= BIT(SW_C_XMAS);
	else
		o->mask |= BIT(SW_C_ODD_FLAGS);
	return 1;
}

static __always_inline int udp_in(struct pkt *p, void *l4, void *end, struct obs *o)
{
	struct udphdr *uh = l4;

	if ((void *)(uh + 1) > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	if (p->l4_len < sizeof(*uh)) {
		stat_add(p->slot, SW_S_MALFORMED, 1);
		return 0;
	}
	__u32 plen = p->l4_len - sizeof(*uh);
	__u16 sp = bpf_ntohs(uh->source), dp = bpf_ntohs(uh->dest);
	int os = !p->ipv6 && p->ip_id == 0x1042 && plen == 300;

	if (plen >= 24 && rpc_call((void *)(uh + 1), end, plen, 0, o)) {
		o->rpc = o->rpc_first = 1;
		o->mask |= BIT(SW_C_RPC);
	} else if (!os && dp >= 1024 &&
		   (sp < 1024 || sp == 3478 || sp == 4500 || sp == 5353)) {
		/* a service's reply to one of our clients (DNS, NTP, QUIC ...), not a probe */
		return 0;
	}
	o->dport = uh->dest;
	o->port_key = dp;
	o->sport = sp;
	o->probe = 1;
	o->mask |= BIT(SW_C_UDP);
	if (plen == 0)
		o->mask |= BIT(SW_C_UDP_EMPTY);
	if (os)
		o->mask |= BIT(SW_C_OS_UDP);
	if (p->frag)
		o->mask |= BIT(SW_C_FRAG);
	return 1;
}

/* ICMP(v6): echo and timestamp probes in; unreachable answers are handled apart. */
static __always_inline int icmp_in(struct pkt *p, void *l4, void *end, __u64 now,
				   struct obs *o, int answers_only)
{
	__u8 *h = l4;

	if ((void *)(h + 8) > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	__u8 type = h[0], code = h[1];
	if (p->ipv6 ? type == 1 : type == 3) {
		icmp_unreach(p, h + 8, end, now);
		return 0;
	}
	if (answers_only)
		return 0;
	int echo = p->ipv6 ? type == 128 : type == 8;
	int tstamp = !p->ipv6 && type == 13;
	if (!echo && !tstamp)
		return 0;
	/* a probe of the host: a ping sweep fills the host sketch */
	o->probe = o->no_port = 1;
	o->mask |= BIT(SW_C_ICMP_ECHO);
	if (code != 0 || (echo && p->l4_len == 8))
		o->mask |= BIT(SW_C_ICMP_ODD);
	if (tstamp && (void *)(h + 20) <= end) {
		__u32 t0, t1, t2;
		__builtin_memcpy(&t0, h + 8, 4);
		__builtin_memcpy(&t1, h + 12, 4);
		__builtin_memcpy(&t2, h + 16, 4);
		if ((t0 | t1 | t2) == 0)
			o->mask |= BIT(SW_C_ICMP_ODD);
	}
	return 1;
}

static __always_inline int sctp_in(struct pkt *p, void *l4, void *end, struct obs *o)
{
	__u8 *h = l4;
	__u32 vtag;

	if ((void *)(h + 16) > end) {
		stat_add(p->slot, SW_S_TRUNCATED, 1);
		return 0;
	}
	o->dport = ((__be16 *)h)[1];
	o->port_key = bpf_ntohs(o->dport);
	o->probe = 1;
	__builtin_memcpy(&vtag, h + 4, 4);
	if ((h[12] == 1 && vtag == 0) || h[12] == 10)
		o->mask |= BIT(SW_C_SCTP_INIT);
	return 1;
}
