# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the devmem selftests: KTAP output and the guest's two 82576 ports.

DEVMEM_DIR="$(dirname "$(readlink -f "$0")")"
# shellcheck source=../kselftest/ktap_helpers.sh
source "${DEVMEM_DIR}/../kselftest/ktap_helpers.sh"

# Each result line is followed by the time its case took (since the previous result, or
# since the script started), so that the suite's cost shows case by case in its log.
eval "__ktap_test_line() $(declare -f __ktap_test | tail -n +2)"
__ktap_test() {
	__ktap_test_line "$@"
	ktap_print_msg "$2: $((SECONDS - _devmem_case_start)) s"
	_devmem_case_start=$SECONDS
}
_devmem_case_start=$SECONDS

# PCI ids of the 82576 physical function as QEMU's igb model presents it.
IGB_VENDOR=0x8086
IGB_DEVICE=0x10c9

# Forks are slow in an emulated guest with a debug kernel: read sysfs with builtins.

# sysfs_read FILE: print the first line of FILE, or nothing.
sysfs_read() {
	local v=
	read -r v <"$1" 2>/dev/null
	printf '%s' "$v"
}

# igb_ports: print the PCI addresses of the 82576 functions, in bus order.
igb_ports() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(sysfs_read "$d/vendor")" = "$IGB_VENDOR" ] || continue
		[ "$(sysfs_read "$d/device")" = "$IGB_DEVICE" ] || continue
		echo "${d##*/}"
	done
}

# wait_for TIMEOUT_S CMD...: poll CMD every 100 ms until it succeeds or time runs out.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

# gone PID: process PID no longer runs.
gone() {
	! kill -0 "$1" 2>/dev/null
}

# wait_pid TIMEOUT PID: wait up to TIMEOUT seconds for background job PID and return its
# exit status; past that, kill it (SIGTERM, SIGKILL 5 s later) and return 124 (as
# timeout(1) does).
wait_pid() {
	if ! wait_for "$1" gone "$2"; then
		kill "$2" 2>/dev/null
		wait_for 5 gone "$2" || kill -KILL "$2" 2>/dev/null
		wait "$2" 2>/dev/null
		return 124
	fi
	wait "$2"
}

# dmesg_since N: kernel log lines after the first N.
dmesg_since() {
	dmesg | tail -n +"$(($1 + 1))"
}

# bind_to PCI DRIVER: bind the PCI function to DRIVER (driver_override, then a probe).
bind_to() {
	local dev=/sys/bus/pci/devices/$1
	echo "$2" >"$dev/driver_override"
	if [ -e "$dev/driver" ]; then
		echo "$1" >"$dev/driver/unbind"
	fi
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink -f "$dev/driver")")" = "$2" ]
}

# netdev_of PCI: print the name of the PCI function's net device.
netdev_of() {
	local n
	for n in /sys/bus/pci/devices/$1/net/*; do
		[ -e "$n" ] && basename "$n" && return 0
	done
	return 1
}
