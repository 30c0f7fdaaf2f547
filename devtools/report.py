#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn what the test guest printed into one line per test and a closing count.

Inputs: the guest's stdout (sections written by devtools/guest-check.sh), the kernel
console log, and the manifest devtools/expected.txt (so a suite or program that never
reported, or reported fewer cases, is a failure, not a silence). The project's own cases
are counted one by one; an upstream suite is one result. Output: `PASS|FAIL|SKIP name` lines, then `N passed, N failed,
N skipped`. Exit status 1 when anything failed or nothing passed.
"""

import argparse
import fnmatch
import os
import re
import sys

RESULT = re.compile(r"^(?P<prefix>(?:# )*)(?P<indent>\s*)(?P<ok>ok|not ok) (?P<num>\d+)"
                    r"(?: -)? ?(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>\S+)(?P<reason>.*))?$")

# Kernel log lines that mean the kernel went wrong, whatever the tests said: splats, and
# what a leaked net_iov, a held net_device or a stuck CPU look like.
SPLATS = [
    re.compile(p) for p in (
        r"WARNING: ",
        r"\bBUG: ",
        r"\bOops\b",
        r"Kernel panic",
        r"KASAN",
        r"UBSAN",
        r"kmemleak: .*disabled",
        r"possible (circular|recursive) locking",
        r"inconsistent lock state",
        r"DEBUG_LOCKS_WARN_ON",
        r"INFO: task .* blocked for more than",
        r"general protection fault",
        r"Call Trace:",
        r"stalled pool shutdown",
        r"unregister_netdevice: waiting for",
        r"rcu: INFO: .*detected stalls?",
        r"self-detected stall",
        r"soft lockup",
        r"hard LOCKUP",
    )
]
# Lines that match a pattern above but are not reports.
NOT_SPLATS = [re.compile(p) for p in (
    r"KernelAddressSanitizer initialized",
    r"kasan: .*(enabled|disabled)",
)]


KMEMLEAK_OFF = "kmemleak is not available in this kernel"
# guest-check.sh loads samples/kmemleak's module before its scans; the objects its init
# leaks on purpose have it in their backtraces. It orphans 14 objects (8 kmalloc, 5
# vmalloc, 1 percpu), but kmemleak reports only those that no stale copy of their address
# in live memory still seems to reference: loaded just before two scans, 1 of them was
# reported; loaded before the tests, 13 or 14. The scans must report at least one.
PLANTED_MARK = "[kmemleak_test]"
PLANTED = 14

# The boots other than the main one that devtools/check.sh runs (the manifest's boot=
# column): a program listed for any other would run in no boot, so that is an error.
BOOTS = ("icount",)


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


def read_manifest(path, build, boot="main"):
    """The manifest's entries for build and boot (those with boot=BOOT, or none for the
    main boot): {(kind, name): (min_cases, owner)}, and the cases of upstream programs
    that are expected to fail, as shell-style patterns: {(kind, name): {pattern, ...}}."""
    entries, xfail = {}, {}
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        b, kind, name, least, owner, *rest = line
        cases, its_boot = None, "main"
        for r in rest:
            if r.startswith("xfail=") and owner == "upstream":
                cases = set(r[len("xfail="):].split(","))
            elif r.startswith("boot=") and kind == "kselftest" and r[5:] in BOOTS:
                its_boot = r[len("boot="):]
            else:
                raise ValueError(f"{path}: {name}: an unknown column {r!r}")
        if b != build or its_boot != boot:
            continue
        entries[(kind, name)] = (int(least), owner)
        if cases is not None:
            xfail[(kind, name)] = cases
    return entries, xfail


def project_files(top):
    """The kernel-tree paths of the repository's own Rust files (rust/kernel/...)."""
    out = set()
    for d, _, files in os.walk(os.path.join(top, "rust")):
        for f in files:
            if f.endswith(".rs"):
                out.add(os.path.relpath(os.path.join(d, f), top))
    return out


def doctest_locations(lines):
    """{case name: source path} from the '# NAME.location: PATH:LINE' lines of doctests."""
    loc = {}
    for line in lines:
        m = re.search(r"# (rust_doctest_\w+)\.location: (\S+?):\d+", line)
        if m:
            loc[m.group(1)] = m.group(2)
    return loc


def status_of(node):
    return "SKIP" if node.directive == "SKIP" else ("PASS" if node.ok else "FAIL")


