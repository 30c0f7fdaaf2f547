#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Bad input to the netdev family's bind-rx and unbind, through real netlink requests (the
# tree's YNL library and netdev spec): each gets its errno, and the extack message where
# the kernel sets one. Runs against netdevsim (queue ops, no DMA) and lo (no queue ops).
#
# Cases that get past the device checks (an fd that is not a dma-buf or is closed,
# misaligned chunks, a queue already bound, tcp-data-split off, XDP attached, another
# socket's binding) need a NIC that does DMA and restarts queues: the Rust igb driver.
#
# ynl_env.py finds the YNL library and the netdev spec (installed or in the tree).

import errno
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import ynl_env  # noqa: E402
from ynl_env import SPEC  # noqa: E402
from ktap import check, run  # noqa: E402


def expect_error(ynl, op, attrs, err, msg=None):
    """Runs op; returns None when it fails with err (and msg, if given), else why not."""
    from lib import NlError

    try:
        ynl.do(op, attrs)
    except NlError as e:
        got = -e.nl_msg.error
        text = e.nl_msg.extack.get("msg") if e.nl_msg.extack else None
        if got != err:
            return f"errno {got} ({errno.errorcode.get(got)}), want {errno.errorcode[err]}; extack {text!r}"
        if msg is not None and (text is None or msg not in text):
            return f"extack {text!r}, want it to contain {msg!r}"
        return None
    return f"{op} succeeded, want {errno.errorcode[err]}"


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def netdevsim_up():
    """Makes netdevsim device 7 with one port and 4 queues; returns its ifindex."""
    subprocess.run(["modprobe", "netdevsim"], check=True)
    if not os.path.exists("/sys/bus/netdevsim/devices/netdevsim7"):
        with open("/sys/bus/netdevsim/new_device", "w") as f:
            f.write("7 1 4")
    # udev may rename the port: wait for it, then go by ifindex, which does not change.
    subprocess.run(["udevadm", "settle", "--timeout=10"], check=False)
    for _ in range(100):
        for net in glob.glob("/sys/bus/netdevsim/devices/netdevsim7/net/*"):
            try:
                with open(os.path.join(net, "ifindex")) as f:
                    ifi = int(f.read())
            except OSError:
                continue  # renamed under us: look again
            subprocess.run(["ip", "link", "set", "dev", os.path.basename(net), "up"], check=True)
            return ifi
        time.sleep(0.1)
    raise RuntimeError("netdevsim7 made no netdev")


def netdevsim_down():
    if os.path.exists("/sys/bus/netdevsim/devices/netdevsim7"):
        with open("/sys/bus/netdevsim/del_device", "w") as f:
            f.write("7")


def main():
    from lib import YnlFamily

    ynl = YnlFamily(SPEC)
    nsim_if = netdevsim_up()
    rxq0 = [{"id": 0, "type": "rx"}]
    not_dmabuf = os.open("/proc/self/status", os.O_RDONLY)

    cases = [
        # netdevsim has queue ops but no DMA device: refused before the fd is looked at.
        ("bind_rx_device_without_dma",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf,
                                               "queues": rxq0}, errno.EOPNOTSUPP,
                              "doesn't support DMA")),
        ("bind_rx_page_size_not_power_of_2",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf,
                                               "queues": rxq0, "rx-page-size": 12288},
                              errno.EINVAL, "power of 2")),
        ("bind_rx_page_size_below_page_size",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf,
                                               "queues": rxq0, "rx-page-size": 2048},
                              errno.ERANGE)),
        ("bind_rx_no_queues",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf},
                              errno.EINVAL)),
        ("bind_rx_queue_out_of_range",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf,
                                               "queues": [{"id": 99, "type": "rx"}]},
                              errno.EINVAL)),
        ("bind_rx_tx_queue",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": nsim_if, "fd": not_dmabuf,
                                               "queues": [{"id": 0, "type": "tx"}]},
                              errno.EINVAL)),
        ("bind_rx_device_without_queue_ops",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": ifindex("lo"), "fd": not_dmabuf,
                                               "queues": rxq0}, errno.EOPNOTSUPP)),
        ("bind_rx_unknown_ifindex",
         lambda: expect_error(ynl, "bind-rx", {"ifindex": 0x7fffff, "fd": not_dmabuf,
                                               "queues": rxq0}, errno.ENODEV)),
        ("bind_rx_unprivileged",
         lambda: unprivileged_bind(YnlFamily(SPEC), nsim_if, not_dmabuf)),
        ("unbind_unknown_id",
         lambda: expect_error(ynl, "unbind", {"id": 0x7ffffff0}, errno.ENOENT,
                              "no dma-buf binding")),
        ("unbind_without_id", lambda: expect_error(ynl, "unbind", {}, errno.EINVAL)),
        # The spec gives the id a minimum of 1: the policy refuses 0 before the handler.
        ("unbind_id_zero", lambda: expect_error(ynl, "unbind", {"id": 0}, errno.ERANGE)),
    ]
    for name, fn in cases:
        check(name, fn)

    # After all of it the device still works: its queues answer queue-get.
    check("device_unchanged_after_errors", lambda: queues_listed(ynl, nsim_if))
    os.close(not_dmabuf)
    netdevsim_down()


def queues_listed(ynl, ifi):
    qs = ynl.dump("queue-get", {"ifindex": ifi})
    rx = [q for q in qs if q.get("type") == "rx"]
    if len(rx) != 4:
        return f"{len(rx)} rx queues listed, want 4"
    bound = [q for q in rx if "dmabuf" in q]
    return f"queues {bound} report a dma-buf" if bound else None


def unprivileged_bind(ynl, ifi, fd):
    """bind-rx needs CAP_NET_ADMIN: a child that dropped to nobody gets EPERM, even on a
    socket root opened."""
    pid = os.fork()
    if pid == 0:
        code = 100
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            why = expect_error(ynl, "bind-rx",
                               {"ifindex": ifi, "fd": fd, "queues": [{"id": 0, "type": "rx"}]},
                               errno.EPERM)
            code = 0 if why is None else 1
            if why:
                print(f"# unprivileged: {why}", flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return None if code == 0 else f"child exited {code}"


def main_checked():
    ynl_env.check()
    main()


if __name__ == "__main__":
    run(main_checked)
