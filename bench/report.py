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
import re
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
                r["boot"] = os.path.basename(p)
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
    """Grouped bar chart. values[(group, series)] = (median, lo, hi); an interval that could
    not be computed (too few repetitions) is drawn as none."""
    values = {k: (m, m if math.isnan(lo) else lo, m if math.isnan(hi) else hi)
              for k, (m, lo, hi) in values.items() if not math.isnan(m)}
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


def page_pool(rows):
    """Upstream's page_pool bench: {test: (median, lo, hi, coverage)} of its nanoseconds per
    element (instructions under -icount), first load off."""
    per = {}
    for r in rows:
        if r["kind"] == "page_pool" and r["rep"] > 0:
            per.setdefault(r["test"], []).append(r["ns"])
    return {t: median_ci(v) for t, v in per.items()}


# Upstream's page_pool bench tests, in its order, and what each measures.
PP_TESTS = (("for_loop", "the empty loop"),
            ("atomic_inc", "an atomic increment"),
            ("lock", "a spin lock taken and released"),
            ("no-softirq-page_pool01", "alloc + recycle into the pool's cache (page_pool_recycle_direct)"),
            ("no-softirq-page_pool02", "alloc + put through the ptr_ring (page_pool_put_page, not direct)"),
            ("no-softirq-page_pool03", "alloc + release to the page allocator (an extra reference held)"))


def one(m, test, impl, rep, buf):
    rs = [r for r in m.get((test, impl, rep), []) if r["buf"] == buf]
    return rs[0] if rs else None


def per_op(m, test, impl, rep, buf=0):
    """Instructions per operation of one measurement (plain pools have no dma-buf)."""
    r = one(m, test, impl, rep, -1 if impl == "plain" else buf)
    return r["ns"] / r["ops"] if r else None


