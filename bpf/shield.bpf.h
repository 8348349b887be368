/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Proof and the shield.
 *
 * Proof: a source proves that it is what its address says only by
 * acknowledging a sequence number it could not have guessed: our SYN/ACK's
 * (seq + 1), or a SYN cookie's. Everything else a forger can send in a
 * bystander's name, and a live bystander's kernel even answers our SYN/ACK to
 * a forged SYN with a RST for it. sw_pending is a direct-mapped table of the
 * flows we sent a SYN/ACK on, so an ordinary ACK costs one array read, and
 * only an ACK of a flow in it looks up the flow table.
 *
 * The shield: a source that looks like a scanner but proved nothing is not
 * dropped (the address may be a forged bystander's). XDP answers its SYNs
 * itself with SYN cookies (XDP_TX), so every port looks open and the scanner
 * learns nothing; a valid cookie ACK proves the address real: that port is
 * opened for it (its next SYN there reaches the host) and the connection is
 * reset so the client fails fast. A forged bystander loses one connection
 * attempt per port; a scanner that completes cookie handshakes on
 * fast_block_ports ports has proven itself a scanner and is blocked.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SHIELDS);
	__type(key, struct in6_addr);
	__type(value, struct sw_shield);
} sw_shield SEC(".maps");

/* The kernel's block budget (abi.h struct sw_budget): XDP writes, the agent reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_budget);
} sw_budget SEC(".maps");

/*
 * Flows we answered with a SYN/ACK (ours or a cookie) and whose ACK has not
 * come yet: slot = hash & mask holds the hash. A later flow with the same
 * slot overwrites it; the earlier flow then proves itself only by its RST|ACK
 * (ack = our seq + 1), never wrongly. 4 bytes x 2^18 = 1 MiB.
 */
#define SW_PENDING_SLOTS (1u << 18)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_PENDING_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} sw_pending SEC(".maps");

/*
 * The flow's hash, never 0 (0 marks a free slot). Seeded on both sides, so a
 * forger cannot compute a flow whose SYN/ACK would overwrite the slot where a
 * prober's proof ACK is awaited: not from another address (the prober's side
 * is addr_hash_seeded), and not from the prober's own address with other
 * ports (the seed goes in with the ports, before their round). Unseeded, both
 * were a search of a few seconds.
 */
static __always_inline __u32 pending_hash(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	__u32 h = addr_hash_seeded(prober) ^
		  sw_hash32((addr_hash(us) + ((__u32)sport << 16 | dport)) ^ hash_seed);
	return h ? h : 1;
}

static __always_inline void pending_set(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	__u32 h = pending_hash(prober, us, sport, dport);
	__u32 slot = h & (SW_PENDING_SLOTS - 1);
	__u32 *v = bpf_map_lookup_elem(&sw_pending, &slot);
	if (v)
		*v = h;
}

/* Returns the slot's value pointer when this flow is pending, else NULL. */
static __always_inline __u32 *pending_get(const __u8 *prober, const __u8 *us, __be16 sport, __be16 dport)
{
	__u32 h = pending_hash(prober, us, sport, dport);
	__u32 slot = h & (SW_PENDING_SLOTS - 1);
	__u32 *v = bpf_map_lookup_elem(&sw_pending, &slot);
	return v && *v == h ? v : NULL;
}

/* ---- the kernel block budget ------------------------------------------ */

/*
 * Spends one block from the budget the agent set: at most fast_block_per_sec
 * in any one-second window and never past fast_block_allowed in total (the
 * agent sets it to the blocks it has seen plus the room under --max-blocks).
 * Returns 1 when the block may be made; refund() gives it back when the map
 * insert fails.
 */