class Report:
    def __init__(self, manifest, xfail):
        self.manifest = manifest
        self.xfail = xfail
        self.seen = set()
        self.results = []

    def add(self, name, status):
        self.results.append((name, status))

    def group(self, kind, name, node, project_cases=None):
        """Report one suite or program against the manifest. project_cases, for a suite
        that mixes upstream and project cases, is the set of case names that are ours."""
        label = f"{kind}/{name}"
        cases = list(leaves(node, ""))  # (path, status); path starts with node.name
        if project_cases is not None:
            ours = [c for c in cases if c[0].split("/")[-1] in project_cases]
            theirs = [c for c in cases if c[0].split("/")[-1] not in project_cases]
            self._project(kind, f"{name}@project", f"{label}@project", ours, node)
            self._upstream(kind, name, label, theirs, node)
            return
        _, owner = self.manifest.get((kind, name), (0, None))
        if owner == "upstream":
            self._upstream(kind, name, label, cases, node)
        else:
            self._project(kind, name, label, cases, node)

    def _expect(self, kind, name, label, n):
        key = (kind, name)
        self.seen.add(key)
        if key not in self.manifest:
            self.add(f"{label}: reported, but not listed in devtools/expected.txt", "FAIL")
            return
        least, _ = self.manifest[key]
        if n < least:
            self.add(f"{label}: {n} cases reported, devtools/expected.txt wants at least "
                     f"{least}", "FAIL")

    def _project(self, kind, name, label, cases, node):
        self._expect(kind, name, label, len(cases))
        for path, st in cases:
            self.add(f"{kind}/{path}", st)

    def _upstream(self, kind, name, label, cases, node):
        """One result for the suite: FAIL when a case failed that the manifest does not
        expect to fail, or a case it expects to fail did not (it passed, skipped or is
        gone); SKIP when every case skipped or some failed as expected; else PASS."""
        self._expect(kind, name, label, len(cases))
        patterns = self.xfail.get((kind, name), set())
        status = {p.split("/")[-1]: st for p, st in cases}
        xfail = {c for c in status if any(fnmatch.fnmatchcase(c, p) for p in patterns)}
        failed = [c for c, st in status.items() if st == "FAIL" and c not in xfail]
        expected = sorted(c for c in xfail if status[c] == "FAIL")
        not_failing = sorted(f"{c} ({status[c]})" for c in xfail if status[c] != "FAIL")
        not_failing += sorted(f"{p} (gone)" for p in patterns
                              if not any(fnmatch.fnmatchcase(c, p) for c in status))
        skipped = sum(1 for st in status.values() if st == "SKIP")
        if failed or not_failing:
            st = "FAIL"
        elif expected or (cases and skipped == len(cases)):
            st = "SKIP"
        else:
            st = "PASS" if cases else "FAIL"
        what = f"upstream suite, {len(cases)} cases"
        if skipped:
            what += f", {skipped} skipped"
        if expected:
            what += f", {len(expected)} failed as expected"
        if failed:
            what += f", failed: {', '.join(failed[:10])}"
        if not_failing:
            what += f", expected to fail but did not: {', '.join(not_failing[:10])}"
        self.add(f"{label} [{what}]", st)

    def missing(self):
        for (kind, name), (least, _) in sorted(self.manifest.items()):
            if (kind, name) not in self.seen:
                self.add(f"{kind}/{name}: did not report (devtools/expected.txt wants "
                         f"{least} cases)", "FAIL")


def kmemleak_records(lines):
    """/sys/kernel/debug/kmemleak as printed: one record per 'unreferenced object' line
    with the lines under it, and the guest's own lines (planted: ...) before them."""
    notes, records = [], []
    for line in lines:
        if line.startswith("unreferenced object"):
            records.append([line])
        elif records:
            records[-1].append(line)
        elif line.strip():
            notes.append(line.strip())
    return notes, records


def planted_record(record):
    """Whether a kmemleak record's backtrace (not its hex dump) is in the planted module."""
    trace = False
    for line in record:
        if line.strip().startswith("backtrace"):
            trace = True
        elif trace and PLANTED_MARK in line:
            return True
    return False


