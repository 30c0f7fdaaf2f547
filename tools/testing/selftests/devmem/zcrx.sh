#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# io_uring zero-copy receive (the io_uring memory provider, not devmem) on an igb_rs rx
# queue: the driver takes any memory provider, not only devmem's. Port A (igb_rs) with
# header split on and two queue pairs, RSS on queue 0 and a flow rule steering each
# connection to queue 1, where zcrx_rx (built here, raw io_uring syscalls) registers its
# zcrx interface queue; port B (the C igb driver) in its own netns sends a stream whose
# byte i is (i * 7 + 5) mod 256.
#
#   rx cases       IPv4 and IPv6, an area of host memory and one of a udmabuf: zcrx_rx
#                  receives every byte, each one checked, with no byte copied (every
#                  completion zero-copy)
#   queue 0        refused: igb_rs keeps queue 0 for non-TCP traffic (EINVAL)
#   queue held     while zcrx_rx holds queue 1, ethtool -L 1 is refused (the core's
#                  memory provider check); once it exits, the queue is given back

source "$(dirname "$(readlink -f "$0")")/lib.sh"
ZCRX="${DEVMEM_DIR}/zcrx_rx"
NS=zcrx-peer
IP_A=10.74.0.1
IP_B=10.74.0.2
IP6_A=fd74::1
IP6_B=fd74::2
OUT=/tmp/zcrx-out.$$
LOG=/tmp/zcrx-log.$$
# A port of its own per connection (both ends: the flow rule names the 4-tuple).
NEXT_PORT=5601

cleanup() {
	rm -f "$OUT" "$LOG"
	ip netns del "$NS" 2>/dev/null
	[ -n "$A" ] && echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind 2>/dev/null
	[ -n "$A" ] && echo >"/sys/bus/pci/devices/$A/driver_override" 2>/dev/null
}
trap cleanup EXIT

listening() {
	ss -Hltn "sport = :$1" | grep -q .
}

channels() {
	ethtool -L "$IF_A" combined "$1" 2>/dev/null
}

# send ADDR PORT BYTES: the peer connects from the same port number and sends the stream.
send() {
	timeout 120 ip netns exec "$NS" python3 -c '
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
peer = sys.argv[4]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.bind((peer, port))
s.connect((addr, port))
block = bytes((i * 7 + 5) & 0xff for i in range(256)) * 256
while n:
    k = min(n, len(block))
    s.sendall(block[:k])
    n -= k
s.close()' "$1" "$2" "$3" "$4"
}

# rx FAMILY BYTES [-d]: one connection of BYTES bytes to queue 1. Fails unless zcrx_rx
# exits 0, received BYTES bytes, no byte wrong, none copied, and some completions.
rx() {
	local fam=$1 bytes=$2 port=$((NEXT_PORT++)) a b pid rc line zc copied
	shift 2
	if [ "$fam" = 6 ]; then a=$IP6_A b=$IP6_B; else a=$IP_A b=$IP_B; fi
	ethtool -N "$IF_A" flow-type "tcp$fam" src-ip "$b" dst-ip "$a" src-port "$port" \
		dst-port "$port" action 1 loc 0 >/dev/null || return 1
	"$ZCRX" -i "$IF_A" -q 1 -p "$port" -s "$a" -n "$bytes" -v 5 "$@" >"$OUT" 2>"$LOG" &
	pid=$!
	if ! wait_for 60 listening "$port"; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		ktap_print_msg "zcrx_rx did not listen: $(tail -n 3 "$LOG" | tr '\n' ' ')"
		ethtool -N "$IF_A" delete 0
		return 1
	fi
	send "$a" "$port" "$bytes" "$b"
	wait_pid 60 "$pid"
	rc=$?
	ethtool -N "$IF_A" delete 0
	line=$(cat "$OUT")
	zc=$(echo "$line" | sed -n 's/.*bytes, \([0-9]*\) zero-copy completions.*/\1/p')
	copied=$(echo "$line" | sed -n 's/.* \([0-9]*\) bytes copied.*/\1/p')
	# Without the kernel's zcrx stats a completion copied into the area looks like a
	# zero-copy one: "0 bytes copied" would then say nothing.
	if [ $rc != 0 ] || [[ "$line" != "zcrx_rx: received $bytes bytes,"*", 0 errors" ]] ||
	   [ "${zc:-0}" -eq 0 ] || [ "$copied" != 0 ] || grep -q "no zcrx_stats" "$LOG"; then
		ktap_print_msg "zcrx_rx exit $rc: ${line:-no summary}; $(tail -n 3 "$LOG" | tr '\n' ' ')"
		return 1
	fi
	ktap_print_msg "$line"
}

