#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Rust 82576 driver (igb_rs) on port A, the C igb driver on port B in its own network
# namespace: probe, link, ping both ways, TCP in both directions with every byte checked
# at MTU 1500 and 9000, the ethtool surface (RSS table, key and hash fields, flow steering rules, per-queue
# statistics that survive down/up) and unbind/rebind. The module's KUnit suite (igb_rs_rss,
# the RSS hash and rule table) runs when it loads; its result is read from the kernel log.

source "$(dirname "$(readlink -f "$0")")/lib.sh"
PATTERN="${DEVMEM_DIR}/tcp_pattern.py"
NS=igbrs-peer
IP_A=10.71.0.1
IP_B=10.71.0.2

carrier_up() {
	[ "$(sysfs_read "/sys/class/net/$1/carrier")" = 1 ]
}

cleanup() {
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT

# Every connection of the run goes to a port of its own and, where a case picks its
# source port, from one of its own (taken with $((NEXT_PORT++)), $((NEXT_SPORT++)) in
# this shell, not in a subshell): none meets what an earlier one left in TIME_WAIT. Both
# below the ephemeral range, so that no other socket holds them.
NEXT_PORT=20000
NEXT_SPORT=30000
# The longest a transfer may take (4 MiB take seconds under TCG); then it is killed.
XFER_TIMEOUT=120

# transfer FROM BYTES [PORT [SPORT]]: TCP from FROM (a or b) to the other side, every byte
# checked, to PORT (a new one if not given) from source port SPORT (an ephemeral one),
# both ends killed after XFER_TIMEOUT seconds.
transfer() {
	local port=${3:-$((NEXT_PORT++))} sport=${4:-} rpid src rrc
	if [ "$1" = b ]; then
		timeout "$XFER_TIMEOUT" python3 "$PATTERN" recv "$port" "$2" &
		rpid=$!
		timeout "$XFER_TIMEOUT" ip netns exec "$NS" \
			python3 "$PATTERN" send "$IP_A" "$port" "$2" ${sport:+--sport "$sport"}
	else
		timeout "$XFER_TIMEOUT" ip netns exec "$NS" python3 "$PATTERN" recv "$port" "$2" &
		rpid=$!
		timeout "$XFER_TIMEOUT" python3 "$PATTERN" send "$IP_B" "$port" "$2" ${sport:+--sport "$sport"}
	fi
	src=$?
	[ $src = 0 ] || kill $rpid 2>/dev/null
	wait $rpid
	rrc=$?
	if [ $src = 124 ] || [ $rrc = 124 ]; then
		ktap_print_msg "transfer of $2 bytes from $1 to port $port: timed out after $XFER_TIMEOUT s"
	fi
	[ $src = 0 ] && [ $rrc = 0 ]
}

# indir IF: the entries of the RSS redirection table, one per line.
indir() {
	ethtool -x "$1" | awk '/^ *[0-9]+:/ { for (i = 2; i <= NF; i++) print $i }'
}

# indir_counts IF: how many entries point at each queue, as "queue:count ...".
indir_counts() {
	indir "$1" | sort -n | uniq -c | awk '{ printf "%s%s:%s", sep, $2, $1; sep = " " }'
}

# counter IF NAME: the value of ethtool -S counter NAME.
counter() {
	ethtool -S "$1" | awk -v n="$2:" '$1 == n { print $2 }'
}

# stat_sum IF REGEX: the sum of the ethtool -S counters whose names match REGEX.
stat_sum() {
	ethtool -S "$1" | awk -v re="^($2):$" '$1 ~ re { s += $2 } END { print s + 0 }'
}

# steer Q: a rule sends a flow from B to queue Q of A, whose packets must land there (and
# not on the other queue) while RSS would spread it anywhere.
steer() {
	local q=$1 other=$((1 - $1)) port=$((NEXT_PORT++)) sport=$((NEXT_SPORT++))
	local before_q before_o got_q got_o
	ethtool -N "$IF_A" flow-type tcp4 src-ip "$IP_B" dst-ip "$IP_A" \
		src-port "$sport" dst-port "$port" action "$q" loc 0 || return 1
	ethtool -n "$IF_A" rule 0 | grep -q "Action: Direct to queue $q" ||
		{ ktap_print_msg "ethtool -n does not show rule 0 to queue $q"; return 1; }
	# The rule's entry now points at the queue: one entry more at most.
	case " $(indir_counts "$IF_A") " in
	*" $q:64 "* | *" $q:65 "*) ;;
	*) ktap_print_msg "table after the rule: $(indir_counts "$IF_A")"; return 1 ;;
	esac
	before_q=$(counter "$IF_A" "rx${q}_packets")
	before_o=$(counter "$IF_A" "rx${other}_packets")
	transfer b 2097152 "$port" "$sport" || return 1
	got_q=$(($(counter "$IF_A" "rx${q}_packets") - before_q))
	got_o=$(($(counter "$IF_A" "rx${other}_packets") - before_o))
	ktap_print_msg "rule to queue $q: rx$q +$got_q packets, rx$other +$got_o"
	ethtool -N "$IF_A" delete 0 || return 1
	[ "$got_q" -ge 100 ] && [ $((got_o * 10)) -lt "$got_q" ]
}

# channels IF: the maximum and the current number of combined channels (ethtool -l).
channels() {
	ethtool -l "$1" | awk '/^Combined:/ { printf "%s%s", sep, $2; sep = " " }'
}

# qstats_rx IF: the device's rx packets as the netdev family's qstats-get reports them
# (the queues in use plus the driver's base).
qstats_rx() {
	python3 - "$1" "$DEVMEM_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from ynl_env import SPEC
from lib import YnlFamily
ynl = YnlFamily(SPEC)
with open(f"/sys/class/net/{sys.argv[1]}/ifindex") as f:
    ifi = int(f.read())
print(sum(r.get("rx-packets", 0) for r in ynl.dump("qstats-get", {"ifindex": ifi})))
EOF
}

# refused ERRNO ARGS...: ethtool ARGS fails with ERRNO from the kernel (its text, as
# ethtool prints it), not for another reason (a usage error of ethtool's own, say).
refused() {
	local errno=$1 text out
	shift
	case "$errno" in
	EINVAL) text="Invalid argument" ;;
	EOPNOTSUPP) text="Operation not supported" ;;
	EBUSY) text="Device or resource busy" ;;
	ERANGE) text="Numerical result out of range" ;;
	*) ktap_print_msg "refused: no text for $errno"; return 1 ;;
	esac
	if out=$(ethtool "$@" 2>&1); then
		ktap_print_msg "accepted: ethtool $*"
		return 1
	fi
	case "$out" in
	*"$text"*) ;;
	*)
		ktap_print_msg "ethtool $*: not $errno: $(echo "$out" | tr '\n' ' ')"
		return 1
		;;
	esac
}

# ethnl_refused ERRNO OP ATTRS: the ethtool netlink family's request OP with ATTRS (JSON)
# fails with ERRNO, for what this machine's ethtool command cannot ask.
ethnl_refused() {
	python3 - "$DEVMEM_DIR" "$@" <<'PY'
import errno, json, os, sys
sys.path.insert(0, sys.argv[1])
import ynl_env
from lib import NlError, YnlFamily
want, op, attrs = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
try:
    YnlFamily(os.path.join(ynl_env.SPEC_DIR, "ethtool.yaml")).do(op, attrs)
except NlError as e:
    got = -e.nl_msg.error
    ack = (e.nl_msg.extack or {}).get("msg")
    if got != getattr(errno, want):
        got = errno.errorcode.get(got, str(got))
        print(f"# {op} {sys.argv[4]}: {got} ({ack!r}), want {want}")
        sys.exit(1)
    sys.exit(0)
print(f"# accepted: {op} {sys.argv[4]}")
sys.exit(1)
PY
}

ktap_print_header
ktap_set_plan 44

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

