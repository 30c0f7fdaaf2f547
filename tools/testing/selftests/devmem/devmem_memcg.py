#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A binding's memory is charged to the memory cgroup of the process that binds: a child
# in a cgroup of its own binds a 64 MiB udmabuf (16384 rx pages) to port A's rx queue 1,
# and then a tx binding of the same udmabuf; each must raise the cgroup's memory.current
# by at least what the binding's net_iov array alone takes (16384 entries of at least
# NIOV_MIN bytes), and the unbind op must take it back down (within 5 s). The udmabuf
# itself is made by the parent, outside the cgroup, so that its pages are not the
# child's charge.
#
# Both builds: upstream's net/core/devmem.c allocates bindings with GFP_KERNEL, which no
# cgroup pays for; the C build charges them with patch 0014, as the Rust core does.

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import SPEC, Ports, Udmabuf, rx_queues  # noqa: E402
from ktap import check, run  # noqa: E402

BUF_SIZE = 64 << 20
PAGES = BUF_SIZE // 4096
# What each page costs at least: struct net_iov holds six words or more (flags, pp_magic,
# pp, dma_addr, pp_ref_count, owner). Something else in the bind path is charged 32 bytes
# a page (seen on the C build before its binding was charged), so less would not tell.
NIOV_MIN = 48
CGROUP = "devmem_memcg"


def cgroup_root():
    """The cgroup v2 hierarchy, mounted if it is not, with the memory controller on for
    its children."""
    root = "/sys/fs/cgroup"
    if not os.path.exists(f"{root}/cgroup.controllers"):
        subprocess.run(["mount", "-t", "cgroup2", "none", root], check=True)
    with open(f"{root}/cgroup.controllers") as f:
        if "memory" not in f.read().split():
            raise RuntimeError("the kernel has no memory cgroup controller")
    with open(f"{root}/cgroup.subtree_control", "w") as f:
        f.write("+memory\n")
    return root


def current(cg):
    with open(f"{cg}/memory.current") as f:
        return int(f.read())


def settled(cg, below):
    """memory.current once it is below `below`, or as it is after 5 s: a binding may be
    freed after unbind returns (C frees it from a work item)."""
    for _ in range(50):
        v = current(cg)
        if v < below:
            return v
        time.sleep(0.1)
    return current(cg)


def child(cg, w, buf, ifi, queue):
    """In the cgroup: binds rx, then tx, then unbinds each, reporting memory.current
    around every step on pipe w."""
    from lib import YnlFamily

    with open(f"{cg}/cgroup.procs", "w") as f:
        f.write(f"{os.getpid()}\n")
    ynl = YnlFamily(SPEC)
    marks = [current(cg)]
    rx = ynl.do("bind-rx", {"ifindex": ifi, "fd": buf.fd,
                            "queues": [{"id": queue, "type": "rx"}]})["id"]
    marks.append(current(cg))
    tx = ynl.do("bind-tx", {"ifindex": ifi, "fd": buf.fd})["id"]
    marks.append(current(cg))
    ynl.do("unbind", {"id": tx})
    marks.append(settled(cg, marks[2] - (marks[2] - marks[1]) // 2))
    ynl.do("unbind", {"id": rx})
    marks.append(settled(cg, marks[3] - (marks[1] - marks[0]) // 2))
    os.write(w, (" ".join(map(str, marks)) + "\n").encode())


def charged(ports, ynl):
    root = cgroup_root()
    cg = f"{root}/{CGROUP}"
    os.makedirs(cg, exist_ok=True)
    queue = rx_queues(ynl, ports.ifi)[0]
    try:
        with Udmabuf(BUF_SIZE) as buf:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.close(r)
                    child(cg, w, buf, ports.ifi, queue)
                    code = 0
                except BaseException as e:
                    os.write(w, f"error {type(e).__name__}: {e}\n".encode())
                finally:
                    os._exit(code)
            os.close(w)
            out = b""
            while True:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                out += chunk
            os.close(r)
            _, status = os.waitpid(pid, 0)
            text = out.decode().strip()
            if status or text.startswith("error"):
                return f"the child in the cgroup: {text or f'status {status}'}"
            m = [int(x) for x in text.split()]
            least = PAGES * NIOV_MIN
            steps = {"bind-rx": m[1] - m[0], "bind-tx": m[2] - m[1],
                     "unbind tx": m[3] - m[2], "unbind rx": m[4] - m[3]}
            print("# memory.current changes: " +
                  ", ".join(f"{k} {v // 1024:+d} KiB" for k, v in steps.items()), flush=True)
            for k in ("bind-rx", "bind-tx"):
                if steps[k] < least:
                    return (f"{k} of {PAGES} pages charged {steps[k]} bytes to the binder's "
                            f"cgroup, want at least {least}")
            for k, made in (("unbind tx", "bind-tx"), ("unbind rx", "bind-rx")):
                if -steps[k] < steps[made] // 2:
                    return (f"{k} gave back {-steps[k]} of the {steps[made]} bytes "
                            f"{made} charged")
            return None
    finally:
        try:
            os.rmdir(cg)
        except OSError as e:
            print(f"# removing {cg}: {e}", flush=True)


def main():
    from lib import YnlFamily

    ports = Ports()
    if not ports.tcp_data_split_on():
        raise RuntimeError("ethtool -G tcp-data-split on failed")
    ynl = YnlFamily(SPEC)
    try:
        check("binding_charged_to_binders_memcg", lambda: charged(ports, ynl))
    finally:
        ports.close()


if __name__ == "__main__":
    run(main)
