#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the built kernel in virtme-ng under TCG on q35 with two emulated 82576 ports
# (QEMU igb), each behind its own PCIe root port, joined by a QEMU hub (a wire between
# them), and run a command in the guest.
#
# Usage: boot.sh LOGDIR COMMAND...
#   LOGDIR/console.log  kernel console;  LOGDIR/guest.out  the command's output (also shown
#   live unless QUIET=1). Exit status: the command's, or 124 when a watchdog had to stop
#   the guest: the whole boot took BOOT_TIMEOUT seconds (default 4200), or the command
#   printed nothing for GUEST_SILENCE seconds (default 1500: longer than any program's
#   own timeout in guest-check.sh, 1200 s, after which the runner prints its verdict).
#   A guest whose tasks hang is stopped by the second one instead of running out the
#   first; a guest whose virtiofsd (the host process that serves its root file system)
#   exits while QEMU runs is stopped at once, with that message.
#   no5lvl: with QEMU's `-cpu max` the guest uses 5-level paging, and 3 of 5 boots here
#   had a KASAN "wild-memory-access" report from an interrupt taken during
#   identify_boot_cpu(), on a direct-map address (ff11...); with 4-level paging none of
#   the boots since had it. Our reading: KASAN's address check is not yet patched for
#   5-level paging that early.
#   The guest (GUEST_MEMORY, default 4G) reserves HUGEPAGES (default 1024) 2 MiB huge
#   pages for hugetlb-backed memfds (upstream's udmabuf test maps 2 GiB of them).

. "$(dirname "$0")/lib.sh"

logdir=$1
shift
mkdir -p "$logdir"
timeout_s=${BOOT_TIMEOUT:-4200}
silence_s=${GUEST_SILENCE:-1500}
vng=$CACHE/venv/bin/vng
[ -x "$vng" ] || die "virtme-ng not found: run devtools/setup.sh"
[ -f "$OUT/arch/x86/boot/bzImage" ] || die "no kernel in $OUT: run devtools/build.sh"

qemu_opts="-machine q35"
for i in 0 1; do
	qemu_opts+=" -device pcie-root-port,id=rp$i,slot=$((i + 1)),chassis=$((i + 1))"
	qemu_opts+=" -netdev hubport,id=p$i,hubid=0"
	qemu_opts+=" -device igb,netdev=p$i,mac=52:54:00:12:34:0$((i + 1)),bus=rp$i"
done
qemu_opts+=" ${QEMU_EXTRA:-}"

: >"$logdir/console.log"
: >"$logdir/guest.out"
rm -f "$logdir/silent" "$logdir/virtiofsd-gone"
# The guest's root file system is the host's, served by a virtiofsd that vng starts for
# this guest and leaves to init (QEMU's vhost-user-fs socket names it). Prints "QEMU
# VIRTIOFSD", the pids, once the QEMU under process PID runs ("QEMU -" if it has no
# virtiofsd); nothing before.
our_virtiofsd() {
	local c q p sock v
	for c in /proc/[0-9]*/cmdline; do
		q=${c#/proc/}
		q=${q%/cmdline}
		tr '\0' ' ' 2>/dev/null <"$c" | grep -q '^[^ ]*qemu-system' || continue
		p=$q
		while [ "${p:-1}" -gt 1 ] && [ "$p" != "$1" ]; do
			p=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2)
		done
		[ "$p" = "$1" ] || continue
		sock=$(tr '\0' '\n' 2>/dev/null <"$c" |
			sed -n 's/^socket,id=charvirtfs[0-9]*,path=//p' | head -n1)
		if [ -n "$sock" ]; then
			for v in /proc/[0-9]*/cmdline; do
				if tr '\0' ' ' 2>/dev/null <"$v" | grep -q -- "--socket-path $sock "; then
					v=${v#/proc/}
					echo "$q ${v%/cmdline}"
					return 0
				fi
			done
		fi
		echo "$q -"
		return 0
	done
}

# QEMU opens the guest's output ports and the console by path (/proc/self/fd/1 and 2),
# each on its own: on a regular file they would overwrite each other. Give it pipes.
run_vng() {
	local pid size last=-1 quiet=0 pids= start=$SECONDS
	# vng runs its helpers (virtme-run) from its venv by PATH: for vng alone.
	PATH=$CACHE/venv/bin:$PATH timeout --kill-after=15 "$timeout_s" \
		"$vng" --run "$OUT" --disable-kvm --memory "${GUEST_MEMORY:-4G}" \
		--cpus "${GUEST_CPUS:-2}" --verbose --qemu-opts="$qemu_opts" \
		--append "no5lvl printk.time=1 hugepages=${HUGEPAGES:-1024} modprobe.blacklist=igb_rs ${KERNEL_APPEND:-}" \
		--exec "$*" </dev/null 2> >(cat >"$logdir/console.log") &
	pid=$!
	# The silence watchdog: guest.out is the command's output as it comes.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		# Without its virtiofsd a guest's tasks wait on the root file system forever
		# (killably, so no hung-task report either): stop it at once, and say so. At the
		# end vng stops virtiofsd only after QEMU has exited.
		if [ -z "$pids" ]; then
			pids=$(our_virtiofsd "$pid")
		elif [ "${pids#* }" != - ] && ! kill -0 "${pids#* }" 2>/dev/null &&
			kill -0 "${pids% *}" 2>/dev/null; then
			echo "$((SECONDS - start))" >"$logdir/virtiofsd-gone"
			kill -TERM "$pid" 2>/dev/null
			break
		fi
		size=$(stat -c %s "$logdir/guest.out" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size quiet=0
			continue
		fi
		quiet=$((quiet + 2))
		if [ "$quiet" -ge "$silence_s" ]; then
			echo "$quiet" >"$logdir/silent"
			# timeout(1) passes the signal on to vng and, 15 s later, kills it.
			kill -TERM "$pid" 2>/dev/null
			break
		fi
	done
	wait "$pid"
}

set +e
if [ "${QUIET:-0}" = 1 ]; then
	run_vng "$@" | cat >"$logdir/guest.out"
else
	run_vng "$@" | tee "$logdir/guest.out"
fi
rc=${PIPESTATUS[0]}
# Let the console log's writer finish.
wait
set -e

if [ -f "$logdir/virtiofsd-gone" ]; then
	echo "devmem-rs: the guest's virtiofsd (its root file system) exited" \
		"$(cat "$logdir/virtiofsd-gone") s into the boot while QEMU ran; stopped the guest;" \
		"last console lines:" >&2
	tail -n 40 "$logdir/console.log" | sed 's/^/  | /' >&2
	exit 124
fi
if [ -f "$logdir/silent" ]; then
	echo "devmem-rs: the guest printed nothing for $(cat "$logdir/silent")s; stopped it;" \
		"last console lines:" >&2
	tail -n 40 "$logdir/console.log" | sed 's/^/  | /' >&2
	exit 124
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "devmem-rs: the guest did not finish within ${timeout_s}s; last console lines:" >&2
	tail -n 40 "$logdir/console.log" | sed 's/^/  | /' >&2
	exit 124
fi
if grep -q "Kernel panic" "$logdir/console.log"; then
	echo "devmem-rs: the guest kernel panicked; last console lines:" >&2
	grep -B 30 -A 5 -m1 "Kernel panic" "$logdir/console.log" | sed 's/^/  | /' >&2
fi
exit "$rc"
