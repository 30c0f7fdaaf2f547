#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Self-test of devtools/report.py, on the host before any guest: a synthetic guest output
that matches a small manifest passes, and each way a result can vanish or go wrong fails
and is named. KTAP on stdout, one case per check."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.path.dirname(HERE)

MANIFEST = """\
x  kunit      suite_a                     2  project
x  kunit      rust_doctests_kernel@project 1  project
x  kunit      rust_doctests_kernel        2  upstream
x  kselftest  devmem:prog.sh              2  project
"""


def leak_record(addr, frame):
    """One record of /sys/kernel/debug/kmemleak, leaked from frame."""
    return f"""\
unreferenced object 0xffff8880{addr:08x} (size 32):
  comm "modprobe", pid 812, jiffies 4294912000
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 5a5a5a5a):
    kmemleak_alloc+0x4e/0x90
    __kmalloc_cache_noprof+0x2f1/0x4a0
    {frame}
    do_one_initcall+0xa2/0x3a0
"""


# The kmemleak section of a clean guest: the module loaded and its orphans reported.
PLANTED = "".join(leak_record(0x1000 + 64 * i, "init_module+0x55/0x530 [kmemleak_test]")
                  for i in range(13))
KMEMLEAK = "planted: kmemleak_test\n" + PLANTED
# A leak of anything else.
OTHER_LEAK = leak_record(0x9000, "devmem_rs_bind+0x1a/0x300")


GUEST = """\
### devmem-rs: kunit
KTAP version 1
1..2
    KTAP version 1
    # Subtest: suite_a
    1..2
    ok 1 case_one
    ok 2 case_two
ok 1 suite_a
    KTAP version 1
    # Subtest: rust_doctests_kernel
    1..3
    # rust_doctest_kernel_net_page_pool_rs_0.location: rust/kernel/net/page_pool.rs:10
    ok 1 rust_doctest_kernel_net_page_pool_rs_0
    # rust_doctest_kernel_sync_rs_0.location: rust/kernel/sync.rs:20
    ok 2 rust_doctest_kernel_sync_rs_0
    # rust_doctest_kernel_sync_rs_1.location: rust/kernel/sync.rs:30
    ok 3 rust_doctest_kernel_sync_rs_1
ok 2 rust_doctests_kernel
### devmem-rs: kselftest
TAP version 13
1..1
# timeout set to 900
# selftests: devmem: prog.sh
# TAP version 13
# 1..2
# ok 1 first
# ok 2 second
ok 1 selftests: devmem: prog.sh
### devmem-rs: leaks
leak-gate: dmabufs 0
### devmem-rs: kmemleak
""" + KMEMLEAK + """\
### devmem-rs: end
"""


# An upstream program with a case the manifest expects to fail.
MANIFEST_XFAIL = MANIFEST + "x  kselftest  drivers/net:up.py  3  upstream  xfail=up.c\n"
GUEST_XFAIL = GUEST.replace("### devmem-rs: leaks\n", """\
# selftests: drivers/net: up.py
# TAP version 13
# 1..3
# ok 1 up.a
# ok 2 up.b # SKIP the model has none
# not ok 3 up.c
not ok 2 selftests: drivers/net: up.py # exit=1
### devmem-rs: leaks
""")


def xfail_skips(manifest=MANIFEST_XFAIL):
    rc, out = report(GUEST_XFAIL, manifest=manifest)
    want = ("SKIP kselftest/drivers/net:up.py [upstream suite, 3 cases, 1 skipped, "
            "1 failed as expected]")
    if rc != 0 or want not in out.splitlines():
        return f"exit {rc}, no line {want!r}:\n{out}"
    return None


# A program the manifest puts in a boot of its own (boot=icount).
MANIFEST_BOOT = MANIFEST_XFAIL.replace("xfail=up.c\n", "xfail=up.c boot=icount\n")
# That boot's guest: no KUnit, the one program.
GUEST_BOOT = ("### devmem-rs: kunit\n"
              + GUEST_XFAIL[GUEST_XFAIL.index("### devmem-rs: kselftest"):]
              .replace("ok 1 selftests: devmem: prog.sh", "")
              .replace("# selftests: devmem: prog.sh", "")
              .replace("# 1..2\n# ok 1 first\n# ok 2 second\n", ""))


