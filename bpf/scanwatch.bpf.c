// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * scanwatch: per-source scan evidence at XDP, plus a TC egress program that
 * sees the host's own answers (SYN/ACK, RST/ACK, ICMP unreachable).
 *
 * Both programs share one parser and one reply handler, so host mode (XDP in,
 * TC out) and gateway mode (the protected hosts' answers arrive as XDP
 * ingress on the inside interface) update the same flows the same way.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "scanwatch/abi.h"
#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* Load-time settings. */
const volatile __u8 replay_mode = 0;  /* clock from sw_config.clock_ns */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SOURCES);
	__type(key, struct in6_addr);
	__type(value, struct sw_source);
} sw_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_FLOWS);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
} sw_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_DEFAULT_MAX_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_key);
	__type(value, struct sw_block);
} sw_blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_key);
	__type(value, __u32);
} sw_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_config);
} sw_cfg SEC(".maps");

/*
 * Replay clock, one slot per CPU (index bpf_get_smp_processor_id()): each
 * replay thread runs on its own CPU and sets its slot before each packet.
 * Replay resizes it to the number of CPUs and maps it (BPF_F_MMAPABLE).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_clock);
} sw_clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_IF_SLOTS);
	__type(key, __u32);
	__type(value, struct sw_stat_row);
} sw_stats SEC(".maps");

/* ifindex -> statistics slot, written by the agent (abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_IF_BUCKETS);
	__type(key, __u32);
	__type(value, struct sw_ifslot);
} sw_ifslots SEC(".maps");

/* Per-CPU room for keys and values: the call chain's 512-byte stack is full. */
struct scratch {
	struct sw_lpm_key k;
	__u32 pad;
	struct sw_block b;
	struct sw_flow_key fk;
	struct sw_flow fv;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} sw_scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sw_scratch, &zero);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SW_RINGBUF_BYTES);
} sw_events SEC(".maps");

/* ------------------------------------------------------------------ */

/* Adds v to statistic idx (SW_S_*) in the row of interface slot `slot`. */
static __always_inline void stat_add(__u32 slot, __u32 idx, __u64 v)
{
	struct sw_stat_row *r = bpf_map_lookup_elem(&sw_stats, &slot);
	if (r && idx < SW_S_MAX)
		r->s[idx] += v;
}

/* The statistics slot the agent gave this interface; SW_IF_SLOT_OTHER if none. */
static __always_inline __u8 if_slot(__u32 ifindex)
{
	__u32 bucket = ifindex % SW_IF_BUCKETS;
	struct sw_ifslot *b = bpf_map_lookup_elem(&sw_ifslots, &bucket);
	if (!b || !ifindex)
		return SW_IF_SLOT_OTHER;
	if (b->ifindex[0] == ifindex)
		return b->slot[0];
	if (b->ifindex[1] == ifindex)
		return b->slot[1];
	return SW_IF_SLOT_OTHER;
}

static __always_inline struct sw_config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sw_cfg, &zero);
}

static __always_inline __u64 sw_now(void)
{
	if (replay_mode) {
		__u32 cpu = bpf_get_smp_processor_id();
		struct sw_clock *c = bpf_map_lookup_elem(&sw_clock, &cpu);
		return c ? c->ns : 0;
	}
	return bpf_ktime_get_ns();
}

static __always_inline __u32 hash32(__u32 x)
{
	/* murmur3 finaliser: cheap and well mixed */
	x ^= x >> 16;
	x *= 0x85ebca6b;
	x ^= x >> 13;
	x *= 0xc2b2ae35;
	x ^= x >> 16;
	return x;
}

static __always_inline __u32 addr_hash(const __u8 *a)
{
	__u32 w0, w1, w2, w3;
	__builtin_memcpy(&w0, a, 4);
	__builtin_memcpy(&w1, a + 4, 4);
	__builtin_memcpy(&w2, a + 8, 4);
	__builtin_memcpy(&w3, a + 12, 4);
	return hash32(w0 ^ hash32(w1 ^ hash32(w2 ^ hash32(w3))));
}

/* All-zero template for new source records (lives in .rodata, not on the stack). */
static const struct sw_source sw_zero_source;