# The module's KUnit suites ran when it was loaded: the last result of each in the log
# (the module may have been loaded before).
for suite in igb_rs_rss igb_rs_txdesc; do
	kunit=$(dmesg --notime | grep -E "^(not )?ok [0-9]+ $suite$" | tail -n 1)
	if [ "${kunit%% *}" = ok ]; then
		ktap_test_pass "kunit_$suite"
	elif [ -z "$kunit" ] && [ ! -d /sys/kernel/debug/kunit ]; then
		ktap_test_skip "kunit_$suite"
	else
		ktap_print_msg "$suite: ${kunit:-no result in the kernel log}"
		ktap_test_fail "kunit_$suite"
	fi
done

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

if ip link set "$IF_A" mtu 9000 && ip -n "$NS" link set "$IF_B" mtu 9000 &&
   wait_for 20 carrier_up "$IF_A"; then
	transfer b 4194304 && ktap_test_pass "tcp_rx_mtu9000" || ktap_test_fail "tcp_rx_mtu9000"
	transfer a 4194304 && ktap_test_pass "tcp_tx_mtu9000" || ktap_test_fail "tcp_tx_mtu9000"
else
	ktap_test_fail "tcp_rx_mtu9000"
	ktap_test_fail "tcp_tx_mtu9000"
fi

# RSS: the redirection table and the key.
if [ "$(indir "$IF_A" | wc -l)" -eq 128 ] && ethtool -x "$IF_A" | grep -q "toeplitz: on"; then
	ktap_test_pass "ethtool_x_128_entries"
else
	ktap_print_msg "ethtool -x: $(indir "$IF_A" | wc -l) entries"
	ktap_test_fail "ethtool_x_128_entries"
fi

if ethtool -X "$IF_A" weight 1 0 && [ "$(indir_counts "$IF_A")" = "0:128" ] &&
   ethtool -X "$IF_A" weight 0 1 && [ "$(indir_counts "$IF_A")" = "1:128" ] &&
   ethtool -X "$IF_A" weight 3 1 && [ "$(indir_counts "$IF_A")" = "0:96 1:32" ] &&
   ethtool -X "$IF_A" equal 2 && [ "$(indir_counts "$IF_A")" = "0:64 1:64" ]; then
	ktap_test_pass "ethtool_X_equal_weight"
else
	ktap_print_msg "table: $(indir_counts "$IF_A")"
	ktap_test_fail "ethtool_X_equal_weight"
fi

# Queue 2 does not exist; nor does another hash function. The table stays as it was.
if refused EINVAL -X "$IF_A" equal 3 && refused EINVAL -X "$IF_A" weight 1 1 1 &&
   refused EOPNOTSUPP -X "$IF_A" hfunc xor && [ "$(indir_counts "$IF_A")" = "0:64 1:64" ]; then
	ktap_test_pass "ethtool_X_refused"
else
	ktap_test_fail "ethtool_X_refused"
fi

KEY=6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa
if ethtool -X "$IF_A" hkey "$KEY" && ethtool -x "$IF_A" | grep -q "^$KEY" &&
   transfer b 1048576; then
	ktap_test_pass "ethtool_X_hkey"
else
	ktap_test_fail "ethtool_X_hkey"
fi

# Flow steering: a rule per queue, each flow lands where its rule says.
if steer 0 && steer 1 && [ "$(indir_counts "$IF_A")" = "0:64 1:64" ]; then
	ktap_test_pass "ethtool_N_steers_flow"
else
	ethtool -N "$IF_A" delete 0 2>/dev/null
	ktap_test_fail "ethtool_N_steers_flow"
fi

# Only whole TCP 4-tuples to an existing queue.
TUPLE="src-ip $IP_B dst-ip $IP_A src-port 40000 dst-port 7000"
# shellcheck disable=SC2086 # TUPLE is a list of arguments
if refused EOPNOTSUPP -N "$IF_A" flow-type tcp4 dst-port 7000 action 1 &&
   refused EOPNOTSUPP -N "$IF_A" flow-type tcp4 src-ip "$IP_B" dst-ip "$IP_A" action 1 &&
   refused EOPNOTSUPP -N "$IF_A" flow-type tcp4 $TUPLE m 0xff action 1 &&
   refused EOPNOTSUPP -N "$IF_A" flow-type udp4 $TUPLE action 1 &&
   refused EINVAL -N "$IF_A" flow-type tcp4 $TUPLE action 2 &&
   refused EOPNOTSUPP -N "$IF_A" flow-type tcp4 $TUPLE action -1 &&
   refused EINVAL -N "$IF_A" flow-type tcp4 $TUPLE action 1 loc 16 &&
   ethtool -n "$IF_A" | grep -q "Total 0 rules"; then
	ktap_test_pass "ethtool_N_refused"
else
	ktap_test_fail "ethtool_N_refused"
fi

# rx-flow-hash: TCP over IPv4 and IPv6 is hashed over addresses and ports, UDP by default
# not at all (the model sends what it does not hash to queue 0), nothing else ever.
hash_fields() {
	ethtool -n "$IF_A" rx-flow-hash "$1" |
		grep -cE "^(IP SA|IP DA|L4 bytes 0 & 1 .*|L4 bytes 2 & 3 .*)$"
}
unhashed() {
	ethtool -n "$IF_A" rx-flow-hash "$1" | grep -qx "None"
}
if [ "$(hash_fields tcp4)" = 4 ] && [ "$(hash_fields tcp6)" = 4 ] &&
   unhashed udp4 && unhashed udp6 && unhashed sctp4; then
	ktap_test_pass "ethtool_n_rx_flow_hash"
else
	ktap_print_msg "tcp4: $(ethtool -n "$IF_A" rx-flow-hash tcp4 2>&1 | tr '\n' ' ')"
	ktap_test_fail "ethtool_n_rx_flow_hash"
fi
# What the model cannot hash is refused and changes nothing: TCP over anything but its
# 4-tuple, UDP over the addresses alone (only the catch-all for IP packets, ICMP and
# fragments too, would do it), SCTP at all.
if refused EINVAL -N "$IF_A" rx-flow-hash tcp4 sd && refused EINVAL -N "$IF_A" rx-flow-hash tcp6 s &&
   refused EINVAL -N "$IF_A" rx-flow-hash udp4 sd && refused EINVAL -N "$IF_A" rx-flow-hash sctp4 sdfn &&
   ethtool -N "$IF_A" rx-flow-hash tcp4 sdfn &&
   [ "$(hash_fields tcp4)" = 4 ] && [ "$(hash_fields tcp6)" = 4 ] && unhashed udp4 &&
   unhashed sctp4; then
	ktap_test_pass "ethtool_N_rx_flow_hash_refused"
else
	ktap_test_fail "ethtool_N_rx_flow_hash_refused"
fi
# UDP hashed over its 4-tuple on request, per IP version, and back to none.
if ethtool -N "$IF_A" rx-flow-hash udp4 sdfn && [ "$(hash_fields udp4)" = 4 ] && unhashed udp6 &&
   ethtool -N "$IF_A" rx-flow-hash udp6 sdfn && [ "$(hash_fields udp6)" = 4 ] &&
   ethtool -N "$IF_A" rx-flow-hash udp4 "" && unhashed udp4 && [ "$(hash_fields udp6)" = 4 ] &&
   ethtool -N "$IF_A" rx-flow-hash udp6 "" && unhashed udp6; then
	ktap_test_pass "ethtool_N_rx_flow_hash_udp"
else
	ktap_print_msg "udp4: $(ethtool -n "$IF_A" rx-flow-hash udp4 2>&1 | tr '\n' ' ')"
	ktap_test_fail "ethtool_N_rx_flow_hash_udp"
	ethtool -N "$IF_A" rx-flow-hash udp4 ""
	ethtool -N "$IF_A" rx-flow-hash udp6 ""
fi
# And the NIC does it: 64 datagrams from as many source ports all land on queue 0 while UDP
# is not hashed, and while it is, spread as the Toeplitz hash of their 4-tuples under $KEY
# and the table (0 and 1, alternate entries) say: 32 on each. Queue 1 may see a stray TCP
# segment of an earlier transfer, not 8.
udp_spread() {
	ip netns exec "$NS" python3 -c '
import socket, sys
for sport in range(30000, 30064):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], sport))
    s.sendto(b"x" * 32, (sys.argv[2], 9))
    s.close()
