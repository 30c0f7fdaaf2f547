#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The misuses of the Rust net abstractions that must not build. Each case in
# devtools/compile_fail/ (but prelude.rs) is appended to prelude.rs and built as an
# external module against the Rust build; its first line says what must happen:
#   // expect: ok                  it builds (control.rs: the harness can pass)
#   // expect: E0308 ExtraOps      it fails with that error code, and the compiler's
#                                  output names the given word
#   // expect: - ctx               it fails with an error that has no code (borrow checker)
#   // expect: E0080 WORD AT       it fails as above, with the error in the kernel crate
#                                  where code generated for the case's type fails (a
#                                  constant's evaluation): the output names AT, that
#                                  instantiation, instead of a line of the case
# Prints KTAP-style `ok N CASE` / `not ok N CASE` lines and a plan.

. "$(dirname "$0")/lib.sh"

dir=$DEVMEM_TOP/devtools/compile_fail
work=$CACHE/compile_fail
[ -f "$OUT/vmlinux" ] || die "no kernel in $OUT: run devtools/build.sh"
rm -rf "$work"
mkdir -p "$work"
cases=$(cd "$dir" && ls ./*.rs | sed 's|^\./||; s|\.rs$||' | grep -vx prelude)
echo "1..$(echo "$cases" | wc -l)"
prelude_lines=$(wc -l <"$dir/prelude.rs")
n=0
for c in $cases; do
	n=$((n + 1))
	read -r _ _ code word at < <(head -n1 "$dir/$c.rs")
	m=$work/$c
	mkdir -p "$m"
	echo "obj-m := compile_fail.o" >"$m/Makefile"
	cat "$dir/prelude.rs" "$dir/$c.rs" >"$m/compile_fail.rs"
	rc=0
	kmake M="$m" modules >"$m/build.log" 2>&1 || rc=$?
	why=
	if [ "$code" = ok ]; then
		[ $rc = 0 ] || why="did not build: $(grep -m1 '^error' "$m/build.log")"
	elif [ $rc = 0 ]; then
		why="built, but must not"
	elif [ "$code" != - ] && ! grep -q "^error\[$code\]" "$m/build.log"; then
		why="failed without $code: $(grep -m1 '^error' "$m/build.log")"
	elif [ "$code" = - ] && ! grep -q '^error: ' "$m/build.log"; then
		why="failed without a compiler error"
	elif ! grep -q -- "$word" "$m/build.log"; then
		why="the error does not name $word"
	elif [ -n "$at" ]; then
		grep -qF -- "$at" "$m/build.log" || why="the error does not name $at"
	else
		# The first error is the case's, not the prelude's.
		line=$(sed -n 's/^ *--> compile_fail\.rs:\([0-9]*\):.*/\1/p' "$m/build.log" | head -n1)
		[ "${line:-0}" -gt "$prelude_lines" ] || why="the first error is not in the case (line ${line:-?})"
	fi
	if [ -z "$why" ]; then
		echo "ok $n $c"
	else
		echo "not ok $n $c # $why (log: $m/build.log)"
	fi
done
