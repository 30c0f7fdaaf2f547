#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Turn the `BENCH {json}` lines of the benchmark guests (one file per devmem
# implementation) into a results directory: results.csv (every sample), results.md (the
# table, with every figure as a ratio against its baseline from the same run) and SVG plots.
#
# Usage: report.py OUTDIR MACHINE_FILE RAW_FILE...

import csv
import json
import os
import statistics as st
import sys

IMPLS = ("rust", "c")
COLORS = {"rust": "#b7410e", "c": "#3465a4", "plain": "#888a85",
          "copy": "#888a85", "devmem": "#b7410e"}


def load(paths):
    rows, guests = [], {}
    for p in paths:
        impl = None
        with open(p) as f:
            for line in f:
                if not line.startswith("BENCH "):
                    continue
                r = json.loads(line[6:])
                if r["kind"] == "guest":
                    impl = r["impl"]
                    guests[impl] = r
                    continue
                r["impl"] = impl
                rows.append(r)
    return rows, guests


def summary(vals):
    """Median and the spread (min, max) of a list of samples."""
    return st.median(vals), min(vals), max(vals)


def fmt(m, lo, hi, nd=1):
    return f"{m:.{nd}f} [{lo:.{nd}f}–{hi:.{nd}f}]"


def slope(xs, ys):
    mx, my = st.mean(xs), st.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


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