static __always_inline int budget_spend(struct sw_config *cfg, __u64 now, __u32 slot)
{
	__u32 zero = 0;
	struct sw_budget *b = bpf_map_lookup_elem(&sw_budget, &zero);
	__u64 start;

	if (!b)
		return 0;
	start = b->win_start_ns;
	if (now - start >= 1000000000ULL &&
	    __sync_val_compare_and_swap(&b->win_start_ns, start, now) == start)
		b->win_used = 0;
	if (__sync_fetch_and_add(&b->win_used, 1) >= cfg->fast_block_per_sec)
		goto refused;
	if (__sync_fetch_and_add(&b->spent, 1) >= cfg->fast_block_allowed) {
		__sync_fetch_and_add(&b->spent, -1);
		goto refused;
	}
	return 1;
refused:
	stat_add(slot, SW_S_BLOCKS_REFUSED, 1);
	return 0;
}

static __always_inline void budget_refund(void)
{
	__u32 zero = 0;
	struct sw_budget *b = bpf_map_lookup_elem(&sw_budget, &zero);

	if (b)
		__sync_fetch_and_add(&b->spent, -1);
}

/* Puts saddr under the shield (not already there). */
static __always_inline void shield_add(struct sw_config *cfg, const __u8 *saddr, __u64 now,
				       struct sw_shield *v)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->created_ns = now;
	v->expires_ns = cfg->shield_ttl_ns ? now + cfg->shield_ttl_ns : 0;
	v->reason = SW_BR_FAST_PATH;
	bpf_map_update_elem(&sw_shield, saddr, v, BPF_NOEXIST);
}

/* ---- packets: the cookie SYN/ACK and the RST that answers a proof ------- */

#define SW_ACT_NONE 0
#define SW_ACT_COOKIE 1  /* answer this SYN with a SYN cookie */
#define SW_ACT_PROOF 2   /* a valid cookie ACK: proven; answer with a RST */

static __always_inline __u16 csum_fold32(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Sum of the pseudo header (addresses, protocol, length) in network order words. */
static __always_inline __u64 pseudo_sum(const __u8 *sa, const __u8 *da, int ipv6, __u32 len)
{
	__u64 s = 0;
	__u32 w;

	if (ipv6) {
		for (int i = 0; i < 16; i += 4) {
			__builtin_memcpy(&w, sa + i, 4);
			s += w;
			__builtin_memcpy(&w, da + i, 4);
			s += w;
		}
	} else {
		__builtin_memcpy(&w, sa, 4);
		s += w;
		__builtin_memcpy(&w, da, 4);
		s += w;
	}
	s += bpf_htonl(len);
	s += bpf_htonl(IPPROTO_TCP_);
	return s;
}

static __always_inline void swap_mac(__u8 *eth)
{
	__u8 t[6];

	__builtin_memcpy(t, eth, 6);
	__builtin_memcpy(eth, eth + 6, 6);
	__builtin_memcpy(eth + 6, t, 6);
}

/*
 * The IP header in front of the TCP header at p->l4_off, when it is one we
 * can answer: IPv4 without options, IPv6 without extension headers, not a
 * fragment. Returns the L3 offset or -1.
 */
static __always_inline int answerable_l3(struct pkt *p)
{
	if (p->frag || p->ext)
		return -1;
	if (p->ipv6)
		return p->l4_off >= 14 + 40 ? (int)p->l4_off - 40 : -1;
	return p->l4_off >= 14 + 20 ? (int)p->l4_off - 20 : -1;
}

/*
 * Decides what the shield does with this TCP segment: a SYN from a shielded
 * source to a port it has not proved itself on gets a cookie; an ACK that
 * completes a cookie handshake is a proof. Sets p->act.
 */
static __always_inline void shield_decide(struct xdp_md *ctx, struct pkt *p, struct sw_config *cfg)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int l3 = answerable_l3(p);
	struct tcphdr *th;
	struct sw_shield *sh;
	__u32 *pend = NULL, pend_h = 0;
	__u8 flags;
	__u32 bit;

	if (l3 < 0 || l3 > 64)
		return;
	th = data + (p->l4_off & SW_L4_OFF_MAX);
	if ((void *)(th + 1) > end)
		return;
	flags = ((__u8 *)th)[13] & (TH_SYN | TH_ACK | TH_RST | TH_FIN);
	if (flags != TH_SYN && flags != TH_ACK)
		return;
	if (flags == TH_ACK) {
		pend = pending_get(p->saddr, p->daddr, th->source, th->dest);
		if (!pend) {
			/* not a flow we sent a cookie on: the common case, one array read
			   (sw_ack_proof then needs no second one) */
			p->no_pending = 1;
			return;
		}
		pend_h = *pend;
	}
	sh = bpf_map_lookup_elem(&sw_shield, p->saddr);
	if (!sh)
		return;
	if (!p->now)
		p->now = sw_now(); /* XDP reads the clock only where it is used */
	if (sh->expires_ns && sh->expires_ns <= p->now) {
		bpf_map_delete_elem(&sw_shield, p->saddr);
		return;
	}
	bit = 1u << (bpf_ntohs(th->dest) & 31);
	if (flags == TH_SYN) {
		if (!(sh->passed & bit)) {
			p->act = SW_ACT_COOKIE;
			__sync_fetch_and_add(&sh->cookies, 1);
		}
		return;
	}
	/* an ACK of a flow we sent a cookie on: is it the cookie's? */
	if (p->ipv6) {
		struct ipv6hdr *ip6 = data + (l3 & 0x7f);
		if ((void *)(ip6 + 1) > end || bpf_tcp_raw_check_syncookie_ipv6(ip6, th))
			return;
	} else {
		struct iphdr *ip = data + (l3 & 0x7f);
		if ((void *)(ip + 1) > end || ip->ihl != 5 || bpf_tcp_raw_check_syncookie_ipv4(ip, th))
			return;
	}
	/* the flow is answered: free its slot, unless another flow took it meanwhile */
	if (pend)
		__sync_val_compare_and_swap(pend, pend_h, 0);
	__sync_fetch_and_or(&sh->passed, bit);
	__sync_fetch_and_add(&sh->proofs, 1);
	stat_add(p->slot, SW_S_PROOFS, 1);
	p->act = SW_ACT_PROOF;
}

