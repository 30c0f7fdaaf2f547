#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the kernel in $OUT from the tree prepared by tree.sh, then build
# and install the kselftests the guest runs. VARIANT=debug (default) adds KASAN,
# kmemleak and lockdep; VARIANT=release builds without them in its own directory.

. "$(dirname "$0")/lib.sh"

# The test kernel (debug) is also tested with upstream's drivers/net suite in HW mode.
if [ "$VARIANT" = release ]; then
	SELFTEST_TARGETS=${SELFTEST_TARGETS:-"drivers/dma-buf devmem"}
else
	SELFTEST_TARGETS=${SELFTEST_TARGETS:-"drivers/dma-buf devmem drivers/net drivers/net/hw"}
fi

# The test kernel (debug) also holds what the kselftest targets it is tested with
# declare: upstream's drivers/net and drivers/net/hw suites, read from the prepared tree,
# and our devmem target. The project's own fragments come after them and win.
fragments() {
	echo "$DEVMEM_TOP/configs/base.config"
	echo "$DEVMEM_TOP/configs/devmem.config"
	if [ "$VARIANT" != release ]; then
		echo "$SRC/tools/testing/selftests/drivers/net/config"
		echo "$SRC/tools/testing/selftests/drivers/net/hw/config"
		echo "$DEVMEM_TOP/tools/testing/selftests/devmem/config"
		echo "$DEVMEM_TOP/configs/debug.config"
	fi
	[ "$IMPL" = rust ] || echo "$DEVMEM_TOP/configs/impl-$IMPL.config"
}

# Everything the configuration depends on besides the base tree: the fragments, the
# repository's Kconfig files and patches.
config_inputs_hash() {
	{
		cat "$BASE/.devmem-rs-base"
		echo "VARIANT=$VARIANT IMPL=$IMPL"
		for f in $(fragments); do cat "$f"; done
		(cd "$DEVMEM_TOP" && git ls-files -co --exclude-standard -- 'Kconfig' '*/Kconfig*' \
			'patches/*.patch' 2>/dev/null | sort | xargs -r cat)
	} | sha256sum | cut -d' ' -f1
}

# Every CONFIG_ line of the fragments must hold in the final .config: a symbol whose
# dependencies are not met is dropped silently by Kconfig, so say which. A later fragment
# overrides an earlier one, as in the merged KCONFIG_ALLCONFIG file.
check_config() {
	local bad=0 line sym val have
	declare -A want=()
	while read -r line; do
		case "$line" in
		CONFIG_*=*)
			sym=${line%%=*}
			val=${line#*=}
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			val=n
			;;
		*) continue ;;
		esac
		want[$sym]=$val
	done < <(cat $(fragments))
	for sym in "${!want[@]}"; do
		val=${want[$sym]}
		have=$(sed -n "s/^$sym=\(.*\)/\1/p" "$OUT/.config")
		[ -n "$have" ] || have=n
		if [ "$have" != "$val" ]; then
			echo "config: $sym=$val requested, got $have" >&2
			bad=1
		fi
	done
	[ $bad = 0 ] || die "the configuration does not hold what configs/*.config ask for"
}

configure() {
	local hash merged=$OUT/devmem-rs.fragment
	hash=$(config_inputs_hash)
	if [ -f "$OUT/.config" ] && [ "$(cat "$OUT/.devmem-rs-config" 2>/dev/null)" = "$hash" ]; then
		echo "configuration unchanged"
		return
	fi
	mkdir -p "$OUT"
	cat $(fragments) >"$merged"
	KCONFIG_ALLCONFIG=$merged quiet kmake allnoconfig || die "allnoconfig failed"
	check_config
	echo "$hash" >"$OUT/.devmem-rs-config"
}

# A C build directory that does not exist yet starts as a copy of the Rust build of the
# same variant, when that is built: the two configurations differ in a few symbols (the
# devmem implementation, KUnit), and kbuild rebuilds only what depends on those, so a cold
# run does not compile the same kernel twice.
seed_from_rust() {
	local rust_out=$CACHE/build-$VARIANT
	[ "$IMPL" != rust ] && [ ! -e "$OUT" ] && [ -f "$rust_out/vmlinux" ] || return 0
	echo "seeding $OUT from $rust_out"
	rm -rf "$OUT.tmp"
	cp -a "$rust_out" "$OUT.tmp"
	rm -f "$OUT.tmp/.devmem-rs-config"
	rm -rf "$OUT.tmp/kselftest"
	mv "$OUT.tmp" "$OUT"
}

phase "config ($VARIANT)"
seed_from_rust
command -v bindgen >/dev/null || die "bindgen not found: run devtools/setup.sh"
[ -d "$(rust_lib_src)/core" ] || die "rust-src for rustc $(rustc_version) not found: run devtools/setup.sh"
configure
phase_end

phase "kernel build ($VARIANT)"
kmake -s bzImage modules || die "kernel build failed"
phase_end

# The standard install; the devmem target builds upstream's ncdevmem itself and carries
# the YNL library and specs its Python tests use.
phase "kselftests ($SELFTEST_TARGETS)"
quiet kmake TARGETS="$SELFTEST_TARGETS" kselftest-install || die "kselftest build failed"
# Upstream's drivers/net/hw builds its iou-zcrx only when `$(CC) -luring` links a probe
# program, which finds no liburing with the zcrx API here, and nothing given to kbuild
# reaches that Makefile (the selftests' Makefile clears MAKEFLAGS under kbuild): build it
# as that Makefile would, against the liburing setup built (static: the guest needs no
# liburing), and install it beside the programs that run it (nk_qlease.py, iou-zcrx.py).
if [[ " $SELFTEST_TARGETS " == *" drivers/net/hw "* ]]; then
	[ -f "$LIBURING/src/liburing.a" ] || die "no liburing in $LIBURING: run devtools/setup.sh"
	quiet "clang$LLVM_SUFFIX" -O2 -g -isystem "$OUT/usr/include" -I"$LIBURING/src/include" \
		"$SRC/tools/testing/selftests/drivers/net/hw/iou-zcrx.c" "$LIBURING/src/liburing.a" \
		-o "$OUT/kselftest/kselftest_install/drivers/net/hw/iou-zcrx" ||
		die "iou-zcrx did not build"
fi
[ -x "$OUT/kselftest/kselftest_install/devmem/ncdevmem" ] || die "the devmem target installed no ncdevmem"
phase_end
