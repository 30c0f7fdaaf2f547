#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The HW-mode environment of upstream's drivers/net selftests (see README.rst in
# tools/testing/selftests/drivers/net) on the guest's two 82576 ports: port A on igb_rs in
# the initial namespace is NETIF, port B on the C igb driver in netns "remote" is the
# remote end, each with an IPv4 and an IPv6 address. It writes net.config beside the
# installed drivers/net and drivers/net/hw programs, where their env.py reads it.
#
# Not a test: devtools/guest-check.sh runs it before upstream's programs.
# Usage: hw_env.sh KSELFTEST_INSTALL_DIR

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ksft=${1:?usage: hw_env.sh KSELFTEST_INSTALL_DIR}
NS=remote
# Not 192.0.2.0/24 nor 2001:db8::/64: hw/tso.py puts those on its tunnel devices.
IP_A=198.51.100.1 IP_B=198.51.100.2 IP6_A=2001:db8:1::1 IP6_B=2001:db8:1::2
# Routed to port A, for the netkit containers of the nk_* and userns_* programs.
PREFIX6=2001:db8:2::/64

die() {
	echo "hw_env: $*" >&2
	exit 1
}

carrier_up() {
	[ "$(sysfs_read "/sys/class/net/$1/carrier")" = 1 ]
}

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
modprobe igb_rs || die "modprobe igb_rs failed"
modprobe igb || die "modprobe igb failed"

mapfile -t ports < <(igb_ports)
[ ${#ports[@]} -ge 2 ] || die "expected two 82576 ports, found: ${ports[*]}"
ip netns del "$NS" 2>/dev/null
bind_to "${ports[0]}" igb_rs || die "igb_rs did not bind ${ports[0]}"
bind_to "${ports[1]}" igb || die "igb did not bind ${ports[1]}"
udevadm settle --timeout=10
wait_for 10 netdev_of "${ports[0]}" >/dev/null || die "${ports[0]} has no net device"
wait_for 10 netdev_of "${ports[1]}" >/dev/null || die "${ports[1]} has no net device"
if_a=$(netdev_of "${ports[0]}")
if_b=$(netdev_of "${ports[1]}")

ip netns add "$NS" || die "ip netns add $NS failed"
ip link set "$if_b" netns "$NS" || die "cannot move $if_b to $NS"
ip -n "$NS" link set lo up
# The programs take the ports down and up: their IPv6 addresses must stay, as IPv4 ones do.
sysctl -qw "net.ipv6.conf.$if_a.keep_addr_on_down=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$if_b.keep_addr_on_down=1"
ip addr add "$IP_A/24" dev "$if_a" &&
	ip -6 addr add "$IP6_A/64" dev "$if_a" nodad &&
	ip link set "$if_a" up &&
	ip -n "$NS" addr add "$IP_B/24" dev "$if_b" &&
	ip -n "$NS" -6 addr add "$IP6_B/64" dev "$if_b" nodad &&
	ip -n "$NS" link set "$if_b" up || die "cannot configure the ports"
wait_for 20 carrier_up "$if_a" || die "no link on $if_a"

for dir in "$ksft/drivers/net" "$ksft/drivers/net/hw"; do
	[ -d "$dir" ] || continue
	cat >"$dir/net.config" <<-EOF
		NETIF=$if_a
		LOCAL_V4=$IP_A
		LOCAL_V6=$IP6_A
		REMOTE_V4=$IP_B
		REMOTE_V6=$IP6_B
		REMOTE_TYPE=netns
		REMOTE_ARGS=$NS
		LOCAL_PREFIX_V6=$PREFIX6
	EOF
done
echo "hw_env: NETIF $if_a (igb_rs, ${ports[0]}), remote $if_b (igb, ${ports[1]}) in netns $NS"