def analyse_micro(m):
    reps = sorted({k[2] for k in m})
    bufs = {}  # index -> (net_iovs, ranges)
    for rs in m.values():
        for r in rs:
            if r["buf"] >= 0:
                bufs[r["buf"]] = (r["ops"] if r["test"] == "bind" else bufs.get(r["buf"], (0,))[0],
                                  r["ranges"])
    res = {"_reps": len(reps), "_bufs": bufs}

    def series(fn):
        vals = []
        for rep in reps:
            try:
                vals.append(fn(rep))
            except (TypeError, ZeroDivisionError):
                pass
        return median_ci(vals)

    pool_bufs = sorted({r["buf"] for rs in m.values() for r in rs if r["test"] == "alloc" and r["buf"] >= 0})
    res["_pool_bufs"] = pool_bufs
    for test in ("fast", "alloc", "release"):
        res[f"{test} plain"] = series(lambda rep: per_op(m, test, "plain", rep))
        for impl in ("c", "rust"):
            for buf in pool_bufs:
                res[f"{test} {impl} {buf}"] = series(lambda rep: per_op(m, test, impl, rep, buf))
            res[f"{test} {impl}"] = res[f"{test} {impl} 0"]
        for buf in pool_bufs:
            res[f"{test} rust/c {buf}"] = series(lambda rep: per_op(m, test, "rust", rep, buf) /
                                                 per_op(m, test, "c", rep, buf))
    res["fast c-plain"] = series(lambda rep: per_op(m, "fast", "c", rep) - per_op(m, "fast", "plain", rep))
    res["fast rust-plain"] = series(lambda rep: per_op(m, "fast", "rust", rep) - per_op(m, "fast", "plain", rep))
    res["fast rust-c"] = series(lambda rep: per_op(m, "fast", "rust", rep) - per_op(m, "fast", "c", rep))
    res["alloc rust/c"] = res["alloc rust/c 0"]
    res["release rust/c"] = res["release rust/c 0"]
    res["alloc rust/plain fast"] = series(lambda rep: per_op(m, "alloc", "rust", rep) / per_op(m, "fast", "plain", rep))
    # The provider's own release_netmem (release_mp), and what is left of a release: the
    # page pool's work, the same whichever provider, against C's whole release.
    if any(k[0] == "release_mp" for k in m):
        for impl in ("c", "rust"):
            res[f"release_mp {impl}"] = series(lambda rep: per_op(m, "release_mp", impl, rep))
        res["release_mp rust/c"] = series(lambda rep: per_op(m, "release_mp", "rust", rep) /
                                          per_op(m, "release_mp", "c", rep))
        res["release pool share/c"] = series(
            lambda rep: (per_op(m, "release", "c", rep) - per_op(m, "release_mp", "c", rep)) /
            per_op(m, "release", "c", rep))
    # Release per net_iov on the buffer of most ranges against the one of fewest.
    if len(pool_bufs) >= 2:
        most = max(pool_bufs, key=lambda i: bufs[i][1])
        fewest = min(pool_bufs, key=lambda i: bufs[i][1])
        res["_release_ranges"] = (bufs[most][1], bufs[fewest][1])
        res["release rust most/fewest ranges"] = series(
            lambda rep: per_op(m, "release", "rust", rep, most) / per_op(m, "release", "rust", rep, fewest))

    # bind: the slope per net_iov over the huge-page buffers (every index but 0).
    huge = [i for i in sorted(bufs) if i > 0]
    fits = {}
    for impl in ("c", "rust"):
        for rep in reps:
            pts = [(r["ops"], r["ns"]) for r in m.get(("bind", impl, rep), []) if r["buf"] in huge]
            if len(pts) >= 2:
                fits[(impl, rep)] = fit(sorted(pts))
    for impl in ("c", "rust"):
        res[f"bind slope {impl}"] = median_ci([fits[(impl, r)][0] for r in reps if (impl, r) in fits])
        res[f"bind intercept {impl}"] = median_ci([fits[(impl, r)][1] for r in reps if (impl, r) in fits])
    # What every bind starts with (get, attach, map the dma-buf), alone: the part of the
    # slope no provider controls; bind minus it is the provider's own.
    for rep in reps:
        pts = [(r["ops"], r["ns"]) for r in m.get(("map", "dmabuf", rep), []) if r["buf"] in huge]
        if len(pts) >= 2:
            fits[("map", rep)] = fit(sorted(pts))
    if any(k[0] == "map" for k in fits):
        res["map slope"] = median_ci([fits[("map", r)][0] for r in reps if ("map", r) in fits])
        own = {}
        for impl in ("c", "rust"):
            own[impl] = {r: fits[(impl, r)][0] - fits[("map", r)][0]
                         for r in reps if (impl, r) in fits and ("map", r) in fits}
            res[f"bind own slope {impl}"] = median_ci(list(own[impl].values()))
        res["bind map share/c"] = median_ci([fits[("map", r)][0] / fits[("c", r)][0]
                                             for r in reps if ("map", r) in fits and ("c", r) in fits])
        res["bind own slope rust/c"] = median_ci([own["rust"][r] / own["c"][r]
                                                  for r in own["rust"] if r in own["c"]])
    both = [r for r in reps if ("rust", r) in fits and ("c", r) in fits]
    res["bind slope rust/c"] = median_ci([fits[("rust", r)][0] / fits[("c", r)][0] for r in both])
    res["bind intercept rust-c"] = median_ci([fits[("rust", r)][1] - fits[("c", r)][1] for r in both])
    big = max(bufs, key=lambda i: bufs[i][0]) if bufs else None
    res["_big"] = big
    for impl in ("c", "rust"):
        res[f"mem/niov {impl}"] = series(lambda rep: one(m, "bind", impl, rep, big)["mem"] / one(m, "bind", impl, rep, big)["ops"])
        res[f"unbind {impl}"] = series(lambda rep: one(m, "unbind", impl, rep, big)["ns"])
    return res


def determinism(runs):
    """How far two loads of devmem_bench are apart, per kind of measurement."""
    if len(runs) < 2:
        return None
    a, b = runs[min(runs)], runs[max(runs)]
    per = {}
    for k in set(a) & set(b):
        for ra in a[k]:
            rb = next((r for r in b[k] if r["buf"] == ra["buf"]), None)
            if rb:
                per.setdefault((k[0], k[1]), []).append((rb["ns"] - ra["ns"]) / max(ra["ns"], 1))
    return per


