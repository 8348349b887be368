/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header shared by the XDP/TC programs and the agent: map keys and
 * values, ring-buffer events and the runtime configuration. Fixed-width
 * types only, explicit padding, no bool/enum/pointers; the sizes are pinned
 * by tests/unit/abi_test.cpp. Never duplicate these structs in C++.
 */
#ifndef SCANWATCH_ABI_H
#define SCANWATCH_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- sizes ------------------------------------------------------------ */
#define SW_ADDR_LEN 16
/*
 * Distinct destination ports and hosts per source, in two stages.
 * 1. Every record (struct sw_source) has linear-counting bitmaps: SW_PORT_BITS
 *    bits over the port hash, SW_HOST_BITS over the address hash. Nearly exact
 *    for the small counts the detector's thresholds look at; useless beyond a
 *    few thousand.
 * 2. Once a record's bitmaps count SW_WIDE_AT ports or hosts, the source also
 *    gets a struct sw_wide (map sw_wide): two HyperLogLog sketches of
 *    SW_HLL_REGS 4-bit registers (16 per __u64 word), fed by every later probe.
 *    An item's 32-bit hash h picks register h >> (32 - SW_HLL_P); the register
 *    keeps the largest rank seen there, rank = 1 + the number of trailing zeros
 *    of h's low 14 bits (1..15). The agent's estimator
 *    (userspace/detect/sketch.cpp) reads both stages.
 */
#define SW_PORT_BITS 512
#define SW_HOST_BITS 256
#define SW_PORT_WORDS (SW_PORT_BITS / 64)
#define SW_HOST_WORDS (SW_HOST_BITS / 64)
#define SW_WIDE_AT 16
#define SW_DEFAULT_MAX_WIDE 8192
#define SW_HLL_P 11
#define SW_HLL_REGS (1u << SW_HLL_P)
#define SW_HLL_WORDS (SW_HLL_REGS / 16)
#define SW_HLL_MAX_RANK 15
#define SW_PORT_HASH_MUL 0x9e3779b1u /* port hash: sw_hash32(port * MUL + proto) */

/* murmur3's finaliser: the sketches' hash, the same in the kernel and the agent */
static inline __u32 sw_hash32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x85ebca6b;
	x ^= x >> 13;
	x *= 0xc2b2ae35;
	x ^= x >> 16;
	return x;
}

/*
 * The hash of a 16-byte address (IPv4 mapped), read as four host-order
 * words: the host sketch's (sw_source.hosts, sw_wide.hosts) and our side of
 * the flow slots'. Three independent multiplies and one finaliser: the
 * products run in parallel, where a chain of four finalisers waited on each
 * other (~40 cycles, a tenth of a SYN's cost). Unseeded, so anyone can
 * compute addresses that share it: only what we choose (our own address)
 * or what only undercounts (a sketch) goes through it alone.
 */
static inline __u32 sw_addr_hash(const __u32 *w)
{
	return sw_hash32(((w[0] * 0x9e3779b1u + w[1]) * 0x9e3779b1u + w[2]) * 0x9e3779b1u + w[3]);
}

/*
 * The keyed hash of an address: NH (UMAC's inner hash) over two pairs of
 * words under four secret keys, then the finaliser. For any two distinct
 * addresses the 64-bit sum collides with probability at most 2^-32 over the
 * keys, so without them a forger cannot compute an address that shares a
 * prober's slot: it can only flood. For IPv4-mapped addresses the second
 * product is injective in the address. k0..k3: sw_hash_keys() of the load's seed.
 */
static inline __u32 sw_addr_hash_keyed(const __u32 *w, __u32 k0, __u32 k1, __u32 k2, __u32 k3)
{
	__u64 t = (__u64)(__u32)(w[0] + k0) * (__u32)(w[1] + k1) + (__u64)(__u32)(w[2] + k2) * (__u32)(w[3] + k3);

	return sw_hash32((__u32)t ^ (__u32)(t >> 32));
}

