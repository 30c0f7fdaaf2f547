#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Devmem TCP transmit end to end: a udmabuf filled with tcp_pattern.py's stream and bound
# with bind-tx to port A (driven by igb_rs, which sets netmem_tx), sent to the peer on
# port B (C igb, own netns) with sendmsg(MSG_ZEROCOPY) and an SCM_DEVMEM_DMABUF cmsg,
# each iovec naming an offset into the dma-buf rather than user memory; the peer checks
# every byte, over IPv4 and over IPv6. Then the zerocopy completions, bad input (a device
# without netmem_tx, an unknown binding, an rx binding), senders that may not use the
# binding (another user, another network namespace), and the unbind op releasing the
# dma-buf. Last, port A's netdev goes away under a tx binding with sends queued (driver
# unbind, then PCI remove): the binding lets go of it, and port A comes back on igb_rs
# after each.
#
# ynl_env.py finds the YNL library and the netdev spec (installed or in the tree).

import ctypes
import errno
import mmap
import os
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import (IP6_B, IP_B, LIBC, NS, SO_DEVMEM_DMABUF, SPEC, Bound,  # noqa: E402
                        KernelLog, Peer, Ports, Udmabuf, dmabuf_sync, family, rx_queues,
                        wait_released)
from ktap import check, run  # noqa: E402
from tcp_pattern import CHUNK, expected  # noqa: E402

PORT = 5301
PORT_GONE = 5302
PORT_FOREIGN = 5303
PORT_IPV6 = 5304
NOBODY = 65534
CLONE_NEWNET = 0x40000000
NBYTES = 4 << 20
BUF_SIZE = 8 << 20
MSG_ZEROCOPY = 0x4000000
SO_ZEROCOPY = 60
SO_EE_ORIGIN_ZEROCOPY = 5
DMA_BUF_SYNC_WRITE = 2
# SCM_DEVMEM_DMABUF is SO_DEVMEM_DMABUF (include/uapi/asm-generic/socket.h).
SCM_DEVMEM_DMABUF = SO_DEVMEM_DMABUF


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


