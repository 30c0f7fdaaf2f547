#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The chaos run (kselftest devmem/devmem_chaos.py) for longer than `make check` gives it:
# SOAK_SECONDS (default 600) for each seed of SEEDS (default: one random seed), on the
# IMPL build. For each seed the guest runs it alone, then the leak gate and kmemleak's
# scans; the report gives its lines and `N passed, N failed, N skipped` per seed, and the
# last line sums them. A failing seed replays with SEEDS=that-seed.

. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SEEDS=${SEEDS:-$((RANDOM * 32768 + RANDOM))}
kmemleak=required
[ "$VARIANT" = debug ] || kmemleak=optional
bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"
bash "$DEVMEM_TOP/devtools/build.sh"

manifest=$CACHE/logs/soak-manifest.txt
mkdir -p "$CACHE/logs"
echo "$IMPL  kselftest  devmem:devmem_chaos.py  2  project" >"$manifest"
npass=0 nfail=0 nskip=0
for seed in $SEEDS; do
	# The installed tests with this run's length and seed, and a kselftest timeout
	# that covers them.
	ksft=$OUT/soak/kselftest_install
	rm -rf "$OUT/soak"
	mkdir -p "$OUT/soak"
	cp -a "$OUT/kselftest/kselftest_install" "$ksft"
	printf 'seconds=%s\nseed=%s\n' "$SOAK_SECONDS" "$seed" >"$ksft/devmem/devmem_chaos.conf"
	echo "timeout=$((SOAK_SECONDS + 900))" >"$ksft/devmem/settings"
	logs=$CACHE/logs/soak-$VARIANT-$IMPL-$seed
	rm -rf "$logs"

	phase "guest ($IMPL): chaos for $SOAK_SECONDS s, seed $seed"
	set +e
	KERNEL_APPEND="${KERNEL_APPEND:-} kunit.enable=0" BOOT_TIMEOUT=$((SOAK_SECONDS + 1800)) \
	GUEST_SILENCE=$((SOAK_SECONDS + 1500)) \
	QUIET=1 bash "$DEVMEM_TOP/devtools/boot.sh" "$logs" \
		bash "$DEVMEM_TOP/devtools/guest-check.sh" "$ksft" devmem:devmem_chaos.py
	guest_rc=$?
	"$PYTHON" "$DEVMEM_TOP/devtools/report.py" --guest "$logs/guest.out" \
		--console "$logs/console.log" --manifest "$manifest" --build "$IMPL" \
		--top "$DEVMEM_TOP" --kmemleak "$kmemleak" \
		--guest-rc "$guest_rc" --prefix "$IMPL/seed-$seed/" >"$logs/report.txt"
	set -e
	phase_end
	grep -E '^# # (chaos|[0-9]+ steps|the stream)' "$logs/guest.out" || true
	cat "$logs/report.txt"
	read -r p f s < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
		"$logs/report.txt" | tail -n1)
	[ -n "${p:-}" ] || { p=0; f=1; s=0; echo "FAIL $IMPL/seed-$seed/report: no summary"; }
	npass=$((npass + p)) nfail=$((nfail + f)) nskip=$((nskip + s))
	echo "logs: $logs"
	echo
done
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ]
