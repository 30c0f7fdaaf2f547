#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build the kernel once per devmem implementation (IMPLS, default "rust c"),
# boot the two-port guest on each, run bench/guest.py there, and write the results
# directory (BENCH_OUT, default bench/results): results.csv, results.md, SVG plots and the
# raw guest output. VARIANT is release unless given (make bench passes BENCH_VARIANT):
# KASAN and lockdep would weigh on what is measured.

export VARIANT=${VARIANT:-release}
. "$(dirname "$0")/lib.sh"

IMPLS=${IMPLS:-rust c}
out=${BENCH_OUT:-$DEVMEM_TOP/bench/results}
tcp=$CACHE/bench/tcp_rxtx

bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"

mkdir -p "$CACHE/bench" "$out"
gcc -O2 -Wall -o "$tcp" "$DEVMEM_TOP/bench/tcp_rxtx.c"

raws=()
for impl in $IMPLS; do
	IMPL=$impl bash "$DEVMEM_TOP/devtools/build.sh"
	phase "guest: bench ($impl, $VARIANT)"
	logdir=$CACHE/logs/bench-$VARIANT-$impl
	IMPL=$impl QUIET=1 bash "$DEVMEM_TOP/devtools/boot.sh" "$logdir" \
		/usr/bin/python3 "$DEVMEM_TOP/bench/guest.py" "$impl" "$SRC" "$tcp" ||
		die "the $impl benchmark guest failed: see $logdir/guest.out and console.log"
	grep -q '^# bench done' "$logdir/guest.out" ||
		die "the $impl benchmark did not finish: see $logdir/guest.out"
	cp "$logdir/guest.out" "$out/raw-$impl.txt"
	raws+=("$out/raw-$impl.txt")
	phase_end
done

{
	echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
		"$(($(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) >> 20)) GiB"
	echo "QEMU: $(qemu-system-x86_64 --version | head -n1)"
	echo "kernel variant: $VARIANT; date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git -C "$DEVMEM_TOP" describe --always --dirty)"
} >"$out/machine.txt"
python3 "$DEVMEM_TOP/bench/report.py" "$out" "$out/machine.txt" "${raws[@]}"
echo "results: $out/results.md"
