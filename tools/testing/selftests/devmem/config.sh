#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The running kernel holds every option this target's `config` lists (read from
# /proc/config.gz): =y must be built in, =m may be a module or built in.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
ktap_set_plan 1

if [ ! -r /proc/config.gz ]; then
	ktap_test_fail "config_holds_target_options"
	ktap_exit_fail_msg "/proc/config.gz is missing: CONFIG_IKCONFIG_PROC is not set"
fi
declare -A have=()
while IFS='=' read -r sym val; do
	have[$sym]=$val
done < <(zcat /proc/config.gz | grep '^CONFIG_')

bad=0 n=0
while IFS='=' read -r sym want; do
	case "$sym" in CONFIG_*) ;; *) continue ;; esac
	n=$((n + 1))
	got=${have[$sym]:-n}
	if [ "$got" != "$want" ] && ! { [ "$want" = m ] && [ "$got" = y ]; }; then
		ktap_print_msg "$sym=$want wanted, the kernel has $got"
		bad=$((bad + 1))
	fi
done <"$DEVMEM_DIR/config"

if [ $n -gt 0 ] && [ $bad = 0 ]; then
	ktap_print_msg "$n options of $DEVMEM_DIR/config hold"
	ktap_test_pass "config_holds_target_options"
else
	ktap_test_fail "config_holds_target_options"
fi
ktap_finished
