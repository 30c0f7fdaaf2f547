#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test topology: two emulated 82576 ports, each behind its own PCIe root port, with
# MSI-X, both bound by the upstream C igb driver (the peer's driver).

source "$(dirname "$(readlink -f "$0")")/lib.sh"

# has_cap ADDR ID: the function's PCI capability list contains capability ID.
has_cap() {
	local cfg ptr id guard=0
	cfg=$(od -An -v -tx1 -N256 "/sys/bus/pci/devices/$1/config" | tr -s ' \n' ' ')
	read -r -a bytes <<<"$cfg"
	ptr=$((16#${bytes[0x34]}))
	while [ "$ptr" -ne 0 ] && [ $guard -lt 48 ]; do
		id=$((16#${bytes[ptr]}))
		[ "$id" -eq $(($2)) ] && return 0
		ptr=$((16#${bytes[ptr + 1]}))
		guard=$((guard + 1))
	done
	return 1
}

# behind_root_port ADDR: the function's parent is a PCI bridge on bus 0.
behind_root_port() {
	local parent
	parent=$(readlink -f "/sys/bus/pci/devices/$1")
	parent=${parent%/*}
	parent=${parent##*/}
	[ "$(sysfs_read "/sys/bus/pci/devices/$parent/class")" = 0x060400 ] &&
		[[ "$parent" == 0000:00:* ]]
}

ktap_print_header
ktap_set_plan 4

mapfile -t ports < <(igb_ports)
ktap_print_msg "82576 functions: ${ports[*]}"
if [ ${#ports[@]} -eq 2 ]; then
	ktap_test_pass "two_82576_ports"
else
	ktap_test_fail "two_82576_ports"
	ktap_exit_fail_msg "expected 2 ports of ${IGB_VENDOR}:${IGB_DEVICE}, found ${#ports[@]}"
fi

ok=1
for p in "${ports[@]}"; do
	behind_root_port "$p" || { ktap_print_msg "$p is not behind a root port"; ok=0; }
done
parents=$(for p in "${ports[@]}"; do dirname "$(readlink -f "/sys/bus/pci/devices/$p")"; done | sort -u | wc -l)
[ "$parents" -eq 2 ] || { ktap_print_msg "the ports share a root port"; ok=0; }
[ $ok = 1 ] && ktap_test_pass "own_root_ports" || ktap_test_fail "own_root_ports"

ok=1
for p in "${ports[@]}"; do
	has_cap "$p" 0x11 || { ktap_print_msg "$p has no MSI-X capability"; ok=0; }
done
[ $ok = 1 ] && ktap_test_pass "msix_capability" || ktap_test_fail "msix_capability"

# Both ports bind to the C driver.
loaded_before=0
[ -d /sys/module/igb ] && loaded_before=1
modprobe igb
ok=1
for p in "${ports[@]}"; do
	wait_for 10 test -d "/sys/bus/pci/devices/$p/net" || true
	drv=$(readlink -f "/sys/bus/pci/devices/$p/driver")
	drv=${drv##*/}
	netdev=$(echo /sys/bus/pci/devices/"$p"/net/*)
	netdev=${netdev##*/}
	[ "$netdev" != "*" ] || netdev=
	ktap_print_msg "$p: driver ${drv:-none}, netdev ${netdev:-none}"
	[ "$drv" = igb ] && [ -n "$netdev" ] || ok=0
done
[ $ok = 1 ] && ktap_test_pass "c_igb_binds_both" || ktap_test_fail "c_igb_binds_both"

[ $loaded_before = 1 ] || modprobe -r igb

ktap_finished
