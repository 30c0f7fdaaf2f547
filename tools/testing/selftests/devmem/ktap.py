# SPDX-License-Identifier: GPL-2.0
#
# KTAP output for the Python tests of this directory: each case is a function that returns
# None when it passes and a reason when it fails; an exception is a failure too, and so is
# a case still running after its timeout: it is interrupted (SIGALRM) and the rest go on.

import signal
import sys
import time

_results = []

# Seconds a case may run; generous for an emulated guest with a debug kernel.
TIMEOUT = 300


class CaseTimeout(BaseException):
    """Raised in a case when its time is up. Not an Exception: the cases' own `except
    Exception` (cleanups that must not fail) do not swallow it, their `finally` runs."""


def _expired(signum, frame):
    raise CaseTimeout()


def check(name, fn, timeout=TIMEOUT):
    """Runs case `fn` for at most `timeout` seconds (None: no limit); returns whether it
    passed. Cases do not nest (setup, which runs them, has no limit)."""
    start = time.monotonic()
    try:
        if timeout:
            signal.signal(signal.SIGALRM, _expired)
            signal.alarm(timeout)
        try:
            why = fn()
        finally:
            if timeout:
                signal.alarm(0)
    except CaseTimeout:
        why = f"timeout: still running after {timeout} s, interrupted"
    except Exception as e:  # a case that cannot run is a failure, not a skip
        why = f"{type(e).__name__}: {e}"
    _results.append((why is None, name, why or ""))
    # What the case cost, so that the suite's time shows case by case in its log ("setup"
    # is the whole program).
    print(f"# {'the whole program' if name == 'setup' else name}: "
          f"{time.monotonic() - start:.0f} s", flush=True)
    return why is None


def run(main):
    """Prints the KTAP header, runs `main` (a failure there is a `setup` case), prints the
    plan, one line per case and the totals, and exits 1 if anything failed or nothing ran."""
    print("TAP version 13", flush=True)
    check("setup", lambda: main() and None, timeout=None)
    if _results and _results[-1][0] and _results[-1][1] == "setup":
        _results.pop()
    print(f"1..{len(_results)}")
    for i, (ok, name, why) in enumerate(_results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {name}" + (f" # {why}" if why else ""))
    failed = sum(1 for ok, _, _ in _results if not ok)
    print(f"# Totals: pass:{len(_results) - failed} fail:{failed} xfail:0 xpass:0 skip:0 error:0")
    sys.exit(1 if failed or not _results else 0)
