#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Turn the `BENCH {json}` lines of the benchmark guests into a results directory:
# results.csv (every sample), results.md (every ratio with its median and 95% interval, and
# each target met, missed or inconclusive) and SVG plots with the intervals as error bars.
#
# Usage: report.py OUTDIR MACHINE_FILE RAW_FILE...
#
# Intervals: a figure of one repetition is paired with the other figures of the same
# repetition (same boot, same module load, ABBA order); the interval of the median of n
# such figures is the distribution-free one between order statistics k and n+1-k, k the
# largest with P(Binomial(n, 1/2) < k) <= 2.5% (coverage >= 95%). A target "at most X"
# is met when the interval's upper end is at most X, missed when its lower end is above
# X, else inconclusive. The first repetition of every load is discarded (warm-up).

import csv
import json
import math
import os
import statistics as st
import sys

COLORS = {"rust": "#b7410e", "c": "#3465a4", "plain": "#888a85",
          "copy": "#888a85", "devmem": "#b7410e", "igb": "#3465a4", "igb_rs": "#b7410e"}


def load(paths):
    rows, guests = [], []
    for p in paths:
        guest = None
        with open(p) as f:
            for line in f:
                if not line.startswith("BENCH "):
                    continue
                r = json.loads(line[6:])
                if r["kind"] == "guest":
                    guest = r
                    guests.append(r)
                    continue
                r["kernel_impl"] = guest["impl"] if guest else "?"
                rows.append(r)
    return rows, guests


def median_ci(vals):
    """(median, lo, hi, coverage) of `vals`, the interval as described above."""
    v = sorted(vals)
    n = len(v)
    if n < 6:
        return (st.median(v), float("nan"), float("nan"), 0.0) if v else (float("nan"),) * 4
    cdf, k = 0.0, 0
    while True:
        nxt = cdf + math.comb(n, k) / 2 ** n
        if nxt > 0.025:
            break
        cdf, k = nxt, k + 1
    return st.median(v), v[k - 1], v[n - k], 1 - 2 * cdf


def fmt(m, nd=3):
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "–"
    return f"{m:.{nd}f}" if abs(m) < 1000 else f"{m:.0f}"


def fmt_ci(t, nd=3):
    m, lo, hi = t[:3]
    return f"{fmt(m, nd)} [{fmt(lo, nd)}, {fmt(hi, nd)}]"


def verdict(t, limit, at_least=False):
    m, lo, hi = t[:3]
    if math.isnan(lo):
        return "inconclusive (too few repetitions)"
    if at_least:
        return "met" if lo >= limit else "missed" if hi < limit else "inconclusive"
    return "met" if hi <= limit else "missed" if lo > limit else "inconclusive"


def fit(points):
    """Least-squares slope and intercept of (x, y) points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = st.mean(xs), st.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den
    return b, my - b * mx


# --- SVG ------------------------------------------------------------------------------

def svg_bars(path, title, ylabel, groups, series, values):
    """Grouped bar chart. values[(group, series)] = (median, lo, hi)."""
    W, H, L, B, T = 640, 360, 70, 60, 40
    top = max((v[2] for v in values.values()), default=1) * 1.15 or 1
    gw = (W - L - 20) / max(len(groups), 1)
    bw = gw * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<text x="15" y="{(H - B + T) / 2}" transform="rotate(-90 15 {(H - B + T) / 2})" '
           f'text-anchor="middle">{ylabel}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - 10}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']

    def y(v):
        return H - B - (H - B - T) * v / top

    for i in range(5):
        v = top * i / 5
        out.append(f'<text x="{L - 5}" y="{y(v) + 4}" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{L}" y1="{y(v)}" x2="{W - 10}" y2="{y(v)}" stroke="#ddd"/>')
    for gi, g in enumerate(groups):
        x0 = L + gi * gw + gw * 0.1
        out.append(f'<text x="{L + gi * gw + gw / 2}" y="{H - B + 16}" '
                   f'text-anchor="middle">{g}</text>')
        for si, s in enumerate(series):
            if (g, s) not in values:
                continue
            m, lo, hi = values[(g, s)]
            x = x0 + si * bw
            out.append(f'<rect x="{x:.1f}" y="{y(m):.1f}" width="{bw * 0.9:.1f}" '
                       f'height="{H - B - y(m):.1f}" fill="{COLORS.get(s, "#555")}"/>')
            cx = x + bw * 0.45
            out.append(f'<line x1="{cx:.1f}" y1="{y(lo):.1f}" x2="{cx:.1f}" y2="{y(hi):.1f}" '
                       f'stroke="black"/>')
    for si, s in enumerate(series):
        lx = L + 10 + si * 120
        out.append(f'<rect x="{lx}" y="{H - 22}" width="12" height="12" '
                   f'fill="{COLORS.get(s, "#555")}"/>')
        out.append(f'<text x="{lx + 16}" y="{H - 12}">{s}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --- analysis ---------------------------------------------------------------------------

def micro(rows):
    """Per run: {(test, impl, rep): [rows]} of devmem_bench's lines, first repetition off."""
    runs = {}
    for r in rows:
        if r["kind"] == "micro" and r["rep"] > 0:
            runs.setdefault(r["run"], {}).setdefault((r["test"], r["impl"], r["rep"]), []).append(r)
    return runs