/* The cookie for a SYN whose TCP header is n bytes (a constant, as the helpers need). */
#define SW_COOKIE_CASE(n)                                                                  \
	case n / 4:                                                                         \
		if ((void *)th + n > end)                                                   \
			return -1;                                                          \
		if (ipv6) {                                                                 \
			struct ipv6hdr *ip6 = data + (l3 & 0x7f);                           \
			if ((void *)(ip6 + 1) > end)                                        \
				return -1;                                                  \
			return bpf_tcp_raw_gen_syncookie_ipv6(ip6, th, n);                  \
		} else {                                                                    \
			struct iphdr *ip = data + (l3 & 0x7f);                              \
			if ((void *)(ip + 1) > end)                                         \
				return -1;                                                  \
			return bpf_tcp_raw_gen_syncookie_ipv4(ip, th, n);                   \
		}

/* The SYN cookie for the SYN at p (low 32 bits; the MSS it encodes in bits 32-47), or < 0. */
static __always_inline __s64 make_cookie(struct xdp_md *ctx, struct pkt *p, int l3)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct tcphdr *th = data + (p->l4_off & SW_L4_OFF_MAX);
	int ipv6 = p->ipv6;

	if ((void *)(th + 1) > end)
		return -1;
	switch (th->doff) {
	SW_COOKIE_CASE(20)
	SW_COOKIE_CASE(24)
	SW_COOKIE_CASE(28)
	SW_COOKIE_CASE(32)
	SW_COOKIE_CASE(36)
	SW_COOKIE_CASE(40)
	SW_COOKIE_CASE(44)
	SW_COOKIE_CASE(48)
	SW_COOKIE_CASE(52)
	SW_COOKIE_CASE(56)
	SW_COOKIE_CASE(60)
	}
	return -1;
}

/* Swaps the addresses and rewrites the IP header for a tcplen-byte TCP answer;
   returns the pseudo-header sum for the TCP checksum, 0 when out of bounds. */
