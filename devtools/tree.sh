#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the kernel source tree in the cache: Debian's linux-source-7.3 (any 7.3.x, the
# .deb kept), with the repository's kernel-path files copied over it and its patches applied.
#
# The tree is updated in place: only files whose content changes are written, so kbuild
# rebuilds only what changed. Files that an earlier run overlaid or patched and that the
# repository no longer touches are restored from the pristine base (or removed).

. "$(dirname "$0")/lib.sh"

MANIFEST=$CACHE/overlay.manifest

fetch_base() {
	local deb tmp tarball
	if [ -f "$BASE/.devmem-rs-base" ]; then
		return
	fi
	deb=$( (cd "$DL" && apt-get download linux-source-7.3 >/dev/null 2>&1 || true
		ls -1 linux-source-7.3_*.deb 2>/dev/null | sort -V | tail -n1) )
	[ -n "$deb" ] || die "linux-source-7.3 is not in the archive (run devtools/setup.sh for the apt suites) and no cached .deb in $DL"
	echo "extracting $deb"
	tmp=$CACHE/base.tmp
	rm -rf "$tmp" "$BASE"
	mkdir -p "$tmp/deb" "$tmp/tree"
	dpkg -x "$DL/$deb" "$tmp/deb"
	tarball=$(ls "$tmp"/deb/usr/src/linux-source-7.3.tar.* | head -n1)
	tar -xf "$tarball" -C "$tmp/tree" --strip-components=1
	echo "$deb" >"$tmp/tree/.devmem-rs-base"
	mv "$tmp/tree" "$BASE"
	rm -rf "$tmp"
}

# Files a patch touches, from its +++ lines.
patch_files() {
	sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"
}

# copy_if_changed FROM TO: write TO only when the content differs.
copy_if_changed() {
	if ! cmp -s "$1" "$2"; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
		echo "  updated ${2#"$SRC"/}"
	fi
}

sync_tree() {
	local stage=$CACHE/stage f p
	if [ ! -f "$SRC/.devmem-rs-base" ] ||
	   ! cmp -s "$SRC/.devmem-rs-base" "$BASE/.devmem-rs-base"; then
		echo "copying the base tree to $SRC"
		rm -rf "$SRC" "$MANIFEST"
		cp -a "$BASE" "$SRC"
	fi

	# Stage the desired content of every file the repository touches.
	rm -rf "$stage"
	mkdir -p "$stage"
	for d in $OVERLAY_DIRS; do
		[ -d "$DEVMEM_TOP/$d" ] && cp -a "$DEVMEM_TOP/$d" "$stage/"
	done
	# Not the repository's: what Python left beside the tests that ran from the checkout.
	find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
	if [ -f "$DEVMEM_TOP/Kconfig" ]; then
		mkdir -p "$stage/devmem-rs"
		cp "$DEVMEM_TOP/Kconfig" "$stage/devmem-rs/Kconfig"
	fi
	for p in "$DEVMEM_TOP"/patches/*.patch; do
		[ -f "$p" ] || continue
		for f in $(patch_files "$p"); do
			if [ ! -e "$stage/$f" ] && [ -e "$BASE/$f" ]; then
				mkdir -p "$stage/$(dirname "$f")"
				cp "$BASE/$f" "$stage/$f"
			fi
		done
		patch -d "$stage" -p1 -s --no-backup-if-mismatch -F0 <"$p" ||
			die "patch ${p#"$DEVMEM_TOP"/} does not apply to $(cat "$BASE/.devmem-rs-base")"
	done

	(cd "$stage" && find . -type f -printf '%P\n' | sort) >"$MANIFEST.new"

	# Files touched last time but not now: back to the base content, or gone.
	if [ -f "$MANIFEST" ]; then
		comm -23 "$MANIFEST" "$MANIFEST.new" | while read -r f; do
			if [ -e "$BASE/$f" ]; then
				copy_if_changed "$BASE/$f" "$SRC/$f"
			else
				rm -f "$SRC/$f"
				echo "  removed $f"
			fi
		done
	fi
	while read -r f; do
		copy_if_changed "$stage/$f" "$SRC/$f"
	done <"$MANIFEST.new"
	mv "$MANIFEST.new" "$MANIFEST"
	rm -rf "$stage"
}

phase "tree: base $(cat "$BASE/.devmem-rs-base" 2>/dev/null || echo '(fetching)') + overlay"
fetch_base
sync_tree
phase_end
