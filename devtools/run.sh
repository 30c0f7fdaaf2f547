#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job: set up the host, prepare the tree, build, boot the two-port guest and
# show devmem TCP receive end to end there (devtools/guest-demo.sh).

. "$(dirname "$0")/lib.sh"

bash "$DEVMEM_TOP/devtools/setup.sh"
bash "$DEVMEM_TOP/devtools/tree.sh"
bash "$DEVMEM_TOP/devtools/build.sh"

phase "guest: demo"
bash "$DEVMEM_TOP/devtools/boot.sh" "$CACHE/logs/run-$VARIANT" \
	bash "$DEVMEM_TOP/devtools/guest-demo.sh" "$OUT/kselftest/kselftest_install"
phase_end