def boot_split():
    """The main boot's report leaves a boot=icount program out; that boot's report has it
    alone and names its whole-guest checks after the boot."""
    rc, out = report(GUEST, manifest=MANIFEST_BOOT)
    if rc != 0 or "up.py" in out:
        return f"main boot: exit {rc}, or up.py in it:\n{out}"
    rc, out = report(GUEST_BOOT, manifest=MANIFEST_BOOT, boot="icount")
    want = ["SKIP kselftest/drivers/net:up.py [upstream suite, 3 cases, 1 skipped, "
            "1 failed as expected]", "PASS boot-icount/kernel/log-clean",
            "PASS boot-icount/guest/completed"]
    missing = [w for w in want if w not in out.splitlines()]
    if rc != 0 or missing or "suite_a" in out or "prog.sh" in out:
        return f"icount boot: exit {rc}, missing {missing}:\n{out}"
    return None


def unknown_boot_refused():
    """A program listed for a boot check.sh does not run (a typo) would run nowhere: the
    report refuses the manifest, and check.sh counts a report without a summary as a
    failure."""
    rc, out = report(GUEST, manifest=MANIFEST_BOOT.replace("boot=icount", "boot=icont"))
    if rc == 0 or "passed," in out:
        return f"exit {rc}, the manifest was taken:\n{out}"
    return None


def report(guest, manifest=MANIFEST, console="", boot="main"):
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, text in (("guest", guest), ("manifest", manifest), ("console", console)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "w") as f:
                f.write(text)
        r = subprocess.run([sys.executable, os.path.join(HERE, "report.py"),
                            "--guest", paths["guest"], "--console", paths["console"],
                            "--manifest", paths["manifest"], "--build", "x", "--top", TOP,
                            "--boot", boot],
                           capture_output=True, text=True)
        return r.returncode, r.stdout


def fails_naming(guest, what, **kw):
    rc, out = report(guest, **kw)
    bad = [l for l in out.splitlines() if l.startswith("FAIL ")]
    if rc == 0 or not any(what in l for l in bad):
        return f"exit {rc}, FAIL lines {bad}: none names {what!r}"
    return None


def clean():
    rc, out = report(GUEST)
    if rc != 0:
        return f"exit {rc}:\n{out}"
    want = ["PASS kunit/suite_a/case_one",
            "PASS kunit/rust_doctests_kernel/rust_doctest_kernel_net_page_pool_rs_0",
            "PASS kunit/rust_doctests_kernel [upstream suite, 2 cases]",
            "PASS kselftest/devmem/prog.sh/second", "PASS kernel/leak-gate/dmabufs",
            "PASS kernel/kmemleak-clean",
            "PASS kernel/kmemleak-finds-planted-leak [13 of its 14 objects reported]"]
    missing = [w for w in want if w not in out.splitlines()]
    return f"missing lines {missing}" if missing else None