static __always_inline __u64 answer_ip(void *data, void *end, int l3, int ipv6, __u32 tcplen)
{
	if (ipv6) {
		struct ipv6hdr *ip6 = data + (l3 & 0x7f);
		__u8 t[16];

		if ((void *)(ip6 + 1) > end)
			return 0;
		__builtin_memcpy(t, &ip6->saddr, 16);
		__builtin_memcpy(&ip6->saddr, &ip6->daddr, 16);
		__builtin_memcpy(&ip6->daddr, t, 16);
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(tcplen);
		ip6->nexthdr = IPPROTO_TCP_;
		ip6->hop_limit = 64;
		return pseudo_sum((__u8 *)&ip6->saddr, (__u8 *)&ip6->daddr, 1, tcplen);
	} else {
		struct iphdr *ip = data + (l3 & 0x7f);
		__be32 t;

		if ((void *)(ip + 1) > end)
			return 0;
		t = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = t;
		ip->tos = 0;
		ip->tot_len = bpf_htons(20 + tcplen);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000);
		ip->ttl = 64;
		ip->check = 0;
		ip->check = csum_fold32(bpf_csum_diff(0, 0, (__be32 *)ip, 20, 0));
		return pseudo_sum((__u8 *)&ip->saddr, (__u8 *)&ip->daddr, 0, tcplen);
	}
}

/*
 * Rewrites the packet into our answer in place: a SYN/ACK carrying a cookie
 * (act COOKIE) or a RST for the cookie connection (act PROOF). Returns the
 * new frame length, or -1 (before touching the packet) to let it pass.
 */
static __always_inline int shield_answer(struct xdp_md *ctx, struct pkt *p)
{
	int l3 = answerable_l3(p);
	__s64 v = 0;
	__u32 tcplen = 20, seq, ack;
	__be16 port;
	__u64 sum;

	if (l3 < 14 || l3 > 64)
		return -1;
	if (p->act == SW_ACT_COOKIE) {
		v = make_cookie(ctx, p, l3);
		if (v < 0)
			return -1;
	}
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct tcphdr *th = data + (p->l4_off & SW_L4_OFF_MAX);
	if ((void *)(th + 1) > end || data + 14 > end)
		return -1;
	/* an MSS option only when the SYN had options: room for it without growing */
	if (p->act == SW_ACT_COOKIE && th->doff > 5) {
		if ((void *)th + 24 > end)
			return -1;
		tcplen = 24;
	}
	seq = bpf_ntohl(th->seq);
	ack = bpf_ntohl(th->ack_seq);
	if (p->act == SW_ACT_COOKIE) {
		th->seq = bpf_htonl((__u32)v);
		th->ack_seq = bpf_htonl(seq + 1);
		((__u8 *)th)[13] = TH_SYN | TH_ACK;
		th->window = bpf_htons(64240);
	} else {
		/* RFC 9293: a RST for a segment with ACK takes its seq from that ack */
		th->seq = bpf_htonl(ack);
		th->ack_seq = 0;
		((__u8 *)th)[13] = TH_RST;
		th->window = 0;
	}
	((__u8 *)th)[12] = (tcplen / 4) << 4; /* data offset, reserved bits clear */
	th->urg_ptr = 0;
	port = th->source;
	th->source = th->dest;
	th->dest = port;
	th->check = 0;
	swap_mac(data);
	sum = answer_ip(data, end, l3, p->ipv6, tcplen);
	if (tcplen == 24) {
		__u8 *opt = (__u8 *)(th + 1);
		if ((void *)(opt + 4) > end)
			return -1; /* checked above: never here */
		opt[0] = 2;
		opt[1] = 4;
		opt[2] = (__u8)(v >> 40);
		opt[3] = (__u8)(v >> 32);
		sum += bpf_csum_diff(0, 0, (__be32 *)th, 24, 0);
	} else {
		sum += bpf_csum_diff(0, 0, (__be32 *)th, 20, 0);
	}
	th->check = csum_fold32(sum);
	return (int)(p->l4_off & SW_L4_OFF_MAX) + tcplen;
}

