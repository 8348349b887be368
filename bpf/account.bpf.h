// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sw_account(): the one place that updates a source record and raises
 * ring-buffer events (rate-limited per source).
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

/*
 * Hot sources. A source's first ring-buffer event (a counter or sketch
 * milestone, from 4 distinct ports or hosts or the first step of an urgent
 * counter) makes it hot: SW_SF_HOT is set in its record and the agent starts
 * mirroring it (reads it by key every sweep) instead of reading the whole map.
 * A forger can make many sources hot (four spoofed SYNs each), so these first
 * events share a budget per CPU per second: past it the flag is still set and
 * the event is counted in SW_S_EVENTS_LIMITED, and the agent's bounded walk
 * of the map finds the source by its flag. RPC and blocking events are never
 * held back (they carry what the map does not). Replay keeps every event, as
 * before (hot_per_sec 0).
 */
/* first events allowed per CPU per second; 0: no budget (replay, tests). The
   agent loads SW_HOT_EVENTS_PER_SEC (abi.h). */
const volatile __u32 hot_per_sec = 0;

struct sw_hot_window {
	__u64 sec;   /* now / 1e9 of the window */
	__u32 left;  /* first events still allowed in it */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_hot_window);
} sw_hot_budget SEC(".maps");

static __always_inline int hot_event_allowed(__u64 now)
{
	__u32 zero = 0;
	struct sw_hot_window *w;
	__u64 sec = now / 1000000000ULL;

	if (!hot_per_sec)
		return 1;
	w = bpf_map_lookup_elem(&sw_hot_budget, &zero);
	if (!w)
		return 1;
	if (w->sec != sec) {
		w->sec = sec;
		w->left = hot_per_sec;
	}
	if (!w->left)
		return 0;
	w->left--;
	return 1;
}

/* de Bruijn: bit index of the lowest set bit (clang 14 cannot lower ctz for BPF) */
static const __u8 sw_debruijn64[64] = {
	0,  1,  2,  53, 3,  7,  54, 27, 4,  38, 41, 8,  34, 55, 48, 28,
	62, 5,  39, 46, 44, 42, 22, 9,  24, 35, 59, 56, 49, 18, 29, 11,
	63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21, 23, 58, 17, 10,
	51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12,
};

static __always_inline __u32 lowest_bit(__u64 m)
{
	return sw_debruijn64[(((m & -m) * 0x022fdd63cc95386dULL) >> 58) & 63] & 63;
}

/*
 * A global (separately verified) function: the one place that updates a
 * source record. Returns 1 when a record was updated.
 */
