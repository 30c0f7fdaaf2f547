#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Devmem TCP receive end to end: a udmabuf bound with bind-rx to the rx queues of port A
# (driven by igb_rs), a TCP flow from the peer on port B (C igb, own netns) received with
# recvmsg(MSG_SOCK_DEVMEM), every payload byte read back from the udmabuf and compared with
# what the peer sent, tokens returned with SO_DEVMEM_DONTNEED, then unbind (the op and
# socket close) with queue-get and page-pool-get checked at each step.
#
# DEVMEM_KSRC names the prepared kernel tree (YNL library and netdev spec).

import ctypes
import errno
import fcntl
import mmap
import os
import socket
import struct
import subprocess
import sys
import threading
import time

KSRC = os.environ.get("DEVMEM_KSRC", "")
SPEC = os.path.join(KSRC, "Documentation/netlink/specs/netdev.yaml")
sys.path.insert(0, os.path.join(KSRC, "tools/net/ynl/pyynl"))
HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
from ktap import check, run  # noqa: E402
from tcp_pattern import pattern  # noqa: E402

NS = "devmem-peer"
IP_A, IP_B = "10.72.0.1", "10.72.0.2"
PORT = 5201
NBYTES = 4 << 20
BUF_SIZE = 64 << 20

MSG_SOCK_DEVMEM = 0x2000000
SO_DEVMEM_LINEAR = 78
SO_DEVMEM_DMABUF = 79
SO_DEVMEM_DONTNEED = 80
MFD_ALLOW_SEALING = 2
MFD_HUGETLB = 4
F_ADD_SEALS = 1033
F_SEAL_SHRINK = 2
UDMABUF_CREATE = 0x40187542
DMA_BUF_IOCTL_SYNC = 0x40086200
DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_END = 1, 0, 4

LIBC = ctypes.CDLL(None, use_errno=True)


def sh(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def igb_ports():
    out = []
    for d in sorted(os.listdir("/sys/bus/pci/devices")):
        p = f"/sys/bus/pci/devices/{d}"
        with open(f"{p}/vendor") as v, open(f"{p}/device") as i:
            if v.read().strip() == "0x8086" and i.read().strip() == "0x10c9":
                out.append(d)
    return out


def bind_driver(addr, drv):
    dev = f"/sys/bus/pci/devices/{addr}"
    with open(f"{dev}/driver_override", "w") as f:
        f.write(drv)
    if os.path.exists(f"{dev}/driver"):
        with open(f"{dev}/driver/unbind", "w") as f:
            f.write(addr)
    with open("/sys/bus/pci/drivers_probe", "w") as f:
        f.write(addr)
    # udev renames new netdevs: wait for it before taking the name.
    subprocess.run(["udevadm", "settle", "--timeout=10"], check=False)
    for _ in range(100):
        nets = os.listdir(f"{dev}/net") if os.path.isdir(f"{dev}/net") else []
        if nets:
            return nets[0]
        time.sleep(0.1)
    raise RuntimeError(f"{addr} has no netdev under {drv}")


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def make_udmabuf(size, flags=0):
    memfd = os.memfd_create("devmem-rx", MFD_ALLOW_SEALING | flags)
    os.ftruncate(memfd, size)
    fcntl.fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)
    dev = os.open("/dev/udmabuf", os.O_RDWR)
    arg = struct.pack("IIQQ", memfd, 0, 0, size)
    buf = ctypes.create_string_buffer(arg)
    dmabuf = fcntl.ioctl(dev, UDMABUF_CREATE, buf)
    os.close(dev)
    return memfd, dmabuf


def dmabuf_sync(fd, flags):
    fcntl.ioctl(fd, DMA_BUF_IOCTL_SYNC, struct.pack("Q", flags))


def rx_queue_dmabufs(ynl, ifi):
    return {q["id"]: q.get("dmabuf") for q in ynl.dump("queue-get", {"ifindex": ifi})
            if q.get("type") == "rx"}


