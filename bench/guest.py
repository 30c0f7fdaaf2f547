#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make bench`: runs in the two-port test guest on one kernel and prints
# every measurement as a line `BENCH {json}` for devtools/bench.sh; everything else it
# prints is commentary.
#
# Usage: guest.py IMPL KSRC TCP_RXTX PP_BENCH PHASE...
#   IMPL      the devmem implementation the kernel was built with (rust or c), for the record
#   KSRC      the prepared kernel tree (YNL library and netdev spec)
#   TCP_RXTX  the benchmark's TCP program (bench/tcp_rxtx.c, built on the host)
#   PP_BENCH  upstream's page_pool bench module (bench_page_pool.ko, built on the host from
#             tools/testing/selftests/net/bench/page_pool against this kernel), or "-"
#   PHASE     micro: devmem_bench, both providers in one module load (a Rust kernel, which
#             builds upstream's provider beside its own); run twice, for the ruler's
#             determinism check; then upstream's page_pool bench, loaded BENCH_PP_REPS times
#             (default 12). e2e: devmem against copying receive, then igb_rs (header
#             split off and on) against igb, alternating within the boot, both at the same
#             fixed interrupt interval and with the flow on the same queue, and both with
#             their adaptive moderation.
# Environment: BENCH_MICRO_REPS (repetitions in one devmem_bench load, default 12),
# BENCH_REPS (e2e repetitions, default 5), BENCH_E2E_MIB (bytes per end-to-end transfer,
# default 256).

import json
import os
import re
import subprocess
import sys
import time

IMPL, KSRC, TCP_RXTX, PP_BENCH = sys.argv[1:5]
# The tests' library as the prepared tree has it: ynl_env.py finds the YNL library and
# the netdev spec there.
sys.path.insert(0, os.path.join(KSRC, "tools/testing/selftests/devmem"))
import devmem_lib as dl  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "5"))
E2E_BYTES = int(os.environ.get("BENCH_E2E_MIB", "256")) << 20
MICRO_REPS = int(os.environ.get("BENCH_MICRO_REPS", "12"))
PP_REPS = int(os.environ.get("BENCH_PP_REPS", "12"))
# Loops per test of upstream's page_pool bench (its default is 10 million; a million keeps
# a load to about a second of the guest's 10^9 instructions a second).
PP_LOOPS = 1000000
# devmem_bench's dma-bufs, (MiB, memfd flags): 4 KiB pages (as many DMA ranges as the
# pages' physical layout gives) and huge pages (few ranges); bind is timed on every one,
# for the slope per net_iov, and the pool paths on each.
MICRO_BUFS = [(16, 0), (16, dl.MFD_HUGETLB), (64, dl.MFD_HUGETLB), (256, dl.MFD_HUGETLB)]
E2E_PORT = 5301
# igb_rs against igb: both at one fixed interrupt interval, every RSS entry on one queue so
# that each transfer lands on the same queue whatever its source port; then each driver's
# adaptive moderation (igb's default, rx-usecs 3, its conservative dynamic mode; igb_rs'
# adaptive-rx, net DIM), which each sets its own way, so that pair is compared but no
# target judges it.
DRIVER_RX_USECS = 50
IGB_DYNAMIC_RX_USECS = 3
DRIVER_QUEUE = 1
# (driver, igb_rs' tcp-data-split, moderation): igb has no header split to set.
DRIVER_CONFIGS = (("igb_rs", "off", "fixed"), ("igb", None, "fixed"), ("igb_rs", "on", "fixed"),
                  ("igb_rs", "off", "adaptive"), ("igb", None, "adaptive"))


