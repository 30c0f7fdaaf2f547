#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test guest: print the KUnit results, run the installed kselftests and a
# kmemleak scan, each in a section that devtools/report.py reads on the host.
# Usage: guest-check.sh KSELFTEST_INSTALL_DIR KERNEL_TREE
# KERNEL_TREE is the prepared source tree: tests that speak netlink read the tree's YNL
# library and specs there (DEVMEM_KSRC).

set -u
ksft=$1
export DEVMEM_KSRC=$2
# The guest shares the host's file system but not its PATH: its python3 is Debian's, which
# has the modules the tests use (setup installs them), not whatever the host put first.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# Each section is also marked in the kernel log, so the console log shows its timing.
section() {
	echo "devmem-rs: $1" >/dev/kmsg
	echo "### devmem-rs: $1"
}

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug

# Built-in suites run at boot, before debugfs can keep their case logs: their KTAP is
# in the kernel log.
section kunit
dmesg --notime

section kselftest
# The host tree is read-only in the guest: run from a copy.
rm -rf /tmp/kselftest
cp -a "$ksft" /tmp/kselftest
(cd /tmp/kselftest && ./run_kselftest.sh)

section kmemleak
if [ -w /sys/kernel/debug/kmemleak ]; then
	# One scan (each one walks all of the guest's memory, which is slow under TCG);
	# objects younger than kmemleak's minimum age are not reported.
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
else
	echo "kmemleak is not available in this kernel"
fi

section end
