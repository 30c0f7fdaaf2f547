#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The leak gate at the end of a test guest: after every test, nothing of a binding may be
left. Prints 'leak-gate: WHAT N' for each count (devtools/report.py fails any that is not
0) and, for what is left, a line saying what it is.

  pools-with-dmabuf     page pools that still report a dma-buf (a binding's net_iovs out)
  pools-detached        page pools destroyed with buffers still out that never came back
                        (listed with a detach-time; the kernel warns of a stalled pool only
                        for pools no device lists, and igb_rs's are listed)
  rx-queues-with-dmabuf rx queues still bound, on any device of this namespace
  dmabuf-attachments    devices still attached to a dma-buf (/sys/kernel/debug/dma_buf/bufinfo)
  dmabufs               dma-bufs that still exist (every test closed its own)

A binding's last buffers can sit in skbs whose free TCP deferred to another CPU: when
something is left after 3 s, NET_RX is made to run on each CPU and the gate waits up to
30 s more, as the tests' own release checks do.

Usage: guest-leaks.py DEVMEM_TEST_DIR (the installed devmem kselftests)
"""

import os
import re
import sys
import time

sys.path.insert(0, sys.argv[1])
from ynl_env import SPEC  # noqa: E402
from lib import YnlFamily  # noqa: E402
from devmem_lib import run_net_rx_on_each_cpu  # noqa: E402

BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"


def counts(ynl):
    c, details = {}, []
    every = ynl.dump("page-pool-get", {})
    pools = [p for p in every if "dmabuf" in p]
    c["pools-with-dmabuf"] = len(pools)
    details += [f"page pool {p.get('id')} (ifindex {p.get('ifindex')}) reports dma-buf "
                f"{p['dmabuf']}, inflight {p.get('inflight')}" for p in pools]
    detached = [p for p in every if "detach-time" in p]
    c["pools-detached"] = len(detached)
    details += [f"page pool {p.get('id')} (ifindex {p.get('ifindex')}) was destroyed with "
                f"{p.get('inflight')} buffers out" for p in detached]
    queues = []
    for d in os.listdir("/sys/class/net"):
        with open(f"/sys/class/net/{d}/ifindex") as f:
            ifi = int(f.read())
        try:
            qs = ynl.dump("queue-get", {"ifindex": ifi})
        except Exception:  # a device without queues to report
            continue
        queues += [(d, q) for q in qs if q.get("type") == "rx" and "dmabuf" in q]
    c["rx-queues-with-dmabuf"] = len(queues)
    details += [f"{d} rx queue {q['id']} is bound to dma-buf {q['dmabuf']}" for d, q in queues]
    text = open(BUFINFO).read()
    attached = [int(n) for n in re.findall(r"^Total (\d+) devices attached", text, re.M)]
    c["dmabuf-attachments"] = sum(attached)
    m = re.search(r"^Total (\d+) objects", text, re.M)
    c["dmabufs"] = int(m.group(1)) if m else -1
    if c["dmabufs"] or c["dmabuf-attachments"]:
        details += ["bufinfo: " + l for l in text.splitlines() if l.strip()][:20]
    return c, details


def main():
    ynl = YnlFamily(SPEC)
    deadline = time.monotonic() + 3
    kicked = False
    while True:
        c, details = counts(ynl)
        if not any(c.values()):
            break
        if time.monotonic() > deadline:
            if kicked:
                break
            print("after 3 s something is left; running NET_RX on each CPU")
            run_net_rx_on_each_cpu()
            kicked, deadline = True, time.monotonic() + 30
        time.sleep(0.5)
    for d in details:
        print(d)
    for k, v in c.items():
        print(f"leak-gate: {k} {v}")


if __name__ == "__main__":
    main()