ktap_print_header
ktap_set_plan 6

[ -x "$ZCRX" ] || ktap_exit_fail_msg "no zcrx_rx next to this script (built by devtools/build.sh)"
mapfile -t ports < <(igb_ports)
A=${ports[0]}
B=${ports[1]}
modprobe igb_rs
modprobe igb
bind_to "$A" igb_rs && bind_to "$B" igb && udevadm settle --timeout=10 &&
	wait_for 10 netdev_of "$A" >/dev/null && wait_for 10 netdev_of "$B" >/dev/null ||
	ktap_exit_fail_msg "could not bind port A to igb_rs and port B to igb"
IF_A=$(netdev_of "$A")
IF_B=$(netdev_of "$B")
ip netns add "$NS"
ip link set "$IF_B" netns "$NS"
ip -n "$NS" addr add "$IP_B/24" dev "$IF_B"
ip -n "$NS" -6 addr add "$IP6_B/64" dev "$IF_B" nodad
ip -n "$NS" link set "$IF_B" up
ip addr add "$IP_A/24" dev "$IF_A"
ip -6 addr add "$IP6_A/64" dev "$IF_A" nodad
ethtool -G "$IF_A" tcp-data-split on
ethtool -L "$IF_A" combined 2
ip link set "$IF_A" up
ethtool -X "$IF_A" equal 1
wait_for 20 sh -c "[ \"\$(cat /sys/class/net/$IF_A/carrier)\" = 1 ]" ||
	ktap_exit_fail_msg "no link on $IF_A"
ktap_print_msg "port A $A: $IF_A (igb_rs), port B $B: $IF_B (igb) in netns $NS"

rx 4 1048576 && ktap_test_pass "zcrx_rx_ipv4_host_memory" || ktap_test_fail "zcrx_rx_ipv4_host_memory"
rx 6 4194304 && ktap_test_pass "zcrx_rx_ipv6_host_memory" || ktap_test_fail "zcrx_rx_ipv6_host_memory"
rx 4 1048576 -d && ktap_test_pass "zcrx_rx_ipv4_dmabuf" || ktap_test_fail "zcrx_rx_ipv4_dmabuf"
rx 6 4194304 -d && ktap_test_pass "zcrx_rx_ipv6_dmabuf" || ktap_test_fail "zcrx_rx_ipv6_dmabuf"

# Queue 0 takes what RSS does not hash (ARP, ICMP, UDP): igb_rs refuses a provider there.
timeout 60 "$ZCRX" -i "$IF_A" -q 0 -p "$((NEXT_PORT++))" -s "$IP_A" >"$OUT" 2>"$LOG"
rc=$?
if [ $rc = 1 ] && grep -q "IORING_REGISTER_ZCRX_IFQ.*EINVAL" "$LOG"; then
	ktap_test_pass "zcrx_queue_0_refused"
else
	ktap_print_msg "exit $rc: $(tail -n 2 "$LOG" | tr '\n' ' ')"
	ktap_test_fail "zcrx_queue_0_refused"
fi

# While zcrx_rx holds queue 1, the queue cannot go away; after it exits, it can.
held_ok=0
port=$((NEXT_PORT++))
"$ZCRX" -i "$IF_A" -q 1 -p "$port" -s "$IP_A" >"$OUT" 2>"$LOG" &
pid=$!
if wait_for 60 listening "$port"; then
	if channels 1; then
		ktap_print_msg "ethtool -L combined 1 taken while queue 1 was held"
	else
		held_ok=1
	fi
else
	ktap_print_msg "zcrx_rx did not listen: $(tail -n 3 "$LOG" | tr '\n' ' ')"
fi
kill "$pid" 2>/dev/null
wait "$pid"
# The ring's teardown (and with it the provider's) runs in a worker after the exit.
if [ $held_ok = 1 ] && wait_for 30 channels 1 && channels 2; then
	ktap_test_pass "zcrx_queue_held_then_released"
else
	ktap_test_fail "zcrx_queue_held_then_released"
fi

ktap_finished