/* The four keys of sw_addr_hash_keyed() from a 32-bit seed (the finaliser is a bijection). */
static inline void sw_hash_keys(__u32 seed, __u32 *k)
{
	for (__u32 i = 0; i < 4; i++)
		k[i] = sw_hash32(seed + (i + 1) * 0x9e3779b9u);
}

/*
 * sw_seen (bpf/admit.bpf.h): a source's three bits in its word, of the 60
 * below the word's epoch nibble, from a 64-bit multiplicative rehash of its
 * keyed hash sh (whose top bits pick the word: the product's top bits
 * depend on all of sh's). Two or three bits set (positions may coincide).
 */
#define SW_SEEN_FILTER_BITS 60
#define SW_SEEN_FILTER_MASK ((1ULL << SW_SEEN_FILTER_BITS) - 1)

static inline __u64 sw_seen_bits(__u32 sh)
{
	__u64 x = (__u64)sh * 0x9e3779b97f4a7c15ULL;

	return (1ULL << ((((x >> 58) & 63) * SW_SEEN_FILTER_BITS) >> 6)) |
	       (1ULL << ((((x >> 52) & 63) * SW_SEEN_FILTER_BITS) >> 6)) |
	       (1ULL << ((((x >> 46) & 63) * SW_SEEN_FILTER_BITS) >> 6));
}

/* A word's epoch: 2^36 ns of the clock (68.7 s), mod 16 (its top nibble). */
#define SW_SEEN_EPOCH_SHIFT 36

static inline __u64 sw_seen_epoch(__u64 now)
{
	return (now >> SW_SEEN_EPOCH_SHIFT) & 15;
}

/* Word v has sh's bits, set in the epoch of now or the one before: its source may have a record. */
static inline int sw_seen_maybe(__u64 v, __u32 sh, __u64 now)
{
	__u64 bits = sw_seen_bits(sh);

	return (v & bits) == bits && ((sw_seen_epoch(now) - (v >> SW_SEEN_FILTER_BITS)) & 15) <= 1;
}

/* The hash of a probe of port (or -sO protocol) port_key over proto. */
static inline __u32 sw_port_hash(__u16 port_key, __u8 proto)
{
	return sw_hash32(port_key * SW_PORT_HASH_MUL + proto);
}

/* The bit a probe of port_key over proto sets in sw_source.ports. */
static inline __u32 sw_port_bit(__u16 port_key, __u8 proto)
{
	return sw_port_hash(port_key, proto) % SW_PORT_BITS;
}

/* The register a hash goes to. */
static inline __u32 sw_hll_reg(__u32 h)
{
	return h >> (32 - SW_HLL_P);
}

/* Its rank: 1 + trailing zeros of the low 14 bits, 15 when all are zero
   (a branch per halving: no count-trailing-zeros instruction in BPF). */
static inline __u32 sw_hll_rank(__u32 h)
{
	__u32 x = h | (1u << (SW_HLL_MAX_RANK - 1));
	__u32 r = 1;

	if (!(x & 0xff)) {
		x >>= 8;
		r += 8;
	}
	if (!(x & 0xf)) {
		x >>= 4;
		r += 4;
	}
	if (!(x & 0x3)) {
		x >>= 2;
		r += 2;
	}
	if (!(x & 0x1))
		r += 1;
	return r;
}

#define SW_DEFAULT_MAX_SOURCES 65536
#define SW_DEFAULT_MAX_FLOWS 65536
#define SW_DEFAULT_MAX_BLOCKS 65536
#define SW_RINGBUF_BYTES (256 * 1024)

/* ---- per-source evidence counters (index into sw_source.cnt) -----------
 * One table, the source of every list of them: X(ID, name, kinds) gives
 * SW_C_<ID> (its index: the table's order), the evidence name in JSON, top
 * and the tests, and the scan kinds of DESIGN.md it is evidence for
 * (space-separated; top shows it beside them). Append new counters at the
 * end: the indexes are the kernel<->agent ABI.
 */