' "$IP_B" "$IP_A"
}
udp_on_queue() {
	local q0 q1
	q0=$(counter "$IF_A" rx0_packets) q1=$(counter "$IF_A" rx1_packets)
	udp_spread || return 1
	sleep 1
	echo "$(($(counter "$IF_A" rx0_packets) - q0)) $(($(counter "$IF_A" rx1_packets) - q1))"
}
read -r off0 off1 < <(udp_on_queue)
ethtool -N "$IF_A" rx-flow-hash udp4 sdfn
read -r on0 on1 < <(udp_on_queue)
ethtool -N "$IF_A" rx-flow-hash udp4 ""
ktap_print_msg "64 datagrams: unhashed, queue 0 +${off0:-?} queue 1 +${off1:-?}; hashed, +${on0:-?} and +${on1:-?}"
if [ "${off0:-0}" -ge 64 ] && [ "${off1:-8}" -lt 8 ] && [ "${on0:-0}" -ge 32 ] &&
   [ "${on1:-0}" -ge 32 ] && [ "${on1:-40}" -lt 40 ] && unhashed udp4; then
	ktap_test_pass "udp_rss_spreads_when_hashed"
else
	ktap_test_fail "udp_rss_spreads_when_hashed"
fi

# ethtool -S: every per-queue counter is there, and traffic moves them.
names_ok=1
for q in 0 1; do
	for n in rx${q}_packets rx${q}_bytes rx${q}_dropped rx${q}_alloc_fail rx${q}_starved \
		 rx${q}_polls rx${q}_csum_unnecessary tx${q}_packets tx${q}_bytes tx${q}_dropped tx${q}_stop \
		 rx${q}_csum_err tx${q}_wake tx${q}_csum_offload tx${q}_tso tx${q}_csum_sw; do
		[ -n "$(counter "$IF_A" "$n")" ] || { ktap_print_msg "no counter $n"; names_ok=0; }
	done
done
rx_before=$(stat_sum "$IF_A" "rx[0-9]+_packets")
tx_before=$(stat_sum "$IF_A" "tx[0-9]+_packets")
rxb_before=$(stat_sum "$IF_A" "rx[0-9]+_bytes")
txb_before=$(stat_sum "$IF_A" "tx[0-9]+_bytes")
polls_before=$(stat_sum "$IF_A" "rx[0-9]+_polls")
# A TSO packet counts once, with all its bytes: tx packets grow by far less than the
# segments on the wire.
if [ $names_ok = 1 ] && transfer b 1048576 && transfer a 1048576 &&
   [ "$(stat_sum "$IF_A" "rx[0-9]+_packets")" -ge $((rx_before + 100)) ] &&
   [ "$(stat_sum "$IF_A" "tx[0-9]+_packets")" -ge $((tx_before + 10)) ] &&
   [ "$(stat_sum "$IF_A" "rx[0-9]+_bytes")" -ge $((rxb_before + 1048576)) ] &&
   [ "$(stat_sum "$IF_A" "tx[0-9]+_bytes")" -ge $((txb_before + 1048576)) ] &&
   [ "$(stat_sum "$IF_A" "rx[0-9]+_polls")" -gt "$polls_before" ]; then
	ktap_test_pass "ethtool_S_counters"
else
	ktap_print_msg "rx +$(($(stat_sum "$IF_A" "rx[0-9]+_packets") - rx_before)) packets, tx +$(($(stat_sum "$IF_A" "tx[0-9]+_packets") - tx_before)) packets, +$(($(stat_sum "$IF_A" "rx[0-9]+_polls") - polls_before)) polls"
	ktap_test_fail "ethtool_S_counters"
fi

# Tx offloads: scatter-gather, TCP/UDP checksums over IPv4 and IPv6, TSO and TSO6, all
# on after probe, as is rx checksumming.
feat_ok=1
for f in scatter-gather tx-checksum-ipv4 tx-checksum-ipv6 tx-tcp-segmentation \
	 tx-tcp6-segmentation rx-checksumming receive-hashing; do
	v=$(ethtool -k "$IF_A" | awk -v n="$f:" '$1 == n { print $2 }')
	[ "$v" = on ] || { ktap_print_msg "$f: ${v:-missing}"; feat_ok=0; }
done
[ $feat_ok = 1 ] && ktap_test_pass "ethtool_k_offloads_on" || ktap_test_fail "ethtool_k_offloads_on"

# A bulk transfer from A goes out as TSO packets of several segments each, the checksums
# left to the NIC; the peer checks every byte (and its stack every checksum).
tso_before=$(stat_sum "$IF_A" "tx[0-9]+_tso")
txp_before=$(stat_sum "$IF_A" "tx[0-9]+_packets")
segs_before=$(ip -n "$NS" -s link show "$IF_B" | awk '/RX:/ { getline; print $2 }')
if transfer a 4194304; then
	tso=$(($(stat_sum "$IF_A" "tx[0-9]+_tso") - tso_before))
	txp=$(($(stat_sum "$IF_A" "tx[0-9]+_packets") - txp_before))
	segs=$(($(ip -n "$NS" -s link show "$IF_B" | awk '/RX:/ { getline; print $2 }') - segs_before))
	mtu=$(cat "/sys/class/net/$IF_A/mtu")
	ktap_print_msg "4 MiB from A at MTU $mtu: $txp packets sent, $tso of them TSO; the peer received $segs frames"
	# 4 MiB are at least 4194304 / (MTU - 40) segments: fewer packets than that were sent.
	[ "$tso" -gt 0 ] && [ "$segs" -ge $((4194304 / (mtu - 40))) ] && [ "$txp" -lt "$segs" ] &&
		ktap_test_pass "tcp_tx_tso" || ktap_test_fail "tcp_tx_tso"
else
	ktap_test_fail "tcp_tx_tso"
fi

# UDP datagrams from A with the checksum left to the NIC: every one reaches the peer's
# socket (a wrong checksum would be dropped there and counted as InCsumErrors). Datagram i
# carries the next 100 + 5i bytes of tcp_pattern.py's stream, keyed by the sender's port.
peer_udp_bound() {
	ip netns exec "$NS" ss -Hlun "sport = :$1" | grep -q .
}
udp_csum() {
	local port=$((NEXT_PORT++)) before got errs_before errs rpid src rrc off
	errs_before=$(ip netns exec "$NS" awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $8 }' /proc/net/snmp)
	before=$(stat_sum "$IF_A" "tx[0-9]+_csum_offload")
	timeout 60 ip netns exec "$NS" python3 -c '
import socket, sys
sys.path.insert(0, sys.argv[2])
from tcp_pattern import expected
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(10)
ok = off = 0
try:
    for i in range(200):
        d, src = s.recvfrom(2048)
        ok += d == expected(off, 100 + i * 5, src[1])
        off += 100 + i * 5
except socket.timeout:
    pass
print(ok)' "$port" "$DEVMEM_DIR" >"/tmp/igb_rs_udp.$$" &
	rpid=$!
	if ! wait_for 20 peer_udp_bound "$port"; then
		ktap_print_msg "the peer does not listen on UDP port $port"
		kill $rpid
		return 1
	fi
	timeout 60 python3 -c '
import socket, sys, time
sys.path.insert(0, sys.argv[3])
from tcp_pattern import expected
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
key = s.getsockname()[1]
off = 0
for i in range(200):
    s.sendto(expected(off, 100 + i * 5, key), (sys.argv[1], int(sys.argv[2])))
    off += 100 + i * 5
    time.sleep(0.002)' "$IP_B" "$port" "$DEVMEM_DIR"
	src=$?
	wait $rpid
	rrc=$?
	got=$(cat "/tmp/igb_rs_udp.$$"); rm -f "/tmp/igb_rs_udp.$$"
	errs=$(ip netns exec "$NS" awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $8 }' /proc/net/snmp)
	off=$(($(stat_sum "$IF_A" "tx[0-9]+_csum_offload") - before))
	ktap_print_msg "UDP: $got of 200 datagrams received intact, $off checksums offloaded, InCsumErrors +$((errs - errs_before)); sender exit $src, receiver exit $rrc"
	[ $src = 0 ] && [ $rrc = 0 ] && [ "$got" = 200 ] && [ "$off" -ge 200 ] && [ "$errs" = "$errs_before" ]
}
udp_csum && ktap_test_pass "udp_tx_csum_offload" || ktap_test_fail "udp_tx_csum_offload"