__noinline int sw_account(struct acct *a)
{
	if (!a)
		return 0;
	if (a->create == SW_ACCT_REPLAY) {
		/* account this CPU's held first packet (admit.bpf.h), not *a */
		__u32 zero = 0;
		a = bpf_map_lookup_elem(&sw_admit_held, &zero);
		if (!a)
			return 0;
	}
	struct sw_config *cfg = get_config();
	struct obs *o = &a->o;
	const __u8 *saddr = a->saddr, *daddr = a->daddr;
	__u64 now = a->now;
	__u8 proto = a->proto, ttl = a->ttl;
	struct sw_source *s = NULL;
	__u32 ev_counter = 0, ev_value = 0, ev = 0;
	__u64 mask = o->mask | ((__u64)o->mask_hi << 32);
	/* the source's keyed hash: its admission slot, sw_seen word and SYN tags */
	__u32 sh = a->create ? addr_hash_seeded(saddr) : 0;
	__u64 *word = NULL;

	/* a packet of a source no current sw_seen word says may have a record: admission */
	if (admit_sources && a->create == 1) {
		word = seen_word(sh);
		if (word && !sw_seen_maybe(*word, sh, now))
			return admit(a, sh, word);
	}
	s = find_source(saddr);
	if (!s) {
		/* admission (admit.bpf.h): no record before a source's second packet */
		if (admit_sources)
			return admit(a, sh, word);
		if (!a->create)
			return 0;
		s = new_source(saddr, a->slot);
		if (!s)
			return 0;
	}
	seen_mark(word, sh, now);
	seen_at(s, now);
	if (o->probe) {
		int first = 0;
		__u32 ph = sw_port_hash(o->port_key, proto), ah = addr_hash(daddr);
		mask |= BIT(SW_C_PROBES);
		/* probes accounted to a record: a held one counts when its record is made */
		stat_add(a->slot, SW_S_PROBES, 1);
		if (!o->no_port && sketch_set(s->ports, SW_PORT_WORDS, ph % SW_PORT_BITS)) {
			__u32 n = __sync_fetch_and_add(&s->ports_new, 1) + 1;
			first = 1;
			if (milestone(n) && n >= 4) {
				ev = SW_EV_THRESHOLD;
				ev_counter = SW_C_MAX;
				ev_value = n;
			}
		}
		if (sketch_set(s->hosts, SW_HOST_WORDS, ah % SW_HOST_BITS)) {
			__u32 n = __sync_fetch_and_add(&s->hosts_new, 1) + 1;
			first = 1;
			if (milestone(n) && n >= 4) {
				ev = SW_EV_THRESHOLD;
				ev_counter = SW_C_MAX + 1;
				ev_value = n;
			}
		}
		/* a SYN waits in sw_syns for our answer (a held one waited in sw_admit) */
		if (o->syn_flow)
			syn_note(a, sh, ah, mask, first);
		/* past the bitmaps' exact range: the HyperLogLog stage (abi.h) */
		if (s->ports_new >= SW_WIDE_AT || s->hosts_new >= SW_WIDE_AT)
			wide_add(saddr, s, ph, ah, o->no_port);
		if (!s->ttl_min || ttl < s->ttl_min)
			s->ttl_min = ttl;
		if (ttl > s->ttl_max)
			s->ttl_max = ttl;
		/* a fresh record has no previous probe (last_sport 0): nothing to repeat */
		if (o->seq_track && !s->last_sport) {
			s->last_seq = o->seqval;
			s->last_sport = o->sport;
		} else if (o->seq_track) {
			if (o->seqval == s->last_seq)
				mask |= BIT(SW_C_SAME_SEQ);
			else
				s->last_seq = o->seqval;
			if (o->sport == s->last_sport)
				mask |= BIT(SW_C_SAME_SPORT);
			else
				s->last_sport = o->sport;
		}
		/*
		 * unicornscan: every SYN's seq is key ^ daddr ^ (dport << 16 | sport),
		 * one random key per scan (its tcphash.h; daddr as the sender's
		 * in-memory s_addr, so read raw, as on the little-endian machines it
		 * runs on). A stack's ISNs are unrelated from one connection to the
		 * next: the same key under another seq is no stack's (a retransmission
		 * repeats the seq and is left out).
		 */
		if (mask & BIT(SW_C_SYN)) {
			__u32 d, key;
			__builtin_memcpy(&d, daddr + 12, 4);
			key = o->seqval ^ d ^ ((__u32)bpf_ntohs(o->dport) << 16 | o->sport);
			if (s->cnt[SW_C_SYN] && key == s->syn_key && !(mask & BIT(SW_C_SAME_SEQ)))
				mask |= BIT(SW_C_UNICORN_SEQ);
			else
				s->syn_key = key;
		}
	}
	if (o->half_open)
		s->rst_ttl = ttl;
	/* the scanner's own OS: its first stack-built SYN (scanner_os) */
	if (!o->rpc && o->os_syn_opts && !s->os_syn_ttl) {
		s->os_syn_win = o->os_syn_win;
		s->os_syn_opts = o->os_syn_opts;
		s->os_syn_ttl = ttl ? ttl : 1;
	}
	if (o->verified && !(s->flags & SW_SF_VERIFIED))
		__sync_fetch_and_or(&s->flags, SW_SF_VERIFIED);
	if (o->proven) {
		__u32 bit = 1u << (bpf_ntohs(o->dport) & 31);
		if (!(s->proven & bit))
			__sync_fetch_and_or(&s->proven, bit);
		if (!(s->flags & SW_SF_PROVEN))
			__sync_fetch_and_or(&s->flags, SW_SF_PROVEN);
	}

	/*
	 * One step per counter this packet adds to (lowest_bit): the loop over
	 * every index up to the highest cost a SYN ~22 ns. The adds are plain,
	 * not atomic (3 ns each, four on a SYN): two CPUs adding to one counter
	 * of one source at the same instant (RSS spreads a scan's flows over
	 * queues) can lose one add. A count can so be a little low, never high,
	 * and nobody can aim that: only packets from the source itself (or
	 * forged in its name, which could add anyway) touch its record. What
	 * must be exact stays atomic: first/last seen, the sketches' new-bit
	 * counts, and the flags and port bits of proof.
	 */
	for (int n = 0; n < SW_C_MASK_BITS && mask; n++) {
		__u32 i = lowest_bit(mask);

		mask &= mask - 1;
		if (i >= SW_C_MAX)
			break;
		__u32 v = ++s->cnt[i];
		if (i != SW_C_PROBES && counter_milestone(i, v)) {
			ev = SW_EV_THRESHOLD;
			ev_counter = i;
			ev_value = v;
		}
	}

	if (cfg && (cfg->flags & SW_CFG_FAST_BLOCK) && !(s->flags & SW_SF_FAST_BLOCKED)) {
		int fb = fast_block(cfg, s, saddr, now, a->slot);
		if (fb) {
			ev = fb;
			ev_counter = SW_C_SYN;
			ev_value = s->cnt[SW_C_SYN];
		}
	}

	if (o->rpc) {
		if (o->rpc_prog != s->rpc_last_prog) {
			s->rpc_last_prog = o->rpc_prog;
			__sync_fetch_and_add(&s->rpc_progs, 1);
		}
		ev = SW_EV_RPC;
		ev_counter = o->rpc_first;
		ev_value = o->rpc_prog;
	}
	if (!ev)
		return 1;

	/* the first event of a source makes it hot (see SW_HOT_EVENTS_PER_SEC) */
	if (!(s->flags & SW_SF_HOT)) {
		__sync_fetch_and_or(&s->flags, SW_SF_HOT);
		if (ev == SW_EV_THRESHOLD && !hot_event_allowed(now)) {
			stat_add(a->slot, SW_S_EVENTS_LIMITED, 1);
			return 1;
		}
	}

	/* per-source rate limit: a budget of events per second */
	if (now - s->ev_last_ns >= 1000000000ULL) {
		s->ev_last_ns = now;
		s->ev_budget = cfg ? cfg->ev_per_sec : 16;
	}
	if (s->ev_budget == 0) {
		stat_add(a->slot, SW_S_EVENTS_LIMITED, 1);
		return 1;
	}
	s->ev_budget--;

	struct sw_event *e = bpf_ringbuf_reserve(&sw_events, sizeof(*e), 0);
	if (!e) {
		stat_add(a->slot, SW_S_EVENTS_LOST, 1);
		return 1;
	}
	e->ts_ns = now;
	__builtin_memcpy(e->saddr, saddr, 16);
	__builtin_memcpy(e->daddr, daddr, 16);
	e->type = ev;
	e->counter = ev_counter;
	e->value = ev_value;
	e->aux = o->rpc_vers;
	e->dport = o->dport;
	e->proto = proto;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, 0);
	stat_add(a->slot, SW_S_EVENTS, 1);
	return 1;
}

