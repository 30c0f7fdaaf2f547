#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and booting devmem-rs needs on a Debian 12 host, as root.
# Idempotent: a second run installs nothing. The Debian mirror is taken from the
# machine's own apt sources; the extra suites are pinned low so nothing else upgrades.

. "$(dirname "$0")/lib.sh"

SOURCES=/etc/apt/sources.list.d/devmem-rs.sources
PREFS=/etc/apt/preferences.d/devmem-rs.pref

HOST_PKGS="clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev
	cpio rsync kmod dwarves ccache udev busybox-static python3-yaml python3-jsonschema
	iproute2 xz-utils zstd git make gcc libc6-dev libcap-ng-dev libseccomp-dev python3-venv
	socat iputils-ping iperf3 bpftool"

[ "$(id -u)" = 0 ] || die "setup must run as root (it installs Debian packages)"

# The mirror URI that the machine's own sources use for the main Debian archive.
debian_mirror() {
	local uri
	uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "cannot find the Debian bookworm mirror in /etc/apt/sources*"
	echo "$uri"
}

APT_UPDATED=
apt_update() {
	[ -n "$APT_UPDATED" ] && return
	quiet apt-get update || die "apt-get update failed"
	APT_UPDATED=1
}

add_suites() {
	local mirror want_src want_pref
	mirror=$(debian_mirror)
	want_src="Types: deb
URIs: $mirror
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	want_pref="Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie
Pin-Priority: 50

Package: *
Pin: release n=trixie-backports
Pin-Priority: 50"
	if [ "$(cat "$SOURCES" 2>/dev/null)" != "$want_src" ] ||
	   [ "$(cat "$PREFS" 2>/dev/null)" != "$want_pref" ]; then
		echo "adding apt suites bookworm-backports, trixie, trixie-backports (pinned low)"
		printf '%s\n' "$want_src" >"$SOURCES"
		printf '%s\n' "$want_pref" >"$PREFS"
		APT_UPDATED=
		apt_update
	fi
}

installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$3 == "installed" {print $4}' || true
}

