#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make bench`: runs in the two-port test guest on one kernel (one devmem
# implementation) and prints every measurement as a line `BENCH {json}` for
# devtools/bench.sh; everything else it prints is commentary.
#
# Usage: guest.py IMPL KSRC TCP_RXTX
#   IMPL      the devmem implementation the kernel was built with (rust or c), for the record
#   KSRC      the prepared kernel tree (YNL library and netdev spec)
#   TCP_RXTX  the benchmark's TCP program (bench/tcp_rxtx.c, built on the host)
# Environment: BENCH_REPS (bind/e2e repetitions, default 5), BENCH_E2E_MIB (bytes per
# end-to-end transfer, default 32), BENCH_BIND_MIB (dma-buf sizes, default
# "64 128 256 512 1024").

import json
import os
import re
import subprocess
import sys
import time

IMPL, KSRC, TCP_RXTX = sys.argv[1:4]
# The tests' library as the prepared tree has it: ynl_env.py finds the YNL library and
# the netdev spec there.
sys.path.insert(0, os.path.join(KSRC, "tools/testing/selftests/devmem"))
import devmem_lib as dl  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "5"))
E2E_BYTES = int(os.environ.get("BENCH_E2E_MIB", "32")) << 20
BIND_MIB = [int(x) for x in os.environ.get("BENCH_BIND_MIB", "64 128 256 512 1024").split()]
E2E_PORT = 5301


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


def pagepool_bench(ynl, ifi):
    """The in-kernel page_pool benchmark on a pool backed by the provider of rx queue 1."""
    memfd, dmabuf = dl.make_udmabuf(64 << 20)
    r = ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": [{"id": 1, "type": "rx"}]})
    subprocess.run(["dmesg", "-C"], check=True)
    load = subprocess.run(["modprobe", "devmem_bench", f"ifindex={ifi}", "queue=1"],
                          capture_output=True, text=True)
    subprocess.run(["rmmod", "devmem_bench"], stderr=subprocess.DEVNULL)
    log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    ynl.do("unbind", {"id": r["id"]})
    os.close(dmabuf)
    os.close(memfd)
    n = 0
    for m in re.finditer(r"devmem_bench: test=(\w+) pool=(\w+) rep=(\d+) ops=(\d+) "
                         r"cycles=(\d+) ns=(\d+)", log):
        emit(kind="pp", test=m[1], pool=m[2], rep=int(m[3]), ops=int(m[4]),
             cycles=int(m[5]), ns=int(m[6]))
        n += 1
    if load.returncode or not n or "devmem_bench: done" not in log:
        raise RuntimeError(f"devmem_bench failed (rc {load.returncode}): {load.stderr}{log[-2000:]}")


