#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A Rust module built with this kernel loads, runs its init, unloads and runs its exit.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

MOD=rust_minimal

ktap_print_header
ktap_set_plan 2

if [ -d /sys/module/$MOD ]; then
	ktap_exit_fail_msg "$MOD is loaded already"
fi

mark=$(dmesg | wc -l)
if modprobe $MOD && [ -d /sys/module/$MOD ] &&
   dmesg_since "$mark" | grep -q "$MOD: Rust minimal sample (init)"; then
	ktap_test_pass "load"
else
	ktap_print_msg "modprobe $MOD failed or its init message is missing"
	ktap_test_fail "load"
fi

mark=$(dmesg | wc -l)
if modprobe -r $MOD && [ ! -d /sys/module/$MOD ] &&
   dmesg_since "$mark" | grep -q "$MOD: My numbers are \[72, 108, 200\]"; then
	ktap_test_pass "unload"
else
	ktap_print_msg "modprobe -r $MOD failed or its exit message is missing"
	ktap_test_fail "unload"
fi

ktap_finished