# install_pkgs [-t SUITE] PKG...: install those not installed yet.
install_pkgs() {
	local target=() missing=() p
	if [ "$1" = -t ]; then
		target=(-t "$2")
		shift 2
	fi
	for p in "$@"; do
		[ -n "$(installed_version "$p")" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	echo "installing: ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive quiet apt-get install -y --no-install-recommends \
		"${target[@]}" "${missing[@]}" || die "could not install: ${missing[*]}"
}

# need_version PKG MIN SUITE: make sure PKG is at least MIN, taking it from SUITE.
need_version() {
	local v
	v=$(installed_version "$1")
	if [ -n "$v" ] && dpkg --compare-versions "$v" ge "$2"; then
		return
	fi
	echo "installing $1 >= $2 from $3"
	apt_update
	DEBIAN_FRONTEND=noninteractive quiet apt-get install -y --no-install-recommends \
		-t "$3" "$1" || die "$1 >= $2 is needed and could not be installed from $3"
	v=$(installed_version "$1")
	dpkg --compare-versions "${v:-0}" ge "$2" || die "$1 >= $2 is needed, $3 has ${v:-none}"
}

# rust-src of exactly the version of rustc, extracted (not installed) into the cache.
fetch_rust_src() {
	local rv dir ver deb
	rv=$(rustc_version)
	dir=$TOOLS/rust-src-$rv
	[ -d "$dir/usr/lib/rustlib/src/rust/library/core" ] && return
	apt_update
	ver=$(apt-cache madison rust-src | awk -v rv="$rv" '
		{ v = $3; u = v; sub(/^[0-9]+:/, "", u); sub(/[+~-].*/, "", u);
		  if (u == rv) { print v; exit } }')
	[ -n "$ver" ] || die "rust-src $rv matching rustc $rv is not in the archive"
	echo "fetching rust-src $ver"
	(cd "$DL" && quiet apt-get download "rust-src=$ver") || die "cannot download rust-src $ver"
	deb=$(ls "$DL"/rust-src_*"${ver#*:}"*_all.deb | head -n1)
	rm -rf "$dir.tmp"
	dpkg -x "$deb" "$dir.tmp"
	mv "$dir.tmp" "$dir"
}

fetch_bindgen() {
	if command -v bindgen >/dev/null 2>&1; then
		return
	fi
	echo "installing bindgen-cli (cargo)"
	quiet cargo install --locked bindgen-cli || die "cargo install bindgen-cli failed"
}

# virtiofsd gives the guest its root file system over virtio-fs, much faster than 9p under
# TCG; Debian has it only in trixie, built against a newer libc.
fetch_virtiofsd() {
	if command -v virtiofsd >/dev/null 2>&1; then
		return
	fi
	echo "installing virtiofsd (cargo)"
	quiet cargo install --locked virtiofsd || die "cargo install virtiofsd failed"
}

fetch_vng() {
	local venv=$CACHE/venv
	if [ -x "$venv/bin/vng" ]; then
		return
	fi
	echo "installing virtme-ng (PyPI) into $venv"
	rm -rf "$venv"
	quiet "$PYTHON" -m venv "$venv" || die "$PYTHON -m venv failed"
	quiet "$venv/bin/pip" install virtme-ng || die "pip install virtme-ng failed"
}

# liburing with the zcrx API (2.10 or later), for upstream's drivers/net/hw/iou-zcrx:
# Debian has 2.9 at most, and PyPI's liburing package ships C sources up to 2.6 only.
# The source distribution of py-asyncfiles 1.7.0 carries liburing in vendor/liburing:
# upstream's tree at commit a33a770d8379 (liburing-2.14-132, before 2.15-rc1; its spec
# already says 2.15), unchanged but for man-page symlinks made files. Fetched with the
# machine's pip configuration, checked against its hash, built static in the cache:
# iou-zcrx needs no liburing in the guest.
LIBURING_PKG=py-asyncfiles==1.7.0
LIBURING_SDIST=py_asyncfiles-1.7.0.tar.gz
LIBURING_SHA256=72c0642da230950b87b3cdf84d8065ce0f36bcdbfdef07caae4a50fb126b67f2
fetch_liburing() {
	local tgz=$DL/$LIBURING_SDIST
	[ -f "$LIBURING/src/liburing.a" ] && return
	echo "fetching liburing a33a770d (in $LIBURING_PKG, PyPI) and building it"
	mkdir -p "$DL"
	[ -f "$tgz" ] || quiet "$CACHE/venv/bin/pip" download --no-deps \
		--no-binary py-asyncfiles -d "$DL" "$LIBURING_PKG" ||
		die "cannot download $LIBURING_PKG"
	echo "$LIBURING_SHA256  $tgz" | sha256sum -c --quiet - ||
		die "$tgz is not the file this script was written for (sha256)"
	rm -rf "$LIBURING.tmp"
	mkdir -p "$LIBURING.tmp"
	tar xzf "$tgz" -C "$LIBURING.tmp" --strip-components=3 \
		"${LIBURING_SDIST%.tar.gz}/vendor/liburing" || die "no liburing in $tgz"
	(cd "$LIBURING.tmp" && quiet ./configure && quiet make -C src -j"$(nproc)") ||
		die "liburing did not build"
	mv "$LIBURING.tmp" "$LIBURING"
}

phase "setup: host packages"
add_suites
install_pkgs $HOST_PKGS
# bookworm's QEMU 7.2 has no igb; header split in the igb model needs >= 8.2.
need_version qemu-system-x86 1:8.2 bookworm-backports
# bookworm's ethtool 6.1 knows neither tcp-data-split nor hds-thresh.
need_version ethtool 6.11 trixie
phase_end

phase "setup: rust-src, bindgen, virtiofsd, virtme-ng, liburing"
fetch_rust_src
fetch_bindgen
fetch_virtiofsd
fetch_vng
fetch_liburing
phase_end

# Everything the later steps use, checked now, each named with where it was looked for:
# a missing piece stops here, not minutes later in a sub-make.
check_prereqs() {
	local missing=() t
	for t in clang$LLVM_SUFFIX ld.lld$LLVM_SUFFIX llvm-ar$LLVM_SUFFIX rustc cargo bindgen \
		virtiofsd qemu-system-x86_64 ethtool socat busybox flex bison bc pahole; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t (not on PATH: $PATH)")
	done
	[ -x "$PYTHON" ] || missing+=("$PYTHON (Debian's python3)")
	for t in yaml jsonschema; do
		"$PYTHON" -c "import $t" 2>/dev/null ||
			missing+=("Python module $t (import $t with $PYTHON; Debian package python3-$t)")
	done
	for t in vng virtme-run; do
		[ -x "$CACHE/venv/bin/$t" ] || missing+=("virtme-ng's $t ($CACHE/venv/bin/$t)")
	done
	[ -d "$(rust_lib_src)/core" ] || missing+=("rust-src for rustc $(rustc_version) ($(rust_lib_src))")
	[ -f "$LIBURING/src/liburing.a" ] || missing+=("liburing ($LIBURING/src/liburing.a)")
	[ -f "$LIBCLANG_PATH/libclang.so" ] || missing+=("libclang ($LIBCLANG_PATH/libclang.so)")
	if command -v qemu-system-x86_64 >/dev/null 2>&1 &&
	   ! qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
		missing+=("QEMU's igb device (qemu-system-x86_64 -device help)")
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		printf 'devmem-rs: error: missing after setup:\n' >&2
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi
}

phase "setup: check prerequisites"
check_prereqs
phase_end
