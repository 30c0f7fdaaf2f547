#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Upstream's ncdevmem (tools/testing/selftests/drivers/net/hw/ncdevmem.c, built from the
# same tree by devtools/build.sh and installed next to this script) as an independent
# client of devmem TCP on port A (igb_rs), with port B (the C igb driver) in its own netns
# as the peer, in the modes of upstream's devmem.py that the emulated NIC allows:
#
#   probe             ncdevmem -f IF: its own checks (binding no queues fails, binding
#                     with header split off fails, binding works, the bound queue cannot
#                     be deactivated with a channel change)
#   probe 16 KiB      the same with rx-page-size 16 KiB (a udmabuf of huge pages)
#   rx                1 KiB of a repeating pattern, checked by ncdevmem (-v 7)
#   rx ipv6           64 KiB of it over IPv6: ncdevmem asks for a tcp6 flow rule
#   rx hds sizes      one segment each of 1, 8, 64, 256 B, 1, 4 and 8 KiB of the pattern,
#                     checked, none of it in linear data (-L); seven sizes, not every power of two, for time: each
#                     is a bind of ncdevmem's 16,000-page udmabuf, about 40 s on the C
#                     provider under TCG
#   rx 16 KiB niovs   1 KiB to 64 KiB with rx-page-size 16 KiB, checked
#   tx, tx chunks     "hello\nworld" sent from a bind-tx udmabuf, whole and in 3-byte
#                     chunks (-z 3); the peer's socat prints it
#
# ncdevmem exits 0 on a connection that brought nothing and lets up to 20 wrong bytes
# through its check, so a receive passes here only when ncdevmem's own count of the bytes
# that arrived in its dma-buf (total_received) is what the peer sent, and it reported no
# byte wrong.
#
# Every receive runs with -c (the peer's address): the model has no n-tuple filters and
# igb_rs steers only fully specified 4-tuple rules (see igb-rs.rst), so the
# destination-only rule that upstream's HDS case falls back to is refused; with -c
# ncdevmem asks for the 4-tuple rule, and socat binds the peer's end to the same port.

source "$(dirname "$(readlink -f "$0")")/lib.sh"
NCDEVMEM="${DEVMEM_DIR}/ncdevmem"
NS=ncdevmem-peer
IP_A=10.73.0.1
IP_B=10.73.0.2
IP6_A=fd73::1
IP6_B=fd73::2
# The addresses rx() uses: IPv4 unless a case sets them (ncdevmem asks for a tcp4 or a
# tcp6 flow rule by the address family).
SERVER=$IP_A
CLIENT=$IP_B
SOCAT_TO="TCP4:$IP_A"
SOCAT_FROM=$IP_B

# ncdevmem's log (stderr) and output, what the peer sends and what it received.
LOG=/tmp/ncdevmem.$$
OUT=/tmp/ncdevmem-out.$$
SENT=/tmp/ncdevmem-sent.$$
PEER_OUT=/tmp/ncdevmem-peer.$$
# Every connection on a port of its own, taken with $((NEXT_PORT++)) in this shell: the
# flow rule of a receive names it on both ends, so socat binds it as its source port too,
# and none may meet one that an earlier case left in TIME_WAIT.
NEXT_PORT=5401

cleanup() {
	rm -f "$LOG" "$OUT" "$SENT" "$PEER_OUT"
	ip netns del "$NS" 2>/dev/null
	[ -n "$A" ] && echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind 2>/dev/null
	[ -n "$A" ] && echo >"/sys/bus/pci/devices/$A/driver_override" 2>/dev/null
}
trap cleanup EXIT

listening() {
	ss -Hltn "sport = :$1" | grep -q .
}

peer_listening() {
	ip netns exec "$NS" ss -Hltn "sport = :$1" | grep -q .
}

# rx BYTES SOCAT_OPTS DATA_CMD NCDEVMEM_ARGS...: ncdevmem listens on port A, the peer
# sends with socat the BYTES bytes that DATA_CMD prints. Fails unless the peer sent them
# all, ncdevmem exits 0, its total_received (bytes in its dma-buf) is BYTES and no byte
# failed its validation; a step that hangs is killed after a minute.
rx() {
	local bytes=$1 sopts=$2 data=$3 port=$((NEXT_PORT++)) pid rc src sent got bad
	shift 3
	bash -c "$data" >"$SENT"
	sent=$(stat -c %s "$SENT")
	if [ "$sent" != "$bytes" ]; then
		ktap_print_msg "'$data' made $sent bytes, not $bytes"
		return 1
	fi
	"$NCDEVMEM" -l -f "$IF_A" -s "$SERVER" -c "$CLIENT" -p "$port" "$@" >"$OUT" 2>"$LOG" &
	pid=$!
	if ! wait_for 60 listening "$port"; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		ktap_print_msg "ncdevmem did not listen: $(tail -n 3 "$LOG" | tr '\n' ' ')"
		return 1
	fi
	# shellcheck disable=SC2086 # sopts is a list of socat options
	timeout 60 ip netns exec "$NS" \
		socat $sopts -u - "$SOCAT_TO:$port,bind=$SOCAT_FROM:$port,reuseaddr,nodelay" <"$SENT"
	src=$?
	wait_pid 60 "$pid"
	rc=$?
	# Its count after each recvmsg and each frag, growing: the largest is the total.
	got=$(cat "$LOG" "$OUT" | grep -ao 'total_received=[0-9]*' | cut -d= -f2 | sort -n | tail -n 1)
	bad=$(cat "$LOG" "$OUT" | grep -ac 'Failed validation')
	if [ $src != 0 ] || [ $rc != 0 ] || [ "${got:-0}" != "$bytes" ] || [ "$bad" != 0 ]; then
		[ $rc != 124 ] || ktap_print_msg "ncdevmem still ran a minute after the peer: killed"
		ktap_print_msg "port $port: the peer sent $sent bytes (socat exit $src); ncdevmem" \
			"exit $rc, total_received ${got:-0}, $bad bytes failed validation:" \
			"$(tail -n 3 "$LOG" | tr '\n' ' ')"
		return 1
	fi
}

