#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test: set up the host, prepare the tree, build the debug kernel and the
# kselftests, boot the two-port guest, run KUnit (Rust doctests included), the kselftests
# and a kmemleak scan there, and report one line per test and `N passed, N failed`.

. "$(dirname "$0")/lib.sh"

start=$(date +%s)
bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"
bash "$DEVMEM_TOP/devtools/build.sh"

logs=$CACHE/logs/check-$VARIANT
rm -rf "$logs"
ksft=$OUT/kselftest/kselftest_install

phase "guest: KUnit, kselftests, kmemleak"
set +e
QUIET=1 bash "$DEVMEM_TOP/devtools/boot.sh" "$logs" \
	bash "$DEVMEM_TOP/devtools/guest-check.sh" "$ksft" "$SRC"
guest_rc=$?
set -e
phase_end
echo "logs: $logs (console.log, guest.out)"

echo "total so far: $(($(date +%s) - start))s"
set +e
python3 "$DEVMEM_TOP/devtools/report.py" --guest "$logs/guest.out" \
	--console "$logs/console.log" --kselftest-list "$ksft/kselftest-list.txt" \
	--guest-rc "$guest_rc" | tee "$logs/report.txt"
rc=${PIPESTATUS[0]}
exit "$rc"