def emit(**kv):
    print("BENCH " + json.dumps(kv), flush=True)


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def busy_jiffies():
    """Non-idle time of all CPUs, in USER_HZ ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def micro_bench(ifi):
    """devmem_bench: both providers (upstream's, built beside devmem-rs, and devmem-rs') in
    one module load, on the same dma-bufs, and a plain page pool; loaded twice on the same
    dma-bufs, for the ruler's determinism check. The module resolves the dma-bufs' fds in
    modprobe, which inherits them."""
    bufs = []
    try:
        for mib, flags in MICRO_BUFS:
            bufs.append(dl.make_udmabuf(mib << 20, flags))
        fds = [d for _, d in bufs]
        for run in (1, 2):
            micro_load(ifi, fds, run)
    finally:
        for memfd, dmabuf in bufs:
            os.close(dmabuf)
            os.close(memfd)


def micro_load(ifi, fds, run):
    subprocess.run(["dmesg", "-C"], check=True)
    load = subprocess.run(["modprobe", "devmem_bench", f"ifindex={ifi}",
                           "dmabuf_fds=" + ",".join(map(str, fds)), f"reps={MICRO_REPS}"],
                          capture_output=True, text=True, pass_fds=fds)
    subprocess.run(["rmmod", "devmem_bench"], stderr=subprocess.DEVNULL)
    log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    n = 0
    for m in re.finditer(r"devmem_bench: test=(\w+) impl=(\w+) rep=(\d+) buf=(-?\d+) "
                         r"ranges=(\d+) ops=(\d+) ns=(\d+) cycles=(\d+) mem=(-?\d+)", log):
        emit(kind="micro", run=run, test=m[1], impl=m[2], rep=int(m[3]), buf=int(m[4]),
             ranges=int(m[5]), ops=int(m[6]), ns=int(m[7]), cycles=int(m[8]), mem=int(m[9]))
        n += 1
    if load.returncode or not n or "devmem_bench: done" not in log:
        raise RuntimeError(f"devmem_bench failed (rc {load.returncode}): {load.stderr}{log[-2000:]}")


def pp_bench():
    """Upstream's page_pool bench module, unchanged: each load runs its tests in module init
    (a plain page pool: no device, no DMA mapping, no provider) and prints a line per test;
    under -icount its nanoseconds per element are instructions per element."""
    line = re.compile(r"bench_page_pool: Type:(\S+) Per elem: (\d+) cycles\(tsc\) (\d+)\.(\d+) ns "
                      r".*\(invoke count:(\d+) ")
    for rep in range(PP_REPS):
        subprocess.run(["dmesg", "-C"], check=True)
        load = subprocess.run(["insmod", PP_BENCH, f"loops={PP_LOOPS}"], capture_output=True,
                              text=True)
        subprocess.run(["rmmod", "bench_page_pool"], stderr=subprocess.DEVNULL)
        log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
        tests = set()
        for m in line.finditer(log):
            emit(kind="page_pool", rep=rep, test=m[1], cycles=int(m[2]),
                 ns=int(m[3]) + int(m[4]) / 1000, ops=int(m[5]))
            tests.add(m[1])
        # It warns, and goes on, when a loop stops short (the pool failed to allocate); a
        # kernel warning during the load voids it too.
        if (load.returncode or len(tests) < 6 or "ABORT" in log or "WARNING:" in log
                or "BUG:" in log):
            raise RuntimeError(f"bench_page_pool failed (rc {load.returncode}): "
                               f"{load.stderr}{log[-2000:]}")


def interrupts(ifname):
    """Interrupts taken so far by port A's queue vectors: named after `ifname` by igb,
    `igb_rs-queue` by igb_rs (the only device it drives here)."""
    n = 0
    with open("/proc/interrupts") as f:
        for line in f:
            fields = line.split()
            if fields and any(ifname in x or x == "igb_rs-queue" for x in fields[1:]):
                n += sum(int(x) for x in fields[1:] if x.isdigit())
    return n


def packets(ifname, ns=None):
    """(rx, tx) packets of `ifname`, in netns `ns` if given."""
    stat = [f"/sys/class/net/{ifname}/statistics/{d}_packets" for d in ("rx", "tx")]
    out = subprocess.run((["ip", "netns", "exec", ns] if ns else []) + ["cat"] + stat,
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


def queue_rx_packets(ifname, q):
    """Packets rx queue `q` of port A received (`ethtool -S`: rx1_packets under igb_rs,
    rx_queue_1_packets under igb)."""
    out = subprocess.run(["ethtool", "-S", ifname], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(rf"^\s*rx(?:_queue_)?{q}_packets:\s*(\d+)$", out, re.M)
    if not m:
        raise RuntimeError(f"ethtool -S {ifname} has no packet count of rx queue {q}")
    return int(m[1])


def napi_polls(ifname):
    """(polls, packets) summed over port A's rx queues: igb_rs counts its NAPI polls
    (`ethtool -S` rx<q>_polls, beside rx<q>_packets); None under a driver that does not."""
    out = subprocess.run(["ethtool", "-S", ifname], capture_output=True, text=True,
                         check=True).stdout
    polls = re.findall(r"^\s*rx\d+_polls:\s*(\d+)$", out, re.M)
    if not polls:
        return None
    pkts = re.findall(r"^\s*rx\d+_packets:\s*(\d+)$", out, re.M)
    return sum(map(int, polls)), sum(map(int, pkts))


# The page-pool counters (netdev family, `page-pool-stats-get`) a transfer records, as
# `pp_<name>` with dashes as underscores: where buffers came from and went back to.
PP_STATS = ("alloc-fast", "alloc-slow", "alloc-refill", "alloc-empty", "recycle-cached",
            "recycle-ring", "recycle-ring-full", "recycle-released-refcnt")


def pool_stats(ynl, ifindex):
    """{pool id: {counter: value}} of the page pools of device `ifindex`."""
    out = {}
    for r in ynl.dump("page-pool-stats-get", {}):
        info = r.get("info", {})
        if info.get("ifindex") == ifindex:
            out[info["id"]] = {k: r.get(k, 0) for k in PP_STATS}
    return out


def pool_delta(before, after):
    """What the pools counted between two `pool_stats` readings (a pool made in between
    counts from 0; one destroyed in between is lost, so the caller reads around it)."""
    d = {k: 0 for k in PP_STATS}
    for pid, st in after.items():
        for k in PP_STATS:
            d[k] += st[k] - before.get(pid, {}).get(k, 0)
    return {"pp_" + k.replace("-", "_"): v for k, v in d.items()}


def transfer(mode, dbid=0, to_peer=False, ifname=None, ports=None, queue=None, pools=None):
    """One transfer of E2E_BYTES to port A (or, with to_peer, from port A to the peer);
    the receiver's figures, the guest's busy time and port A's interrupts; with `ports`,
    the packets each port received and sent too, with `queue` what rx queue `queue` of
    port A received, and with `pools` (a `pool_stats` reading) what port A's page pools
    counted (all read outside the busy time)."""
    ns = ["ip", "netns", "exec", dl.NS]
    dst = dl.IP_B if to_peer else dl.IP_A
    args = [TCP_RXTX, "recv", mode, dst, str(E2E_PORT), str(E2E_BYTES)]
    if mode == "devmem":
        args.append(str(dbid))
    rx = subprocess.Popen((ns if to_peer else []) + args, stdout=subprocess.PIPE, text=True)
    if rx.stdout.readline().strip() != "listening":
        raise RuntimeError("receiver did not start")
    if ports:
        a0, b0 = packets(ports.if_a), packets(ports.if_b, dl.NS)
        q0 = queue_rx_packets(ports.if_a, queue) if queue is not None else 0
    p0 = pools() if pools else None
    n0 = napi_polls(ifname) if ifname else None
    j0 = busy_jiffies()
    i0 = interrupts(ifname) if ifname else 0
    tx = subprocess.run(([] if to_peer else ns) + [TCP_RXTX, "send", dst,
                         str(E2E_PORT), str(E2E_BYTES)], timeout=600)
    out, _ = rx.communicate(timeout=600)
    j1 = busy_jiffies()
    i1 = interrupts(ifname) if ifname else 0
    if ports:
        a1, b1 = packets(ports.if_a), packets(ports.if_b, dl.NS)
        q1 = queue_rx_packets(ports.if_a, queue) if queue is not None else 0
    p1 = pools() if pools else None
    n1 = napi_polls(ifname) if ifname else None
    if rx.returncode or tx.returncode:
        raise RuntimeError(f"{mode} transfer failed: rx {rx.returncode} tx {tx.returncode}")
    res = dict(kv.split("=") for kv in out.split())
    res = {k: int(v) for k, v in res.items()}
    res["guest_cpu_ns"] = (j1 - j0) * (1000000000 // os.sysconf("SC_CLK_TCK"))
    res["irqs"] = i1 - i0
    if ports:
        res.update(a_rx_pkts=a1[0] - a0[0], a_tx_pkts=a1[1] - a0[1],
                   b_rx_pkts=b1[0] - b0[0], b_tx_pkts=b1[1] - b0[1])
        if queue is not None:
            res["queue_rx_pkts"] = q1 - q0
    # A driver that does not count its polls (igb) records none; nor one without page
    # pools (igb again).
    if n0 and n1:
        res.update(napi_polls=n1[0] - n0[0], napi_pkts=n1[1] - n0[1])
    if p1:
        res.update(pool_delta(p0, p1))
    return res


def e2e_bench(ynl, ifi, ifname):
    """Instructions per GiB (busy time under -icount): devmem receive into a udmabuf bound to
    every RSS queue against ordinary copying receive, same driver, alternating."""
    memfd, dmabuf = dl.make_udmabuf(64 << 20)
    # Every queue RSS spreads TCP over (queue 0, the default queue, cannot be bound).
    queues = [{"id": q, "type": "rx"} for q in dl.rx_queues(ynl, ifi)]
    for rep in range(REPS):
        for mode in ("copy", "devmem"):
            dbid = 0
            if mode == "devmem":
                dbid = ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues})["id"]
            try:
                res = transfer(mode, dbid, ifname=ifname, pools=lambda: pool_stats(ynl, ifi))
            finally:
                if dbid:
                    ynl.do("unbind", {"id": dbid})
            if mode == "devmem" and res["devmem_bytes"] < res["bytes"] // 2:
                raise RuntimeError(f"devmem run put only {res['devmem_bytes']} bytes in the dma-buf")
            emit(kind="e2e", mode=mode, rep=rep, **res)
    os.close(dmabuf)
    os.close(memfd)


def driver_bench(ynl, ports):
    """TCP on port A under igb_rs against the C igb driver, same wire, same peer, the
    same interrupt interval and the flow on the same queue, alternating: receive (the
    peer sends) with igb_rs' header split off and on, and send (to the peer); then
    receive with each driver's adaptive moderation. Every configuration binds the driver
    afresh, so none inherits another's settings."""
    for rep in range(REPS):
        for drv, split, moderation in DRIVER_CONFIGS:
            ports.if_a = dl.bind_driver(ports.pci_a, drv)
            ports.configure_a()
            dl.sh("ethtool", "-X", ports.if_a, "start", str(DRIVER_QUEUE), "equal", "1")
            if moderation == "fixed":
                usecs = DRIVER_RX_USECS
                dl.sh("ethtool", "-C", ports.if_a, "rx-usecs", str(usecs))
            elif drv == "igb":
                usecs = IGB_DYNAMIC_RX_USECS
                dl.sh("ethtool", "-C", ports.if_a, "rx-usecs", str(usecs))
            else:
                usecs = None
                dl.sh("ethtool", "-C", ports.if_a, "adaptive-rx", "on")
            if split:
                dl.sh("ethtool", "-G", ports.if_a, "tcp-data-split", split)
            directions = ("rx", "tx") if split != "on" and moderation == "fixed" else ("rx",)
            for direction in directions:
                ifi = dl.ifindex(ports.if_a)
                res = transfer("copy", to_peer=direction == "tx", ifname=ports.if_a,
                               ports=ports, queue=DRIVER_QUEUE,
                               pools=lambda: pool_stats(ynl, ifi))
                # Receiving, the flow is all of what port A gets but a few frames
                # (neighbour discovery, say): it must have been on the queue.
                if direction == "rx" and res["queue_rx_pkts"] < 0.99 * res["a_rx_pkts"]:
                    raise RuntimeError(f"{drv}: rx queue {DRIVER_QUEUE} got {res['queue_rx_pkts']} "
                                       f"of the {res['a_rx_pkts']} packets port A received")
                emit(kind="driver", driver=drv, split=split or "none", direction=direction,
                     rep=rep, moderation=moderation, rx_usecs=usecs, queue=DRIVER_QUEUE,
                     **res)
    ports.attach_a()


