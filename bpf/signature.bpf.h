// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Payload and option signatures of nmap's probes: ONC RPC CALLs, -sV
 * probe texts, the -O timestamp marker.
 * Included once by scanwatch.bpf.c, in the order given there.
 */
#pragma once

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

/*
 * The order of a SYN's option kinds (scanner_os): one nibble each, first
 * option highest, at most SW_SYN_OPTS_MAX; EOL ends the list (and counts).
 */
static __always_inline __u32 tcp_opt_order(struct tcphdr *th, void *end, __u32 optlen)
{
	__u8 *o = (__u8 *)(th + 1);
	__u8 *oend = o + (optlen & 63);
	__u32 order = 0;

	for (int n = 0; n < SW_SYN_OPTS_MAX; n++) {
		/* as tcp_ts_marker(): two bytes checked, so a lone last NOP/EOL is not read */
		if ((void *)(o + 2) > end || o + 2 > oend)
			break;
		asm volatile("" : "+r"(o));
		__u8 kind = o[0], len = o[1];
		order = (order << 4) | (kind > 14 ? 15 : kind);
		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (len < 2)
			break;
		o += len;
	}
	return order;
}

/*
 * zmap 4.1+'s SYN options (src/probe_modules/packet.c set_tcp_options, chosen
 * by --probe-args): "windows" (the default: MSS 1460, NOP, WS 8, NOP, NOP,
 * SACK-permitted), "linux" (MSS 1460, SACK-permitted, TS with TSecr 0, NOP,
 * WS 7) or "smallest-probes" (MSS 1460 alone). zmap sends them with window
 * 65535, DF clear, TTL 64 and a random IP ID; the caller checks those. The
 * stacks it imitates set DF and another window (Windows: TTL 128, 64240;
 * Linux: 64240). "bsd" is left out: it is macOS's layout and window, DF aside.
 */
static __always_inline int zmap_syn_opts(__u8 *opt, void *end, __u32 optlen)
{
	if (optlen == 4) {
		if ((void *)(opt + 4) > end)
			return 0;
		return opt[0] == 2 && opt[1] == 4 && opt[2] == 0x05 && opt[3] == 0xb4;
	}
	if (optlen == 12) {
		if ((void *)(opt + 12) > end)
			return 0;
		return load64(opt) == LE8(2, 4, 0x05, 0xb4, 1, 3, 3, 8) && opt[8] == 1 && opt[9] == 1 &&
		       opt[10] == 4 && opt[11] == 2;
	}
	if (optlen == 20) {
		if ((void *)(opt + 20) > end)
			return 0;
		/* bytes 8-11 are the TSval (zmap: the time of day) */
		return load64(opt) == LE8(2, 4, 0x05, 0xb4, 4, 2, 8, 10) &&
		       load64(opt + 12) == LE8(0, 0, 0, 0, 1, 3, 3, 7);
	}
	return 0;
}

/* A TCP timestamp option with TSval 0xFFFFFFFF (nmap -O) within the options. */
static __always_inline int tcp_ts_marker(struct tcphdr *th, void *end, __u32 optlen)
{
	__u8 *o = (__u8 *)(th + 1);
	__u8 *oend = o + (optlen & 63);

	for (int n = 0; n < 10; n++) {
		if ((void *)(o + 2) > end || o + 2 > oend)
			return 0;
		/* read both bytes through the pointer just checked: with a constant
		 * optlen clang may rebuild o + 1 from the header, which the verifier
		 * cannot bound */
		asm volatile("" : "+r"(o));
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