# With the offloads off (ethtool -K) the stack segments and checksums itself: the same
# transfer, and the offload counters do not move. Then back on.
tx_offloads_off() {
	local tso csum ok=0
	ethtool -K "$IF_A" tso off sg off tx off >/dev/null || return 1
	tso=$(stat_sum "$IF_A" "tx[0-9]+_tso")
	csum=$(stat_sum "$IF_A" "tx[0-9]+_csum_offload")
	transfer a 1048576 && [ "$(stat_sum "$IF_A" "tx[0-9]+_tso")" = "$tso" ] &&
		[ "$(stat_sum "$IF_A" "tx[0-9]+_csum_offload")" = "$csum" ] && ok=1
	ethtool -K "$IF_A" tso on sg on tx on >/dev/null || return 1
	[ $ok = 1 ] && transfer a 1048576 && [ "$(stat_sum "$IF_A" "tx[0-9]+_tso")" -gt "$tso" ]
}
tx_offloads_off && ktap_test_pass "ethtool_K_tx_offloads_off" || ktap_test_fail "ethtool_K_tx_offloads_off"

# tcp-data-split off: every rx queue restarts in one-buffer mode, frames land whole in
# page-pool pages, after the headroom of the skb the driver builds on a frame's first
# buffer (a jumbo frame's others are its frags): at MTU 9000, where the tests above left
# it, and 1500; then on again.
split_of() {
	ethtool -g "$1" | awk -F: '/^TCP data split/ { gsub(/[ \t]/, "", $2); print $2 }'
}
split_off_on() {
	local mtu csum drops
	mtu=$(cat "/sys/class/net/$IF_A/mtu")
	[ "$mtu" = 9000 ] || { ktap_print_msg "MTU $mtu, not 9000: no frame would span buffers"; return 1; }
	ethtool -G "$IF_A" tcp-data-split off || return 1
	[ "$(split_of "$IF_A")" = off ] || { ktap_print_msg "split after off: $(split_of "$IF_A")"; return 1; }
	wait_for 20 carrier_up "$IF_A" || return 1
	csum=$(stat_sum "$IF_A" "rx[0-9]+_csum_unnecessary")
	drops=$(stat_sum "$IF_A" "rx[0-9]+_dropped")
	transfer b 4194304 || { ktap_print_msg "transfer at MTU $mtu without split failed"; return 1; }
	ip link set "$IF_A" mtu 1500 && ip -n "$NS" link set "$IF_B" mtu 1500 &&
		wait_for 20 carrier_up "$IF_A" || return 1
	transfer b 4194304 || { ktap_print_msg "transfer at MTU 1500 without split failed"; return 1; }
	ip link set "$IF_A" mtu "$mtu" && ip -n "$NS" link set "$IF_B" mtu "$mtu" &&
		wait_for 20 carrier_up "$IF_A" || return 1
	busybox ping -c 2 -W 3 "$IP_B" >/dev/null || return 1
	[ "$(stat_sum "$IF_A" "rx[0-9]+_csum_unnecessary")" -gt "$csum" ] || return 1
	# TCP would resend what the driver dropped: none may have been.
	[ "$(stat_sum "$IF_A" "rx[0-9]+_dropped")" = "$drops" ] ||
		{ ktap_print_msg "frames dropped without split: $drops, then $(stat_sum "$IF_A" "rx[0-9]+_dropped")"; return 1; }
	ethtool -G "$IF_A" tcp-data-split on || return 1
	[ "$(split_of "$IF_A")" = on ] || return 1
	wait_for 20 carrier_up "$IF_A" && transfer b 1048576
}
split_off_on && ktap_test_pass "ethtool_G_tcp_data_split_off_on" ||
	ktap_test_fail "ethtool_G_tcp_data_split_off_on"

