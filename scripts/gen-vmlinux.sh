#!/usr/bin/env bash
# Regenerates vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# Run by hand when the kernel types we rely on change; never at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m)
case "$arch" in
  x86_64) dir=x86 ;;
  aarch64) dir=arm64 ;;
  *) echo "gen-vmlinux: unsupported architecture '$arch'" >&2; exit 1 ;;
esac
btf=/sys/kernel/btf/vmlinux
[ -r "$btf" ] || { echo "gen-vmlinux: $btf is missing (kernel built without BTF)" >&2; exit 1; }
mkdir -p "vmlinux/$dir"
bpftool btf dump file "$btf" format c > "vmlinux/$dir/vmlinux.h.tmp"
mv "vmlinux/$dir/vmlinux.h.tmp" "vmlinux/$dir/vmlinux.h"
echo "wrote vmlinux/$dir/vmlinux.h ($(wc -l < "vmlinux/$dir/vmlinux.h") lines)"
