# SPDX-License-Identifier: GPL-2.0
#
# KTAP output for the Python tests of this directory: each case is a function that returns
# None when it passes and a reason when it fails; an exception is a failure too.

import sys

_results = []


def check(name, fn):
    """Runs case `fn`; returns whether it passed."""
    try:
        why = fn()
    except Exception as e:  # a case that cannot run is a failure, not a skip
        why = f"{type(e).__name__}: {e}"
    _results.append((why is None, name, why or ""))
    return why is None


def run(main):
    """Prints the KTAP header, runs `main` (a failure there is a `setup` case), prints the
    plan, one line per case and the totals, and exits 1 if anything failed or nothing ran."""
    print("TAP version 13", flush=True)
    check("setup", lambda: main() and None)
    if _results and _results[-1][0] and _results[-1][1] == "setup":
        _results.pop()
    print(f"1..{len(_results)}")
    for i, (ok, name, why) in enumerate(_results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {name}" + (f" # {why}" if why else ""))
    failed = sum(1 for ok, _, _ in _results if not ok)
    print(f"# Totals: pass:{len(_results) - failed} fail:{failed} xfail:0 xpass:0 skip:0 error:0")
    sys.exit(1 if failed or not _results else 0)