CASES = {
    "clean_output_passes": clean,
    "a_case_gone_fails": lambda: fails_naming(
        GUEST.replace("    ok 2 case_two\n", ""), "kunit/suite_a: 1 cases"),
    "a_failing_case_fails": lambda: fails_naming(
        GUEST.replace("ok 1 case_one", "not ok 1 case_one"), "kunit/suite_a/case_one"),
    "a_suite_gone_fails": lambda: fails_naming(
        GUEST.replace("# Subtest: suite_a", "# Subtest: other").replace(
            "ok 1 suite_a", "ok 1 other"), "kunit/suite_a: did not report"),
    "an_unlisted_suite_fails": lambda: fails_naming(
        GUEST.replace("ok 1 suite_a", "ok 1 other"), "not listed"),
    "a_program_gone_fails": lambda: fails_naming(
        GUEST.replace("selftests: devmem: prog.sh", "selftests: devmem: else.sh"),
        "kselftest/devmem:prog.sh: did not report"),
    "an_upstream_failure_fails": lambda: fails_naming(
        GUEST.replace("ok 2 rust_doctest_kernel_sync_rs_0",
                      "not ok 2 rust_doctest_kernel_sync_rs_0"),
        "kunit/rust_doctests_kernel [upstream suite"),
    "a_project_doctest_gone_fails": lambda: fails_naming(
        GUEST.replace("rust/kernel/net/page_pool.rs", "rust/kernel/other.rs"),
        "rust_doctests_kernel@project"),
    "a_leak_fails": lambda: fails_naming(
        GUEST.replace("leak-gate: dmabufs 0", "leak-gate: dmabufs 1"),
        "kernel/leak-gate/dmabufs"),
    "no_leak_gate_fails": lambda: fails_naming(
        GUEST.replace("leak-gate: dmabufs 0\n", ""), "leak-gate"),
    "kmemleak_missing_fails": lambda: fails_naming(
        GUEST.replace(KMEMLEAK, "kmemleak is not available in this kernel\n"),
        "kmemleak"),
    "a_kmemleak_record_fails": lambda: fails_naming(
        GUEST.replace(KMEMLEAK, KMEMLEAK + OTHER_LEAK), "kernel/kmemleak-clean"),
    "a_record_before_the_planted_ones_fails": lambda: fails_naming(
        GUEST.replace(PLANTED, OTHER_LEAK + PLANTED), "kernel/kmemleak-clean"),
    "no_planted_leak_found_fails": lambda: fails_naming(
        GUEST.replace(PLANTED, ""), "kernel/kmemleak-finds-planted-leak [0 of"),
    "the_mark_in_a_hex_dump_alone_is_no_planted_leak": lambda: fails_naming(
        GUEST.replace(PLANTED, OTHER_LEAK.replace("................",
                                                  "[kmemleak_test]. ")),
        "kernel/kmemleak-finds-planted-leak [0 of"),
    "more_planted_records_than_orphans_fail": lambda: fails_naming(
        GUEST.replace(PLANTED, PLANTED + PLANTED[:PLANTED.index("unreferenced", 1)] * 2),
        "kernel/kmemleak-finds-planted-leak [15 of"),
    "the_module_not_loaded_fails": lambda: fails_naming(
        GUEST.replace(KMEMLEAK, "planted: none (modprobe kmemleak-test failed)\n"),
        "modprobe kmemleak-test failed"),
    "a_stalled_pool_fails": lambda: fails_naming(
        GUEST, "kernel/log-clean", console="page_pool_release_retry() stalled pool "
        "shutdown: id 3, 21 inflight 60 sec\n"),
    "an_expected_failure_skips": xfail_skips,
    "another_upstream_failure_fails": lambda: fails_naming(
        GUEST_XFAIL.replace("# ok 1 up.a", "# not ok 1 up.a"), "failed: up.a",
        manifest=MANIFEST_XFAIL),
    "an_expected_failure_that_passes_fails": lambda: fails_naming(
        GUEST_XFAIL.replace("# not ok 3 up.c", "# ok 3 up.c"),
        "expected to fail but did not: up.c (PASS)", manifest=MANIFEST_XFAIL),
    "an_expected_failure_gone_fails": lambda: fails_naming(
        GUEST_XFAIL.replace("# not ok 3 up.c\n", ""),
        "expected to fail but did not: up.c (gone)", manifest=MANIFEST_XFAIL),
    "a_pattern_matching_nothing_fails": lambda: fails_naming(
        GUEST_XFAIL, "expected to fail but did not: up.x* (gone)",
        manifest=MANIFEST_XFAIL.replace("xfail=up.c", "xfail=up.c,up.x*")),
    "an_expected_failure_pattern_skips": lambda: xfail_skips(
        MANIFEST_XFAIL.replace("xfail=up.c", "xfail=up.[cd]")),
    "an_expected_failure_pattern_matching_a_pass_fails": lambda: fails_naming(
        GUEST_XFAIL, "expected to fail but did not: up.a (PASS)",
        manifest=MANIFEST_XFAIL.replace("xfail=up.c", "xfail=up.*")),
    "a_boot_reports_its_own_programs": boot_split,
    "a_program_of_the_other_boot_fails_when_gone": lambda: fails_naming(
        GUEST_BOOT.replace("selftests: drivers/net: up.py", "selftests: drivers/net: no.py"),
        "kselftest/drivers/net:up.py: did not report", manifest=MANIFEST_BOOT,
        boot="icount"),
    "a_boot_no_guest_runs_fails": unknown_boot_refused,
    "a_missing_section_fails": lambda: fails_naming(
        GUEST.replace("### devmem-rs: end\n", ""), "section-end"),
}


def main():
    print("TAP version 13")
    print(f"1..{len(CASES)}")
    failed = 0
    for i, (name, fn) in enumerate(CASES.items(), 1):
        why = fn()
        if why:
            failed += 1
            for line in str(why).splitlines():
                print(f"# {line}")
        print(f"{'not ok' if why else 'ok'} {i} {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