#define SW_COUNTERS(X) \
	X(PROBES,     "probes",     "") /* 0: probe-class packets (anything that opens or pokes) */ \
	X(SYN,        "syn",        "syn") /* 1: SYN without ACK */ \
	X(SYN_NMAP,   "syn_nmap",   "syn") /* 2: SYN with window 1024 and MSS 1460 as the only option */ \
	X(SYN_NOOPT,  "syn_noopt",  "syn") /* 3: SYN without any TCP option (masscan-like) */ \
	X(ANSWERED,   "answered",   "connect") /* 4: we answered a probe with SYN/ACK (success) */ \
	X(FAIL_RST,   "fail_rst",   "") /* 5: we answered a probe with RST (closed port) */ \
	X(FAIL_ICMP,  "fail_icmp",  "udp") /* 6: we answered with ICMP unreachable */ \
	X(HALF_OPEN,  "half_open",  "syn") /* 7: SYN -> our SYN/ACK -> bare RST, seq = ISN+1 */ \
	X(CONNECT,    "connect",    "connect") /* 8: SYN -> our SYN/ACK -> RST+ACK without data */ \
	X(RPC,        "rpc",        "service-detect rpc") /* 9: ONC RPC CALL at the start of a flow or datagram */ \
	X(FIN,        "fin",        "fin") /* 10: FIN alone */ \
	X(NULL,       "null",       "null") /* 11: no flags */ \
	X(XMAS,       "xmas",       "xmas") /* 12: FIN+PSH+URG */ \
	X(MAIMON,     "maimon",     "maimon") /* 13: FIN+ACK with seq 0 */ \
	X(ACK_PROBE,  "ack_probe",  "ack discovery") /* 14: bare ACK with seq 0 (-sA/-sW, -PA) */ \
	X(ODD_FLAGS,  "odd_flags",  "custom-flags") /* 15: other flag sets without SYN/ACK/RST, or SYN+FIN */ \
	X(UDP,        "udp",        "udp") /* 16: UDP datagrams */ \
	X(UDP_EMPTY,  "udp_empty",  "udp") /* 17: UDP datagrams without payload */ \
	X(ICMP_ECHO,  "icmp_echo",  "discovery") /* 18: ICMP(v6) echo requests */ \
	X(ICMP_ODD,   "icmp_odd",   "os-detect discovery") /* 19: echo with code != 0, empty echo, all-zero timestamp */ \
	X(OS_TS,      "os_ts",      "os-detect") /* 20: TCP timestamp TSval 0xFFFFFFFF (nmap -O) */ \
	X(OS_URG,     "os_urg",     "os-detect") /* 21: urgent pointer set without URG (nmap -O ECN probe) */ \
	X(OS_UDP,     "os_udp",     "os-detect") /* 22: UDP with IP ID 0x1042 (nmap -O U1) */ \
	X(BARE_IP,    "bare_ip",    "ip-protocol") /* 23: IPv4 with an unusual protocol and no payload (-sO) */ \
	X(SCTP_INIT,  "sctp_init",  "sctp") /* 24: SCTP INIT with verification tag 0 / COOKIE-ECHO */ \
	X(FRAG,       "frag",       "") /* 25: IPv4/IPv6 fragments */ \
	X(FRAG_TINY,  "frag_tiny",  "") /* 26: first fragments too short to hold the TCP flags */ \
	X(ZMAP_IPID,  "zmap_ipid",  "") /* 27: IP ID 54321 */ \
	X(SAME_SEQ,   "same_seq",   "") /* 28: probes repeating the previous probe's seq/ack value */ \
	X(SAME_SPORT, "same_sport",  "") /* 29: probes repeating the previous probe's source port */ \
	X(SV_PROBE,   "sv_probe",   "service-detect") /* 30: a payload that is one of nmap -sV's probes or NSE's marker */ \
	X(FIRST_OK,   "first_ok",   "") /* 31: first contacts (new port or host) we answered with SYN/ACK */ \
	X(FRAG_SYN,   "frag_syn",   "syn") /* 32: tiny first fragments (-f, --mtu 8) whose probe we answered with SYN/ACK: SYNs */ \
	X(FRAG_RST,   "frag_rst",   "") /* 33: tiny first fragments whose probe we answered with RST (closed port) */ \
	X(MASSCAN_IPID, "masscan_ipid", "") /* 34: SYN with IP ID (daddr ^ dport ^ seq) & 0xffff (masscan) */ \
	X(HPING,      "hping",      "") /* 35: TCP probe with window 64 (hping3 3.0.0: 512) and no options: hping3's defaults */ \
	X(ZMAP_SYN,   "zmap_syn",   "") /* 36: IPv4 SYN, window 65535, DF clear, one of zmap 4.1+'s option layouts (zmap_syn_opts) */ \
	X(UNICORN_SEQ, "unicorn_seq", "") /* 37: SYN whose seq ^ daddr ^ (dport << 16 | sport) equals the previous SYN's, with another seq (unicornscan) */