def per_op(m, test, impl, rep, ops=None):
    """Instructions per operation of one measurement (the one of `ops` operations)."""
    rs = [r for r in m.get((test, impl, rep), []) if ops is None or r["ops"] == ops]
    return rs[0]["ns"] / rs[0]["ops"] if rs else None


def analyse_micro(m):
    reps = sorted({k[2] for k in m})
    res = {}

    def series(fn):
        vals = [fn(rep) for rep in reps]
        return median_ci([v for v in vals if v is not None])

    for test in ("fast", "alloc", "release"):
        for impl in ("plain", "c", "rust"):
            res[f"{test} {impl}"] = series(lambda rep: per_op(m, test, impl, rep))
    res["fast c-plain"] = series(lambda rep: per_op(m, "fast", "c", rep) - per_op(m, "fast", "plain", rep))
    res["fast rust-plain"] = series(lambda rep: per_op(m, "fast", "rust", rep) - per_op(m, "fast", "plain", rep))
    res["fast rust-c"] = series(lambda rep: per_op(m, "fast", "rust", rep) - per_op(m, "fast", "c", rep))
    res["alloc rust/c"] = series(lambda rep: per_op(m, "alloc", "rust", rep) / per_op(m, "alloc", "c", rep))
    res["alloc rust/plain fast"] = series(lambda rep: per_op(m, "alloc", "rust", rep) / per_op(m, "fast", "plain", rep))
    res["release rust/c"] = series(lambda rep: per_op(m, "release", "rust", rep) / per_op(m, "release", "c", rep))

    # bind: the huge-page buffers (one range per 2 MiB page) give the slope per net_iov.
    def bind_pts(impl, rep):
        return [(r["ops"], r["ns"]) for r in m.get(("bind", impl, rep), [])]

    sizes = sorted({r["ops"] for k, rs in m.items() if k[0] == "bind" for r in rs})
    huge = sizes[-3:] if len(sizes) >= 4 else sizes
    fits = {}
    for impl in ("c", "rust"):
        for rep in reps:
            pts = [p for p in bind_pts(impl, rep) if p[0] in huge]
            # The smallest huge-page buffer has as many net_iovs as the 4 KiB-page one;
            # keep the huge-page line (the later of two of a size).
            byn = {}
            for n, ns in pts:
                byn[n] = ns
            if len(byn) >= 2:
                fits[(impl, rep)] = fit(sorted(byn.items()))
    for impl in ("c", "rust"):
        res[f"bind slope {impl}"] = median_ci([fits[(impl, r)][0] for r in reps if (impl, r) in fits])
        res[f"bind intercept {impl}"] = median_ci([fits[(impl, r)][1] for r in reps if (impl, r) in fits])
    res["bind slope rust/c"] = median_ci([fits[("rust", r)][0] / fits[("c", r)][0]
                                          for r in reps if ("rust", r) in fits and ("c", r) in fits])
    res["bind intercept rust/c"] = median_ci([fits[("rust", r)][1] / fits[("c", r)][1]
                                              for r in reps if ("rust", r) in fits and ("c", r) in fits])
    big = sizes[-1] if sizes else None
    for impl in ("c", "rust"):
        res[f"mem/niov {impl}"] = series(lambda rep: next((r["mem"] / r["ops"] for r in m.get(("bind", impl, rep), []) if r["ops"] == big), None))
        res[f"unbind {impl}"] = series(lambda rep: next((r["ns"] for r in m.get(("unbind", impl, rep), []) if r["ops"] == big), None))
    res["unbind rust/c"] = series(lambda rep: next(r["ns"] for r in m[("unbind", "rust", rep)] if r["ops"] == big) /
                                  next(r["ns"] for r in m[("unbind", "c", rep)] if r["ops"] == big))
    res["_sizes"] = sizes
    res["_reps"] = len(reps)
    return res


