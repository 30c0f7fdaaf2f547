#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test: set up the host, prepare the tree, and for each devmem TCP implementation
# (IMPLS, default "rust c": devmem-rs and upstream's C one, the oracle) build the debug
# kernel and the kselftests, boot the two-port guest, run KUnit (Rust doctests included),
# the kselftests devtools/expected.txt lists for the build, a leak gate and a kmemleak scan
# there, and report one line per test, named IMPL/..., then
# `N passed, N failed, N skipped` over all of them.

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

for impl in $IMPLS; do
	IMPL=$impl bash "$DEVMEM_TOP/devtools/build.sh"
	if [ "$impl" = rust ]; then
		# The misuses of the Rust net abstractions that must not build, against this build.
		phase "compile-fail cases"
		IMPL=rust bash "$DEVMEM_TOP/devtools/compile-fail.sh" >"$CACHE/logs/compile_fail.txt" 2>&1 ||
			true
		phase_end
		host_results compile_fail "$CACHE/logs/compile_fail.txt"
		echo
	fi
	out=$CACHE/build-$VARIANT
	[ "$impl" = rust ] || out=$out-$impl
	logs=$CACHE/logs/check-$VARIANT-$impl
	rm -rf "$logs"
	ksft=$out/kselftest/kselftest_install

	phase "guest ($impl): KUnit, kselftests, kmemleak"
	set +e
	# The kselftest programs this build runs: those the manifest lists for it.
	progs=$(awk -v b="$impl" '$1 == b && $2 == "kselftest" {print $3}' "$MANIFEST")
	# The KUnit suites built into both kernels test code that is the same in both
	# (the Rust abstractions and core, the driver, the kernel crate): the Rust build
	# runs them, the C build boots with KUnit off.
	kunit_off=
	[ "$impl" = rust ] || kunit_off=kunit.enable=0
	KERNEL_APPEND="${KERNEL_APPEND:-} $kunit_off" \
	IMPL=$impl QUIET=1 bash "$DEVMEM_TOP/devtools/boot.sh" "$logs" \
		bash "$DEVMEM_TOP/devtools/guest-check.sh" "$ksft" $progs
	guest_rc=$?
	set -e
	phase_end
	echo "logs: $logs (console.log, guest.out)"

	set +e
	"$PYTHON" "$DEVMEM_TOP/devtools/report.py" --guest "$logs/guest.out" \
		--console "$logs/console.log" --manifest "$MANIFEST" --build "$impl" \
		--top "$DEVMEM_TOP" --kmemleak "$kmemleak" \
		--guest-rc "$guest_rc" --prefix "$impl/" >"$logs/report.txt"
	set -e
	cat "$logs/report.txt"
	read -r p f s < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
		"$logs/report.txt" | tail -n1)
	[ -n "${p:-}" ] || { p=0; f=1; s=0; echo "FAIL $impl/report: no summary"; }
	npass=$((npass + p)) nfail=$((nfail + f)) nskip=$((nskip + s))
	echo "$impl: $p passed, $f failed, $s skipped"
	echo
done

echo "total time: $(($(date +%s) - start))s"
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ]
