#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Rust 82576 driver (igb_rs) on port A, the C igb driver on port B in its own network
# namespace: probe, link, ping both ways, TCP in both directions with every byte checked
# at MTU 1500 and 9000, and unbind/rebind. The module's KUnit suite (igb_rs_rss, the RSS
# hash) runs when it loads; its result is read from the kernel log.

source "$(dirname "$(readlink -f "$0")")/lib.sh"
PATTERN="${DEVMEM_DIR}/tcp_pattern.py"
NS=igbrs-peer
IP_A=10.71.0.1
IP_B=10.71.0.2

# bind_to ADDR DRIVER: move a PCI function to DRIVER.
bind_to() {
	local dev=/sys/bus/pci/devices/$1
	echo "$2" >"$dev/driver_override"
	if [ -e "$dev/driver" ]; then
		echo "$1" >"$dev/driver/unbind"
	fi
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink -f "$dev/driver")")" = "$2" ]
}

netdev_of() {
	local n
	for n in /sys/bus/pci/devices/$1/net/*; do
		[ -e "$n" ] && basename "$n" && return 0
	done
	return 1
}

carrier_up() {
	[ "$(sysfs_read "/sys/class/net/$1/carrier")" = 1 ]
}

cleanup() {
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT

# transfer FROM TO BYTES: TCP from FROM (a or b) to the other side, every byte checked.
transfer() {
	local port=$((5000 + RANDOM % 1000)) rc
	if [ "$1" = b ]; then
		python3 "$PATTERN" recv "$port" "$2" &
		local rpid=$!
		ip netns exec "$NS" python3 "$PATTERN" send "$IP_A" "$port" "$2" || { kill $rpid; return 1; }
	else
		ip netns exec "$NS" python3 "$PATTERN" recv "$port" "$2" &
		local rpid=$!
		python3 "$PATTERN" send "$IP_B" "$port" "$2" || { kill $rpid; return 1; }
	fi
	wait $rpid
}

ktap_print_header
ktap_set_plan 10

mapfile -t ports < <(igb_ports)
A=${ports[0]}
B=${ports[1]}
modprobe igb_rs
if bind_to "$A" igb_rs && udevadm settle --timeout=10 && wait_for 10 netdev_of "$A" >/dev/null; then
	ktap_test_pass "probe"
else
	ktap_test_fail "probe"
	ktap_exit_fail_msg "igb_rs did not bind $A"
fi
IF_A=$(netdev_of "$A")
IF_B=$(netdev_of "$B")
ktap_print_msg "port A $A: $IF_A (igb_rs), port B $B: $IF_B (igb)"

# The last result of the suite in the log (the module may have been loaded before).
kunit=$(dmesg --notime | grep -E "^(not )?ok [0-9]+ igb_rs_rss$" | tail -n 1)
if [ "${kunit%% *}" = ok ]; then
	ktap_test_pass "kunit_igb_rs_rss"
elif [ -z "$kunit" ] && [ ! -d /sys/kernel/debug/kunit ]; then
	ktap_test_skip "kunit_igb_rs_rss"
else
	ktap_print_msg "igb_rs_rss: ${kunit:-no result in the kernel log}"
	ktap_test_fail "kunit_igb_rs_rss"
fi

ip netns add "$NS"
ip link set "$IF_B" netns "$NS"
ip -n "$NS" addr add "$IP_B/24" dev "$IF_B"
ip -n "$NS" link set "$IF_B" up
ip addr add "$IP_A/24" dev "$IF_A"
ip link set "$IF_A" up

if wait_for 20 carrier_up "$IF_A"; then
	ktap_test_pass "link_up"
else
	ktap_test_fail "link_up"
fi

busybox ping -c 3 -W 3 "$IP_B" >/dev/null && ktap_test_pass "ping_a_to_b" || ktap_test_fail "ping_a_to_b"
ip netns exec "$NS" busybox ping -c 3 -W 3 "$IP_A" >/dev/null &&
	ktap_test_pass "ping_b_to_a" || ktap_test_fail "ping_b_to_a"

transfer b 4194304 && ktap_test_pass "tcp_rx_mtu1500" || ktap_test_fail "tcp_rx_mtu1500"
transfer a 4194304 && ktap_test_pass "tcp_tx_mtu1500" || ktap_test_fail "tcp_tx_mtu1500"

if ip link set "$IF_A" mtu 9000 && ip -n "$NS" link set "$IF_B" mtu 9000; then
	wait_for 20 carrier_up "$IF_A"
	transfer b 4194304 && ktap_test_pass "tcp_rx_mtu9000" || ktap_test_fail "tcp_rx_mtu9000"
	transfer a 4194304 && ktap_test_pass "tcp_tx_mtu9000" || ktap_test_fail "tcp_tx_mtu9000"
else
	ktap_test_fail "tcp_rx_mtu9000"
	ktap_test_fail "tcp_tx_mtu9000"
fi

# Unbind with the interface up, rebind, traffic again.
echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind
echo "$A" >/sys/bus/pci/drivers_probe
# udev renames the new netdev: let it finish before using the name.
udevadm settle --timeout=10
if wait_for 10 netdev_of "$A" >/dev/null; then
	IF_A=$(netdev_of "$A")
	ip addr add "$IP_A/24" dev "$IF_A"
	ip link set "$IF_A" up
	wait_for 20 carrier_up "$IF_A"
	ip -n "$NS" link set "$IF_B" mtu 1500
	transfer b 1048576 && ktap_test_pass "unbind_rebind" || ktap_test_fail "unbind_rebind"
else
	ktap_test_fail "unbind_rebind"
fi

# Give port A back to nobody and port B back to the root namespace for the next tests.
echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind
echo >"/sys/bus/pci/devices/$A/driver_override"
ktap_finished