def svg_lines(path, title, xlabel, ylabel, xs, lines):
    """Line chart on a log2 x axis. lines[name] = [(median, lo, hi) per x]."""
    W, H, L, B, T = 640, 360, 70, 60, 40
    top = max((p[2] for pts in lines.values() for p in pts), default=1) * 1.15 or 1
    import math
    lx = [math.log2(x) for x in xs]
    span = (lx[-1] - lx[0]) or 1

    def X(i):
        return L + 20 + (W - L - 50) * (lx[i] - lx[0]) / span

    def Y(v):
        return H - B - (H - B - T) * v / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<text x="15" y="{(H - B + T) / 2}" transform="rotate(-90 15 {(H - B + T) / 2})" '
           f'text-anchor="middle">{ylabel}</text>',
           f'<text x="{W / 2}" y="{H - 28}" text-anchor="middle">{xlabel}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - 10}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for i in range(5):
        v = top * i / 5
        out.append(f'<text x="{L - 5}" y="{Y(v) + 4}" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{L}" y1="{Y(v)}" x2="{W - 10}" y2="{Y(v)}" stroke="#ddd"/>')
    for i, x in enumerate(xs):
        out.append(f'<text x="{X(i):.1f}" y="{H - B + 16}" text-anchor="middle">{x}</text>')
    dashes = ["", "6,3"]
    for li, (name, pts) in enumerate(lines.items()):
        impl = name.split()[0]
        col = COLORS.get(impl, "#555")
        d = " ".join(f"{X(i):.1f},{Y(p[0]):.1f}" for i, p in enumerate(pts))
        out.append(f'<polyline points="{d}" fill="none" stroke="{col}" stroke-width="2" '
                   f'stroke-dasharray="{dashes[li % 2]}"/>')
        for i, p in enumerate(pts):
            out.append(f'<line x1="{X(i):.1f}" y1="{Y(p[1]):.1f}" x2="{X(i):.1f}" '
                       f'y2="{Y(p[2]):.1f}" stroke="{col}"/>')
        out.append(f'<line x1="{L + 10 + li * 150}" y1="{H - 10}" x2="{L + 30 + li * 150}" '
                   f'y2="{H - 10}" stroke="{col}" stroke-width="2" '
                   f'stroke-dasharray="{dashes[li % 2]}"/>')
        out.append(f'<text x="{L + 34 + li * 150}" y="{H - 6}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --- analysis ---------------------------------------------------------------------------

def main():
    outdir, machine_file, raws = sys.argv[1], sys.argv[2], sys.argv[3:]
    rows, guests = load(raws)
    impls = [i for i in IMPLS if i in guests]
    if not impls:
        sys.exit("report.py: no benchmark output")
    os.makedirs(outdir, exist_ok=True)

    keys = sorted({k for r in rows for k in r})
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow(r)

    md, targets = [], []
    with open(machine_file) as f:
        machine = f.read().strip()
    g0 = guests[impls[0]]
    md += ["# devmem-rs benchmark results", "",
           "Produced by `make bench` (devtools/bench.sh, bench/report.py); every figure below "
           "comes from the same run. Medians, with [min–max] over the repetitions.", "",
           "## Machine", "", "```", machine,
           f"guest: {g0['cpus']} vCPUs under QEMU TCG ({g0['cpu']}), "
           f"{g0['mem_bytes'] >> 20} MiB, kernel {g0['kernel']} (one boot per implementation)",
           "```", "",
           "The guest runs under TCG (no KVM): absolute times are those of an emulated CPU "
           "and mean little; the ratios against a baseline measured in the same boot are "
           "what to read. The two implementations run in two boots of the same kernel "
           "configuration (they are a build-time choice), one after the other.", ""]

    # page_pool
    def pp(impl, test, pool, unit):
        v = [r[unit] / r["ops"] for r in rows
             if r["kind"] == "pp" and r["impl"] == impl and r["test"] == test and r["pool"] == pool]
        return summary(v) if v else None

    md += ["## 1. page_pool fast path (alloc + direct recycle, per buffer)", "",
           "| implementation | plain pool cycles | provider pool cycles | provider − plain "
           "(cycles) | provider / plain (ns) |", "|---|---|---|---|---|"]
    fast_vals, fast_rel = {}, {}
    for impl in impls:
        p, q = pp(impl, "fast", "plain", "cycles"), pp(impl, "fast", "provider", "cycles")
        pn, qn = pp(impl, "fast", "plain", "ns"), pp(impl, "fast", "provider", "ns")
        if not (p and q):
            continue
        fast_vals[(impl, "plain")] = p
        fast_vals[(impl, "provider")] = q
        fast_rel[impl] = qn[0] / pn[0]
        md.append(f"| {impl} | {fmt(*p)} | {fmt(*q)} | {q[0] - p[0]:+.1f} | "
                  f"{qn[0] / pn[0]:.3f} |")
    if "rust" in fast_rel and "c" in fast_rel:
        ratio = fast_rel['rust'] / fast_rel['c']
        md += ["", f"Rust provider against C provider, each relative to the plain pool of its "
               f"own boot: **{ratio:.3f}** (target ≤ 1.00)."]
        targets.append(("Rust provider fast path no slower than C (ratio ≤ 1.00)",
                        f"{ratio:.3f}", ratio <= 1.0))
    if ("rust", "plain") in fast_vals:
        d = fast_vals[("rust", "provider")][0] - fast_vals[("rust", "plain")][0]
        targets.append(("Rust provider fast path within one cycle of the plain pool",
                        f"{d:+.1f} cycles", d <= 1.0))
    md.append("")
    svg_bars(os.path.join(outdir, "pagepool_fast.svg"),
             "page_pool fast path: alloc + recycle", "cycles per buffer",
             impls, ["plain", "provider"],
             {(i, s): v for (i, s), v in fast_vals.items()})

    md += ["## 2. Refill and release (slow) paths, per buffer", "",
           "alloc: 4096 allocations from a pool with empty caches (the provider's "
           "alloc_netmems, or the page allocator for the plain pool); release: the 4096 "
           "given back without direct recycling to a pool with a 64-entry ring (all but "
           "64 reach the provider's release_netmem).", "",
           "| implementation | path | plain pool ns | provider pool ns | provider / plain |",
           "|---|---|---|---|---|"]
    slow_rel, slow_vals = {}, {}
    for impl in impls:
        for test in ("alloc", "release"):
            p, q = pp(impl, test, "plain", "ns"), pp(impl, test, "provider", "ns")
            if not (p and q):
                continue
            slow_rel[(impl, test)] = q[0] / p[0]
            slow_vals[(test, impl)] = q
            md.append(f"| {impl} | {test} | {fmt(*p)} | {fmt(*q)} | {q[0] / p[0]:.3f} |")
    for test in ("alloc", "release"):
        if ("rust", test) in slow_rel and ("c", test) in slow_rel:
            md.append("")
            x = slow_rel[('c', test)] / slow_rel[('rust', test)]
            md.append(f"{test}: Rust provider throughput / C provider throughput, each "
                      f"relative to its boot's plain pool: **{x:.2f}x**"
                      + (" (target ≥ 2x)" if test == "alloc" else ""))
            if test == "alloc":
                targets.append(("Refill throughput at least 2x the C provider's",
                                f"{x:.2f}x", x >= 2.0))
    md.append("")
    svg_bars(os.path.join(outdir, "refill.svg"), "provider refill and release paths",
             "ns per buffer", ["alloc", "release"], impls, slow_vals)

    # bind
    binds = [r for r in rows if r["kind"] == "bind"]
    if binds:
        sizes = sorted({r["mib"] for r in binds})
        nqs = sorted({r["queues"] for r in binds})
        md += ["## 3. bind-rx and unbind latency", "",
               "Wall time of the netlink request in the guest (includes restarting the bound "
               "queues of the igb_rs port), ms.", "",
               "| queues | dma-buf MiB | " + " | ".join(f"{i} bind | {i} unbind" for i in impls)
               + (" | bind rust / c |" if len(impls) == 2 else " |"),
               "|---|---|" + "---|---|" * len(impls) + ("---|" if len(impls) == 2 else "")]
        lines, slower = {}, []
        for nq in nqs:
            for mib in sizes:
                cells, med = [], {}
                for impl in impls:
                    sel = [r for r in binds if r["impl"] == impl and r["queues"] == nq
                           and r["mib"] == mib]
                    if not sel:
                        cells += ["–", "–"]
                        continue
                    b = summary([r["bind_ns"] / 1e6 for r in sel])
                    u = summary([r["unbind_ns"] / 1e6 for r in sel])
                    med[impl] = b[0]
                    cells += [fmt(*b), fmt(*u)]
                    lines.setdefault(f"{impl} {nq}q", []).append(b)
                ratio = f" {med['rust'] / med['c']:.2f} |" if len(med) == 2 else ""
                if len(med) == 2 and med["rust"] > med["c"]:
                    slower.append(f"{nq}q/{mib} MiB")
                md.append(f"| {nq} | {mib} | " + " | ".join(cells) + " |" + ratio)
        if len(impls) == 2:
            targets.append(("bind-rx no slower than C at every size",
                            "slower at " + ", ".join(slower) if slower else "never slower",
                            not slower))
        svg_lines(os.path.join(outdir, "bind.svg"), "bind-rx latency", "dma-buf size (MiB)",
                  "ms", sizes, lines)
        md += ["", "Memory a binding holds: the slope of MemAvailable's drop at bind-rx "
               "against the number of net_iovs (one per 4 KiB page), least squares over "
               "every size and repetition:", ""]
        for impl in impls:
            sel = [r for r in binds if r["impl"] == impl]
            s = slope([r["niovs"] for r in sel], [r["held_bytes"] for r in sel])
            md.append(f"- {impl}: {s:.1f} bytes per net_iov")
        md.append("")

    # e2e
    e2e = [r for r in rows if r["kind"] == "e2e"]
    if e2e:
        md += ["## 4. End-to-end receive over the emulated wire", "",
               "One TCP flow from the peer port (C igb, own netns) to the igb_rs port, "
               f"{e2e[0]['bytes'] >> 20} MiB per transfer, copy and devmem alternating. "
               "Receiver CPU: the receiving process's user+sys time; guest CPU: all non-idle "
               "time of the guest (sender included), both per GiB received.", "",
               "| implementation | mode | MB/s | receiver CPU s/GiB | guest CPU s/GiB |",
               "|---|---|---|---|---|"]
        gib = 1 << 30
        e2e_vals, med = {}, {}
        for impl in impls:
            for mode in ("copy", "devmem"):
                sel = [r for r in e2e if r["impl"] == impl and r["mode"] == mode]
                if not sel:
                    continue
                tput = summary([r["bytes"] / r["wall_ns"] * 1e3 for r in sel])
                rcpu = summary([(r["user_ns"] + r["sys_ns"]) / 1e9 * gib / r["bytes"] for r in sel])
                gcpu = summary([r["guest_cpu_ns"] / 1e9 * gib / r["bytes"] for r in sel])
                med[(impl, mode)] = (tput[0], rcpu[0], gcpu[0])
                e2e_vals[(impl, mode)] = gcpu
                md.append(f"| {impl} | {mode} | {fmt(*tput)} | {fmt(*rcpu, nd=2)} | "
                          f"{fmt(*gcpu, nd=2)} |")
        md.append("")
        for impl in impls:
            if (impl, "copy") in med and (impl, "devmem") in med:
                c, d = med[(impl, "copy")], med[(impl, "devmem")]
                md.append(f"- {impl}: devmem / copy: throughput {d[0] / c[0]:.2f}, receiver "
                          f"CPU per GiB {d[1] / c[1]:.2f}, guest CPU per GiB {d[2] / c[2]:.2f}")
                targets.append((f"{impl}: devmem receive uses less guest CPU per GiB than copy",
                                f"{d[2] / c[2]:.2f}", d[2] < c[2]))
        if ("rust", "devmem") in med and ("c", "devmem") in med:
            r, c = med[("rust", "devmem")], med[("c", "devmem")]
            rc, cc = med[("rust", "copy")], med[("c", "copy")]
            md.append(f"- rust / c devmem, each relative to its boot's copy receive: "
                      f"throughput {(r[0] / rc[0]) / (c[0] / cc[0]):.2f}, guest CPU per GiB "
                      f"{(r[2] / rc[2]) / (c[2] / cc[2]):.2f}")
        md.append("")
        svg_bars(os.path.join(outdir, "e2e_cpu.svg"), "guest CPU per GiB received",
                 "CPU seconds per GiB", impls, ["copy", "devmem"], e2e_vals)

    drv = [r for r in rows if r["kind"] == "driver"]
    if drv:
        md += ["## 5. The Rust 82576 driver against the C igb driver", "",
               "One TCP flow, copying, on port A driven by igb_rs or by igb (alternating, "
               "same boot, same peer): received by port A (rx) and sent by it (tx), "
               f"{drv[0]['bytes'] >> 20} MiB per transfer. Guest CPU is all non-idle time "
               "of the guest, peer included.", "",
               "| implementation | direction | driver | MB/s | guest CPU s/GiB |",
               "|---|---|---|---|---|"]
        for impl in impls:
            for direction in ("rx", "tx"):
                med = {}
                for d in ("igb_rs", "igb"):
                    sel = [r for r in drv if r["impl"] == impl and r["driver"] == d
                           and r.get("direction", "rx") == direction]
                    if not sel:
                        continue
                    tput = summary([r["bytes"] / r["wall_ns"] * 1e3 for r in sel])
                    gcpu = summary([r["guest_cpu_ns"] / 1e9 * (1 << 30) / r["bytes"]
                                    for r in sel])
                    med[d] = (tput[0], gcpu[0])
                    md.append(f"| {impl} | {direction} | {d} | {fmt(*tput)} | "
                              f"{fmt(*gcpu, nd=2)} |")
                if len(med) == 2:
                    x = med["igb_rs"][0] / med["igb"][0]
                    targets.append((f"{impl} boot, {direction}: igb_rs throughput / igb "
                                    "throughput at least 1.0", f"{x:.2f}", x >= 1.0))
        md.append("")

    md += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    md += [f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in targets]
    md.append("")
    md += ["## Plots", "", "![fast path](pagepool_fast.svg) ![refill](refill.svg)",
           "![bind](bind.svg) ![e2e](e2e_cpu.svg)", ""]
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