/* Accounts a whose a->o the caller filled: the rest is set here. */
static __always_inline void account_obs(struct acct *a, __u64 now, const __u8 *saddr, const __u8 *daddr,
					__u8 proto, __u8 ttl, int create, __u8 slot)
{
	addr_copy4(a->saddr, saddr); /* struct pkt's or the scratch key's: 4-aligned */
	addr_copy4(a->daddr, daddr);
	a->now = now;
	a->proto = proto;
	a->ttl = ttl;
	a->create = create;
	a->slot = slot;
	a->pad[0] = a->pad[1] = a->pad[2] = a->pad[3] = 0;
	int rc = sw_account(a);

	/* another CPU held or made this source's packet or record meanwhile: once more */
	if (rc == SW_ADMIT_RECORD)
		rc = sw_account(a);
	if (rc == SW_ADMIT_PROMOTED) {
		/* its second packet: the record is new; the held first one, then this */
		a->create = SW_ACCT_REPLAY;
		sw_account(a);
		a->create = create;
		sw_account(a);
	}
}

/*
 * Per CPU: the arguments of an answer's accounting (tcp_answer, icmp_unreach).
 * Not on the stack: those are inlined into sw_l4_xdp, whose frame with the
 * packet's own struct acct and its callers' fills the 512 bytes the verifier
 * allows a call chain. XDP and TC egress never interleave on one CPU (TC runs
 * with bottom halves off), as for sw_scratch.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acct);
} sw_answer_acct SEC(".maps");

static __always_inline void account(__u64 now, const __u8 *saddr, const __u8 *daddr,
				    __u8 proto, __u8 ttl, struct obs *o, int create, __u8 slot)
{
	__u32 zero = 0;
	struct acct *a = bpf_map_lookup_elem(&sw_answer_acct, &zero);

	if (!a)
		return;
	a->o = *o;
	account_obs(a, now, saddr, daddr, proto, ttl, create, slot);
}
