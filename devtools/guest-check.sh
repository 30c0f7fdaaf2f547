#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test guest: print the KUnit results, run the installed kselftests, the
# leak gate and a kmemleak scan, each in a section that devtools/report.py reads on the
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

# Built-in suites run at boot, before debugfs can keep their case logs: their KTAP is
# in the kernel log.
section kunit
dmesg --notime

section kselftest
# The host tree is read-only in the guest: run from a copy.
rm -rf /tmp/kselftest
cp -a "$ksft" /tmp/kselftest
tests=()
for t in "$@"; do
	tests+=(-t "$t")
done
(cd /tmp/kselftest && env -i PATH="$PATH" HOME=/root TERM=dumb ./run_kselftest.sh "${tests[@]}")

section leaks
python3 "$top/devtools/guest-leaks.py" /tmp/kselftest/devmem 2>&1

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
