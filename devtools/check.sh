#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test: set up the host, prepare the tree, and for each devmem TCP implementation
# (IMPLS, default "rust c": devmem-rs and upstream's C one, the oracle) build the debug
# kernel and the kselftests, boot the two-port guest, run KUnit (Rust doctests included),
# the kselftests devtools/expected.txt lists for the build, a leak gate and kmemleak (scans
# that must find a planted leak and nothing else) there, and report one line per test,
# named IMPL/..., then `N passed, N failed, N skipped` over all of them. The programs the
# manifest marks boot=icount run last, in a second boot of each build's kernel under QEMU
# -icount.

. "$(dirname "$0")/lib.sh"

IMPLS=${IMPLS:-"rust c"}
MANIFEST=$DEVMEM_TOP/devtools/expected.txt
# The debug kernel has kmemleak: a guest where it is missing or disabled itself fails.
kmemleak=required
[ "$VARIANT" = debug ] || kmemleak=optional
start=$(date +%s)
bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"

npass=0 nfail=0 nskip=0

# Host checks read as KTAP-style lines: `ok N NAME` passes, `not ok N NAME` fails; a log
# without a plan fails.
host_results() {
	local what=$1 log=$2 line
	while read -r line; do
		case "$line" in
		"ok "*) echo "PASS host/$what/${line#ok * }"; npass=$((npass + 1)) ;;
		"not ok "*) echo "FAIL host/$what/${line#not ok * }"; nfail=$((nfail + 1)) ;;
		"# "*) echo "  $line" ;;
		esac
	done <"$log"
	grep -q '^1\.\.[1-9]' "$log" || { echo "FAIL host/$what: no plan"; nfail=$((nfail + 1)); }
}

# The report's own checks first, on the host: that a suite, program or case that vanishes
# fails and is named (devtools/report_test.py, synthetic guest output).
mkdir -p "$CACHE/logs"
"$PYTHON" "$DEVMEM_TOP/devtools/report_test.py" >"$CACHE/logs/report_test.txt" 2>&1 || true
host_results report_test "$CACHE/logs/report_test.txt"
echo

# A build's kselftest programs for one of its boots (main: those the manifest lists
# without a boot= column).
boot_progs() {
	local impl=$1 boot=$2
	if [ "$boot" = main ]; then
		awk -v b="$impl" '$1 == b && $2 == "kselftest" && !/ boot=/ {print $3}' "$MANIFEST"
	else
		awk -v b="$impl" -v k=" boot=$boot" '$1 == b && $2 == "kselftest" && index($0, k) {
			print $3 }' "$MANIFEST"
	fi
}

# Boot a build's guest once: its programs for that boot, the leak gate and kmemleak.
# The exit status of the guest goes to LOGS/rc.
guest_run() {
	local impl=$1 boot=$2 logs=$3 ksft=$4 kunit_off= extra=
	rm -rf "$logs"
	mkdir -p "$logs"
	# The KUnit suites built into both kernels test code that is the same in both (the
	# Rust abstractions and core, the driver, the kernel crate): the Rust build's main
	# boot runs them, every other boot has KUnit off.
	[ "$impl" = rust ] && [ "$boot" = main ] || kunit_off=kunit.enable=0
	# Under TCG the guest's clock is the host's wall clock, whatever the guest got done
	# meanwhile; under -icount it advances one nanosecond per instruction while the guest
	# runs (and at the host's rate while it idles): a window of 2 s is then 2 s of the
	# guest's own work, but for the time it spends waiting on the host.
	[ "$boot" = main ] || extra="-icount shift=0,sleep=on"
	KERNEL_APPEND="${KERNEL_APPEND:-} $kunit_off" QEMU_EXTRA="$extra ${QEMU_EXTRA:-}" \
	IMPL=$impl QUIET=1 bash "$DEVMEM_TOP/devtools/boot.sh" "$logs" \
		bash "$DEVMEM_TOP/devtools/guest-check.sh" "$ksft" $(boot_progs "$impl" "$boot")
	echo $? >"$logs/rc"
}

# Report one boot (report.py) and add its counts to the totals.
guest_report() {
	local impl=$1 boot=$2 logs=$3 p f s
	echo "logs: $logs (console.log, guest.out)"
	"$PYTHON" "$DEVMEM_TOP/devtools/report.py" --guest "$logs/guest.out" \
		--console "$logs/console.log" --manifest "$MANIFEST" --build "$impl" \
		--boot "$boot" --top "$DEVMEM_TOP" --kmemleak "$kmemleak" \
		--guest-rc "$(cat "$logs/rc" 2>/dev/null || echo 1)" --prefix "$impl/" \
		>"$logs/report.txt"
	cat "$logs/report.txt"
	read -r p f s < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
		"$logs/report.txt" | tail -n1)
	[ -n "${p:-}" ] || { p=0; f=1; s=0; echo "FAIL $impl/report ($boot boot): no summary"; }
	npass=$((npass + p)) nfail=$((nfail + f)) nskip=$((nskip + s))
	echo "$impl ($boot boot): $p passed, $f failed, $s skipped"
	echo
}

ksft_of() {
	local out=$CACHE/build-$VARIANT
	[ "$1" = rust ] || out=$out-$1
	echo "$out/kselftest/kselftest_install"
}

icount=()
set +e
for impl in $IMPLS; do
	set -e
	IMPL=$impl bash "$DEVMEM_TOP/devtools/build.sh"
	set +e
	if [ "$impl" = rust ]; then
		# The misuses of the Rust net abstractions that must not build, against this build.
		phase "compile-fail cases"
		IMPL=rust bash "$DEVMEM_TOP/devtools/compile-fail.sh" >"$CACHE/logs/compile_fail.txt" 2>&1
		phase_end
		host_results compile_fail "$CACHE/logs/compile_fail.txt"
		echo
	fi
	phase "guest ($impl): KUnit, kselftests, kmemleak"
	guest_run "$impl" main "$CACHE/logs/check-$VARIANT-$impl" "$(ksft_of "$impl")"
	phase_end
	guest_report "$impl" main "$CACHE/logs/check-$VARIANT-$impl"
	[ -z "$(boot_progs "$impl" icount)" ] || icount+=("$impl")
done

# Upstream's programs that time their peers by the clock (boot=icount in the manifest):
# one boot per build under -icount, the builds' boots side by side (each is one QEMU
# thread; while a guest runs, the host's load does not change what its clock reads, and
# only its idle waits on the host pass at the host's rate).
if [ ${#icount[@]} -gt 0 ]; then
	phase "guests under -icount (${icount[*]}): kselftests, kmemleak"
	for impl in "${icount[@]}"; do
		guest_run "$impl" icount "$CACHE/logs/check-$VARIANT-$impl-icount" \
			"$(ksft_of "$impl")" &
	done
	wait
	phase_end
	for impl in "${icount[@]}"; do
		guest_report "$impl" icount "$CACHE/logs/check-$VARIANT-$impl-icount"
	done
fi
set -e

echo "total time: $(($(date +%s) - start))s"
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ]
