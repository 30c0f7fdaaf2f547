# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the devmem-rs scripts. Sourced, never run.

set -euo pipefail

DEVMEM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DEVMEM_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/devmem-rs}
VARIANT=${VARIANT:-debug}
IMPL=${IMPL:-rust}          # devmem TCP implementation: rust (devmem-rs) or c (upstream)
case "$IMPL" in rust|c) ;; *) echo "IMPL must be rust or c, not '$IMPL'" >&2; exit 2 ;; esac
SRC=$CACHE/src              # base tree + overlay, kept between runs
BASE=$CACHE/base            # pristine base tree, never modified
OUT=$CACHE/build-$VARIANT   # O= build directory
[ "$IMPL" = rust ] || OUT=$OUT-$IMPL
DL=$CACHE/downloads         # cached .deb files
TOOLS=$CACHE/tools          # extracted rust-src and other helpers
LIBURING=$TOOLS/liburing-a33a770d  # built by setup for upstream's iou-zcrx (see setup.sh)
LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
# The project's Python is Debian's, whose modules (python3-yaml, python3-jsonschema) setup
# installs; whatever python3 the caller's PATH has first (pyenv, a venv) is not used. The
# tree's Python tools run through `#!/usr/bin/env python3`, so $CACHE/bin holds only a
# python3 that is Debian's, and goes first. The virtme-ng venv is not on PATH: boot.sh
# calls its vng by path.
PYTHON=/usr/bin/python3
PYBIN=$CACHE/bin
export PATH=$PYBIN:$HOME/.cargo/bin:$PATH

# The kernel-path directories of the repository that are copied over the base tree.
OVERLAY_DIRS="rust drivers include net tools Documentation"

mkdir -p "$CACHE" "$DL" "$TOOLS" "$PYBIN"
[ "$(readlink "$PYBIN/python3" 2>/dev/null)" = "$PYTHON" ] || ln -sfn "$PYTHON" "$PYBIN/python3"

_phase_name=
_phase_start=0

# phase NAME: print a header and remember the start time; phase_end prints the duration.
phase() {
	_phase_name=$1
	_phase_start=$(date +%s)
	printf '==> %s\n' "$_phase_name"
}

phase_end() {
	printf '==> %s: done in %ss\n' "$_phase_name" $(($(date +%s) - _phase_start))
}

die() {
	printf 'devmem-rs: error: %s\n' "$*" >&2
	exit 1
}

# Quiet a noisy command, but show its tail when it fails.
quiet() {
	local log
	log=$(mktemp)
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

# Version of the Rust compiler, e.g. 1.95.0.
rustc_version() {
	rustc --version | awk '{print $2}'
}

# The extracted rust-src library matching rustc.
rust_lib_src() {
	echo "$TOOLS/rust-src-$(rustc_version)/usr/lib/rustlib/src/rust/library"
}

kmake() {
	make -C "$SRC" O="$OUT" LLVM="$LLVM_SUFFIX" RUST_LIB_SRC="$(rust_lib_src)" \
		-j"$(nproc)" "$@"
}