def determinism(runs):
    """How far two runs of devmem_bench are apart, per measurement (instructions)."""
    if len(runs) < 2:
        return None
    a, b = runs[min(runs)], runs[max(runs)]
    worst, n, same = (0, None), 0, 0
    for k in sorted(set(a) & set(b)):
        for ra, rb in zip(a[k], b[k]):
            n += 1
            d = abs(ra["ns"] - rb["ns"])
            same += d == 0
            rel = d / max(ra["ns"], 1)
            if rel > worst[0]:
                worst = (rel, (k, ra["ns"], rb["ns"]))
    return n, same, worst


def e2e(rows):
    """Second tier: per kernel, paired ratios of the alternating transfers."""
    out = {}
    for impl in sorted({r["kernel_impl"] for r in rows if r["kind"] == "e2e"}):
        by = {}
        for r in rows:
            if r["kind"] == "e2e" and r["kernel_impl"] == impl and r["rep"] > 0:
                by.setdefault(r["rep"], {})[r["mode"]] = r
        ratio = [v["devmem"]["guest_cpu_ns"] / v["devmem"]["bytes"] / (v["copy"]["guest_cpu_ns"] / v["copy"]["bytes"])
                 for v in by.values() if "devmem" in v and "copy" in v]
        out[f"devmem/copy busy time per byte ({impl} kernel)"] = median_ci(ratio)
        by = {}
        for r in rows:
            if r["kind"] == "driver" and r["kernel_impl"] == impl and r["direction"] == "rx" and r["rep"] > 0:
                by.setdefault(r["rep"], {})[r["driver"]] = r
        thr = [v["igb_rs"]["bytes"] / v["igb_rs"]["ns"] / (v["igb"]["bytes"] / v["igb"]["ns"])
               for v in by.values() if "igb_rs" in v and "igb" in v and "ns" in v["igb"]]
        out[f"igb_rs/igb receive throughput ({impl} kernel)"] = median_ci(thr)
    return out