static __always_inline struct sw_source *get_source(const __u8 *addr, __u64 now, __u32 slot)
{
	struct sw_source *s = bpf_map_lookup_elem(&sw_sources, addr);
	if (s)
		return s;
	/* BPF_NOEXIST: another CPU may have created it first; either way look it up */
	bpf_map_update_elem(&sw_sources, addr, &sw_zero_source, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&sw_sources, addr);
	if (!s) {
		stat_add(slot, SW_S_SOURCE_FULL, 1);
		return NULL;
	}
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

#define BIT(c) (1u << (c))

/*
 * What one packet says about the address it is accounted to. The protocol
 * handlers only classify; account() is the one place that touches a source
 * record, so the verifier sees that code once and every counter behaves the
 * same way.
 */
struct obs {
	__u32 mask;      /* BIT(SW_C_*) counters to add one to */
	__u32 seqval;    /* seq (or ack of ACK probes) for the shared-seq check */
	__u32 rpc_prog;
	__u32 rpc_vers;
	__be16 dport;
	__u16 port_key;  /* what goes into the port sketch (port, or protocol for -sO) */
	__u16 sport;
	__u8 probe;      /* a probe: sketches, TTL range, probe count */
	__u8 seq_track;  /* compare seq and source port with the previous probe */
	__u8 rpc;        /* 1 = RPC CALL seen (rpc_first: at the start of a flow) */
	__u8 rpc_first;
	__u8 half_open;  /* bare RST completing a half-open probe: keep its TTL */
	__u8 verified;   /* the source proved it receives our packets */
	__u8 no_port;    /* a probe of the host, not of a port (ICMP echo/timestamp) */
	__u8 syn_flow;   /* a SYN that opened a flow: mark it when it is a first contact */
};

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

/*
 * The in-kernel fast path: a source that sends nmap raw SYNs to several ports,
 * had several of them answered (half-open RSTs or refusals) and proved it
 * receives our packets is blocked here and now, before the agent's next look.
 * The agent adopts the block, reports it and owns its expiry.
 */
static __always_inline int fast_block(struct sw_config *cfg, struct sw_source *s, const __u8 *saddr,
				      __u64 now, __u32 slot)
{
	__u32 answered = s->cnt[SW_C_HALF_OPEN] + s->cnt[SW_C_FAIL_RST] + s->cnt[SW_C_FAIL_ICMP];
	__u32 nmap = s->cnt[SW_C_SYN_NMAP];
	__u32 zero = 0;
	struct scratch *sc;

	if (!cfg->fast_block_half_open || nmap < cfg->fast_block_ports ||
	    s->ports_new < cfg->fast_block_ports ||
	    (answered < nmap ? answered : nmap) < cfg->fast_block_half_open)
		return 0;
	if (!(s->flags & SW_SF_VERIFIED) && !(cfg->flags & SW_CFG_BLOCK_UNVERIFIED))
		return 0;
	/* the call chain's stack is full: key and value live in per-CPU scratch */
	sc = bpf_map_lookup_elem(&sw_scratch, &zero);
	if (!sc)
		return 0;
	sc->k.prefixlen = 128;
	__builtin_memcpy(sc->k.addr, saddr, 16);
	if (cfg->n_allow && bpf_map_lookup_elem(&sw_allow, &sc->k))
		return 0;
	sc->b.created_ns = now;
	sc->b.expires_ns = cfg->fast_block_ttl_ns ? now + cfg->fast_block_ttl_ns : 0;
	sc->b.reason = SW_BR_FAST_PATH;
	sc->b.pad = 0;
	if (bpf_map_update_elem(&sw_blocks, &sc->k, &sc->b, BPF_NOEXIST))
		return 0; /* already blocked, or the map is full */
	__sync_fetch_and_or(&s->flags, SW_SF_FAST_BLOCKED);
	__sync_fetch_and_add(&cfg->n_blocks, 1);
	stat_add(slot, SW_S_BLOCKS_FAST, 1);
	return 1;
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

/* The arguments of sw_account(): scalars only, so it can be a global function. */
struct acct {
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 now;
	struct obs o;
	__u8 proto;
	__u8 ttl;
	__u8 create;  /* create the source record when missing */
	__u8 slot;    /* statistics slot of the interface */
	__u8 pad[4];
};

/*
 * A global (separately verified) function: the one place that updates a
 * source record. Returns 1 when a record was updated.
 */
__noinline int sw_account(struct acct *a)
{
	if (!a)
		return 0;
	struct sw_config *cfg = get_config();
	struct obs *o = &a->o;
	const __u8 *saddr = a->saddr, *daddr = a->daddr;
	__u64 now = a->now;
	__u8 proto = a->proto, ttl = a->ttl;
	struct sw_source *s = a->create ? get_source(saddr, now, a->slot) : find_source(saddr);
	__u32 ev_counter = 0, ev_value = 0, ev = 0;
	__u32 mask = o->mask;

	if (!s)
		return 0;
	seen_at(s, now);
	if (o->probe) {
		int first = 0;
		mask |= BIT(SW_C_PROBES);
		stat_add(a->slot, SW_S_PROBES, 1);
		if (!o->no_port && sketch_set(s->ports, SW_PORT_WORDS,
			       hash32(o->port_key * 0x9e3779b1u + proto) % SW_PORT_BITS)) {
			__u32 n = __sync_fetch_and_add(&s->ports_new, 1) + 1;
			first = 1;
			if (milestone(n) && n >= 4) {
				ev = SW_EV_THRESHOLD;
				ev_counter = SW_C_MAX;
				ev_value = n;
			}
		}
		if (sketch_set(s->hosts, SW_HOST_WORDS, addr_hash(daddr) % SW_HOST_BITS)) {
			__u32 n = __sync_fetch_and_add(&s->hosts_new, 1) + 1;
			first = 1;
			if (milestone(n) && n >= 4) {
				ev = SW_EV_THRESHOLD;
				ev_counter = SW_C_MAX + 1;
				ev_value = n;
			}
		}
		if (first && o->syn_flow)
			mark_first_contact(saddr, daddr, o);
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
	}
	if (o->half_open)
		s->rst_ttl = ttl;
	if (o->verified && !(s->flags & SW_SF_VERIFIED))
		__sync_fetch_and_or(&s->flags, SW_SF_VERIFIED);

	for (__u32 i = 0; i < SW_C_MAX; i++) {
		if (!(mask >> i))
			break;
		if (!(mask & BIT(i)))
			continue;
		__u32 v = __sync_fetch_and_add(&s->cnt[i], 1) + 1;
		if (i != SW_C_PROBES && counter_milestone(i, v)) {
			ev = SW_EV_THRESHOLD;
			ev_counter = i;
			ev_value = v;
		}
	}

	if (cfg && (cfg->flags & SW_CFG_FAST_BLOCK) && !(s->flags & SW_SF_FAST_BLOCKED) &&
	    fast_block(cfg, s, saddr, now, a->slot)) {
		ev = SW_EV_FAST_BLOCK;
		ev_counter = SW_C_SYN_NMAP;
		ev_value = s->cnt[SW_C_SYN_NMAP];
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

static __always_inline void account(__u64 now, const __u8 *saddr, const __u8 *daddr,
				    __u8 proto, __u8 ttl, struct obs *o, int create, __u8 slot)
{
	struct acct a;

	__builtin_memcpy(a.saddr, saddr, 16);
	__builtin_memcpy(a.daddr, daddr, 16);
	a.now = now;
	a.o = *o;
	a.proto = proto;
	a.ttl = ttl;
	a.create = create;
	a.slot = slot;
	sw_account(&a);
}

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
 * ONC RPC CALL at the start of a buffer: (TCP: record mark with the last-
 * fragment bit) xid, msg_type 0 (CALL), rpcvers 2, prog, vers.
 */
static __always_inline int rpc_call(void *pl, void *end, __u32 len, int tcp, struct obs *o)
{
	__be32 *w = pl;

	if ((void *)(w + 7) > end)
		return 0;
	if (tcp) {
		__u32 rm = bpf_ntohl(w[0]);
		__u32 flen = rm & 0x7fffffff;
		if (len < 28 || !(rm & 0x80000000) || flen < 24 || w[2] != 0 ||
		    w[3] != bpf_htonl(2))
			return 0;
		o->rpc_prog = bpf_ntohl(w[4]);
		o->rpc_vers = bpf_ntohl(w[5]);
		return 1;
	}
	if (len < 24 || w[1] != 0 || w[2] != bpf_htonl(2))
		return 0;
	o->rpc_prog = bpf_ntohl(w[3]);
	o->rpc_vers = bpf_ntohl(w[4]);
	return 1;
}

static __always_inline __u64 load64(const __u8 *p)
{
	__u64 v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

/* Little-endian 8-byte constants of the probe texts below. */
#define LE8(a, b, c, d, e, f, g, h)                                                        \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |               \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/*
 * Payloads that are nmap's own: the -sV probes GenericLines ("\r\n\r\n"),
 * GetRequest ("GET / HTTP/1.0\r\n\r\n"), HTTPOptions and RTSPRequest
 * ("OPTIONS / HTTP/1.0\r\n\r\n", "OPTIONS / RTSP/1.0\r\n\r\n"), matched by
 * exact length first so ordinary traffic costs one compare, and NSE's
 * "GET /nmaplowercheck" request.
 */
static __always_inline int sv_probe(__u8 *pl, void *end, __u32 plen)
{
	if (plen == 4) {
		if ((void *)(pl + 4) > end)
			return 0;
		return pl[0] == '\r' && pl[1] == '\n' && pl[2] == '\r' && pl[3] == '\n';
	}
	if (plen == 18) {
		if ((void *)(pl + 18) > end)
			return 0;
		return load64(pl) == LE8('G', 'E', 'T', ' ', '/', ' ', 'H', 'T') &&
		       load64(pl + 8) == LE8('T', 'P', '/', '1', '.', '0', '\r', '\n') &&
		       pl[16] == '\r' && pl[17] == '\n';
	}
	if (plen == 22) {
		if ((void *)(pl + 22) > end)
			return 0;
		__u64 w1 = load64(pl + 8);
		return load64(pl) == LE8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') &&
		       (w1 == LE8('/', ' ', 'H', 'T', 'T', 'P', '/', '1') ||
			w1 == LE8('/', ' ', 'R', 'T', 'S', 'P', '/', '1')) &&
		       load64(pl + 14) == LE8('/', '1', '.', '0', '\r', '\n', '\r', '\n');
	}
	if (plen < 24 || (void *)(pl + 16) > end)
		return 0;
	return load64(pl) == LE8('G', 'E', 'T', ' ', '/', 'n', 'm', 'a') &&
	       load64(pl + 8) == LE8('p', 'l', 'o', 'w', 'e', 'r', 'c', 'h');
}

/* A TCP timestamp option with TSval 0xFFFFFFFF (nmap -O) within the options. */
static __always_inline int tcp_ts_marker(struct tcphdr *th, void *end, __u32 optlen)
{
	__u8 *o = (__u8 *)(th + 1);
	__u8 *oend = o + (optlen & 63);

	for (int n = 0; n < 10; n++) {
		if ((void *)(o + 2) > end || o + 2 > oend)
			return 0;
		__u8 kind = o[0], len = o[1];
		if (kind == 0)
			return 0;
		if (kind == 1) {
			o++;
			continue;
		}
		if (len < 2)
			return 0;
		if (kind == 8 && len == 10) {
			__u32 tsval;
			if ((void *)(o + 6) > end)
				return 0;
			__builtin_memcpy(&tsval, o + 2, 4);
			return tsval == 0xffffffff;
		}
		o += len;
	}
	return 0;
}

/*
 * Answers from a protected host to a prober: our SYN/ACK or our RST to its
 * SYN. p describes the answer (saddr = us, daddr = prober). Returns 1 when
 * the packet answered a tracked probe.
 */
static __always_inline int tcp_answer(struct pkt *p, struct tcphdr *th, __u8 flags, __u64 now)
{
	struct scratch *sc = get_scratch();
	struct sw_flow_key *k;
	struct sw_flow *f;
	struct obs o = { .dport = th->source };

	if (!sc)
		return 0;
	k = &sc->fk;
	flow_key(k, p->daddr, p->saddr, th->dest, th->source, IPPROTO_TCP_);
	f = bpf_map_lookup_elem(&sw_flows, k);
	if (!f || f->state != SW_FS_SYN || bpf_ntohl(th->ack_seq) != f->isn + 1)
		return 0;
	if (flags & TH_SYN) {
		f->state = SW_FS_SYNACK;
		f->our_isn = bpf_ntohl(th->seq);
		o.mask = BIT(SW_C_ANSWERED) | (f->first_contact ? BIT(SW_C_FIRST_OK) : 0);
	} else {
		bpf_map_delete_elem(&sw_flows, k); /* closed port */
		o.mask = BIT(SW_C_FAIL_RST);
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
	if (k->proto == IPPROTO_TCP_)
		bpf_map_delete_elem(&sw_flows, k);
	o.dport = k->dport;
	account(now, k->saddr, k->daddr, k->proto, 0, &o, 0, slot);
}

/* ---------------- packets arriving from the wire --------------------- */

/* Per-CPU scratch holding the flow key of a segment from the prober. */
static __always_inline struct scratch *probe_flow(struct pkt *p, struct tcphdr *th)
{
	struct scratch *sc = get_scratch();

	if (sc)
		flow_key(&sc->fk, p->saddr, p->daddr, th->source, th->dest, IPPROTO_TCP_);
	return sc;
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
		if (th->seq == 0 && plen == 0) {
			/* ACK probe (-sA, -sW, -PA): nmap puts seq 0 on them */
			o->mask |= BIT(SW_C_ACK_PROBE);
			o->seqval = bpf_ntohl(th->ack_seq);
			o->probe = o->seq_track = 1;
			return 1;
		}
		if (sv_probe((void *)th + (doff & 0x3c), end, plen)) {
			o->mask |= BIT(SW_C_SV_PROBE);
			return 1;
		}
		if (plen < 28)
			return 0;
		if (!rpc_call((void *)th + (doff & 0x3c), end, plen, 1, o))
			return 0;
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
		int hit = f->state == SW_FS_SYNACK && bpf_ntohl(th->seq) == f->isn + 1;
		bpf_map_delete_elem(&sw_flows, k);
		if (!hit)
			return 0;
		o->verified = 1;
		if (flags & TH_ACK) {
			o->mask |= BIT(SW_C_CONNECT); /* handshake, then RST without data */
		} else {
			o->mask |= BIT(SW_C_HALF_OPEN); /* SYN, SYN/ACK, bare RST */
			o->half_open = 1;
		}
		return 1;
	}

	if (flags & TH_SYN) {
		__u32 optlen = doff - 20;
		__u8 *opt = (__u8 *)(th + 1);
		__u8 nmap_syn = 0;
		struct sw_flow *nf;

		o->probe = o->seq_track = o->syn_flow = 1;
		o->mask |= BIT(SW_C_SYN);
		if (flags & TH_FIN)
			o->mask |= BIT(SW_C_ODD_FLAGS);
		if (optlen == 0) {
			o->mask |= BIT(SW_C_SYN_NOOPT);
		} else if (optlen == 4) {
			if ((void *)(opt + 4) <= end && th->window == bpf_htons(1024) &&
			    opt[0] == 2 && opt[1] == 4 && opt[2] == 0x05 && opt[3] == 0xb4) {
				o->mask |= BIT(SW_C_SYN_NMAP);
				nmap_syn = 1;
			}
		} else if (tcp_ts_marker(th, end, optlen)) {
			o->mask |= BIT(SW_C_OS_TS);
		}
		if (th->urg_ptr && !(flags & TH_URG))
			o->mask |= BIT(SW_C_OS_URG);

		sc = probe_flow(p, th);
		if (!sc)
			return 0;
		k = &sc->fk;
		nf = &sc->fv;
		__builtin_memset(nf, 0, sizeof(*nf));
		nf->syn_ns = now;
		nf->isn = bpf_ntohl(th->seq);
		nf->state = SW_FS_SYN;
		nf->syn_nmap = nmap_syn;
		if (bpf_map_update_elem(&sw_flows, k, nf, BPF_ANY))
			stat_add(p->slot, SW_S_FLOW_FULL, 1);
		else
			stat_add(p->slot, SW_S_FLOWS_NEW, 1);
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
	flags &= 0x3f;
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

/* ---------------- blocking ------------------------------------------- */

/* Is addr (a source in, a destination out) under an active block? */
static __always_inline int is_blocked(const __u8 *addr, struct sw_config *cfg, __u64 now)
{
	struct sw_lpm_key k = { .prefixlen = 128 };
	struct sw_block *b;

	if (!cfg || !(cfg->flags & SW_CFG_BLOCKING) || cfg->n_blocks == 0)
		return 0;
	__builtin_memcpy(k.addr, addr, 16);
	b = bpf_map_lookup_elem(&sw_blocks, &k);
	if (!b || (b->expires_ns && b->expires_ns <= now))
		return 0; /* none, or expired: the agent removes it */
	if (cfg->n_allow && bpf_map_lookup_elem(&sw_allow, &k))
		return 0;
	return 1;
}

/* ---------------- L4 stage: global functions, verified once ------------ */

static __always_inline void l4_in(void *data, void *end, struct pkt *p)
{
	void *l4 = data + (p->l4_off & SW_L4_OFF_MAX);
	struct obs o = {};
	int hit = 0;

	if (p->proto == IPPROTO_TCP_)
		hit = tcp_in(p, l4, end, p->now, &o);
	else if (p->proto == IPPROTO_UDP_)
		hit = udp_in(p, l4, end, &o);
	else if (p->proto == (p->ipv6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_))
		hit = icmp_in(p, l4, end, p->now, &o, 0);
	else if (p->proto == IPPROTO_SCTP_)
		hit = sctp_in(p, l4, end, &o);
	else if (!p->ipv6 && p->ip_payload_empty) {
		/* -sO: a bare IPv4 header for another protocol */
		o.port_key = p->proto;
		o.probe = 1;
		o.mask = BIT(SW_C_BARE_IP);
		hit = 1;
	}
	if (hit) {
		if (!p->ipv6 && p->ip_id == 54321)
			o.mask |= BIT(SW_C_ZMAP_IPID);
		account(p->now, p->saddr, p->daddr, p->proto, p->ttl, &o, 1, p->slot);
	}
}

/* Our own answers leaving the host: SYN/ACK, RST, ICMP unreachable. */
static __always_inline void l4_answers(void *data, void *end, struct pkt *p)
{
	void *l4 = data + (p->l4_off & SW_L4_OFF_MAX);

	if (p->proto == IPPROTO_TCP_) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return;
		__u8 flags = ((__u8 *)th)[13];
		if ((flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) || (flags & TH_RST))
			tcp_answer(p, th, flags, p->now);
	} else if (p->proto == (p->ipv6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_)) {
		struct obs o = {};
		icmp_in(p, l4, end, p->now, &o, 1);
	}
}

__noinline int sw_l4_xdp(struct xdp_md *ctx, struct pkt *p)
{
	if (!p)
		return 0;
	l4_in((void *)(long)ctx->data, (void *)(long)ctx->data_end, p);
	return 0;
}

__noinline int sw_l4_tc(struct __sk_buff *skb, struct pkt *p)
{
	if (!p)
		return 0;
	l4_answers((void *)(long)skb->data, (void *)(long)skb->data_end, p);
	return 0;
}

/* ---------------- entry points --------------------------------------- */

SEC("xdp")
int scanwatch_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sw_config *cfg = get_config();
	struct pkt p = {};
	__u8 slot = if_slot(ctx->ingress_ifindex);
	int rc;

	stat_add(slot, SW_S_PACKETS, 1);
	rc = sw_parse(data, data_end, &p);
	if (rc != SW_P_OK) {
		stat_add(slot, rc == SW_P_NOT_IP ? SW_S_NON_IP :
			 rc == SW_P_TRUNC ? SW_S_TRUNCATED : SW_S_MALFORMED, 1);
		return XDP_PASS;
	}
	p.slot = slot;
	stat_add(slot, p.ipv6 ? SW_S_IPV6 : SW_S_IPV4, 1);
	if (p.vlan)
		stat_add(slot, SW_S_VLAN, 1);
	if (p.ext)
		stat_add(slot, SW_S_IPV6_EXT, 1);

	p.now = sw_now();
	if (is_blocked(p.saddr, cfg, p.now)) {
		stat_add(slot, SW_S_DROPPED, 1);
		return XDP_DROP;
	}
	if (p.frag)
		stat_add(slot, SW_S_FRAGMENTS, 1);
	if (p.l4_ok)
		sw_l4_xdp(ctx, &p);
	return XDP_PASS;
}

/*
 * TC egress: the host's own answers. Forwarded packets were already seen by
 * XDP on their way in (gateway mode), so only locally made ones count here.
 */
SEC("tc")
int scanwatch_tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct pkt p = {};
	__u8 slot;

	if (skb->ingress_ifindex)
		return TC_ACT_OK;
	slot = if_slot(skb->ifindex);
	stat_add(slot, SW_S_EGRESS, 1);
	if (sw_parse(data, data_end, &p) != SW_P_OK || !p.l4_ok)
		return TC_ACT_OK;
	p.slot = slot;
	struct sw_config *cfg = get_config();
	p.now = sw_now();
	/*
	 * Nothing of ours reaches a blocked scanner either: the answers the
	 * kernel gives to probes that got past XDP just before the block
	 * would still tell it which ports are open.
	 */
	if (is_blocked(p.daddr, cfg, p.now)) {
		stat_add(slot, SW_S_DROPPED, 1);
		stat_add(slot, SW_S_DROPPED_EGRESS, 1);
		return TC_ACT_SHOT;
	}
	sw_l4_tc(skb, &p);
	return TC_ACT_OK;
}
