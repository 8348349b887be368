// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The floor for bench/prog_bench: an XDP program that does nothing but pass. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