def main():
    outdir, machine = sys.argv[1:3]
    rows, guests = load(sys.argv[3:])
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        keys = sorted({k for r in rows for k in r})
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    with open(machine) as f:
        mach = f.read().strip()

    md = ["# devmem-rs benchmark results", "", "```", mach, "```", ""]
    md += ["Written by `make bench` (devtools/bench.sh, bench/report.py); nothing here is edited",
           "by hand. Every figure is a median with its 95% interval (distribution-free, between",
           "order statistics: see bench/report.py) over the repetitions of one boot, the first",
           "discarded.", ""]
    runs = micro(rows)
    targets = []
    if runs:
        r = analyse_micro(runs[min(runs)])
        md += ["## The ruler: instructions, both providers in one boot", "",
               "`devmem_bench` in one boot of the Rust release kernel with upstream's provider",
               "(net/core/devmem.c) built beside devmem-rs' (`CONFIG_DEVMEM_RS_BENCH_ORACLE`), on",
               "the same dma-bufs, ABBA; QEMU `-icount shift=0,sleep=off`, one vCPU: a guest",
               f"nanosecond is one instruction. {r['_reps']} repetitions counted; dma-bufs of "
               + ", ".join(str(n) for n in r["_sizes"]) + " net_iovs (4 KiB each).", "",
               "| measurement | plain pool | C (upstream) | Rust (devmem-rs) |",
               "|---|---|---|---|"]
        for test, what in (("fast", "fast path, instructions per alloc+recycle"),
                           ("alloc", "refill, instructions per buffer"),
                           ("release", "release, instructions per buffer")):
            md.append(f"| {what} | {fmt_ci(r[test + ' plain'], 1)} | {fmt_ci(r[test + ' c'], 1)} | "
                      f"{fmt_ci(r[test + ' rust'], 1)} |")
        md.append(f"| bind, instructions per net_iov (slope) | | {fmt_ci(r['bind slope c'], 1)} | "
                  f"{fmt_ci(r['bind slope rust'], 1)} |")
        md.append(f"| bind, intercept (instructions) | | {fmt_ci(r['bind intercept c'], 0)} | "
                  f"{fmt_ci(r['bind intercept rust'], 0)} |")
        md.append(f"| bind, bytes held per net_iov (largest buffer) | | {fmt_ci(r['mem/niov c'], 1)} | "
                  f"{fmt_ci(r['mem/niov rust'], 1)} |")
        md.append(f"| unbind of the largest buffer, instructions | | {fmt_ci(r['unbind c'], 0)} | "
                  f"{fmt_ci(r['unbind rust'], 0)} |")
        md.append("")
        d = determinism(runs)
        md += ["### Determinism of the ruler", ""]
        if d:
            n, same, (rel, where) = d
            md.append(f"Two loads of devmem_bench in the same boot: {same} of {n} measurements "
                      f"identical to the instruction; the largest difference {rel * 100:.3f}% "
                      + (f"({where[0][0]} {where[0][1]} rep {where[0][2]}: {where[1]} against {where[2]})."
                         if where else "."))
            md.append("Differences come from what the guest does besides the loop (timer "
                      "interrupts, the page allocator's and slab's state), not from the host.")
        else:
            md.append("One load only: not checked.")
        md.append("")
        targets += [
            ("fast path: C provider pool within 2 instructions of the plain pool", r["fast c-plain"], 2, "abs"),
            ("fast path: Rust provider pool within 2 instructions of the plain pool", r["fast rust-plain"], 2, "abs"),
            ("fast path: Rust and C provider pools equal (within 2)", r["fast rust-c"], 2, "abs"),
            ("refill per net_iov at most 1.5x the plain fast path", r["alloc rust/plain fast"], 1.5, "max"),
            ("refill per net_iov at most 0.15x C's", r["alloc rust/c"], 0.15, "max"),
            ("release per net_iov at most 0.5x C's", r["release rust/c"], 0.5, "max"),
            ("bind slope per net_iov at most 0.8x C's", r["bind slope rust/c"], 0.8, "max"),
            ("bind intercept no worse than C's (ratio at most 1)", r["bind intercept rust/c"], 1.0, "max"),
            ("memory per net_iov at most 64 bytes", r["mem/niov rust"], 64, "max"),
            ("unbind at most 0.5x C's", r["unbind rust/c"], 0.5, "max"),
        ]
    sec = e2e(rows)
    if sec:
        md += ["## Second tier: wall clock under MTTCG (not instructions)", "",
               "| ratio | median [95% interval] |", "|---|---|"]
        for k, v in sec.items():
            md.append(f"| {k} | {fmt_ci(v)} |")
        md.append("")
    md += ["## Targets", "", "| target | figure, median [95% interval] | verdict |", "|---|---|---|"]
    for name, t, limit, how in targets:
        if how == "abs":
            v = ("met" if max(abs(t[1]), abs(t[2])) <= limit else
                 "missed" if (t[1] > limit or t[2] < -limit) else "inconclusive")
            if math.isnan(t[1]):
                v = "inconclusive (too few repetitions)"
        else:
            v = verdict(t, limit)
        md.append(f"| {name} | {fmt_ci(t, 3 if abs(t[0]) < 10 else 1)} | {v} |")
    for name in ("release per net_iov the same for a buffer of 1 range and one of 16,384 one-page ranges",
                 "devmem receive at most 0.85x the guest instructions per GiB of copying receive, both builds",
                 "Rust devmem receive at most 1.00x C devmem",
                 "igb_rs receive at most 0.95x igb's instructions per MiB (split off), 1.10x (split on)",
                 "igb_rs wall-clock throughput at least 1.0x igb's"):
        md.append(f"| {name} | not measured by this run | – |")
    md.append("")
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    if runs:
        svg_bars(os.path.join(outdir, "micro.svg"), "devmem_bench under -icount (median, 95% interval)",
                 "instructions per operation", ["fast", "alloc", "release"], ["plain", "c", "rust"],
                 {(t, i): r[f"{t} {i}"][:3] for t in ("fast", "alloc", "release") for i in ("plain", "c", "rust")})
    print("\n".join(md))


if __name__ == "__main__":
    main()
