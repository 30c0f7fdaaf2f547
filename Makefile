# SPDX-License-Identifier: GPL-2.0
#
# devmem-rs: the project's entry points. The kernel's own Makefile is never replaced:
# the kernel is built in a cache directory (DEVMEM_RS_CACHE, default ~/.cache/devmem-rs)
# from Debian's linux-source-7.3 with this repository overlaid.
#
#   make run     set up, build, boot the two-port guest, show the pipeline end to end
#   make check   set up, build, boot, run every test on the Rust (devmem-rs) and the C
#                devmem build; ends with `N passed, N failed`
#   make bench   build and boot each implementation's release kernel, run the benchmarks,
#                write bench/results/ (table, plots, raw output)
#   make soak    the chaos run alone for SOAK_SECONDS (600) on each of SEEDS (one random
#                seed), on IMPL's debug kernel; `make check` runs it for 120 s, seed 1
#   make setup | tree | build   the single steps
#   make clean   drop the build directory of VARIANT (debug or release) and IMPL
#
#   IMPL=rust|c     the devmem TCP implementation that build, run and clean use (rust)
#   IMPLS="rust c"  the implementations check tests, in order

VARIANT ?= debug
BENCH_VARIANT ?= release
IMPL ?= rust
IMPLS ?= rust c
export VARIANT IMPL IMPLS

.PHONY: run check bench soak setup tree build clean

run:
	@bash devtools/run.sh

check:
	@bash devtools/check.sh

bench:
	@VARIANT=$(BENCH_VARIANT) bash devtools/bench.sh

soak:
	@bash devtools/soak.sh

setup:
	@bash devtools/setup.sh

tree: setup
	@bash devtools/tree.sh

build: tree
	@bash devtools/build.sh

clean:
	@bash -c '. devtools/lib.sh; echo "removing $$OUT"; rm -rf "$$OUT"'
