#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: measure, and write the results directory (BENCH_OUT, default bench/results):
# results.md (every ratio with its interval, and met/missed/inconclusive per target),
# results.csv, SVG plots, machine.txt and the raw guest output.
#
# PHASES (default "micro"):
#   micro  the ruler: devmem_bench in one boot of the Rust release kernel, which builds
#          upstream's provider beside devmem-rs (CONFIG_DEVMEM_RS_BENCH_ORACLE), both
#          measured in one module load on the same dma-bufs, interleaved ABBA, twice (the
#          determinism check). QEMU runs with -icount shift=0,sleep=off on one vCPU: the
#          guest's clock advances one nanosecond per instruction, so the figures are
#          instruction counts, which do not drift with the host's load or clock. Then, in
#          the same boot, upstream's page_pool bench module
#          (tools/testing/selftests/net/bench/page_pool), built unchanged from the prepared
#          tree against the same kernel, its objects in the cache (kbuild's MO=).
#   e2e    end-to-end transfers on each of IMPLS' release kernels, under the same ruler
#          (one vCPU, -icount): devmem against copying receive on one driver, then
#          igb_rs against igb (at one fixed interrupt interval, then each with its own
#          adaptive moderation), alternating within each boot, with port A's page-pool
#          counters beside each transfer; the boots alternate the
#          kernels E2E_BOOTS times (default 3: A/B/A/B/A/B). A transfer's figure is the
#          guest's busy time, which under -icount counts instructions of the whole guest
#          (sender and receiver alike) in /proc/stat's 10 ms ticks.
# VARIANT is release unless given (make bench passes BENCH_VARIANT): KASAN and lockdep
# would weigh on what is measured. A dirty tree is refused (BENCH_DIRTY=1 allows it, and
# machine.txt says so): a figure must name the commit it measured.

export VARIANT=${VARIANT:-release}
. "$(dirname "$0")/lib.sh"

PHASES=${PHASES:-micro}
IMPLS=${IMPLS:-rust c}
out=${BENCH_OUT:-$DEVMEM_TOP/bench/results}
tcp=$CACHE/bench/tcp_rxtx
pp_src=$SRC/tools/testing/selftests/net/bench/page_pool
pp_out=$CACHE/bench/page_pool-$VARIANT
pp=-
commit=$(git -C "$DEVMEM_TOP" describe --always --dirty)
case "$commit" in
*-dirty) [ "${BENCH_DIRTY:-0}" = 1 ] || die "the tree is dirty ($commit): commit first, or BENCH_DIRTY=1" ;;
esac

bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"

mkdir -p "$CACHE/bench" "$out"
gcc -O2 -Wall -o "$tcp" "$DEVMEM_TOP/bench/tcp_rxtx.c"
rm -f "$out"/raw-*.txt

# guest NAME IMPL PHASE...: one boot; its output becomes raw-NAME.txt.
raws=()
guest() {
	local name=$1 impl=$2 logdir=$CACHE/logs/bench-$VARIANT-$1
	shift 2
	phase "guest: bench $name ($impl, $VARIANT)"
	# A phase of a benchmark prints its line when it ends, and one can take long.
	IMPL=$impl QUIET=1 KERNEL_APPEND="kunit.enable=0 ${KERNEL_APPEND:-}" \
		GUEST_SILENCE=${GUEST_SILENCE:-3600} bash "$DEVMEM_TOP/devtools/boot.sh" "$logdir" \
		/usr/bin/python3 "$DEVMEM_TOP/bench/guest.py" "$impl" "$SRC" "$tcp" "$pp" "$@" ||
		die "the $name benchmark guest failed: see $logdir/guest.out and console.log"
	grep -q '^# bench done' "$logdir/guest.out" ||
		die "the $name benchmark did not finish: see $logdir/guest.out"
	cp "$logdir/guest.out" "$out/raw-$name.txt"
	raws+=("$out/raw-$name.txt")
	phase_end
}

icount="-icount shift=0,sleep=off"
for p in $PHASES; do
	case $p in
	micro)
		IMPL=rust bash "$DEVMEM_TOP/devtools/build.sh"
		mkdir -p "$pp_out"
		# Against the Rust kernel the micro boot runs, whatever IMPL the caller set.
		OUT=$CACHE/build-$VARIANT quiet kmake M="$pp_src" MO="$pp_out" modules ||
			die "upstream's page_pool bench module did not build"
		pp=$pp_out/bench_page_pool.ko
		GUEST_CPUS=1 QEMU_EXTRA="$icount ${QEMU_EXTRA:-}" guest micro rust micro
		;;
	e2e)
		for impl in $IMPLS; do
			IMPL=$impl bash "$DEVMEM_TOP/devtools/build.sh"
		done
		for round in $(seq "${E2E_BOOTS:-3}"); do
			for impl in $IMPLS; do
				GUEST_CPUS=1 QEMU_EXTRA="$icount ${QEMU_EXTRA:-}" \
					guest "e2e-$impl-$round" "$impl" e2e
			done
		done
		;;
	*) die "unknown phase $p (micro, e2e)" ;;
	esac
done

{
	echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
		"$(($(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) >> 20)) GiB"
	echo "QEMU: $(qemu-system-x86_64 --version | head -n1); every phase: $icount, 1 vCPU"
	echo "kernel variant: $VARIANT; date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $commit; phases: $PHASES"
} >"$out/machine.txt"
python3 "$DEVMEM_TOP/bench/report.py" "$out" "$out/machine.txt" "${raws[@]}"
echo "results: $out/results.md"