def leak_gate(lines):
    """The guest's leak gate: 'leak-gate: WHAT N' lines; anything left is a failure."""
    results, details = [], []
    for line in lines:
        m = re.match(r"^leak-gate: (\S+) (-?\d+)$", line.strip())
        if m:
            results.append((f"kernel/leak-gate/{m.group(1)}",
                            "PASS" if m.group(2) == "0" else "FAIL"))
        elif line.strip():
            details.append(line.strip())
    if not results:
        results.append(("kernel/leak-gate: no result", "FAIL"))
    return results, details


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--guest", required=True, help="guest stdout")
    ap.add_argument("--console", required=True, help="kernel console log")
    ap.add_argument("--manifest", required=True, help="devtools/expected.txt")
    ap.add_argument("--build", required=True, help="the manifest's BUILD column (rust, c)")
    ap.add_argument("--top", required=True, help="the repository (its rust/ files are ours)")
    ap.add_argument("--kmemleak", choices=("required", "optional"), default="required")
    ap.add_argument("--guest-rc", type=int, default=0)
    ap.add_argument("--prefix", default="", help="prefix of every test name (the build)")
    ap.add_argument("--boot", default="main",
                    help="which of the build's boots this guest was (the manifest's boot= "
                         "column); the checks of a boot other than main are named after it")
    args = ap.parse_args()

    guest = open(args.guest, errors="replace").read()
    console = open(args.console, errors="replace").read()
    sec = sections(guest)
    manifest, xfail = read_manifest(args.manifest, args.build, args.boot)
    rep = Report(manifest, xfail)

    # A section the guest did not print is a failure: its tests did not report.
    for name in ("kunit", "kselftest", "leaks", "kmemleak", "end"):
        if name not in sec:
            where = "" if args.boot == "main" else f" (boot {args.boot})"
            rep.add(f"guest/section-{name}: missing{where}", "FAIL")

    kunit = sec.get("kunit", [])
    ours = project_files(args.top)
    locations = doctest_locations(kunit)
    for suite in parse_ktap(kunit, 4):
        if suite.name.startswith("rust_doctests_"):
            mine = {c for c, path in locations.items() if path in ours}
            rep.group("kunit", suite.name, suite, project_cases=mine)
        else:
            rep.group("kunit", suite.name, suite)

    for prog in parse_ktap(sec.get("kselftest", []), 4):
        # "selftests: devmem: pci_ports.sh" -> devmem:pci_ports.sh, reported as devmem/...
        m = re.match(r"selftests: (\S+): (\S+)", prog.name)
        if not m:
            rep.add(f"kselftest/{prog.name}: not a kselftest program result", "FAIL")
            continue
        key = f"{m.group(1)}:{m.group(2)}"
        prog.name = f"{m.group(1)}/{m.group(2)}"
        rep.group("kselftest", key, prog)
    rep.missing()
    results = rep.results

    # The checks of the guest as a whole, once per boot.
    whole = []
    gate, gate_details = leak_gate(sec.get("leaks", []))
    whole += gate

    notes, records = kmemleak_records(sec.get("kmemleak", []))
    planted = [r for r in records if planted_record(r)]
    leaks = [l for r in records if r not in planted for l in r]
    if notes == [KMEMLEAK_OFF]:
        off = "FAIL" if args.kmemleak == "required" else "SKIP"
        whole.append(("kernel/kmemleak-clean: kmemleak is not available", off))
        whole.append(("kernel/kmemleak-finds-planted-leak: kmemleak is not available", off))
    else:
        # Anything the guest printed there but records and its planted: line is a failure too.
        leaks += [n for n in notes if not n.startswith("planted: ")]
        whole.append(("kernel/kmemleak-clean",
                      "FAIL" if leaks or "kmemleak" not in sec else "PASS"))
        # The scans that found nothing above are shown to find a leak: the planted one.
        # More than the module orphans would be another leak in it, or a parsing error.
        found = f"{len(planted)} of its {PLANTED} objects reported"
        if not planted:
            found += "; " + " ".join(n for n in notes if n.startswith("planted: "))
        whole.append((f"kernel/kmemleak-finds-planted-leak [{found}]",
                      "PASS" if 0 < len(planted) <= PLANTED else "FAIL"))
    bad = splats(console)
    whole.append(("kernel/log-clean", "FAIL" if bad else "PASS"))
    done = "end" in sec and args.guest_rc == 0
    whole.append(("guest/completed", "PASS" if done else "FAIL"))
    if args.boot != "main":
        whole = [(f"boot-{args.boot}/{n}", st) for n, st in whole]
    results += whole

    results = [(args.prefix + n, s) for n, s in results]
    for name, status in results:
        print(f"{status} {name}")
    if gate_details:
        print("\nleak gate:\n  " + "\n  ".join(gate_details[:40]))
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
