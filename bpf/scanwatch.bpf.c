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

/* One program, split by concern; each header builds on the ones before it. */
#include "maps.bpf.h"      /* maps, settings, clock, statistics */
#include "source.bpf.h"    /* per-source records, sketches, struct obs */
#include "shield.bpf.h"    /* proof (sw_pending), the SYN-cookie shield, the block budget */
#include "block.bpf.h"     /* fast-path blocks, is_blocked() */
#include "flow.bpf.h"      /* SYNs waiting for our answer, the probe-flow table */
#include "admit.bpf.h"     /* admission: a record from a source's second packet on */
#include "account.bpf.h"   /* sw_account(): records and events */
#include "signature.bpf.h" /* nmap's payload and option signatures */
#include "answer.bpf.h"    /* our answers: SYN/ACK, RST, ICMP unreachable */
#include "probe.bpf.h"     /* what arrives: TCP, UDP, ICMP, SCTP */

/* ---------------- L4 stage: global functions, verified once ------------ */

static __always_inline void l4_in(void *data, void *end, struct pkt *p)
{
	void *l4 = data + (p->l4_off & SW_L4_OFF_MAX);
	struct acct a;  /* the handlers fill a.o in place: no copy on this stack */
	struct obs *o = &a.o;
	int hit = 0;

	__builtin_memset(o, 0, sizeof(*o)); /* account_obs() sets the rest */

	/*
	 * The clock is read only where it is used: a TCP segment with SYN, RST
	 * or FIN may make, answer or end a flow, an ICMP error answers one, and
	 * whatever is accounted below. The exact live clock (bpf_ktime_get_ns,
	 * a TSC read) was a third of an established segment's cost when every
	 * packet read it; sw_now() now reads the tick clock (maps.bpf.h).
	 */
	if (p->proto == IPPROTO_TCP_) {
		__u8 *fl = l4 + 13;
		if ((void *)(fl + 1) <= end && (*fl & (TH_SYN | TH_RST | TH_FIN)))
			p->now = sw_now();
		hit = tcp_in(p, l4, end, p->now, o);
	} else if (p->proto == IPPROTO_UDP_) {
		hit = udp_in(p, l4, end, o);
	} else if (p->proto == (p->ipv6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_)) {
		p->now = sw_now();
		hit = icmp_in(p, l4, end, p->now, o, 0);
	}
	else if (p->proto == IPPROTO_SCTP_)
		hit = sctp_in(p, l4, end, o);
	else if (!p->ipv6 && p->ip_payload_empty) {
		/* -sO: a bare IPv4 header for another protocol */
		o->port_key = p->proto;
		o->probe = 1;
		o->mask = BIT(SW_C_BARE_IP);
		hit = 1;
	}
	if (hit) {
		if (!p->now)
			p->now = sw_now();
		if (!p->ipv6 && p->ip_id == 54321)
			o->mask |= BIT(SW_C_ZMAP_IPID);
		account_obs(&a, p->now, p->saddr, p->daddr, p->proto, p->ttl, 1, p->slot);
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

/* The shield's decision on a TCP segment (sets p->act), before it is accounted. */
__noinline int sw_shield_xdp(struct xdp_md *ctx, struct pkt *p)
{
	struct sw_config *cfg = get_config();

	if (!ctx || !p || !cfg)
		return 0;
	shield_decide(ctx, p, cfg);
	return p->act;
}

/* The shield's answer written over the packet; the new frame length or -1. */
__noinline int sw_shield_tx(struct xdp_md *ctx, struct pkt *p)
{
	int len;

	if (!ctx || !p)
		return -1;
	if (p->act == SW_ACT_COOKIE) {
		void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
		struct tcphdr *th = data + (p->l4_off & SW_L4_OFF_MAX);
		if ((void *)(th + 1) > end)
			return -1;
		pending_set(p->saddr, p->daddr, th->source, th->dest);
	}
	len = shield_answer(ctx, p);
	if (len > 0 && p->act == SW_ACT_COOKIE)
		stat_add(p->slot, SW_S_COOKIES, 1);
	return len;
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

	/* p.now stays 0 until a stage needs the clock (l4_in) */
	if (is_blocked(p.saddr, cfg)) {
		stat_add(slot, SW_S_DROPPED, 1);
		return XDP_DROP;
	}
	if (p.frag)
		stat_add(slot, SW_S_FRAGMENTS, 1);
	if (!p.l4_ok)
		return XDP_PASS;
	if (p.proto == IPPROTO_TCP_ && cfg && (cfg->flags & SW_CFG_SHIELD))
		sw_shield_xdp(ctx, &p);
	sw_l4_xdp(ctx, &p);
	if (p.act) {
		/* the shield answers: our SYN/ACK with a cookie, or the RST after a proof */
		int len = sw_shield_tx(ctx, &p);
		if (len > 0) {
			if (bpf_xdp_adjust_tail(ctx, len - (int)bpf_xdp_get_buff_len(ctx)) == 0)
				return XDP_TX;
			return XDP_DROP; /* rewritten already: never pass it on */
		}
	}
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
	if (is_blocked(p.daddr, cfg)) {
		stat_add(slot, SW_S_DROPPED, 1);
		stat_add(slot, SW_S_DROPPED_EGRESS, 1);
		return TC_ACT_SHOT;
	}
	sw_l4_tc(skb, &p);
	return TC_ACT_OK;
}