def bind_bench(ynl, ifi):
    """bind-rx and unbind latency against dma-buf size and queue count, and the memory a
    binding holds (MemAvailable before and after bind-rx)."""
    for nq in (1, 2):
        queues = [{"id": q, "type": "rx"} for q in range(2 - nq, 2)]
        for mib in BIND_MIB:
            for rep in range(REPS):
                # Huge pages: 1 GiB of them are reserved at boot, and a udmabuf of them is
                # built fast.
                memfd, dmabuf = dl.make_udmabuf(mib << 20, dl.MFD_HUGETLB)
                time.sleep(0.2)
                mem0 = meminfo("MemAvailable")
                t0 = time.perf_counter_ns()
                r = ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues})
                t1 = time.perf_counter_ns()
                mem1 = meminfo("MemAvailable")
                ynl.do("unbind", {"id": r["id"]})
                t2 = time.perf_counter_ns()
                os.close(dmabuf)
                os.close(memfd)
                emit(kind="bind", queues=nq, mib=mib, rep=rep, bind_ns=t1 - t0,
                     unbind_ns=t2 - t1, held_bytes=mem0 - mem1,
                     niovs=(mib << 20) // os.sysconf("SC_PAGE_SIZE"))
        # Released from a work item: let it run before the next size is allocated.
        time.sleep(1)


def transfer(mode, dbid=0, to_peer=False):
    """One transfer of E2E_BYTES to port A (or, with to_peer, from port A to the peer);
    the receiver's figures and the guest's busy time."""
    ns = ["ip", "netns", "exec", dl.NS]
    dst = dl.IP_B if to_peer else dl.IP_A
    args = [TCP_RXTX, "recv", mode, dst, str(E2E_PORT), str(E2E_BYTES)]
    if mode == "devmem":
        args.append(str(dbid))
    rx = subprocess.Popen((ns if to_peer else []) + args, stdout=subprocess.PIPE, text=True)
    if rx.stdout.readline().strip() != "listening":
        raise RuntimeError("receiver did not start")
    j0 = busy_jiffies()
    tx = subprocess.run(([] if to_peer else ns) + [TCP_RXTX, "send", dst,
                         str(E2E_PORT), str(E2E_BYTES)], timeout=600)
    out, _ = rx.communicate(timeout=600)
    j1 = busy_jiffies()
    if rx.returncode or tx.returncode:
        raise RuntimeError(f"{mode} transfer failed: rx {rx.returncode} tx {tx.returncode}")
    res = dict(kv.split("=") for kv in out.split())
    res = {k: int(v) for k, v in res.items()}
    res["guest_cpu_ns"] = (j1 - j0) * (1000000000 // os.sysconf("SC_CLK_TCK"))
    return res


def e2e_bench(ynl, ifi):
    """Throughput and CPU per GiB: devmem receive into a udmabuf bound to both rx queues
    against ordinary copying receive, same driver, alternating."""
    memfd, dmabuf = dl.make_udmabuf(64 << 20)
    queues = [{"id": 0, "type": "rx"}, {"id": 1, "type": "rx"}]
    for rep in range(REPS):
        for mode in ("copy", "devmem"):
            dbid = 0
            if mode == "devmem":
                dbid = ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues})["id"]
            try:
                res = transfer(mode, dbid)
            finally:
                if dbid:
                    ynl.do("unbind", {"id": dbid})
            if mode == "devmem" and res["devmem_bytes"] < res["bytes"] // 2:
                raise RuntimeError(f"devmem run put only {res['devmem_bytes']} bytes in the dma-buf")
            emit(kind="e2e", mode=mode, rep=rep, **res)
    os.close(dmabuf)
    os.close(memfd)


def driver_bench(ports):
    """TCP on port A under igb_rs against the C igb driver, same wire, same peer,
    alternating drivers: receive (the peer sends) and send (to the peer)."""
    for rep in range(REPS):
        for drv in ("igb_rs", "igb"):
            ports.if_a = dl.bind_driver(ports.pci_a, drv)
            ports.configure_a()
            for direction in ("rx", "tx"):
                emit(kind="driver", driver=drv, direction=direction, rep=rep,
                     **transfer("copy", to_peer=direction == "tx"))
    ports.attach_a()


def main():
    from lib import YnlFamily

    ports = dl.Ports()
    if not ports.tcp_data_split_on():
        raise RuntimeError("ethtool -G tcp-data-split on failed")
    ifi = ports.ifi
    ynl = YnlFamily(dl.SPEC)
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
    emit(kind="guest", impl=IMPL, kernel=os.uname().release, cpus=os.cpu_count(),
         cpu=model[1] if model else "?", mem_bytes=meminfo("MemTotal"),
         page_size=os.sysconf("SC_PAGE_SIZE"))
    for name, fn in (("page_pool", pagepool_bench), ("bind", bind_bench), ("e2e", e2e_bench)):
        t = time.monotonic()
        print(f"# {name} ...", flush=True)
        fn(ynl, ifi)
        print(f"# {name}: {time.monotonic() - t:.0f}s", flush=True)
    t = time.monotonic()
    print("# driver ...", flush=True)
    driver_bench(ports)
    print(f"# driver: {time.monotonic() - t:.0f}s", flush=True)
    ports.close()
    print("# bench done", flush=True)


if __name__ == "__main__":
    main()
