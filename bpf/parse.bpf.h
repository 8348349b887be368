/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for scanwatch: Ethernet (two VLAN tags at most), IPv4 with
 * options and fragments, IPv6 with a bounded extension-header walk, and the
 * L4 headers we look at. Every read is bounds-checked against data_end; a
 * packet that ends early is reported as truncated and never mis-parsed.
 */
#ifndef SCANWATCH_PARSE_BPF_H
#define SCANWATCH_PARSE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "scanwatch/abi.h"

#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_SCTP_ 132

/* Bound on the L4 offset, so the verifier can range-check pointers built from it. */
#define SW_L4_OFF_MAX 0x3fff

#define SW_MAX_VLAN 2
#define SW_MAX_EXT 6

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* Parse outcome. */
#define SW_P_OK 0
#define SW_P_NOT_IP 1
#define SW_P_TRUNC 2
#define SW_P_BAD 3

/*
 * Scalars only: the L4 stage runs in global functions that the verifier
 * checks once, whatever headers came before, so the packet is described by
 * offsets rather than pointers.
 */
struct pkt {
	__u64 now;
	__u32 l4_off;        /* offset of the L4 header from data, valid only when l4_ok */
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 l4_len;        /* bytes from l4 to the end of the IP payload (by IP length) */
	__u16 ip_id;         /* IPv4 only, host order */
	__u8 proto;          /* L4 protocol after extension headers */
	__u8 ttl;
	__u8 ipv6;
	__u8 frag;           /* a fragment of any kind */
	__u8 frag_first;     /* first fragment (offset 0) of a fragmented packet */
	__u8 l4_ok;          /* l4 points at a header we may parse */
	__u8 df;
	__u8 ip_payload_empty;
	__u8 vlan;
	__u8 ext;            /* IPv6 extension headers walked */
	__u8 slot;           /* statistics row of the interface (SW_IF_SLOT_OTHER if unknown) */
	__u8 act;            /* the shield's answer (SW_ACT_*, shield.bpf.h) */
	__u8 no_pending;     /* the shield found this ACK's flow absent from sw_pending */
	__u8 pad[2];
};

static __always_inline void sw_v4_mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* Returns SW_P_*; fills *p. */
static __always_inline int sw_parse(void *data, void *data_end, struct pkt *p)
{
	struct ethhdr *eth = data;
	void *cur;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return SW_P_TRUNC;
	proto = eth->h_proto;
	cur = eth + 1;

#pragma unroll
	for (int i = 0; i < SW_MAX_VLAN; i++) {
		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			break;
		struct vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > data_end)
			return SW_P_TRUNC;
		proto = vh->h_vlan_encapsulated_proto;
		cur = vh + 1;
		p->vlan++;
	}

	if (proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr *ip = cur;
		__u32 hl, tot;
		__u16 frag_off;

		if ((void *)(ip + 1) > data_end)
			return SW_P_TRUNC;
		if (ip->version != 4 || ip->ihl < 5)
			return SW_P_BAD;
		hl = ip->ihl * 4;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < hl)
			return SW_P_BAD;
		if (cur + hl > data_end)
			return SW_P_TRUNC;
		sw_v4_mapped(p->saddr, ip->saddr);
		sw_v4_mapped(p->daddr, ip->daddr);
		p->proto = ip->protocol;
		p->ttl = ip->ttl;
		p->ip_id = bpf_ntohs(ip->id);
		frag_off = bpf_ntohs(ip->frag_off);
		p->df = !!(frag_off & 0x4000);
		if (frag_off & 0x3fff) {
			p->frag = 1;
			if (frag_off & 0x1fff)
				return SW_P_OK; /* later fragment: no L4 header */
			p->frag_first = 1;
		}
		p->l4_off = cur + hl - data;
		p->l4_len = tot - hl;
		p->ip_payload_empty = (tot == hl);
		p->l4_ok = 1;
		return SW_P_OK;
	}

	if (proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr *ip6 = cur;
		__u8 nh;
		__u32 left;

		if ((void *)(ip6 + 1) > data_end)
			return SW_P_TRUNC;
		if (ip6->version != 6)
			return SW_P_BAD;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		p->ipv6 = 1;
		p->ttl = ip6->hop_limit;
		nh = ip6->nexthdr;
		left = bpf_ntohs(ip6->payload_len);
		cur = ip6 + 1;

#pragma unroll
		for (int i = 0; i < SW_MAX_EXT; i++) {
			if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_) {
				struct ipv6_opt_hdr *oh = cur;
				__u32 len;
				if ((void *)(oh + 1) > data_end)
					return SW_P_TRUNC;
				len = ((__u32)oh->hdrlen + 1) * 8;
				if (len > left)
					return SW_P_BAD;
				nh = oh->nexthdr;
				cur += len;
				left -= len;
				p->ext++;
			} else if (nh == IPPROTO_AH_) {
				struct ipv6_opt_hdr *oh = cur;
				__u32 len;
				if ((void *)(oh + 1) > data_end)
					return SW_P_TRUNC;
				len = ((__u32)oh->hdrlen + 2) * 4;
				if (len > left)
					return SW_P_BAD;
				nh = oh->nexthdr;
				cur += len;
				left -= len;
				p->ext++;
			} else if (nh == IPPROTO_FRAGMENT_) {
				struct frag_hdr *fh = cur;
				if ((void *)(fh + 1) > data_end)
					return SW_P_TRUNC;
				if (left < sizeof(*fh))
					return SW_P_BAD;
				nh = fh->nexthdr;
				cur = fh + 1;
				left -= sizeof(*fh);
				p->ext++;
				p->frag = 1;
				if (bpf_ntohs(fh->frag_off) & 0xfff8) {
					p->proto = nh;
					return SW_P_OK; /* later fragment */
				}
				p->frag_first = 1;
			} else {
				break;
			}
		}
		if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
		    nh == IPPROTO_AH_ || nh == IPPROTO_FRAGMENT_)
			return SW_P_BAD; /* deeper chain than we walk: counted, passed */
		if (cur > data_end)
			return SW_P_TRUNC;
		p->proto = nh;
		if (cur - data > SW_L4_OFF_MAX)
			return SW_P_BAD;
		p->l4_off = cur - data;
		p->l4_len = left;
		p->ip_payload_empty = (left == 0);
		p->l4_ok = (nh != IPPROTO_NONE_);
		return SW_P_OK;
	}

	return SW_P_NOT_IP;
}

#endif /* SCANWATCH_PARSE_BPF_H */
