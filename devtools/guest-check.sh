#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test guest: print the KUnit results, run the installed kselftests, the
# leak gate and kmemleak's scans, each in a section that devtools/report.py reads on the
# host.
# Usage: guest-check.sh KSELFTEST_INSTALL_DIR COLLECTION:PROGRAM...
# The programs are those devtools/expected.txt lists for this build; run_kselftest.sh
# runs them as installed, with no environment of ours.

set -u
ksft=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
# The guest shares the host's file system but not its PATH: its python3 is Debian's, which
# has the modules the tests use (setup installs them), not whatever the host put first.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# Each section is also marked in the kernel log, so the console log shows its timing.
section() {
	echo "devmem-rs: $1" >/dev/kmsg
	echo "### devmem-rs: $1"
}

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug

# A leak that kmemleak's scans at the end must find: samples/kmemleak's module, whose init
# orphans 14 objects (devtools/report.py tells their records from any other). Loaded
# before the tests: what the module's init left on a kernel stack that is reused soon
# after (copies of the orphans' addresses) hides them from a scan soon after.
planted=
if [ -w /sys/kernel/debug/kmemleak ]; then
	if modprobe kmemleak-test; then
		planted="planted: kmemleak_test"
	else
		planted="planted: none (modprobe kmemleak-test failed)"
	fi
fi

# Built-in suites run at boot, before debugfs can keep their case logs: their KTAP is
# in the kernel log.
section kunit
dmesg --notime

section kselftest
# The host tree is read-only in the guest: run from a copy.
rm -rf /tmp/kselftest
cp -a "$ksft" /tmp/kselftest
# Ours first; then upstream's drivers/net programs, in the HW-mode environment that
# devmem/hw_env.sh makes of the two ports (their results join the same section).
ours=() theirs=()
for t in "$@"; do
	case "$t" in
	drivers/net:* | drivers/net/hw:*) theirs+=(-t "$t") ;;
	*) ours+=(-t "$t") ;;
	esac
done
run_ksft() {
	(cd /tmp/kselftest && env -i PATH="$PATH" HOME=/root TERM=dumb ./run_kselftest.sh "$@")
}
[ ${#ours[@]} -eq 0 ] || run_ksft "${ours[@]}"
if [ ${#theirs[@]} -gt 0 ]; then
	/tmp/kselftest/devmem/hw_env.sh /tmp/kselftest | sed 's/^/# /'
	# Their timeouts (drivers/net/settings: 360 s) are for hardware; under TCG a program
	# takes several times as long.
	run_ksft --override-timeout 1200 "${theirs[@]}"
fi

section leaks
python3 "$top/devtools/guest-leaks.py" /tmp/kselftest/devmem 2>&1

section kmemleak
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo "$planted"
	# A scan reports an object only if the scan before it saw it too, unreferenced and
	# unchanged (its first scan just records a checksum: nothing allocated since the
	# previous scan can be reported by one scan alone), and only after min_unref_scans
	# such scans. The automatic scans are off (configs/debug.config): these are all, so
	# 1 + min_unref_scans of them (each walks all of the guest's memory, slow under TCG).
	read -r confirm </sys/module/kmemleak/parameters/min_unref_scans || confirm=1
	[ "$confirm" -ge 1 ] || confirm=1
	for _ in $(seq $((confirm + 1))); do
		echo scan >/sys/kernel/debug/kmemleak
	done
	cat /sys/kernel/debug/kmemleak
else
	echo "kmemleak is not available in this kernel"
fi

section end