def send_dmabuf(sock, dbid, off, size):
    """sendmsg(MSG_ZEROCOPY) of dma-buf bytes off..off+size of binding `dbid`: the iovec's
    base is the offset (net/core/datagram.c, zerocopy_fill_skb_from_devmem). Returns what
    sendmsg returned."""
    iov = Iovec(off, size)
    # struct cmsghdr (len, level, type) and a u32, padded to CMSG_SPACE(4).
    ctl = ctypes.create_string_buffer(
        struct.pack("QiiI4x", 16 + 4, socket.SOL_SOCKET, SCM_DEVMEM_DMABUF, dbid))
    msg = Msghdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(ctl, ctypes.c_void_p),
                 len(ctl.raw), 0)
    n = LIBC.sendmsg(sock.fileno(), ctypes.byref(msg), MSG_ZEROCOPY)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def completions(sock, calls, timeout=30):
    """Reads zerocopy notifications until sendmsg calls 0..calls-1 are all reported.
    Returns (done, copied, errors): calls reported, reports saying the kernel copied,
    reports with an errno."""
    seen = set()
    copied = errs = 0
    deadline = time.monotonic() + timeout
    while len(seen) < calls and time.monotonic() < deadline:
        select.select([], [], [sock], 0.2)
        try:
            _, anc, _, _ = sock.recvmsg(0, 1024, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            continue
        for level, kind, data in anc:
            if len(data) < 16:
                continue
            ee_errno, origin, _, code, _, lo, hi = struct.unpack("IBBBBII", data[:16])
            if origin != SO_EE_ORIGIN_ZEROCOPY:
                errs += 1
                continue
            errs += ee_errno != 0
            # SO_EE_CODE_ZEROCOPY_COPIED: the data was copied, not sent from the buffer.
            copied += code & 1
            seen.update(range(lo, hi + 1))
    return len(seen), copied, errs


def connect(port=PORT, timeout=30, ip=IP_B):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(family(ip), socket.SOCK_STREAM)
        try:
            s.connect((ip, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def foreign_send(dbid, enter):
    """In a child process that first calls enter() (to become another user, or to move to
    another network namespace): connects to the peer's PORT_FOREIGN and sends 4 KiB from
    binding `dbid`. Returns what the child saw: the errno of the send, or the bytes sent."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = "child failed"
        try:
            os.close(r)
            enter()
            s = connect(PORT_FOREIGN)
            s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
            try:
                out = f"sent {send_dmabuf(s, dbid, 0, 4096)}"
            except OSError as e:
                out = f"errno {e.errno}"
        except BaseException as e:
            out = f"child: {type(e).__name__}: {e}"
        finally:
            os.write(w, out.encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def as_nobody():
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def in_peer_netns():
    fd = os.open(f"/run/netns/{NS}", os.O_RDONLY)
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def main():
    from lib import YnlFamily, NlError

    ports = Ports()
    ynl = YnlFamily(SPEC)
    buf = Udmabuf(BUF_SIZE)
    base_refs = buf.refs()

    def fill(key):
        """The first NBYTES bytes of the stream of `key` into the dma-buf, through a
        writable mapping of the memfd, bracketed for CPU access."""
        wmap = mmap.mmap(buf.memfd, BUF_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        dmabuf_sync(buf.fd, 0 | DMA_BUF_SYNC_WRITE)
        for off in range(0, NBYTES, CHUNK):
            wmap[off:off + CHUNK] = expected(off, CHUNK, key)
        dmabuf_sync(buf.fd, 4 | DMA_BUF_SYNC_WRITE)
        wmap.close()

    def refused_bind(ifi, err, msg):
        try:
            r = ynl.do("bind-tx", {"ifindex": ifi, "fd": buf.fd})
        except NlError as e:
            got = -e.nl_msg.error
            text = (e.nl_msg.extack or {}).get("msg")
            if got != err:
                return f"errno {got}, want {err}; extack {text!r}"
            if msg not in (text or ""):
                return f"extack {text!r}, want {msg!r}"
            return None
        ynl.do("unbind", {"id": r["id"]})
        return "bind-tx succeeded"

    # The loopback device transmits no netmem.
    check("bind_tx_refused_without_netmem_tx",
          lambda: refused_bind(1, errno.EOPNOTSUPP, "does not support netmem TX"))

    rsp = {}

    def bind():
        rsp.update(ynl.do("bind-tx", {"ifindex": ports.ifi, "fd": buf.fd}))
        if rsp.get("id", 0) <= 0:
            return f"reply {rsp}"
        if buf.refs() <= base_refs:
            return "the binding holds no reference to the dma-buf"
        if ports.pci_a not in buf.attachments():
            return f"the dma-buf is attached to {buf.attachments()}, want {ports.pci_a}"
        return None

    if not check("bind_tx_returns_id", bind):
        return
    dbid = rsp["id"]
    state = {}

    def send_stream(s):
        """The stream the peer checks (keyed by this end's port) into the dma-buf, then
        sent from it on `s` with zerocopy: the number of sendmsg calls, or why not."""
        s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
        fill(s.getsockname()[1])
        sent = calls = 0
        while sent < NBYTES:
            n = send_dmabuf(s, dbid, sent, min(CHUNK, NBYTES - sent))
            if n <= 0:
                return f"sendmsg returned {n} at byte {sent}"
            sent += n
            calls += 1
        return calls

    def send_all():
        with Peer("recv", PORT, NBYTES) as peer:
            s = connect()
            state["sock"] = s
            calls = send_stream(s)
            if isinstance(calls, str):
                return calls
            sent = NBYTES
            state["calls"] = calls
            rc = peer.wait(120)
            print(f"# sent {sent} bytes from dma-buf {dbid} in {calls} sendmsg calls; "
                  f"peer exit {rc}", flush=True)
            return None if rc == 0 else f"the peer did not get every byte right (exit {rc})"

    check("devmem_send_all_bytes_verified", send_all)

    def zerocopy_done():
        s = state.get("sock")
        if not s or "calls" not in state:
            return "nothing sent"
        done, copied, errs = completions(s, state["calls"])
        print(f"# zerocopy notifications: {done} of {state['calls']} calls, {copied} copied, "
              f"{errs} errors", flush=True)
        if done != state["calls"] or copied or errs:
            return f"{done} of {state['calls']} completed, {copied} copied, {errs} errors"
        return None

    check("zerocopy_completions_not_copied", zerocopy_done)

    def send_ipv6():
        """The same transfer over IPv6, with its own connection: every byte right at the
        peer, every zerocopy notification back, none copied."""
        with Peer("recv", PORT_IPV6, NBYTES) as peer:
            s = connect(PORT_IPV6, ip=IP6_B)
            try:
                calls = send_stream(s)
                if isinstance(calls, str):
                    return calls
                rc = peer.wait(120)
                done, copied, errs = completions(s, calls)
            finally:
                s.close()
        print(f"# over IPv6: sent {NBYTES} bytes from dma-buf {dbid} in {calls} sendmsg calls; "
              f"peer exit {rc}; {done} notifications, {copied} copied", flush=True)
        if rc != 0:
            return f"the peer did not get every byte right (exit {rc})"
        if done != calls or copied or errs:
            return f"{done} of {calls} completed, {copied} copied, {errs} errors"
        return None

    check("devmem_send_ipv6_all_bytes_verified", send_ipv6)

    def bad_id():
        s = state.get("sock")
        if not s:
            return "no connection"
        try:
            n = send_dmabuf(s, dbid + 1000, 0, 4096)
            return f"sendmsg with unknown dma-buf id {dbid + 1000} sent {n} bytes"
        except OSError as e:
            if e.errno != errno.EINVAL:
                return f"sendmsg with an unknown dma-buf id: errno {e.errno}, want EINVAL"
        return None

    check("send_unknown_dmabuf_id_refused", bad_id)

    def rx_binding():
        s = state.get("sock")
        if not s:
            return "no connection"
        if not ports.tcp_data_split_on():
            return "ethtool -G tcp-data-split on failed"
        with Bound(ynl, ports.ifi, buf, rx_queues(ynl, ports.ifi)[:1]) as b:
            try:
                n = send_dmabuf(s, b.id, 0, 4096)
                return f"sendmsg with rx binding {b.id} sent {n} bytes"
            except OSError as e:
                if e.errno != errno.EINVAL:
                    return f"sendmsg with rx binding {b.id}: errno {e.errno}, want EINVAL"
        return None

    check("send_with_rx_binding_refused", rx_binding)

    def foreign(enter, who):
        """A sender that may not use the binding gets the answer to an unknown id
        (EINVAL) and sends nothing."""
        with Peer("recv", PORT_FOREIGN, NBYTES):
            got = foreign_send(dbid, enter)
        want = f"errno {errno.EINVAL}"
        return None if got == want else f"{who} sending from binding {dbid}: {got}, want {want}"

    # Another user: the binder is root; the sender's socket is opened by nobody, without
    # CAP_NET_ADMIN.
    check("send_as_another_user_refused", lambda: foreign(as_nobody, "nobody"))
    # Another network namespace: the peer's, where the connection goes over its loopback
    # (that route does not reach port A either: upstream answers ENODEV, not EINVAL).
    subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
    check("send_from_another_netns_refused", lambda: foreign(in_peer_netns, "the peer's netns"))

    def release():
        s = state.pop("sock", None)
        if s:
            s.close()
        ynl.do("unbind", {"id": dbid})
        return wait_released(ynl, buf, dbid, base_refs)

    check("unbind_releases_dmabuf", release)

    def device_gone(how):
        """bind-tx on port A, sends queued, then port A's netdev goes away under the
        binding (`how`): a send from it is refused, the unbind op and the socket's close
        still work, the dma-buf is released, and the kernel reports nothing on the way."""
        log = KernelLog()
        txid = ynl.do("bind-tx", {"ifindex": ports.ifi, "fd": buf.fd})["id"]
        peer = Peer("recv", PORT_GONE, NBYTES)
        s = None
        try:
            s = connect(PORT_GONE)
            s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
            # What the peer checks, so that it keeps reading until the device goes.
            fill(s.getsockname()[1])
            s.setblocking(False)
            sent = 0
            while sent < NBYTES:
                try:
                    sent += send_dmabuf(s, txid, sent, CHUNK)
                except BlockingIOError:
                    break
            if sent == 0:
                return "nothing could be sent before the device went"
            why = ports.take_a_away(how)
            print(f"# {how} of {ports.pci_a} with {sent} bytes queued from dma-buf {txid}",
                  flush=True)
            if why:
                return why
            try:
                n = send_dmabuf(s, txid, 0, 4096)
                return f"a send from binding {txid} after the {how} queued {n} bytes"
            except OSError as e:
                # The binding's device is gone (ENODEV), or so is the route to the peer
                # that the socket would take (rebuilding it fails).
                if e.errno not in (errno.ENODEV, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    return (f"a send from binding {txid} after the {how} failed with "
                            f"{errno.errorcode.get(e.errno, e.errno)}, want ENODEV or no "
                            f"route")
                print(f"# a send after the {how}: {errno.errorcode[e.errno]}", flush=True)
            ynl.do("unbind", {"id": txid})
            # An abortive close: a socket closed with data queued would otherwise live on,
            # orphaned and holding its skbs (and so the binding), until TCP gives up.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            s = None
            why = wait_released(ynl, buf, txid, base_refs)
            bad = log.reports()
            return why or (bad and f"the kernel reported: {bad[0]}") or None
        finally:
            if s:
                s.close()
            peer.stop()
            log.close()
            ports.restore_a()

    check("tx_binding_outlives_driver_unbind", lambda: device_gone("driver_unbind"))
    check("tx_binding_outlives_pci_remove", lambda: device_gone("pci_remove"))
    buf.close()
    ports.close()


if __name__ == "__main__":
    run(main)
