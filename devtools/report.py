#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn what the test guest printed into one line per test and a closing count.

Inputs: the guest's stdout (sections written by devtools/guest-check.sh), the kernel
console log, and the kselftest list of the install (so a test that never reported is a
failure, not a silence). Output: `PASS|FAIL|SKIP name` lines, then `N passed, N failed,
N skipped`. Exit status 1 when anything failed or nothing passed.
"""

import argparse
import re
import sys

RESULT = re.compile(r"^(?P<prefix>(?:# )*)(?P<indent>\s*)(?P<ok>ok|not ok) (?P<num>\d+)"
                    r"(?: -)? ?(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>\S+)(?P<reason>.*))?$")

# Kernel log lines that mean the kernel went wrong, whatever the tests said.
SPLATS = [
    re.compile(p) for p in (
        r"WARNING: ",
        r"\bBUG: ",
        r"\bOops\b",
        r"Kernel panic",
        r"KASAN",
        r"UBSAN",
        r"kmemleak: \d+ new suspected memory leaks",
        r"possible (circular|recursive) locking",
        r"inconsistent lock state",
        r"DEBUG_LOCKS_WARN_ON",
        r"INFO: task .* blocked for more than",
        r"general protection fault",
        r"Call Trace:",
    )
]
# Lines that match a pattern above but are not reports.
NOT_SPLATS = [re.compile(p) for p in (
    r"KernelAddressSanitizer initialized",
    r"kasan: .*(enabled|disabled)",
)]


KMEMLEAK_OFF = "kmemleak is not available in this kernel"


class Node:
    def __init__(self, name, ok, directive, depth):
        self.name = name
        self.ok = ok
        self.directive = (directive or "").upper()
        self.depth = depth
        self.children = []


def parse_ktap(lines, indent_unit):
    """Parse KTAP results into a forest, nesting by '# ' prefixes or indentation."""
    roots = []
    pending = {}  # depth -> results seen since the last result one level up
    for line in lines:
        m = RESULT.match(line.rstrip("\n"))
        if not m:
            continue
        depth = len(m.group("prefix")) // 2 + len(m.group("indent")) // indent_unit
        node = Node(m.group("name").strip(), m.group("ok") == "ok", m.group("directive"),
                    depth)
        node.children = pending.pop(depth + 1, [])
        for d in [d for d in pending if d > depth + 1]:
            del pending[d]
        if depth == 0:
            roots.append(node)
        else:
            pending.setdefault(depth, []).append(node)
    return roots


def leaves(node, path):
    """Yield (name, status) for the tests under node: its leaves, and node itself when it
    failed without a failing leaf to show for it (a crash, a timeout, a missing plan)."""
    name = f"{path}/{node.name}" if path else node.name
    status = "SKIP" if node.directive == "SKIP" else ("PASS" if node.ok else "FAIL")
    if not node.children:
        yield name, status
        return
    child_failed = False
    for c in node.children:
        for leaf in leaves(c, name):
            child_failed |= leaf[1] == "FAIL"
            yield leaf
    if status == "FAIL" and not child_failed:
        yield name, "FAIL"


def sections(text):
    """Split the guest output at '### devmem-rs: NAME' markers."""
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^### devmem-rs: (\S+)", line)
        if m:
            cur = m.group(1)
            out.setdefault(cur, [])
            continue
        if cur is not None:
            out[cur].append(line)
    return out


def splats(console):
    found = []
    for line in console.splitlines():
        if any(p.search(line) for p in SPLATS) and not any(p.search(line) for p in NOT_SPLATS):
            found.append(line.strip())
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--guest", required=True, help="guest stdout")
    ap.add_argument("--console", required=True, help="kernel console log")
    ap.add_argument("--kselftest-list", help="kselftest-list.txt of the install")
    ap.add_argument("--guest-rc", type=int, default=0)
    ap.add_argument("--prefix", default="", help="prefix of every test name (the build)")
    args = ap.parse_args()

    guest = open(args.guest, errors="replace").read()
    console = open(args.console, errors="replace").read()
    sec = sections(guest)
    results = []

    # A section the guest did not print is a failure: its tests did not report.
    for name in ("kunit", "kselftest", "kmemleak", "end"):
        if name not in sec:
            results.append((f"guest/section-{name}: missing", "FAIL"))

    for suite in parse_ktap(sec.get("kunit", []), 4):
        results += [(f"kunit/{n}", s) for n, s in leaves(suite, "")]
    if not any(n.startswith("kunit/") for n, _ in results):
        results.append(("kunit/no-suite-reported", "FAIL"))

    seen = set()
    for prog in parse_ktap(sec.get("kselftest", []), 4):
        # "selftests: devmem: pci_ports.sh" -> devmem/pci_ports.sh
        m = re.match(r"selftests: (\S+): (\S+)", prog.name)
        if m:
            seen.add(f"{m.group(1)}:{m.group(2)}")
            prog.name = f"{m.group(1)}/{m.group(2)}"
        results += [(f"kselftest/{n}", s) for n, s in leaves(prog, "")]
    if args.kselftest_list:
        for entry in open(args.kselftest_list).read().split():
            if entry not in seen:
                results.append((f"kselftest/{entry.replace(':', '/')}: no result", "FAIL"))

    leaks = [l for l in sec.get("kmemleak", []) if l.strip()]
    if leaks == [KMEMLEAK_OFF]:
        results.append(("kernel/kmemleak-clean", "SKIP"))
        leaks = []
    else:
        results.append(("kernel/kmemleak-clean",
                        "FAIL" if leaks or "kmemleak" not in sec else "PASS"))
    bad = splats(console)
    results.append(("kernel/log-clean", "FAIL" if bad else "PASS"))
    done = "end" in sec and args.guest_rc == 0
    results.append(("guest/completed", "PASS" if done else "FAIL"))

    results = [(args.prefix + n, s) for n, s in results]
    for name, status in results:
        print(f"{status} {name}")
    if leaks:
        print("\nkmemleak report:\n  " + "\n  ".join(leaks[:60]))
    if bad:
        print("\nkernel log reports:\n  " + "\n  ".join(bad[:40]))
    failed = [n for n, s in results if s == "FAIL"]
    if failed:
        print("\nfailed:\n  " + "\n  ".join(failed))
    npass = sum(1 for _, s in results if s == "PASS")
    nskip = sum(1 for _, s in results if s == "SKIP")
    print(f"\n{npass} passed, {len(failed)} failed, {nskip} skipped")
    return 1 if failed or npass == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