# tx NCDEVMEM_ARGS...: the peer's socat listens, ncdevmem sends "hello\nworld"; the peer
# must get exactly those 12 bytes.
tx() {
	local port=$((NEXT_PORT++)) pid rc src
	ip netns exec "$NS" socat -U - "TCP4-LISTEN:$port,reuseaddr" >"$PEER_OUT" &
	pid=$!
	if ! wait_for 20 peer_listening "$port"; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		ktap_print_msg "the peer's socat does not listen on port $port"
		return 1
	fi
	echo -e 'hello\nworld' | timeout 60 "$NCDEVMEM" -f "$IF_A" -s "$IP_B" -p "$port" "$@" \
		>"$LOG" 2>&1
	src=$?
	if [ $src != 0 ]; then
		ktap_print_msg "ncdevmem exit $src: $(tail -n 3 "$LOG" | tr '\n' ' ')"
		kill "$pid" 2>/dev/null
		wait "$pid"
		return 1
	fi
	wait_pid 30 "$pid"
	rc=$?
	if [ $rc != 0 ] || ! printf 'hello\nworld\n' | cmp -s - "$PEER_OUT"; then
		ktap_print_msg "the peer's socat exit $rc, got '$(cat "$PEER_OUT")'"
		return 1
	fi
}

PATTERN_CMD='yes $(echo -e \\x01\\x02\\x03\\x04\\x05\\x06) | head -c'

ktap_print_header
ktap_set_plan 8

[ -x "$NCDEVMEM" ] || ktap_exit_fail_msg "no ncdevmem next to this script (built by devtools/build.sh)"
command -v socat >/dev/null || ktap_exit_fail_msg "socat not found"
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
ip link set "$IF_A" up
wait_for 20 sh -c "[ \"\$(cat /sys/class/net/$IF_A/carrier)\" = 1 ]" ||
	ktap_exit_fail_msg "no link on $IF_A"
ktap_print_msg "port A $A: $IF_A (igb_rs), port B $B: $IF_B (igb) in netns $NS"

timeout 120 "$NCDEVMEM" -f "$IF_A" >"$LOG" 2>&1 && ktap_test_pass "ncdevmem_probe" ||
	{ ktap_print_msg "$(tail -n 3 "$LOG" | tr '\n' ' ')"; ktap_test_fail "ncdevmem_probe"; }
timeout 120 "$NCDEVMEM" -f "$IF_A" -b 16384 >"$LOG" 2>&1 &&
	ktap_test_pass "ncdevmem_probe_rx_page_size_16k" ||
	{ ktap_print_msg "$(tail -n 3 "$LOG" | tr '\n' ' ')"; ktap_test_fail "ncdevmem_probe_rx_page_size_16k"; }

rx 1024 "" "$PATTERN_CMD 1K" -v 7 && ktap_test_pass "ncdevmem_rx" || ktap_test_fail "ncdevmem_rx"

# Over IPv6, as upstream's devmem.py runs by default: a tcp6 flow rule.
SERVER=$IP6_A CLIENT=$IP6_B SOCAT_TO="TCP6:[$IP6_A]" SOCAT_FROM="[$IP6_B]"
rx 65536 "" "$PATTERN_CMD 64K" -v 7 && ktap_test_pass "ncdevmem_rx_ipv6" ||
	ktap_test_fail "ncdevmem_rx_ipv6"
SERVER=$IP_A CLIENT=$IP_B SOCAT_TO="TCP4:$IP_A" SOCAT_FROM=$IP_B

hds_ok=1
for size in 1 8 64 256 1024 4096 8192; do
	rx "$size" "-b $size" "$PATTERN_CMD $size" -L -v 7 ||
		{ ktap_print_msg "payload of $size bytes"; hds_ok=0; break; }
done
[ $hds_ok = 1 ] && ktap_test_pass "ncdevmem_rx_hds_sizes" || ktap_test_fail "ncdevmem_rx_hds_sizes"

niov_ok=1
for size in 1024 4096 8192 16384 32768 65536; do
	rx "$size" "" "$PATTERN_CMD $size" -v 7 -b 16384 ||
		{ ktap_print_msg "payload of $size bytes"; niov_ok=0; break; }
done
[ $niov_ok = 1 ] && ktap_test_pass "ncdevmem_rx_large_niov_16k" ||
	ktap_test_fail "ncdevmem_rx_large_niov_16k"

tx && ktap_test_pass "ncdevmem_tx" || ktap_test_fail "ncdevmem_tx"
tx -z 3 && ktap_test_pass "ncdevmem_tx_chunks" || ktap_test_fail "ncdevmem_tx_chunks"

ktap_finished