# The pages of port A's new rx rings, before traffic (page-pool-get "inflight": every
# page a pool took from the page allocator and has not given back, its cache's too):
# without header split each queue's header pool holds no page (a ring of whole frames
# posts no header buffer); with it, the header buffers are frags, six to a page, so a
# header pool holds the pages its ring's frags fill and at most one refill (64 pages)
# more, where a payload pool holds one page per descriptor (a header pool did too
# before). After traffic a header pool holds more: skbs are built on the frags and keep
# their pages until they are freed. Then a transfer.
pool_pages() {
	python3 - "$IF_A" "$DEVMEM_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from ynl_env import SPEC
from lib import YnlFamily
with open(f"/sys/class/net/{sys.argv[1]}/ifindex") as f:
    ifi = int(f.read())
live = [p.get("inflight", 0) for p in YnlFamily(SPEC).dump("page-pool-get", {})
        if p.get("ifindex") == ifi and "detach-time" not in p]
print(" ".join(str(n) for n in sorted(live)))
EOF
}
# pages_ok Q N PAGES off|on
pages_ok() {
	python3 -c 'import sys
q, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4]
p = [int(x) for x in sys.argv[3].split()]
hdr, pkt = p[:q], p[q:]
ok = len(p) == 2 * q and min(pkt) >= n - 1
ok = ok and (hdr == [0] * q if mode == "off" else 0 < min(hdr) and max(hdr) <= -(-(n - 1) // 6) + 64)
sys.exit(0 if ok else 1)' "$@"
}
rx_buffer_pages() {
	local q n pages rc=0
	q=$(ls -d "/sys/class/net/$IF_A/queues/rx-"* | wc -l)
	n=$(ethtool -g "$IF_A" | awk '/^Current/ { c = 1 } c && /^RX:/ { print $2; exit }')
	ethtool -G "$IF_A" tcp-data-split off && wait_for 20 carrier_up "$IF_A" || rc=1
	pages=$(pool_pages) || rc=1
	ktap_print_msg "$q queues, $n descriptors; pages per pool, split off: $pages"
	[ $rc = 0 ] && pages_ok "$q" "$n" "$pages" off || rc=1
	# On again whatever happened: the cases after this one need it.
	ethtool -G "$IF_A" tcp-data-split on && wait_for 20 carrier_up "$IF_A" || return 1
	[ $rc = 0 ] || return 1
	pages=$(pool_pages) || return 1
	ktap_print_msg "pages per pool, split on: $pages"
	pages_ok "$q" "$n" "$pages" on && transfer b 1048576
}
rx_buffer_pages && ktap_test_pass "rx_header_buffers_shared_or_none" ||
	ktap_test_fail "rx_header_buffers_shared_or_none"

# The rx rings' pools are linked to their queue pair's NAPI context: a buffer freed in
# the poll's softirq (a head GRO merged into another skb, an skb TCP coalesced) goes
# straight back into its pool's cache, not through the pool's ring (page-pool-stats-get
# "recycle-cached"; the driver itself recycles nothing that way unless it drops a frame,
# and a transfer with every byte checked drops none). Counted per pool alive in both
# readings (a pool destroyed meanwhile takes its counters with it). With header split on
# and off, page-pool-get must show each pool linked to its queue's NAPI id; the count
# must grow with split on, where a header page comes back when the last skb head carved
# from it is freed, which happens in the poll's softirq when GRO merges a segment or the
# skbs TCP deferred to this CPU are freed while the context is scheduled (37 to 1300 per
# 4 MiB in four trials: 16 MiB are sent), and is only reported with split off, where GRO
# keeps a merged frame's page as a frag (5 to 1400 per 4 MiB in the same trials).
pp_cached() {
	python3 - "$IF_A" "$DEVMEM_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from ynl_env import SPEC
from lib import YnlFamily
with open(f"/sys/class/net/{sys.argv[1]}/ifindex") as f:
    ifi = int(f.read())
print(" ".join(f'{r["info"]["id"]}={r.get("recycle-cached", 0)}'
               for r in YnlFamily(SPEC).dump("page-pool-stats-get", {})
               if r.get("info", {}).get("ifindex") == ifi))
EOF
}
# pools_linked: every live pool of port A reports the NAPI id of an rx queue of A
# (page-pool-get "napi-id", there only while the pool is linked), two pools per queue.
pools_linked() {
	python3 - "$IF_A" "$DEVMEM_DIR" <<'EOF'
import collections, sys
sys.path.insert(0, sys.argv[2])
from ynl_env import SPEC
from lib import YnlFamily
with open(f"/sys/class/net/{sys.argv[1]}/ifindex") as f:
    ifi = int(f.read())
ynl = YnlFamily(SPEC)
napis = {q["napi-id"] for q in ynl.dump("queue-get", {"ifindex": ifi})
         if q.get("type") == "rx" and "napi-id" in q}
per = collections.Counter(p.get("napi-id") for p in ynl.dump("page-pool-get", {})
                          if p.get("ifindex") == ifi and "detach-time" not in p)
print(dict(per), sorted(napis))
sys.exit(0 if napis and set(per) == napis and set(per.values()) == {2} else 1)
EOF
}
# cached_delta BEFORE AFTER: the growth of "recycle-cached" summed over the pools in both
cached_delta() {
	python3 -c 'import sys
b, a = (dict(x.split("=") for x in s.split()) for s in sys.argv[1:3])
print(sum(int(a[k]) - int(b[k]) for k in a if k in b))' "$1" "$2"
}
recycle_with_split() {
	local before after n
	ethtool -G "$IF_A" tcp-data-split "$1" && wait_for 20 carrier_up "$IF_A" || return 1
	n=$(pools_linked) || { ktap_print_msg "split $1: pools per NAPI id, NAPI ids: $n"; return 1; }
	before=$(pp_cached) || return 1
	transfer b 16777216 || return 1
	after=$(pp_cached) || return 1
	n=$(cached_delta "$before" "$after") || return 1
	ktap_print_msg "split $1: $n buffers recycled into a pool's cache during 16 MiB to A"
	[ "$1" = off ] || [ "$n" -gt 0 ]
}
recycle_in_napi() {
	local rc=0
	recycle_with_split on && recycle_with_split off || rc=1
	# On again whatever happened: the cases after this one need it.
	ethtool -G "$IF_A" tcp-data-split on && wait_for 20 carrier_up "$IF_A" || return 1
	return $rc
}
recycle_in_napi && ktap_test_pass "rx_pools_recycle_in_napi" ||
	ktap_test_fail "rx_pools_recycle_in_napi"

# Ring sizes: rings of the sizes asked for carry traffic both ways, and the device is back
# at 256 after. Sizes out of 64..4096, or not a multiple of 8, and a non-zero hds-thresh
# (asked over netlink: ethtool 6.14 has no hds-thresh) are refused and change nothing.
rings_of() {
	ethtool -g "$1" | awk '/^Current hardware settings/ { cur = 1 }
		cur && /^(RX|TX):/ { printf "%s ", $2 }'
}
ring_sizes() {
	ethtool -G "$IF_A" rx 128 tx 512 || return 1
	[ "$(rings_of "$IF_A")" = "128 512 " ] ||
		{ ktap_print_msg "rings after -G rx 128 tx 512: $(rings_of "$IF_A")"; return 1; }
	wait_for 20 carrier_up "$IF_A" && transfer b 1048576 && transfer a 1048576 || return 1
	ethtool -G "$IF_A" rx 256 tx 256 || return 1
	[ "$(rings_of "$IF_A")" = "256 256 " ] && wait_for 20 carrier_up "$IF_A"
}
ring_sizes && ktap_test_pass "ethtool_G_ring_sizes" || ktap_test_fail "ethtool_G_ring_sizes"
if refused EINVAL -G "$IF_A" rx 32 && refused EINVAL -G "$IF_A" tx 100 && refused EINVAL -G "$IF_A" rx 8192 &&
   ethnl_refused EINVAL rings-set "{\"header\": {\"dev-name\": \"$IF_A\"}, \"hds-thresh\": 128}" &&
   [ "$(rings_of "$IF_A")" = "256 256 " ] &&
   [ "$(split_of "$IF_A")" = on ]; then
	ktap_test_pass "ethtool_G_refused"
else
	ktap_test_fail "ethtool_G_refused"
fi

# Malformed frames from the wire, sent raw from the peer (AF_PACKET): UDP and TCP over
# IPv4 with wrong checksums (the NIC flags them, the driver counts them in
# rx<q>_csum_err and leaves the verdict to the stack, which counts InCsumErrors), bare
# Ethernet headers (17 bytes after the C driver's padding: the NIC pads them and counts
# rx_undersize) and, sent on their own, frames over the 9018 bytes RLPML allows: the
# peer sends them, nothing of their size arrives (the model drops them; it does not count
# them in ROC, so rx_oversize stays as it was). Nothing of them reaches a socket; the
# link carries traffic after.
send_malformed() {
	ip netns exec "$NS" python3 - "$1" "$IF_B" "$(cat "/sys/class/net/$IF_A/address")" \
		"$IP_B" "$IP_A" <<'PYEOF'
import socket
import struct
import sys

what, ifname, dst_mac, src_ip, dst_ip = sys.argv[1:6]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
eth = bytes.fromhex(dst_mac.replace(":", "")) + src + b"\x08\x00"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


def ipv4(proto, l4):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                    socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + l4


def pseudo(proto, n):
    return socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, proto, n)


for i in range(10 if what == "bad" else 0):
    data = bytes(range(64))
    udp = struct.pack("!HHHH", 40000 + i, 9, 8 + len(data), 0) + data
    good = csum(pseudo(17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", good ^ 0x5A5A) + udp[8:]
    s.send(eth + ipv4(17, udp))
    tcp = struct.pack("!HHIIBBHHH", 41000 + i, 9, 1000 + i, 0, 5 << 4, 0x02, 65535, 0, 0)
    good = csum(pseudo(6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", good ^ 0x5A5A) + tcp[18:]
    s.send(eth + ipv4(6, tcp))
    s.send(eth)
for i in range(5 if what == "oversize" else 0):
    s.send(eth + ipv4(17, struct.pack("!HHHH", 42000, 9, 8 + 9100, 0) + bytes(9100)))
PYEOF
}
snmp() {
	awk -v p="$1:" -v f="$2" '$1 == p { n++; if (n == 1) for (i = 2; i <= NF; i++) col[$i] = i;
		else print $(col[f]) }' /proc/net/snmp
}
b_tx_packets() {
	ip -n "$NS" -s link show "$IF_B" | awk '/TX:/ { getline; print $2 }'
}
# bad_counted ERR UDP TCP UNDER: from the counts ERR (rx<q>_csum_err), UDP and TCP
# (InCsumErrors) and UNDER (rx_undersize), every malformed frame has been counted.
bad_counted() {
	[ $(($(stat_sum "$IF_A" "rx[0-9]+_csum_err") - $1)) -ge 20 ] &&
		[ $(($(snmp Udp InCsumErrors) - $2)) -ge 10 ] &&
		[ $(($(snmp Tcp InCsumErrors) - $3)) -ge 10 ] &&
		[ $(($(counter "$IF_A" rx_undersize) - $4)) -ge 10 ]
}
# b_sent PACKETS N: the peer sent N packets more than PACKETS.
b_sent() {
	[ $(($(b_tx_packets) - $1)) -ge "$2" ]
}
malformed() {
	local err udp tcp under udp2 tcp2 mtu_b sent rxb rc=0
	err=$(stat_sum "$IF_A" "rx[0-9]+_csum_err")
	udp=$(snmp Udp InCsumErrors)
	tcp=$(snmp Tcp InCsumErrors)
	under=$(counter "$IF_A" rx_undersize)
	send_malformed bad || rc=1
	# The counts as soon as all are in (the numbers are judged below).
	wait_for 10 bad_counted "$err" "$udp" "$tcp" "$under"
	err=$(($(stat_sum "$IF_A" "rx[0-9]+_csum_err") - err))
	udp2=$(($(snmp Udp InCsumErrors) - udp))
	tcp2=$(($(snmp Tcp InCsumErrors) - tcp))
	under=$(($(counter "$IF_A" rx_undersize) - under))
	mtu_b=$(ip netns exec "$NS" cat "/sys/class/net/$IF_B/mtu")
	ip -n "$NS" link set "$IF_B" mtu 9216 || return 1
	sent=$(b_tx_packets)
	rxb=$(stat_sum "$IF_A" "rx[0-9]+_bytes")
	send_malformed oversize || rc=1
	# Once they are sent, a ping from the peer after them: port A takes frames in order,
	# so when its answer is back, the oversize frames went where they go.
	wait_for 10 b_sent "$sent" 5
	ip netns exec "$NS" busybox ping -c 1 -W 5 "$IP_A" >/dev/null || rc=1
	sent=$(($(b_tx_packets) - sent))
	rxb=$(($(stat_sum "$IF_A" "rx[0-9]+_bytes") - rxb))
	ip -n "$NS" link set "$IF_B" mtu "$mtu_b"
	ktap_print_msg "malformed: csum_err +$err, Udp InCsumErrors +$udp2, Tcp InCsumErrors +$tcp2, rx_undersize +$under; oversize: the peer sent $sent frames, A received $rxb bytes, rx_oversize $(counter "$IF_A" rx_oversize)"
	[ $rc = 0 ] && [ "$err" -ge 20 ] && [ "$udp2" -ge 10 ] && [ "$tcp2" -ge 10 ] &&
		[ "$under" -ge 10 ] && [ "$sent" -ge 5 ] && [ "$rxb" -lt 9000 ] &&
		busybox ping -c 2 -W 3 "$IP_B" >/dev/null && transfer b 1048576
}
malformed && ktap_test_pass "malformed_frames_counted_and_dropped" ||
	ktap_test_fail "malformed_frames_counted_and_dropped"

# Interrupt coalescing: rx-usecs (EITR of every queue pair's vector) is 50 after probe,
# is set to 0 and to 2000 with a transfer running at each, and reads back; values above
# 8191 and the settings the driver does not take (tx-usecs) are refused.
queue_irqs() {
	awk '/igb_rs-queue/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts
}
# Interrupts of the queue vectors during a 4 MiB transfer to A at rx-usecs $1, and the
# rate, as "count rate" in IRQS (not printed: transfer runs in this shell, for its ports).
irqs_during() {
	local irqs t0 t1
	ethtool -C "$IF_A" rx-usecs "$1" || return 1
	[ "$(ethtool -c "$IF_A" | awk '/^rx-usecs:/ { print $2 }')" = "$1" ] ||
		{ ktap_print_msg "rx-usecs $1 does not read back"; return 1; }
	irqs=$(queue_irqs)
	t0=$(date +%s%N)
	transfer b 4194304 || return 1
	t1=$(date +%s%N)
	irqs=$(($(queue_irqs) - irqs))
	IRQS="$irqs $((irqs * 1000000000 / (t1 - t0)))"
}
coalesce() {
	local usecs slow fast
	usecs=$(ethtool -c "$IF_A" | awk '/^rx-usecs:/ { print $2 }')
	[ "$usecs" = 50 ] || { ktap_print_msg "rx-usecs after probe: $usecs"; return 1; }
	irqs_during 0 || return 1
	fast=$IRQS
	irqs_during 2000 || return 1
	slow=$IRQS
	# Not judged: under TCG, NAPI keeps polling through most of a transfer and the
	# vectors fire a few dozen times a second with or without moderation.
	ktap_print_msg "queue interrupts in a 4 MiB transfer (count, per second): rx-usecs 0: $fast; rx-usecs 2000: $slow"
	[ "$(ethtool -c "$IF_A" | awk '/^rx-usecs:/ { print $2 }')" = 2000 ] || return 1
	refused EINVAL -C "$IF_A" rx-usecs 9000 && refused EINVAL -C "$IF_A" tx-usecs 10 || return 1
	ethtool -C "$IF_A" rx-usecs 50 &&
		[ "$(ethtool -c "$IF_A" | awk '/^rx-usecs:/ { print $2 }')" = 50 ]
}
coalesce && ktap_test_pass "ethtool_C_rx_usecs" || ktap_test_fail "ethtool_C_rx_usecs"

# Adaptive rx moderation (adaptive-rx, net DIM): off after probe. On, each queue pair
# starts at DIM's default interval (8 us), and once a pair's vector has had a window of 64
# interrupts with traffic DIM moves it (the first window always moves: there is none
# before it to compare with), counted in rx<q>_moderations. The interval each pair reports
# (ethtool --per-queue) is the one in its vector's EITR (the register dump, ethtool -d).
# Off again, every pair is back at rx-usecs in EITR too, and stays there through a
# transfer. adaptive-tx and a queue not in use are refused. Switched on again, DIM starts
# over at 8 us.
pq_usecs() {
	ethtool --per-queue "$IF_A" queue_mask $((1 << $1)) --show-coalesce |
		awk '/^rx-usecs:/ { print $2 }'
}
# eitr_usecs Q: the interval of queue pair Q's vector as EITR holds it (the dump's
# version 1: 8 device registers, then 8 for each pair, EITR first; bits 14:2).
eitr_usecs() {
	ethtool -d "$IF_A" raw on | python3 -c '
import struct, sys
(v,) = struct.unpack_from("=I", sys.stdin.buffer.read(), 4 * (8 + 8 * int(sys.argv[1])))
print((v >> 2) & 0x1FFF)' "$1"
}
# intervals: "per-queue/EITR" of both pairs in use.
intervals() {
	echo "$(pq_usecs 0)/$(eitr_usecs 0) $(pq_usecs 1)/$(eitr_usecs 1)"
}
# agree Q: pair Q's reported interval is the one in its EITR. Read around the register,
# so that a DIM move between two reads (a late interrupt closing a window) is no failure.
agree() {
	local before eitr after
	before=$(pq_usecs "$1")
	eitr=$(eitr_usecs "$1")
	after=$(pq_usecs "$1")
	[ "$eitr" = "$before" ] || [ "$eitr" = "$after" ] ||
		{ ktap_print_msg "pair $1: reported $before then $after, EITR $eitr"; return 1; }
}
adaptive_rx() {
	ethtool -c "$IF_A" | awk '/^Adaptive RX:/ { print $3 }'
}
adaptive() {
	local before moves=0 i away
	[ "$(adaptive_rx)" = off ] ||
		{ ktap_print_msg "adaptive-rx after probe: $(adaptive_rx)"; return 1; }
	ethtool -C "$IF_A" rx-usecs 50 adaptive-rx on && [ "$(adaptive_rx)" = on ] || return 1
	[ "$(intervals)" = "8/8 8/8" ] ||
		{ ktap_print_msg "per queue/EITR before traffic: $(intervals)"; return 1; }
	before=$(stat_sum "$IF_A" "rx[0-9]+_moderations")
	# Until DIM has moved, and a pair is away from 8 (so that switching on again below
	# shows the start over); DIM may move away and back within a transfer.
	for i in 1 2 3 4 5 6 7 8; do
		transfer b 4194304 || return 1
		moves=$(($(stat_sum "$IF_A" "rx[0-9]+_moderations") - before))
		[ "$moves" -gt 0 ] && [ "$(pq_usecs 0) $(pq_usecs 1)" != "8 8" ] && break
	done
	away=$(pq_usecs 0)$(pq_usecs 1)
	ktap_print_msg "adaptive-rx: $moves interval changes in $i transfers of 4 MiB;" \
		"per queue/EITR now: $(intervals)"
	[ "$moves" -gt 0 ] && agree 0 && agree 1 || return 1
	refused EINVAL -C "$IF_A" adaptive-tx on &&
		refused EINVAL --per-queue "$IF_A" queue_mask 0x4 --show-coalesce || return 1
	ethtool -C "$IF_A" adaptive-rx off && [ "$(adaptive_rx)" = off ] || return 1
	[ "$(intervals)" = "50/50 50/50" ] ||
		{ ktap_print_msg "per queue/EITR after adaptive-rx off: $(intervals)"; return 1; }
	before=$(stat_sum "$IF_A" "rx[0-9]+_moderations")
	transfer b 4194304 && [ "$(stat_sum "$IF_A" "rx[0-9]+_moderations")" = "$before" ] &&
		[ "$(intervals)" = "50/50 50/50" ] || return 1
	ethtool -C "$IF_A" adaptive-rx on && [ "$(intervals)" = "8/8 8/8" ] ||
		{ ktap_print_msg "per queue/EITR switched on again: $(intervals)"; return 1; }
	[ "$away" != 88 ] ||
		ktap_print_msg "both pairs were at 8 before: switching on again showed no start over"
}
adaptive && ktap_test_pass "adaptive_rx_moderation" || ktap_test_fail "adaptive_rx_moderation"
# Whatever the case left, the rest run at a fixed rx-usecs.
ethtool -C "$IF_A" adaptive-rx off rx-usecs 50 >/dev/null 2>&1 ||
	ktap_print_msg "adaptive-rx off, rx-usecs 50: not set"

# Each NAPI instance of port A reports its interrupt (netdev napi-get "irq", what
# upstream's irq.py reads): one per queue pair in use, each a different igb_rs-queue IRQ
# of /proc/interrupts.
napi_irqs() {
	python3 - "$IF_A" "$DEVMEM_DIR" <<'EOF'
import re, sys
sys.path.insert(0, sys.argv[2])
from ynl_env import SPEC
from lib import YnlFamily
with open(f"/sys/class/net/{sys.argv[1]}/ifindex") as f:
    ifi = int(f.read())
with open("/proc/interrupts") as f:
    ours = {int(m.group(1)) for m in re.finditer(r"^\s*(\d+):.*igb_rs-queue", f.read(), re.M)}
irqs = [n.get("irq") for n in YnlFamily(SPEC).dump("napi-get", {"ifindex": ifi})]
print(f"# NAPI irqs {irqs}; igb_rs-queue irqs {sorted(ours)}")
sys.exit(0 if irqs and None not in irqs and len(set(irqs)) == len(irqs) and set(irqs) <= ours else 1)
EOF
}
napi_irqs && ktap_test_pass "napi_irq_reported" || ktap_test_fail "napi_irq_reported"

# The counters belong to the queues, not to the rings that down/up frees and makes again.
rx_before=$(stat_sum "$IF_A" "rx[0-9]+_packets")
ip link set "$IF_A" down
ip link set "$IF_A" up
if wait_for 20 carrier_up "$IF_A" && [ "$rx_before" -gt 0 ] &&
   [ "$(stat_sum "$IF_A" "rx[0-9]+_packets")" -ge "$rx_before" ] && transfer b 1048576 &&
   [ "$(stat_sum "$IF_A" "rx[0-9]+_packets")" -gt "$rx_before" ]; then
	ktap_test_pass "stats_survive_down_up"
else
	ktap_print_msg "rx packets: $rx_before before down, $(stat_sum "$IF_A" "rx[0-9]+_packets") after up"
	ktap_test_fail "stats_survive_down_up"
fi

# Channels: 4 queue pairs set up, 2 in use after probe.
if [ "$(channels "$IF_A")" = "4 2" ] && ethtool -l "$IF_A" | grep -q "^Other:.*1"; then
	ktap_test_pass "ethtool_l_channels"
else
	ktap_print_msg "combined channels (max, current): $(channels "$IF_A")"
	ktap_test_fail "ethtool_l_channels"
fi

# No count of 0, none above the maximum, no separate rx or tx channels, the link vector
# as the one "other" channel (the driver's own refusal; the rest are the core's), and not
# fewer than the RSS table set with -X above (entries point at queue 1) uses.
if refused EINVAL -L "$IF_A" combined 0 && refused EINVAL -L "$IF_A" combined 5 &&
   refused EINVAL -L "$IF_A" rx 1 && refused EINVAL -L "$IF_A" other 0 && refused EINVAL -L "$IF_A" combined 1 &&
   [ "$(channels "$IF_A")" = "4 2" ]; then
	ktap_test_pass "ethtool_L_refused"
else
	ktap_test_fail "ethtool_L_refused"
fi

# One pair, set while the device is down: the default table follows, traffic takes queue
# 0, queue 1 is gone from -S and its counts stay in the device's qstats (the base).
ethtool -X "$IF_A" default
rx_before=$(counter "$IF_A" rx0_packets)
rx1=$(counter "$IF_A" rx1_packets)
qs_before=$(qstats_rx "$IF_A")
ip link set "$IF_A" down
if ethtool -L "$IF_A" combined 1 && [ "$(channels "$IF_A")" = "4 1" ] &&
   ip link set "$IF_A" up && [ "$rx1" -gt 0 ] && qs_after=$(qstats_rx "$IF_A") &&
   [ "$qs_after" -ge "$qs_before" ] &&
   [ "$(indir_counts "$IF_A")" = "0:128" ] && [ -z "$(counter "$IF_A" rx1_packets)" ] &&
   wait_for 20 carrier_up "$IF_A" && transfer b 1048576 && transfer a 1048576 &&
   [ "$(counter "$IF_A" rx0_packets)" -ge $((rx_before + 100)) ]; then
	ktap_test_pass "ethtool_L_1"
else
	ktap_print_msg "channels $(channels "$IF_A"), table $(indir_counts "$IF_A")," \
		"qstats rx packets ${qs_before:-?} before, ${qs_after:-?} after (rx1 ${rx1:-?})"
	ktap_test_fail "ethtool_L_1"
fi

# Four pairs: the table spreads over them, and a flow steered to queue 3 lands there.
port=$((NEXT_PORT++)) sport=$((NEXT_SPORT++))
if ethtool -L "$IF_A" combined 4 && [ "$(channels "$IF_A")" = "4 4" ] &&
   [ "$(indir_counts "$IF_A")" = "0:32 1:32 2:32 3:32" ] && wait_for 20 carrier_up "$IF_A" &&
   ethtool -N "$IF_A" flow-type tcp4 src-ip "$IP_B" dst-ip "$IP_A" \
	src-port "$sport" dst-port "$port" action 3 loc 0 &&
   rx_before=$(counter "$IF_A" rx3_packets) && transfer b 1048576 "$port" "$sport" &&
   [ "$(counter "$IF_A" rx3_packets)" -ge $((rx_before + 100)) ]; then
	ktap_test_pass "ethtool_L_4"
else
	ktap_print_msg "channels $(channels "$IF_A"), table $(indir_counts "$IF_A")," \
		"rx3 packets $(counter "$IF_A" rx3_packets)"
	ktap_test_fail "ethtool_L_4"
fi
# A rule on queue 3 keeps the count from going below 4.
if refused EINVAL -L "$IF_A" combined 2 && ethtool -N "$IF_A" delete 0; then
	ktap_test_pass "ethtool_L_refused_by_rule"
else
	ethtool -N "$IF_A" delete 0 2>/dev/null
	ktap_test_fail "ethtool_L_refused_by_rule"
fi

# Back to two pairs in the middle of a paced transfer (4 MiB at 1 MiB/s): the connection
# survives the restart of every ring, every byte checked.
# rx_grew BYTES N: port A received more than N bytes since its rx byte count was BYTES.
rx_grew() {
	[ "$(stat_sum "$IF_A" "rx[0-9]+_bytes")" -gt $(($1 + $2)) ]
}
channels_under_traffic() {
	local port=$((NEXT_PORT++)) rpid spid rx0 src rrc
	rx0=$(stat_sum "$IF_A" "rx[0-9]+_bytes")
	timeout "$XFER_TIMEOUT" python3 "$PATTERN" recv "$port" 4194304 &
	rpid=$!
	timeout "$XFER_TIMEOUT" ip netns exec "$NS" \
		python3 "$PATTERN" send "$IP_A" "$port" 4194304 --rate 1024 &
	spid=$!
	# The change once the stream flows, with most of it still to come.
	if ! wait_for 30 rx_grew "$rx0" 131072 || gone "$spid"; then
		ktap_print_msg "no transfer running into $IF_A for ethtool -L"
		kill $spid $rpid 2>/dev/null
		wait $spid $rpid 2>/dev/null
		return 1
	fi
	if ! ethtool -L "$IF_A" combined 2; then
		kill $spid $rpid 2>/dev/null
		wait $spid $rpid 2>/dev/null
		return 1
	fi
	wait $spid
	src=$?
	wait $rpid
	rrc=$?
	if [ $src != 0 ] || [ $rrc != 0 ]; then
		ktap_print_msg "transfer across ethtool -L: sender exit $src, receiver exit $rrc"
		return 1
	fi
	[ "$(channels "$IF_A")" = "4 2" ] && [ "$(indir_counts "$IF_A")" = "0:64 1:64" ]
}
if channels_under_traffic; then
	ktap_test_pass "ethtool_L_under_traffic"
else
	ktap_print_msg "channels $(channels "$IF_A"), table $(indir_counts "$IF_A")"
	ktap_test_fail "ethtool_L_under_traffic"
fi

# Netpoll (netconsole) is refused port A: the Rust NAPI abstraction has no poll without a
# budget (netpoll's, with interrupts off, outside softirq), so its devices carry
# IFF_DISABLE_NETPOLL. A configfs netconsole target on A cannot be enabled (ENOTSUPP), the
# kernel says why, and A still carries traffic.
netconsole_refused() {
	local cfg=/sys/kernel/config/netconsole t rc=0
	modprobe netconsole || return 1
	[ -d "$cfg" ] || mount -t configfs none /sys/kernel/config || return 1
	t=$cfg/igb_rs_$$
	mkdir "$t" || return 1
	echo "$IF_A" >"$t/dev_name" && echo "$IP_A" >"$t/local_ip" &&
		echo "$IP_B" >"$t/remote_ip" || rc=1
	if [ $rc = 0 ] && echo 1 >"$t/enabled" 2>/dev/null; then
		ktap_print_msg "a netconsole target on $IF_A was enabled"
		echo 0 >"$t/enabled"
		rc=1
	fi
	[ "$(cat "$t/enabled")" = 0 ] || rc=1
	rmdir "$t" && modprobe -r netconsole || rc=1
	dmesg | grep -q "$IF_A doesn't support polling" ||
		{ ktap_print_msg "no refusal logged"; rc=1; }
	[ $rc = 0 ] && transfer b 1048576
}
netconsole_refused && ktap_test_pass "netconsole_refused" || ktap_test_fail "netconsole_refused"

# Port A goes away while a paced transfer into it runs (up to 1 GiB at 2 MiB/s, every
# byte checked): the driver is unbound, or the PCI function removed. The transfer ends by
# itself: with the port gone neither end hears from the other, and each gives up after
# GONE_IDLE seconds of silence (tcp_pattern.py --timeout, exit 1). A byte received wrong
# before (exit 3) or an end still running a minute after the step (a hang) fails the case.
# Then igb_rs takes port A again, its interface comes back with link and receives 1 MiB,
# every byte checked. kmemleak and the log checks after the suite cover what the removal
# left.
GONE_IDLE=10
# driver_of PCI: the name of the PCI function's driver, or none.
driver_of() {
	local d
	d=$(readlink "/sys/bus/pci/devices/$1/driver") || { echo none; return; }
	echo "${d##*/}"
}
# bring_up_a: port A's net device is back, on igb_rs, configured, with link.
bring_up_a() {
	udevadm settle --timeout=10 || { ktap_print_msg "udevadm settle failed"; return 1; }
	wait_for 10 netdev_of "$A" >/dev/null || { ktap_print_msg "$A has no net device"; return 1; }
	[ "$(driver_of "$A")" = igb_rs ] ||
		{ ktap_print_msg "$A is on $(driver_of "$A"), not igb_rs"; return 1; }
	IF_A=$(netdev_of "$A")
	ip addr add "$IP_A/24" dev "$IF_A" && ip link set "$IF_A" up || return 1
	wait_for 20 carrier_up "$IF_A" || { ktap_print_msg "no link on $IF_A"; return 1; }
}
# gone_under_traffic STEP: STEP takes port A away under traffic, and the transfer in
# flight ends.
gone_under_traffic() {
	local port=$((NEXT_PORT++)) if_a=$IF_A out=/tmp/igb_rs_gone.$$ rpid spid rx0 rrc src
	rx0=$(stat_sum "$IF_A" "rx[0-9]+_bytes")
	python3 "$PATTERN" recv "$port" 1073741824 --timeout "$GONE_IDLE" >"$out.r" 2>&1 &
	rpid=$!
	ip netns exec "$NS" python3 "$PATTERN" send "$IP_A" "$port" 0 --rate 2048 \
		--timeout "$GONE_IDLE" >"$out.s" 2>&1 &
	spid=$!
	if ! wait_for 30 rx_grew "$rx0" 262144; then
		ktap_print_msg "no traffic into $if_a before $1"
	elif ! "$1"; then
		ktap_print_msg "$1 failed"
	elif [ -e "/sys/class/net/$if_a" ]; then
		ktap_print_msg "$if_a is still there after $1"
	else
		wait_pid 60 "$rpid"
		rrc=$?
		wait_pid 60 "$spid"
		src=$?
		ktap_print_msg "in flight when $1 ran: receiver exit $rrc ($(tr '\n' ' ' <"$out.r"))," \
			"sender exit $src ($(tr '\n' ' ' <"$out.s"))"
		rm -f "$out.r" "$out.s"
		# 0: done, 1: broke off; 124: killed after a minute, 3: a wrong byte.
		[ $rrc -le 1 ] && [ $src -le 1 ]
		return
	fi
	kill $spid $rpid 2>/dev/null
	wait $spid $rpid 2>/dev/null
	rm -f "$out.r" "$out.s"
	return 1
}
# unbind_a: igb_rs lets go of port A.
unbind_a() {
	echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind && [ "$(driver_of "$A")" = none ]
}
# remove_a: port A's PCI function is removed.
remove_a() {
	echo 1 >"/sys/bus/pci/devices/$A/remove" && [ ! -e "/sys/bus/pci/devices/$A" ]
}
if ip -n "$NS" link set "$IF_B" mtu 1500 && gone_under_traffic unbind_a &&
   bind_to "$A" igb_rs && bring_up_a && transfer b 1048576; then
	ktap_test_pass "unbind_rebind_under_traffic"
else
	ktap_test_fail "unbind_rebind_under_traffic"
fi
# The rescan runs with autoprobe off, so that the C igb driver (loaded for port B) does
# not take the new function; then igb_rs is asked to.
rescan_a() {
	local ok=0
	echo 0 >/sys/bus/pci/drivers_autoprobe || return 1
	if echo 1 >/sys/bus/pci/rescan && wait_for 10 test -e "/sys/bus/pci/devices/$A"; then
		bind_to "$A" igb_rs && ok=1
	fi
	echo 1 >/sys/bus/pci/drivers_autoprobe
	[ $ok = 1 ] || ktap_print_msg "$A did not come back on igb_rs after a rescan"
	[ $ok = 1 ]
}
# Removed with adaptive-rx on: each poll under the traffic feeds its pair's DIM, which may
# move the interval, up to the removal (the moves so far are printed, not judged); the
# function probed again starts with it off.
remove_a_adaptive() {
	ktap_print_msg "interval changes before the removal:" \
		"$(stat_sum "$IF_A" "rx[0-9]+_moderations")"
	remove_a
}
if ip -n "$NS" link set "$IF_B" mtu 1500 && ethtool -C "$IF_A" adaptive-rx on &&
   gone_under_traffic remove_a_adaptive && rescan_a && bring_up_a && transfer b 1048576 &&
   { [ "$(adaptive_rx)" = off ] ||
     { ktap_print_msg "adaptive-rx after the rescan: $(adaptive_rx)"; false; }; }; then
	ktap_test_pass "pci_remove_rescan_under_traffic"
else
	ktap_test_fail "pci_remove_rescan_under_traffic"
fi

# Give port A back to nobody and port B back to the root namespace for the next tests.
echo "$A" >/sys/bus/pci/drivers/igb_rs/unbind
echo >"/sys/bus/pci/devices/$A/driver_override"
ktap_finished