def pool_dmabufs(ynl, ifi):
    return [p.get("dmabuf") for p in ynl.dump("page-pool-get", {})
            if p.get("ifindex") == ifi]


class Receiver:
    """Accepts one connection and receives NBYTES with MSG_SOCK_DEVMEM."""

    def __init__(self, dmabuf_id, view, dmabuf_fd):
        self.id, self.view, self.dmabuf_fd = dmabuf_id, view, dmabuf_fd
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((IP_A, PORT))
        self.srv.listen(1)
        self.srv.settimeout(60)
        self.error = None
        self.got = self.devmem_bytes = self.linear_bytes = self.frags = 0
        self.tokens_returned = 0

    def run(self):
        try:
            self._run()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"

    def _run(self):
        conn, _ = self.srv.accept()
        conn.settimeout(60)
        while self.got < NBYTES:
            data, anc, flags, _ = conn.recvmsg(65536, 16384, MSG_SOCK_DEVMEM)
            if not data and not anc:
                break
            # The cmsgs describe the received bytes in stream order: a LINEAR one says how
            # many of the next bytes are in the data buffer, a DMABUF one where the next
            # bytes are in the dma-buf.
            tokens = []
            pos = 0
            for level, typ, cdata in anc:
                if level != socket.SOL_SOCKET or typ not in (SO_DEVMEM_LINEAR, SO_DEVMEM_DMABUF):
                    continue
                off, size, token, dbid, _fl = struct.unpack("QIIII", cdata[:24])
                if typ == SO_DEVMEM_LINEAR:
                    chunk = data[pos:pos + size]
                    if len(chunk) != size or chunk != pattern(self.got, size):
                        raise RuntimeError(f"linear mismatch at stream byte {self.got}")
                    pos += size
                    self.got += size
                    self.linear_bytes += size
                    continue
                if dbid != self.id:
                    raise RuntimeError(f"cmsg dmabuf_id {dbid}, bound {self.id}")
                dmabuf_sync(self.dmabuf_fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
                got = bytes(self.view[off:off + size])
                dmabuf_sync(self.dmabuf_fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)
                if got != pattern(self.got, size):
                    raise RuntimeError(f"dma-buf payload mismatch at stream byte {self.got}")
                self.got += size
                self.devmem_bytes += size
                self.frags += 1
                tokens.append((token, 1))
            # recvmsg returns the count of all bytes it consumed; only the linear ones are
            # copied into the buffer (at its start).
            in_dmabuf = sum(struct.unpack("QIIII", c[:24])[1] for lv, ty, c in anc
                            if lv == socket.SOL_SOCKET and ty == SO_DEVMEM_DMABUF)
            if len(data) != pos + in_dmabuf:
                raise RuntimeError(f"recvmsg returned {len(data)} bytes, cmsgs cover "
                                   f"{pos} linear + {in_dmabuf} in the dma-buf")
            for i in range(0, len(tokens), 128):
                chunk = tokens[i:i + 128]
                arg = b"".join(struct.pack("II", t, c) for t, c in chunk)
                # The count of freed tokens is setsockopt's return value, which Python's
                # socket.setsockopt drops: call libc.
                n = LIBC.setsockopt(conn.fileno(), socket.SOL_SOCKET, SO_DEVMEM_DONTNEED,
                                    arg, len(arg))
                if n < 0:
                    raise OSError(ctypes.get_errno(), "SO_DEVMEM_DONTNEED")
                self.tokens_returned += n
        conn.close()


def main():
    from lib import YnlFamily, NlError

    # Neither driver is loaded for the ports by default: igb_rs is kept from autoloading.
    sh("modprobe", "igb_rs")
    sh("modprobe", "igb")
    ports = igb_ports()
    if_a = bind_driver(ports[0], "igb_rs")
    if_b = bind_driver(ports[1], "igb")
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "set", if_b, "netns", NS)
    sh("ip", "addr", "add", f"{IP_B}/24", "dev", if_b, ns=NS)
    sh("ip", "link", "set", if_b, "up", ns=NS)
    sh("ip", "addr", "add", f"{IP_A}/24", "dev", if_a)
    sh("ip", "link", "set", if_a, "up")
    ifi = ifindex(if_a)
    # Non-IP frames (ARP) landing on a bound queue cannot be read by the CPU and are dropped
    # (the model only splits TCP/UDP over IP): fixed neighbours keep the two ends talking.
    with open(f"/sys/class/net/{if_a}/address") as f:
        mac_a = f.read().strip()
    mac_b = subprocess.run(["ip", "netns", "exec", NS, "cat", f"/sys/class/net/{if_b}/address"],
                           check=True, capture_output=True, text=True).stdout.strip()
    sh("ip", "neigh", "replace", IP_B, "lladdr", mac_b, "dev", if_a, "nud", "permanent")
    sh("ip", "neigh", "replace", IP_A, "lladdr", mac_a, "dev", if_b, "nud", "permanent", ns=NS)
    for _ in range(200):
        with open(f"/sys/class/net/{if_a}/carrier") as f:
            if f.read().strip() == "1":
                break
        time.sleep(0.1)

    memfd, dmabuf = make_udmabuf(BUF_SIZE)
    ynl = YnlFamily(SPEC)
    rxq0 = [{"id": 0, "type": "rx"}]

    def refused(name, attrs, err, msg=None):
        def case():
            try:
                r = ynl.do("bind-rx", {"ifindex": ifi, **attrs})
            except NlError as e:
                got = -e.nl_msg.error
                text = (e.nl_msg.extack or {}).get("msg")
                if got != err:
                    return f"errno {got}, want {err}; extack {text!r}"
                if msg and (not text or msg not in text):
                    return f"extack {text!r}, want {msg!r}"
                return None
            ynl.do("unbind", {"id": r["id"]})
            return "bind-rx succeeded"
        check(name, case)

    # Refused before the device is ready for devmem: tcp-data-split was never turned on.
    refused("bind_rx_tcp_data_split_off", {"fd": dmabuf, "queues": rxq0}, errno.EINVAL,
            "tcp-data-split is disabled")

    check("tcp_data_split_on",
          lambda: None if subprocess.run(["ethtool", "-G", if_a, "tcp-data-split", "on"]).returncode == 0
          else "ethtool -G tcp-data-split on failed")

    view = mmap.mmap(memfd, BUF_SIZE, mmap.MAP_SHARED, mmap.PROT_READ)
    not_dmabuf = os.open("/proc/self/status", os.O_RDONLY)
    closed = os.open("/dev/null", os.O_RDONLY)
    os.close(closed)
    refused("bind_rx_fd_not_a_dmabuf", {"fd": not_dmabuf, "queues": rxq0}, errno.EINVAL)
    refused("bind_rx_fd_closed", {"fd": closed, "queues": rxq0}, errno.EBADF)
    # 4 KiB pages of a memfd are not 2 MiB-aligned chunks.
    refused("bind_rx_chunks_misaligned", {"fd": dmabuf, "queues": rxq0, "rx-page-size": 2 << 20},
            errno.EINVAL, "not aligned")
    refused("bind_rx_queue_out_of_range", {"fd": dmabuf, "queues": [{"id": 7, "type": "rx"}]},
            errno.EINVAL)
    # 2 MiB chunks of huge pages are aligned, but igb_rs takes no rx-page-size but the page.
    hmemfd, hdmabuf = make_udmabuf(4 << 20, MFD_HUGETLB)
    refused("bind_rx_page_size_unsupported_by_driver",
            {"fd": hdmabuf, "queues": rxq0, "rx-page-size": 2 << 20}, errno.EOPNOTSUPP,
            "rx_page_size")
    os.close(hdmabuf)
    os.close(hmemfd)
    os.close(not_dmabuf)
    queues = [{"id": q, "type": "rx"} for q in sorted(rx_queue_dmabufs(ynl, ifi))]
    rsp = {}

    def bind():
        rsp.update(ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues}))
        return None if rsp.get("id", 0) > 0 else f"reply {rsp}"

    if not check("bind_rx_returns_id", bind):
        return
    dbid = rsp["id"]
    print(f"# bound a {BUF_SIZE >> 20} MiB udmabuf as dma-buf id {dbid} to rx queues "
          f"{[q['id'] for q in queues]} of {if_a} (igb_rs)", flush=True)
    check("queue_get_shows_id",
          lambda: None if set(rx_queue_dmabufs(ynl, ifi).values()) == {dbid}
          else f"queues {rx_queue_dmabufs(ynl, ifi)}, want all {dbid}")
    check("page_pool_get_shows_id",
          lambda: None if dbid in pool_dmabufs(ynl, ifi) else f"pools {pool_dmabufs(ynl, ifi)}")

    def rebind_same_queue():
        try:
            ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues[:1]})
        except NlError as e:
            return None if -e.nl_msg.error == errno.EEXIST else f"errno {-e.nl_msg.error}"
        return "a second binding of a bound queue succeeded"
    check("bind_rx_queue_already_bound", rebind_same_queue)

    def unbind_other_socket():
        other = YnlFamily(SPEC)
        try:
            other.do("unbind", {"id": dbid})
        except NlError as e:
            return None if -e.nl_msg.error == errno.EPERM else f"errno {-e.nl_msg.error}"
        finally:
            other.sock.close()
        return "another socket unbound the binding"
    check("unbind_by_other_socket_refused", unbind_other_socket)

    rx = Receiver(dbid, view, dmabuf)
    t = threading.Thread(target=rx.run)
    t.start()
    sender = subprocess.run(["ip", "netns", "exec", NS, "python3", f"{HERE}/tcp_pattern.py",
                             "send", IP_A, str(PORT), str(NBYTES)])
    t.join(90)
    check("devmem_receive_all_bytes_verified",
          lambda: rx.error or (None if rx.got == NBYTES and sender.returncode == 0
                               else f"received {rx.got} of {NBYTES}, sender rc {sender.returncode}"))
    ktap_msg = (f"# received {rx.got} bytes, all verified: {rx.devmem_bytes} in the dma-buf "
                f"({rx.frags} frags), {rx.linear_bytes} in linear skb data; "
                f"{rx.tokens_returned} tokens returned")
    print(ktap_msg, flush=True)
    check("payload_in_dmabuf",
          lambda: None if rx.devmem_bytes > NBYTES // 2 else f"only {rx.devmem_bytes} bytes in the dma-buf")
    check("tokens_returned", lambda: None if rx.tokens_returned == rx.frags
          else f"{rx.tokens_returned} of {rx.frags}")

    def unbind_op():
        ynl.do("unbind", {"id": dbid})
        left = [v for v in rx_queue_dmabufs(ynl, ifi).values() if v]
        if left:
            return f"queues still bound: {left}"
        print(f"# unbound dma-buf id {dbid} with the unbind op", flush=True)
        return None
    check("unbind_op_clears_queues", unbind_op)

    def socket_close():
        y2 = YnlFamily(SPEC)
        r = y2.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues})
        if set(rx_queue_dmabufs(ynl, ifi).values()) != {r["id"]}:
            return "second bind not shown"
        y2.sock.close()
        del y2
        for _ in range(50):
            if not any(rx_queue_dmabufs(ynl, ifi).values()):
                return None
            time.sleep(0.1)
        return "queues still bound after socket close"
    check("socket_close_unbinds", socket_close)

    view.close()
    os.close(dmabuf)
    os.close(memfd)
    subprocess.run(["ip", "netns", "del", NS])


if __name__ == "__main__":
    run(main)