#define SW_C_ENUM_(id, name, kinds) SW_C_##id,
enum { SW_COUNTERS(SW_C_ENUM_) SW_C_MAX };
#undef SW_C_ENUM_
#define SW_C_SLOTS ((SW_C_MAX + 1) & ~1)

/*
 * The XDP program collects a packet's counters in one mask (struct obs in
 * bpf/) of SW_C_MASK_BITS bits, bit i = SW_C_i: every counter must fit.
 */
#define SW_C_MASK_BITS 40
#ifdef __cplusplus
static_assert(SW_C_MAX <= SW_C_MASK_BITS, "SW_C_* counters overflow the evidence mask");
#else
_Static_assert(SW_C_MAX <= SW_C_MASK_BITS, "SW_C_* counters overflow the evidence mask");
#endif

/* sw_source.flags */
/* answers our packets (a RST after our SYN/ACK, a handshake): a hint for the
   detector only, since a live host's kernel also answers SYN/ACKs to SYNs
   forged in its name */
#define SW_SF_VERIFIED (1u << 0)
#define SW_SF_FAST_BLOCKED (1u << 1) /* the XDP fast path blocked it */
#define SW_SF_PROVEN (1u << 2)       /* ACKed our SYN/ACK's seq + 1 (or a SYN cookie): not forged */
#define SW_SF_SHIELDED (1u << 3)     /* the XDP fast path shielded it (sw_shield) */
#define SW_SF_REFUSED (1u << 4)      /* the kernel block budget refused to block it */
/* hot: the source raised (or was due to raise) its first ring-buffer event, so
   the agent mirrors it; set once, even when the event itself was dropped, so
   the agent's bounded walk of the map still finds it (agent/mirror.hpp) */
#define SW_SF_HOT (1u << 5)
/* the live agent's budget of hot sources' first events, per CPU per second
   (about half the ring: SW_RINGBUF_BYTES / 64-byte events = 4096) */
#define SW_HOT_EVENTS_PER_SEC 2048

struct sw_source {
	__u64 first_ns;                /* clock of sw_now() */
	__u64 last_ns;
	__u32 cnt[SW_C_SLOTS];         /* SW_C_MAX counters, rounded up to even: no hole after it */
	__u64 ports[SW_PORT_WORDS];    /* bit sw_port_bit(dport, proto) */
	__u64 hosts[SW_HOST_WORDS];    /* bit (hash(daddr) % SW_HOST_BITS) */
	__u32 ports_new;               /* bits this source turned on (exact until collisions) */
	__u32 hosts_new;
	__u32 last_seq;                /* seq (or ack for ACK probes) of the previous probe */
	__u32 rpc_last_prog;
	__u32 rpc_progs;               /* program-number changes seen (the grinder) */
	__u32 flags;                   /* SW_SF_* */
	__u64 ev_last_ns;              /* ring-buffer rate limit */
	__u32 ev_budget;
	__u16 last_sport;              /* host order */
	__u8 ttl_min;
	__u8 ttl_max;
	__u8 rst_ttl;                  /* TTL of the last bare RST (a kernel's, unlike nmap's) */
	/* The first SYN built by an operating system's stack (options other than
	 * nmap's, masscan's or -O's): what tells the scanner's OS (scanner_os). */
	__u8 os_syn_ttl;               /* 0 = none seen yet */
	__u16 os_syn_win;              /* host order */
	__u32 proven;                  /* bit (dport % 32): a port where it completed a handshake
	                                  (ACK of our ISN or of a SYN cookie): evidence nobody can forge */
	__u32 os_syn_opts;             /* the option kinds in order (SW_SYN_OPTS_MAX) */
	__u32 syn_key;                 /* the last SYN's seq ^ daddr ^ (dport << 16 | sport) (SW_C_UNICORN_SEQ) */
};

