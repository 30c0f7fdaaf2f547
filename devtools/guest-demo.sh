#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest for `make run`: show the pieces devmem-rs stands on.

set -eu
cfg() { zcat /proc/config.gz 2>/dev/null | grep "^$1=" || echo "$1 (see build)"; }

echo "kernel:   $(uname -r) ($(uname -m)), Rust: $(grep -c '^rust_' /proc/kallsyms 2>/dev/null || echo 0) rust_* symbols"
echo "udmabuf:  $([ -c /dev/udmabuf ] && echo /dev/udmabuf || echo missing)"
echo "82576 ports on PCI:"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10c9 ] || continue
	echo "  $(basename "$d") behind $(basename "$(dirname "$(readlink -f "$d")")")"
done
modprobe igb
sleep 1
for n in /sys/bus/pci/drivers/igb/0000:*/net/*; do
	ip link set "$(basename "$n")" up
done
sleep 3
echo "netdevs (upstream C igb on both ports for now):"
ip -br link show | grep -v '^lo' | sed 's/^/  /'
echo "devmem receive end to end: not yet (the Rust devmem core and the Rust 82576 driver come next)"
