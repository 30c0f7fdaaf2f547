#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest for `make run`: show the pieces devmem-rs stands on today. The
# devmem receive demo takes their place once the binding and the Rust 82576 driver exist.

set -eu

echo "kernel:   $(uname -r) ($(uname -m))"
echo "udmabuf:  $([ -c /dev/udmabuf ] && echo /dev/udmabuf || echo missing)"

echo "Rust in the kernel: KUnit suites of the devmem-rs core and its abstractions:"
dmesg --notime | grep -E "^(not )?ok [0-9]+ (devmem_rs_[a-z_]+|rust_page_pool|rust_doctests_kernel)$" |
	sed 's/^/  /'

echo "82576 ports on PCI:"
for d in /sys/bus/pci/devices/*; do
	read -r vendor <"$d/vendor"
	read -r device <"$d/device"
	[ "$vendor:$device" = 0x8086:0x10c9 ] || continue
	parent=$(readlink -f "$d")
	parent=${parent%/*}
	echo "  ${d##*/} behind root port ${parent##*/}"
done

modprobe igb
for n in /sys/bus/pci/drivers/igb/0000:*/net/*; do
	ip link set "${n##*/}" up
done
sleep 3
echo "netdevs (the upstream C igb driver on both ports for now):"
ip -br link show | grep -v '^lo' | sed 's/^/  /'
echo "devmem receive end to end: not yet (needs the devmem-rs binding and the Rust 82576 driver)"