/* The second stage of the sketches (map sw_wide, LRU hash, key: the source's
   16-byte address): every probe after its bitmaps counted SW_WIDE_AT. */
struct sw_wide {
	__u64 ports[SW_HLL_WORDS];     /* HyperLogLog registers over sw_port_hash(dport, proto) */
	__u64 hosts[SW_HLL_WORDS];     /* ... over the destination address's hash */
	__u32 ports_before;            /* sw_source.ports_new / hosts_new when it was made: */
	__u32 hosts_before;            /* items the sketches may never have seen */
};

/*
 * The order of a SYN's TCP option kinds, one nibble each (kinds above 14
 * read 15), the first option in the highest nibble used, at most 8 kinds;
 * EOL ends it. Linux: MSS SACK TS NOP WS = 0x24813.
 */
#define SW_SYN_OPTS_MAX 8

/* ---- probe flows ---------------------------------------------------- */
/* Key: the prober's side first, as seen on the wire towards us. */
struct sw_flow_key {
	__u8 saddr[SW_ADDR_LEN];
	__u8 daddr[SW_ADDR_LEN];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

#define SW_FS_SYN 1      /* SYN seen */
#define SW_FS_SYNACK 2   /* our SYN/ACK seen */
#define SW_FS_ESTAB 3    /* the prober ACKed our SYN/ACK's seq + 1: the handshake is proof */

struct sw_flow {
	__u64 syn_ns;
	__u32 isn;       /* prober's ISN, host order */
	__u32 our_isn;   /* our SYN/ACK's seq, host order */
	__u8 state;      /* SW_FS_* */
	__u8 syn_nmap;   /* the SYN carried the nmap raw fingerprint */
	__u8 first_contact; /* the SYN was the source's first to this port or host */
	__u8 frag;       /* opened by a tiny first fragment: only our answer tells its flags */
	__u8 pad[4];
};

/* ---- blocking ----------------------------------------------------------- */
struct sw_lpm_key {
	__u32 prefixlen;               /* over addr, IPv4 as ::ffff:a.b.c.d (96 + len) */
	__u8 addr[SW_ADDR_LEN];
};

#define SW_BR_MANUAL 1
#define SW_BR_DETECTOR 2
#define SW_BR_FAST_PATH 3
#define SW_BR_CROWDSEC 4   /* a CrowdSec decision (pulled again at start, not in the state file) */
#define SW_BR_SHIELD 5     /* sw_shield entries: made by the agent or the fast path */

struct sw_block {
	__u64 expires_ns;              /* sw_now() clock; 0 = never */
	__u64 created_ns;
	__u32 reason;                  /* SW_BR_* */
	__u32 pad;
};

/* ---- the shield (LRU hash, key: the 16-byte address) ----------------------
 * A suspect that never proved it receives our packets is answered, not
 * dropped: XDP answers its SYNs with SYN cookies (every port looks open) and
 * a valid cookie ACK proves the address is real: its port gets a bit in
 * `passed` (its next SYN there reaches the host), the connection is reset.
 */
#define SW_DEFAULT_MAX_SHIELDS 65536

struct sw_shield {
	__u64 expires_ns;              /* sw_now() clock; 0 = never */
	__u64 created_ns;
	__u32 passed;                  /* bit (dport % 32): ports it proved itself on */
	__u32 reason;                  /* SW_BR_DETECTOR or SW_BR_FAST_PATH */
	__u32 cookies;                 /* SYN cookies sent to it */
	__u32 proofs;                  /* valid cookie ACKs it sent */
};

/* ---- the kernel's own block budget (one-entry array, written by XDP only) -- */
struct sw_budget {
	__u64 spent;                   /* fast-path blocks made, ever */
	__u64 win_start_ns;            /* the current one-second window */
	__u32 win_used;                /* fast-path blocks made in it */
	__u32 pad;
};

/* ---- runtime configuration (one-entry array) --------------------------- */
#define SW_CFG_BLOCKING (1u << 0)    /* enforce the block map */
#define SW_CFG_FAST_BLOCK (1u << 1)  /* XDP may block on its own */
#define SW_CFG_BLOCK_UNVERIFIED (1u << 2)
#define SW_CFG_SHIELD (1u << 3)      /* answer shielded sources' SYNs with SYN cookies */
#define SW_CFG_RANGES (1u << 8)      /* sw_blocks (the ranges' trie) holds entries: look it up */

struct sw_config {
	__u64 clock_ns;         /* replay: the clock last set for every CPU (the program reads sw_clock); live: unused */
	__u32 flags;            /* SW_CFG_* */
	__u32 ev_per_sec;       /* ring-buffer events per source per second */
	__u32 fast_block_half_open;  /* fast path: half-open/failed nmap probes */
	__u32 fast_block_ports;      /* fast path: and at least this many distinct ports */
	__u64 fast_block_ttl_ns;
	__u32 n_blocks;         /* single addresses in sw_block_addrs (0 and no fast path skips the lookup) */
	__u32 n_allow;
	/* the kernel block budget: the fast path blocks only while sw_budget.spent is
	   below fast_block_allowed and this second's blocks below fast_block_per_sec */
	__u64 fast_block_allowed;
	__u32 fast_block_per_sec;
	__u32 pad;
	__u64 shield_ttl_ns;    /* fast-path shields last this long */
};

/* ---- replay clock (array, one slot per CPU) ------------------------------ */
struct sw_clock {
	__u64 ns;               /* replay: the capture clock of the packet this CPU runs */
	__u64 pad[7];           /* one cache line per CPU: replay threads write their own */
};

/* ---- statistics per interface ------------------------------------------
 * sw_stats is a per-CPU array of rows (struct sw_stat_row), one row per
 * interface slot, indexed row.s[SW_S_*]. The agent gives each interface it
 * attaches to a slot 1..SW_IF_SLOTS-1 through sw_ifslots; packets on any
 * other interface (or whose slot entry collided away) count in slot
 * SW_IF_SLOT_OTHER. Totals are the sum over slots and CPUs.
 *
 * sw_ifslots is an array of SW_IF_BUCKETS buckets, bucket = ifindex %
 * SW_IF_BUCKETS, each with SW_IF_WAYS (ifindex, slot) pairs; ifindex 0 marks
 * a free way. A third interface in one bucket falls back to the other slot
 * (the agent warns).
 */
#define SW_IF_SLOTS 32
#define SW_IF_SLOT_OTHER 0
#define SW_IF_BUCKETS 64
#define SW_IF_WAYS 2

struct sw_ifslot {
	__u32 ifindex[SW_IF_WAYS];
	__u32 slot[SW_IF_WAYS];
};

/* statistics indexes (sw_stat_row.s[SW_S_*]) */
#define SW_S_PACKETS 0
#define SW_S_BYTES 1
#define SW_S_IPV4 2
#define SW_S_IPV6 3
#define SW_S_NON_IP 4
#define SW_S_TRUNCATED 5       /* headers cut short: counted and passed */
#define SW_S_MALFORMED 6       /* impossible lengths: counted and passed */
#define SW_S_FRAGMENTS 7
#define SW_S_VLAN 8
#define SW_S_IPV6_EXT 9
#define SW_S_DROPPED 10        /* dropped by the block map (XDP and TC egress) */
#define SW_S_PROBES 11
#define SW_S_FLOWS_NEW 12
#define SW_S_FLOW_FULL 13
#define SW_S_SOURCE_FULL 14
#define SW_S_EVENTS 15
#define SW_S_EVENTS_LOST 16    /* ring buffer full */
#define SW_S_EVENTS_LIMITED 17 /* suppressed by the per-source rate limit or the hot budget (account.bpf.h) */
#define SW_S_EGRESS 18         /* packets seen by the TC egress program */
#define SW_S_BLOCKS_FAST 19
#define SW_S_DROPPED_EGRESS 20 /* of SW_S_DROPPED: our answers to blocked sources (TC) */
#define SW_S_BLOCKS_REFUSED 21 /* fast-path blocks the kernel budget refused */
#define SW_S_COOKIES 22        /* SYN cookies sent to shielded sources (XDP_TX) */
#define SW_S_PROOFS 23         /* valid cookie ACKs: a shielded address proved itself */
#define SW_S_MAX 24

struct sw_stat_row {
	__u64 s[SW_S_MAX];
};

/* ---- ring-buffer events ----------------------------------------------- */
#define SW_EV_THRESHOLD 1   /* a counter crossed a small threshold: counter, value */
#define SW_EV_RPC 2         /* ONC RPC CALL: value = program, aux = version */
#define SW_EV_FAST_BLOCK 3  /* the XDP fast path blocked the source */
#define SW_EV_BLOCK_REFUSED 4 /* the kernel block budget refused a fast-path block (first time per source) */

struct sw_event {
	__u64 ts_ns;
	__u8 saddr[SW_ADDR_LEN];
	__u8 daddr[SW_ADDR_LEN];
	__u32 type;             /* SW_EV_* */
	__u32 counter;          /* SW_C_* for THRESHOLD */
	__u32 value;
	__u32 aux;
	__be16 dport;
	__u8 proto;
	__u8 pad[5];
};

/* ---- block presence bits (map sw_block_bits, bpf/block.bpf.h) ---------- */
/*
 * In front of both block maps: two bits per hashed bucket (an IPv4 /24, an
 * IPv6 /48) that say "a block may cover an address here". A source whose
 * bucket has neither bit set is under no block: it skips the exact hash and
 * the ranges' trie. The agent's bit (2 i) is set before one of its blocks
 * (address or range) enters a map and cleared after the last block needing
 * it left (userspace/bpf/block_bits.cpp); the XDP fast path sets the kernel's
 * bit (2 i + 1) before its own block, and only the agent's rebuild clears
 * it. So a clear pair is never wrong; a set bit only costs the lookups.
 * Word 0 holds SW_BB_* flags; bucket i lives in word 1 + i / 32.
 */
#define SW_BB_LOG 20                          /* 2^20 buckets, 256 KiB */
#define SW_BB_BUCKETS (1u << SW_BB_LOG)
#define SW_BB_WORDS (1 + SW_BB_BUCKETS / 32)
#define SW_BB_BUILT 1ull  /* the bits are complete (set by the agent after a rebuild from the maps) */
#define SW_BB_ALL4 2ull   /* an IPv4 range shorter than /SW_BB_MIN4: every IPv4 source is looked up */
#define SW_BB_ALL6 4ull   /* an IPv6 range shorter than /SW_BB_MIN6: every IPv6 source is looked up */
#define SW_BB_G4 24       /* an IPv4 bucket is a /24 */
#define SW_BB_G6 48       /* an IPv6 bucket is a /48 */
#define SW_BB_MIN4 8      /* ranges from /8 (IPv4) and /32 (IPv6) on set their */
#define SW_BB_MIN6 32     /* buckets' bits (2^16 at most); shorter ones set ALL4/ALL6 */

/* Is the 16-byte address an IPv4-mapped one (::ffff:a.b.c.d)? */
static inline int sw_addr_is_v4(const __u8 *a)
{
	return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9]) && a[10] == 0xff &&
	       a[11] == 0xff;
}

/* The bucket holding a (the XDP program and the agent alike). */
static inline __u32 sw_block_bucket(const __u8 *a, int v4)
{
	__u64 key = v4 ? (1ull << 48) | ((__u64)a[12] << 16) | ((__u64)a[13] << 8) | a[14]
		       : ((__u64)a[0] << 40) | ((__u64)a[1] << 32) | ((__u64)a[2] << 24) | ((__u64)a[3] << 16) |
				 ((__u64)a[4] << 8) | a[5];
	return (__u32)((key * 0x9E3779B97F4A7C15ull) >> (64 - SW_BB_LOG));
}

#endif /* SCANWATCH_ABI_H */
