// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Blocking: the in-kernel fast path (a proven scanner is blocked, an unproven
 * one shielded), and the lookup both programs make before anything else.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * abi.h's sw_addr_is_v4() in three word loads: every caller's address is
 * struct pkt's or the scratch key's, 4-aligned (as addr_copy4's).
 */
static __always_inline int addr_is_v4(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return !(w[0] | w[1]) && w[2] == bpf_htonl(0xffff);
}

/*
 * May a block cover addr? Yes unless the presence bits are built
 * (SW_BB_BUILT: the agent rebuilt them from the block maps after this map was
 * loaded) and neither bit of addr's bucket is set. Two array reads instead of
 * a hash miss and a trie walk; a set bit (a block nearby, or a hash
 * collision) only costs the lookups.
 */
static __always_inline int block_may_cover(const __u8 *addr)
{
	__u32 idx = 0;
	__u64 *w = bpf_map_lookup_elem(&sw_block_bits, &idx);
	__u64 hdr;
	__u32 b;
	int v4;

	if (!w)
		return 1;
	hdr = *w;
	if (!(hdr & SW_BB_BUILT))
		return 1;
	v4 = addr_is_v4(addr);
	if (hdr & (v4 ? SW_BB_ALL4 : SW_BB_ALL6))
		return 1;
	b = sw_block_bucket(addr, v4);
	idx = 1 + b / 32;
	w = bpf_map_lookup_elem(&sw_block_bits, &idx);
	return !w || ((*w >> (2 * (b % 32))) & 3);
}

/* The fast path's bit for addr, set before its block enters the exact hash and again after it. */
static __always_inline void block_bit_set(const __u8 *addr)
{
	__u32 b = sw_block_bucket(addr, addr_is_v4(addr));
	__u32 idx = 1 + b / 32;
	__u64 *w = bpf_map_lookup_elem(&sw_block_bits, &idx);

	if (w)
		__sync_fetch_and_or(w, 2ull << (2 * (b % 32)));
}

/*
 * The in-kernel fast path. A source that sent SYNs to several ports and had
 * several of them refused or half-opened looks like a scanner, but all of
 * that can be forged in a bystander's name. So:
 * - a source that completed handshakes (ACKs of our SYN/ACK or of a SYN
 *   cookie: sw_source.proven) on fast_block_ports ports, or any source with
 *   --block-unverified, is blocked here and now, spending from the kernel
 *   budget the agent set (sw_budget); the agent adopts the block;
 * - any other goes under the shield (SYN cookies, shield.bpf.h): a forged
 *   bystander loses one connection attempt per port, a scanner its results.
 * Returns the event to send: SW_EV_FAST_BLOCK, SW_EV_BLOCK_REFUSED (the
 * budget said no, told once per source) or 0.
 */
static __always_inline int fast_block(struct sw_config *cfg, struct sw_source *s, const __u8 *saddr,
				      __u64 now, __u32 slot)
{
	__u32 answered = s->cnt[SW_C_HALF_OPEN] + s->cnt[SW_C_FAIL_RST] + s->cnt[SW_C_FAIL_ICMP];
	__u32 syns = s->cnt[SW_C_SYN];
	struct scratch *sc;

	if (!cfg->fast_block_half_open || syns < cfg->fast_block_ports ||
	    s->ports_new < cfg->fast_block_ports ||
	    (answered < syns ? answered : syns) < cfg->fast_block_half_open)
		return 0;
	/* the call chain's stack is full: keys and values live in per-CPU scratch */
	sc = get_scratch();
	if (!sc)
		return 0;
	if ((__u32)__builtin_popcount(s->proven) < cfg->fast_block_ports &&
	    !(cfg->flags & SW_CFG_BLOCK_UNVERIFIED)) {
		if ((cfg->flags & SW_CFG_SHIELD) && !(s->flags & SW_SF_SHIELDED)) {
			__sync_fetch_and_or(&s->flags, SW_SF_SHIELDED);
			shield_add(cfg, saddr, now, &sc->sv);
		}
		return 0;
	}
	sc->k.prefixlen = 128;
	__builtin_memcpy(sc->k.addr, saddr, 16);
	if (cfg->n_allow && bpf_map_lookup_elem(&sw_allow, &sc->k))
		return 0;
	if (!budget_spend(cfg, now, slot)) {
		if (s->flags & SW_SF_REFUSED)
			return 0;
		__sync_fetch_and_or(&s->flags, SW_SF_REFUSED);
		return SW_EV_BLOCK_REFUSED;
	}
	sc->b.created_ns = now;
	sc->b.expires_ns = cfg->fast_block_ttl_ns ? now + cfg->fast_block_ttl_ns : 0;
	sc->b.reason = SW_BR_FAST_PATH;
	sc->b.pad = 0;
	/* an address: the exact map, where is_blocked() looks first (key:
	 * sc->k.addr); its presence bit before it, or is_blocked() might not look */
	block_bit_set(sc->k.addr);
	if (bpf_map_update_elem(&sw_block_addrs, sc->k.addr, &sc->b, BPF_NOEXIST)) {
		budget_refund();
		return 0; /* already blocked, or the map is full */
	}
	/*
	 * And again after it: the agent's rebuild (BlockBits::begin_rebuild)
	 * zeroes the bits, then reads the maps. Had the zeroing come between
	 * the first OR and the insert, and the agent's read passed this entry's
	 * place before the insert, the block would have been left without a
	 * bit. With this one, either the zeroing came after it too (then so did
	 * the insert come before the read, which finds the block), or this OR
	 * comes after the zeroing and stays.
	 */
	block_bit_set(sc->k.addr);
	__sync_fetch_and_or(&s->flags, SW_SF_FAST_BLOCKED);
	/* counted here only: sw_config has one writer, the agent */
	stat_add(slot, SW_S_BLOCKS_FAST, 1);
	return SW_EV_FAST_BLOCK;
}


/* The clock is read only for a block that can expire (expired: the agent removes it). */
static __always_inline int block_active(const struct sw_block *b)
{
	return b && !(b->expires_ns && b->expires_ns <= sw_now());
}

/*
 * Is addr (a source in, a destination out) under an active block? Nothing to
 * look up when the presence bits say no block can cover it. Otherwise the
 * exact map first (one hash lookup; skipped while it is empty: no address
 * written by the agent and no fast path that could add one), then the
 * ranges' trie, only when the agent wrote ranges.
 */
static __always_inline int is_blocked(const __u8 *addr, struct sw_config *cfg)
{
	struct sw_lpm_key k = { .prefixlen = 128 };
	struct sw_block *b = NULL;
	__u32 flags;
	int addrs;

	if (!cfg)
		return 0;
	flags = cfg->flags;
	addrs = cfg->n_blocks || (flags & SW_CFG_FAST_BLOCK);
	if (!(flags & SW_CFG_BLOCKING) || !(addrs || (flags & SW_CFG_RANGES)) || !block_may_cover(addr))
		return 0;
	if (addrs)
		b = bpf_map_lookup_elem(&sw_block_addrs, addr);
	if (!block_active(b)) {
		if (!(flags & SW_CFG_RANGES))
			return 0;
		__builtin_memcpy(k.addr, addr, 16);
		b = bpf_map_lookup_elem(&sw_blocks, &k);
		if (!block_active(b))
			return 0;
	}
	if (cfg->n_allow) {
		__builtin_memcpy(k.addr, addr, 16);
		if (bpf_map_lookup_elem(&sw_allow, &k))
			return 0;
	}
	return 1;
}
