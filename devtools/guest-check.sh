#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test guest: print the KUnit results, run the installed kselftests and a
# kmemleak scan, each in a section that devtools/report.py reads on the host.
# Usage: guest-check.sh KSELFTEST_INSTALL_DIR

set -u
ksft=$1

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug

echo "### devmem-rs: kunit"
for r in /sys/kernel/debug/kunit/*/results; do
	[ -e "$r" ] && cat "$r"
done

echo "### devmem-rs: kselftest"
# The host tree is read-only in the guest: run from a copy.
rm -rf /tmp/kselftest
cp -a "$ksft" /tmp/kselftest
(cd /tmp/kselftest && ./run_kselftest.sh)

echo "### devmem-rs: kmemleak"
if [ -w /sys/kernel/debug/kmemleak ]; then
	# Two scans: an object is reported only once it was unreferenced in two of them.
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
else
	echo "kmemleak is not available in this kernel"
fi

echo "### devmem-rs: end"
