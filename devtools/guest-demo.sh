#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest for `make run`: devmem TCP receive end to end on the Rust 82576
# driver, with the devmem-rs core, through the installed devmem_rx.py selftest.
# Usage: guest-demo.sh KSELFTEST_INSTALL_DIR

set -eu -o pipefail
ksft=$1
# The guest shares the host's file system, not its PATH: Debian's python3 (see guest-check.sh).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

if grep -q ' mp_dmabuf_devmem_init$' /proc/kallsyms; then
	impl="upstream C (CONFIG_NET_DEVMEM_C)"
else
	impl="devmem-rs (CONFIG_NET_DEVMEM_RUST)"
fi
echo "kernel: $(uname -r), devmem TCP served by $impl"
echo "KUnit suites of the devmem-rs core:"
dmesg --notime | grep -E "^(not )?ok [0-9]+ (devmem_rs_[a-z_]+|rust_page_pool|rust_dma_buf)$" |
	sed 's/^/  /'

rm -rf /tmp/kselftest && cp -a "$ksft" /tmp/kselftest
echo "devmem receive: port A on igb_rs, port B (the sender) on the C igb driver in a netns"
python3 /tmp/kselftest/devmem/devmem_rx.py | sed 's/^/  /'