def main():
    from lib import YnlFamily

    phases = sys.argv[5:] or ["micro"]
    ports = dl.Ports()
    if not ports.tcp_data_split_on():
        raise RuntimeError("ethtool -G tcp-data-split on failed")
    ifi = ports.ifi
    ynl = YnlFamily(dl.SPEC)
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
    with open("/proc/cmdline") as f:
        cmdline = f.read().strip()
    emit(kind="guest", impl=IMPL, kernel=os.uname().release, cpus=os.cpu_count(),
         cpu=model[1] if model else "?", mem_bytes=meminfo("MemTotal"),
         page_size=os.sysconf("SC_PAGE_SIZE"), cmdline=cmdline, phases=phases)
    steps = []
    if "micro" in phases:
        steps += [("micro", lambda: micro_bench(ifi))]
        if PP_BENCH != "-":
            steps += [("page_pool", pp_bench)]
    if "e2e" in phases:
        steps += [("e2e", lambda: e2e_bench(ynl, ifi, ports.if_a)),
                  ("driver", lambda: driver_bench(ynl, ports))]
    for name, fn in steps:
        t = time.monotonic()
        print(f"# {name} ...", flush=True)
        fn()
        print(f"# {name}: {time.monotonic() - t:.0f}s", flush=True)
    ports.close()
    print("# bench done", flush=True)


if __name__ == "__main__":
    main()