# The page-pool counters bench/guest.py records per transfer, as report columns.
PP_COUNTERS = {"pp_alloc_fast": "alloc from cache", "pp_alloc_slow": "alloc slow",
               "pp_alloc_refill": "cache refills", "pp_recycle_cached": "recycled to cache",
               "pp_recycle_ring": "recycled to ring", "pp_recycle_ring_full": "ring full",
               "pp_recycle_released_refcnt": "released (refcount)"}


# The driver configurations of the igb_rs against igb transfers, in report order.
DRIVER_KEYS = ("igb_rs split off", "igb_rs split on", "igb", "igb_rs split off adaptive",
               "igb adaptive")


def driver_key(r):
    """A driver transfer's configuration, one of DRIVER_KEYS."""
    key = "igb" if r["driver"] == "igb" else f"igb_rs split {r['split']}"
    return key + (" adaptive" if r.get("moderation") == "adaptive" else "")


def e2e(rows):
    """End-to-end transfers under -icount, one vCPU: the guest's busy time per byte is its
    instructions per byte (sender and receiver alike). Pairs within one boot (devmem against
    copy, igb_rs against igb, alternating), the first repetition of each boot discarded;
    Rust against C devmem pairs the boots of one round (their medians)."""
    res = {}
    per_byte = lambda r: r["guest_cpu_ns"] / r["bytes"]  # noqa: E731
    boot_devmem = {}
    for impl in sorted({r["kernel_impl"] for r in rows if r["kind"] == "e2e"}):
        by = {}
        for r in rows:
            if r["kind"] == "e2e" and r["kernel_impl"] == impl and r["rep"] > 0:
                by.setdefault((r["boot"], r["rep"]), {})[r["mode"]] = r
        pairs = [v for v in by.values() if "devmem" in v and "copy" in v]
        res[f"devmem/copy {impl}"] = median_ci([per_byte(v["devmem"]) / per_byte(v["copy"]) for v in pairs])
        for mode in ("devmem", "copy"):
            res[f"{mode} insns/GiB {impl}"] = median_ci([per_byte(v[mode]) * 2 ** 30 for v in pairs])
            res[f"{mode} irqs/MiB {impl}"] = median_ci([v[mode].get("irqs", math.nan) / v[mode]["bytes"] * 2 ** 20
                                                        for v in pairs])
        for (boot, rep), v in by.items():
            if "devmem" in v:
                boot_devmem.setdefault(boot, {})[rep] = per_byte(v["devmem"])
        # igb_rs (header split off, and on) against igb, receiving: rows of a run that set
        # the same interrupt interval and queue on both (they carry `split`); and the two
        # with their adaptive moderation (`moderation`, absent in runs before it).
        by = {}
        for r in rows:
            if (r["kind"] == "driver" and r["kernel_impl"] == impl and r["direction"] == "rx"
                    and r["rep"] > 0 and "split" in r):
                by.setdefault((r["boot"], r["rep"]), {})[driver_key(r)] = r
        for rs, base in (("igb_rs split off", "igb"), ("igb_rs split on", "igb"),
                         ("igb_rs split off adaptive", "igb adaptive")):
            pairs = [v for v in by.values() if rs in v and base in v]
            if pairs:
                res[f"{rs}/igb rx {impl}"] = median_ci([per_byte(v[rs]) / per_byte(v[base])
                                                        for v in pairs])
                # The peer's received packets (the receiver's ACKs), paired the same way:
                # how alike the peer's share of the count is.
                res[f"{rs}/igb acks {impl}"] = median_ci([v[rs]["b_rx_pkts"] / max(v[base]["b_rx_pkts"], 1)
                                                          for v in pairs])
        for key in DRIVER_KEYS:
            vals = [v[key] for v in by.values() if key in v]
            if vals:
                mib = lambda r, k: r[k] / r["bytes"] * 2 ** 20  # noqa: E731
                res[f"{key} insns/GiB {impl}"] = median_ci([per_byte(r) * 2 ** 30 for r in vals])
                res[f"{key} irqs/MiB {impl}"] = median_ci([mib(r, "irqs") for r in vals])
                res[f"{key} pkts/MiB {impl}"] = median_ci([mib(r, "a_rx_pkts") for r in vals])
                res[f"{key} acks/MiB {impl}"] = median_ci([mib(r, "b_rx_pkts") for r in vals])
        # Port A's page-pool counters per MiB moved (transfers that recorded them: igb_rs'
        # pools, devmem's with the binding's provider).
        for r in rows:
            if r["rep"] == 0 or r["kernel_impl"] != impl or "pp_alloc_fast" not in r:
                continue
            if r["kind"] == "e2e":
                what = r["mode"]
            elif r["kind"] == "driver" and r["direction"] == "rx" and "split" in r:
                what = driver_key(r)
            else:
                continue
            pp = res.setdefault("_pp", {}).setdefault((impl, what), {})
            for k in PP_COUNTERS:
                pp.setdefault(k, []).append(r[k] / r["bytes"] * 2 ** 20)
            # igb_rs' NAPI polls (runs before the counter have none).
            if r.get("napi_polls"):
                pp.setdefault("napi_ppp", []).append(r["napi_pkts"] / r["napi_polls"])
    for key, per in res.get("_pp", {}).items():
        res["_pp"][key] = {k: median_ci(v) for k, v in per.items()}
    # raw-e2e-IMPL-ROUND.txt: Rust against C, the same repetition of the two boots of a
    # round (the boots alternate, A/B/A/B).
    rounds = {}
    for boot, vals in boot_devmem.items():
        m = re.match(r"raw-e2e-(\w+)-(\d+)\.txt$", boot)
        if m:
            rounds.setdefault(m[2], {})[m[1]] = vals
    both = [v for v in rounds.values() if "rust" in v and "c" in v]
    rc = [v["rust"][k] / v["c"][k] for v in both for k in v["rust"] if k in v["c"]]
    if rc:
        res["devmem rust/c"] = median_ci(rc)
        res["_rounds"] = len(both)
    return res


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
        bufs = r["_bufs"]
        md += ["## The ruler: instructions, both providers in one boot", "",
               "`devmem_bench` in one boot of the Rust release kernel with upstream's provider",
               "(net/core/devmem.c) built beside devmem-rs' (`CONFIG_DEVMEM_RS_BENCH_ORACLE`), on",
               "the same dma-bufs, ABBA; QEMU `-icount shift=0,sleep=off`, one vCPU: a guest",
               f"nanosecond is one instruction. {r['_reps']} repetitions counted. The dma-bufs "
               "(4 KiB net_iovs): " + "; ".join(
                   f"{i}: {n} net_iovs in {g} DMA ranges" for i, (n, g) in sorted(bufs.items())) + ".",
               "The pool rows of this table are on dma-buf 0; the table after it has every one.", "",
               "| measurement | plain pool | C (upstream) | Rust (devmem-rs) |",
               "|---|---|---|---|"]
        for test, what in (("fast", "fast path, instructions per alloc+recycle"),
                           ("alloc", "refill, instructions per buffer"),
                           ("release", "release, instructions per buffer")):
            md.append(f"| {what} | {fmt_ci(r[test + ' plain'], 1)} | {fmt_ci(r[test + ' c'], 1)} | "
                      f"{fmt_ci(r[test + ' rust'], 1)} |")
        if "release_mp c" in r:
            md.append(f"| release, the provider's release_netmem alone, per buffer | | "
                      f"{fmt_ci(r['release_mp c'], 1)} | {fmt_ci(r['release_mp rust'], 1)} |")
        md.append(f"| bind, instructions per net_iov (slope over dma-bufs 1..) | | {fmt_ci(r['bind slope c'], 1)} | "
                  f"{fmt_ci(r['bind slope rust'], 1)} |")
        if "map slope" in r:
            md.append(f"| bind, of that slope: the dma-buf get, attach and map alone (the same for both) | | "
                      f"{fmt_ci(r['map slope'], 1)} | {fmt_ci(r['map slope'], 1)} |")
            md.append(f"| bind, of that slope: the provider's own part (bind minus map) | | "
                      f"{fmt_ci(r['bind own slope c'], 1)} | {fmt_ci(r['bind own slope rust'], 1)} |")
        md.append(f"| bind, intercept of that line (instructions) | | {fmt_ci(r['bind intercept c'], 0)} | "
                  f"{fmt_ci(r['bind intercept rust'], 0)} |")
        md.append(f"| bind, MemAvailable bytes per net_iov (dma-buf {r['_big']}) | | {fmt_ci(r['mem/niov c'], 1)} | "
                  f"{fmt_ci(r['mem/niov rust'], 1)} |")
        md.append(f"| unbind of dma-buf {r['_big']}, the call (instructions) | | {fmt_ci(r['unbind c'], 0)} | "
                  f"{fmt_ci(r['unbind rust'], 0)} |")
        md += ["", "Pool paths per dma-buf, instructions per buffer, and Rust/C paired:", "",
               "| dma-buf (DMA ranges) | refill C | refill Rust | Rust/C | release C | release Rust | Rust/C |",
               "|---|---|---|---|---|---|---|"]
        for i in r["_pool_bufs"]:
            md.append(f"| {i} ({bufs[i][1]}) | {fmt_ci(r[f'alloc c {i}'], 1)} | {fmt_ci(r[f'alloc rust {i}'], 1)} | "
                      f"{fmt_ci(r[f'alloc rust/c {i}'])} | {fmt_ci(r[f'release c {i}'], 1)} | "
                      f"{fmt_ci(r[f'release rust {i}'], 1)} | {fmt_ci(r[f'release rust/c {i}'])} |")
        md.append("")
        per = determinism(runs)
        md += ["### Determinism of the ruler", ""]
        if per:
            md += ["The module loaded twice in the same boot on the same dma-bufs; the second load's "
                   "figure against the first's, per measurement:", "",
                   "| measurement | identical | median difference | largest difference |", "|---|---|---|---|"]
            for (test, impl), v in sorted(per.items()):
                md.append(f"| {test} {impl} | {sum(1 for x in v if x == 0)} of {len(v)} | "
                          f"{st.median(v) * 100:+.3f}% | {max(v, key=abs) * 100:+.3f}% |")
            md.append("")
            md.append("What differs between the loads is the guest's state, not the host: interrupts "
                      "taken inside a measurement, and the page allocator's and slab's state.")
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
            ("release: the provider's own release_netmem at most 0.5x C's (the part of the release "
             "target a provider controls; not itself a target)", r["release_mp rust/c"], 0.5, "max")
            if "release_mp rust/c" in r else None,
            ("bind slope per net_iov at most 0.8x C's", r["bind slope rust/c"], 0.8, "max"),
            ("bind: the provider's own part of the slope at most 0.8x C's (the part a provider "
             "controls; not itself a target)", r["bind own slope rust/c"], 0.8, "max")
            if "bind own slope rust/c" in r else None,
            ("bind intercept no worse than C's (Rust minus C, instructions, at most 0)", r["bind intercept rust-c"], 0,
             "intercept" if min(r["bind intercept c"][0], r["bind intercept rust"][0]) >= 0 else "negative"),
            ("memory per net_iov at most 64 bytes", r["mem/niov rust"], 64, "mem"),
        ]
        targets = [t for t in targets if t]
        if "release rust most/fewest ranges" in r:
            g1, g2 = r["_release_ranges"]
            targets.append((f"release per net_iov the same for {g1} and {g2} ranges (ratio; the target "
                            "names 16,384 and 1)", r["release rust most/fewest ranges"], 0.05, "abs1"))
    pp = page_pool(rows)
    if pp:
        n = len({r["rep"] for r in rows if r["kind"] == "page_pool" and r["rep"] > 0})
        md += ["## Upstream's page_pool bench under the same ruler", "",
               "`bench_page_pool` (tools/testing/selftests/net/bench/page_pool), built unchanged "
               "from the prepared tree against the same kernel and loaded in the same boot after "
               f"`devmem_bench`, {n} loads counted: its nanoseconds per element, here "
               "instructions (instructions, not cycles: a locked increment counts one, as its "
               "row shows). Its pools are plain (no device, no DMA mapping): it has no way to "
               "make a pool with a memory provider, which needs an rx queue bound to one; the "
               "provider-backed pools are `devmem_bench`'s, above.", "",
               "| upstream's test | what it times | instructions per element |", "|---|---|---|"]
        for test, what in PP_TESTS:
            if test in pp:
                md.append(f"| {test} | {what} | {fmt_ci(pp[test], 1)} |")
        md.append("")
        if runs and "no-softirq-page_pool01" in pp:
            md += ["Beside `devmem_bench`'s fast path (the same operations: an allocation from the "
                   "pool's cache, recycled straight back): "
                   f"plain pool {fmt_ci(r['fast plain'], 1)}, C provider {fmt_ci(r['fast c'], 1)}, "
                   f"Rust provider {fmt_ci(r['fast rust'], 1)}; upstream's "
                   f"{fmt_ci(pp['no-softirq-page_pool01'], 1)}, its loop "
                   f"{fmt_ci(pp['for_loop'], 1) if 'for_loop' in pp else '–'} of that. The two "
                   "modules' loops differ (upstream's returns pages with "
                   "`page_pool_recycle_direct` outside softirq, `devmem_bench` netmems with "
                   "`page_pool_put_full_netmem` under `local_bh_disable`), so the figures "
                   "check each other's order of size, not to the instruction.", ""]
    sec = e2e(rows)
    if sec:
        impls = sorted({k.split()[-1] for k in sec if k.startswith("devmem/copy ")})
        md += ["## End to end: instructions of the whole guest per byte moved", "",
               "One vCPU under `-icount`: the guest's busy time (/proc/stat, 10 ms ticks) counts "
               "its instructions, the sender's (the peer namespace) and the receiver's alike. "
               "Transfers alternate within a boot and pair with their neighbour; the first "
               "repetition of every boot is discarded.", "",
               "| kernel | devmem, millions of instructions per GiB | copy, the same | devmem/copy | "
               "port A's interrupts per MiB, devmem / copy |",
               "|---|---|---|---|---|"]
        mega = lambda t: tuple(x / 1e6 for x in t[:3])  # noqa: E731
        for impl in impls:
            md.append(f"| {impl} | {fmt_ci(mega(sec[f'devmem insns/GiB {impl}']), 1)} | "
                      f"{fmt_ci(mega(sec[f'copy insns/GiB {impl}']), 1)} | {fmt_ci(sec[f'devmem/copy {impl}'])} | "
                      f"{fmt(sec[f'devmem irqs/MiB {impl}'][0], 1)} / {fmt(sec[f'copy irqs/MiB {impl}'][0], 1)} |")
        md.append("")
        drv = [k for k in DRIVER_KEYS if any(f"{k} insns/GiB {i}" in sec for i in impls)]
        if drv:
            md += ["### igb_rs against igb, receiving", "",
                   "Port A under igb_rs (header split off, then on) and under the C igb driver, in "
                   "turn within a boot, copying receive from the same peer: both at the same fixed "
                   "interrupt interval (`ethtool -C rx-usecs`), every RSS entry on one queue "
                   "(`ethtool -X`; a transfer counts only if that queue got at least 99% of what "
                   "port A received). The instructions are the whole guest's, the peer's (sender, "
                   "C igb on port B) with the receiver's; the peer's received packets are the "
                   "receiver's acknowledgements." + (
                       " The rows marked adaptive take each driver's own adaptive moderation "
                       "instead (igb's default, `rx-usecs 3`; igb_rs' `adaptive-rx on`, header "
                       "split off), compared with each other; no target judges them, since the "
                       "two schemes differ." if any(k.endswith("adaptive") for k in drv) else ""),
                   "",
                   "| kernel | port A | millions of instructions per GiB | against igb | "
                   "interrupts per MiB | packets received per MiB | peer's packets received per MiB |",
                   "|---|---|---|---|---|---|---|"]
            for impl in impls:
                for k in drv:
                    if f"{k} insns/GiB {impl}" not in sec:
                        continue
                    ratio = sec.get(f"{k}/igb rx {impl}")
                    md.append(f"| {impl} | {k} | {fmt_ci(mega(sec[f'{k} insns/GiB {impl}']), 1)} | "
                              f"{fmt_ci(ratio) if ratio else '–'} | {fmt_ci(sec[f'{k} irqs/MiB {impl}'], 1)} | "
                              f"{fmt_ci(sec[f'{k} pkts/MiB {impl}'], 1)} | "
                              f"{fmt_ci(sec[f'{k} acks/MiB {impl}'], 1)} |")
            md.append("")
        if sec.get("_pp"):
            ppp = any("napi_ppp" in per for per in sec["_pp"].values())
            md += ["### Page pools", "",
                   "Port A's page-pool counters (netdev family, `page-pool-stats-get`, read "
                   "before and after each transfer, outside its count) per MiB moved: where "
                   "buffers came from and went back to. Each row sums every pool of port A, the "
                   "header and payload pools of all its queues; on the devmem transfers the "
                   "bound queues' payload pools are the binding's provider's. igb has no page "
                   "pool. " + (
                       "The last column is not per MiB: the packets port A's rx queues took per "
                       "NAPI poll of their pairs (igb_rs' `rx<q>_packets` over `rx<q>_polls`; a "
                       "poll that found no packet counts too, as one for tx completions alone "
                       "does). igb counts no polls: for it the interrupts per MiB above stand "
                       "for them." if ppp else
                       "No driver here counted its NAPI polls (packets per poll): the "
                       "interrupts per MiB above stand for them."), "",
                   "| kernel | transfer | " + " | ".join(PP_COUNTERS.values()) +
                   (" | packets per NAPI poll" if ppp else "") + " |",
                   "|---|---|" + "---|" * (len(PP_COUNTERS) + bool(ppp))]
            for (impl, what), per in sorted(sec["_pp"].items()):
                cols = [fmt_ci(per[k], 1) for k in PP_COUNTERS]
                if ppp:
                    cols.append(fmt_ci(per["napi_ppp"], 1) if "napi_ppp" in per else "–")
                md.append(f"| {impl} | {what} | " + " | ".join(cols) + " |")
            md.append("")
        for impl in ("rust", "c"):
            t = sec.get(f"devmem/copy {impl}")
            targets.append((f"devmem receive at most 0.85x the guest instructions per GiB of copying "
                            f"receive ({impl} build)", t, 0.85, "max") if t else None)
        for split, limit in (("off", 0.95), ("on", 1.10)):
            for impl in impls:
                t = sec.get(f"igb_rs split {split}/igb rx {impl}")
                if t:
                    targets.append((f"igb_rs receive at most {limit:.2f}x igb's instructions per "
                                    f"byte, header split {split} ({impl} boots)", t, limit,
                                    ("diluted", sec[f"igb_rs split {split}/igb acks {impl}"])))
        if "devmem rust/c" in sec:
            targets.append((f"Rust devmem receive at most 1.00x C devmem ({sec['_rounds']} rounds of "
                            "boots)", sec["devmem rust/c"], 1.0, "max"))
        targets = [t for t in targets if t]
    md += ["## Targets", "", "| target | figure, median [95% interval] | verdict |", "|---|---|---|"]
    for name, t, limit, how in targets:
        if how == "abs1":
            v = ("inconclusive" if math.isnan(t[1]) else "met" if max(abs(t[1] - 1), abs(t[2] - 1)) <= limit
                 else "missed" if (t[1] > 1 + limit or t[2] < 1 - limit) else "inconclusive")
            v += " (within 5%)"
        elif how == "mem":
            # MemAvailable moves by whole pages: what a binding takes from slabs (Rust's free
            # bitmap, C's gen_pool chunks) does not show, so a figure at or just under the
            # limit does not clear it.
            v = ("inconclusive (MemAvailable did not move in some repetitions)" if not t[1] > 0
                 else "missed" if t[1] > limit
                 else "inconclusive (page-granular: slab allocations not counted)")
        elif isinstance(how, tuple) and how[0] == "diluted":
            # The receiver's share R and the sender's S, the same for both drivers as far as
            # the peer's work per byte is: (R1 + S) / (R2 + S) lies between 1 and R1 / R2.
            # The peer sends the same data either way; what it receives (the receiver's
            # ACKs) is what differs, so that must be alike for the argument to hold.
            acks = how[1]
            if math.isnan(t[1]) or math.isnan(acks[1]):
                v = "inconclusive (too few repetitions)"
            elif acks[1] < 0.9 or acks[2] > 1.1:
                v = (f"inconclusive (the peer received {fmt_ci(acks)} times igb's packets per "
                     "byte, outside [0.9, 1.1]: its share of the count is not alike for the two "
                     "drivers, so the figure does not bound the receiver's ratio)")
            else:
                v = ("met" if t[2] <= min(limit, 1) else "missed" if t[1] > max(limit, 1)
                     else "inconclusive")
                v += (f" (the figure counts the peer's instructions too, which pull it toward 1 "
                      f"as far as they are alike for both drivers (its received packets per byte "
                      f"{fmt_ci(acks)} times igb's): the receiver's own ratio is further from 1; "
                      "judged only where that side settles it)")
        elif how == "negative":
            v = ("not judged: a fitted intercept is negative, so the cost per net_iov is not "
                 "constant over the sizes and the line's intercept is no fixed cost")
        elif how == "intercept":
            v = verdict(t, limit)
        elif how == "abs":
            v = ("met" if max(abs(t[1]), abs(t[2])) <= limit else
                 "missed" if (t[1] > limit or t[2] < -limit) else "inconclusive")
            if math.isnan(t[1]):
                v = "inconclusive (too few repetitions)"
        else:
            v = verdict(t, limit)
            share = r.get("release pool share/c") if runs else None
            if name.startswith("release per net_iov at most") and share and share[1] > limit:
                v += (f"; the page pool's own part of a release (release minus release_mp) is "
                      f"{fmt_ci(share)} of C's whole release, above the target whatever the provider does")
            share = r.get("bind map share/c") if runs else None
            if name.startswith("bind slope per net_iov at most") and share and share[1] > limit:
                v += (f"; the dma-buf get, attach and map alone are {fmt_ci(share)} of C's slope, "
                      f"above the target whatever the provider does")
        md.append(f"| {name} | {fmt_ci(t, 3 if abs(t[0]) < 10 else 1)} | {v} |")
    md.append("| unbind at most 0.5x C's | not measured: both implementations finish the teardown "
              "later, outside the count (C after an RCU grace period), so the call alone is not "
              "the cost | – |")
    judged = " ".join(t[0] for t in targets)
    for impl in ("rust", "c"):
        if f"({impl} build)" not in judged:
            md.append(f"| devmem receive at most 0.85x the guest instructions per GiB of copying "
                      f"receive ({impl} build) | not measured by this run | – |")
    if "Rust devmem receive" not in judged:
        md.append("| Rust devmem receive at most 1.00x C devmem | not measured by this run | – |")
    if "igb_rs receive" not in judged:
        md.append("| igb_rs receive at most 0.95x igb's instructions per byte (split off), 1.10x "
                  "(split on) | not measured by this run | – |")
    md.append("| igb_rs wall-clock throughput at least 1.0x igb's | not measured: the end-to-end "
              "transfers run under -icount, where the guest's clock counts instructions | – |")
    md.append("")
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    if runs:
        svg_bars(os.path.join(outdir, "micro.svg"), "devmem_bench under -icount (median, 95% interval)",
                 "instructions per operation", ["fast", "alloc", "release"], ["plain", "c", "rust"],
                 {(t, i): r[f"{t} {i}"][:3] for t in ("fast", "alloc", "release") for i in ("plain", "c", "rust")})
    if sec:
        impls = sorted({k.split()[-1] for k in sec if k.startswith("devmem/copy ")})
        svg_bars(os.path.join(outdir, "e2e.svg"), "end to end under -icount (median, 95% interval)",
                 "millions of guest instructions per GiB", impls, ["copy", "devmem"],
                 {(i, m): tuple(x / 1e6 for x in sec[f"{m} insns/GiB {i}"][:3])
                  for i in impls for m in ("copy", "devmem")})
    print("\n".join(md))


if __name__ == "__main__":
    main()
