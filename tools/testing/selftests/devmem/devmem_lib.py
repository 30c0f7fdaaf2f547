# SPDX-License-Identifier: GPL-2.0
#
# What the devmem end-to-end tests (devmem_rx.py, devmem_cases.py) share: the two 82576
# ports (port A on igb_rs in the root namespace, port B on the C igb driver in netns NS as
# the peer), udmabufs, bind-rx/unbind through the tree's YNL library and netdev spec, the
# peer's tcp_pattern.py, and a receiver that checks every byte of the peer's pattern stream
# whether it arrives in a dma-buf (recvmsg(MSG_SOCK_DEVMEM) cmsgs) or in ordinary memory.
#
# ynl_env.py finds the YNL library and the netdev spec (installed or in the tree).

import ctypes
import fcntl
import mmap
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
from ynl_env import SPEC  # noqa: E402
from tcp_pattern import expected, first_wrong  # noqa: E402

NS = "devmem-peer"
IP_A, IP_B = "10.72.0.1", "10.72.0.2"
IP6_A, IP6_B = "fd72::1", "fd72::2"

MSG_SOCK_DEVMEM = 0x2000000
SO_INCOMING_NAPI_ID = 56
SO_DEVMEM_LINEAR = 78
SO_DEVMEM_DMABUF = 79
SO_DEVMEM_DONTNEED = 80
# net/core/sock.c: at most this many struct dmabuf_token per SO_DEVMEM_DONTNEED call.
MAX_DONTNEED_TOKENS = 128
MFD_ALLOW_SEALING = 2
MFD_HUGETLB = 4
F_ADD_SEALS = 1033
F_SEAL_SHRINK = 2
UDMABUF_CREATE = 0x40187542
DMA_BUF_IOCTL_SYNC = 0x40086200
DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_END = 1, 0, 4
BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"
RX_PAGE = 4096  # the rx page size of every binding here (igb_rs takes no other)

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


def driver_of(addr):
    link = f"/sys/bus/pci/devices/{addr}/driver"
    return os.path.basename(os.readlink(link)) if os.path.exists(link) else None


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def poll(fn, timeout, step=0.2):
    """Calls fn until it returns None (done) or `timeout` seconds passed; returns its
    last result."""
    deadline = time.monotonic() + timeout
    while True:
        why = fn()
        if why is None or time.monotonic() > deadline:
            return why
        time.sleep(step)


class Ports:
    """Port A on igb_rs in the root namespace, port B on igb in netns NS."""

    def __init__(self):
        # Neither driver is loaded for the ports by default: igb_rs is kept from autoloading.
        sh("modprobe", "igb_rs")
        sh("modprobe", "igb")
        subprocess.run("mountpoint -q /sys/kernel/debug || "
                       "mount -t debugfs debugfs /sys/kernel/debug", shell=True, check=False)
        self.pci_a, self.pci_b = igb_ports()[:2]
        self.if_a = bind_driver(self.pci_a, "igb_rs")
        self.if_b = bind_driver(self.pci_b, "igb")
        subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "set", self.if_b, "netns", NS)
        sh("ip", "addr", "add", f"{IP_B}/24", "dev", self.if_b, ns=NS)
        sh("ip", "-6", "addr", "add", f"{IP6_B}/64", "dev", self.if_b, "nodad", ns=NS)
        sh("ip", "link", "set", self.if_b, "up", ns=NS)
        self.configure_a()

    def attach_a(self):
        """Binds port A to igb_rs (again) and configures it."""
        self.if_a = bind_driver(self.pci_a, "igb_rs")
        self.configure_a()

    def take_a_away(self, how):
        """Takes port A's netdev away: "driver_unbind" unbinds igb_rs, "pci_remove" removes
        the PCI function. Returns why not if the netdev is still there, else None."""
        if how == "driver_unbind":
            path, what = "/sys/bus/pci/drivers/igb_rs/unbind", self.pci_a
        else:
            path, what = f"/sys/bus/pci/devices/{self.pci_a}/remove", "1"
        with open(path, "w") as f:
            f.write(what)
        if os.path.exists(f"/sys/class/net/{self.if_a}"):
            return f"{self.if_a} still exists after the {how}"
        return None

    def restore_a(self):
        """Brings port A back on igb_rs after its PCI function was removed (a rescan with
        autoprobe off, so that the C igb driver does not take it) or its driver unbound."""
        dev = f"/sys/bus/pci/devices/{self.pci_a}"
        if not os.path.exists(dev):
            with open("/sys/bus/pci/drivers_autoprobe", "w") as f:
                f.write("0")
            try:
                with open("/sys/bus/pci/rescan", "w") as f:
                    f.write("1")
                if poll(lambda: None if os.path.exists(dev) else "not back", 30):
                    raise RuntimeError(f"{self.pci_a} did not come back after a rescan")
            finally:
                with open("/sys/bus/pci/drivers_autoprobe", "w") as f:
                    f.write("1")
        self.attach_a()

    def configure_a(self):
        sh("ip", "addr", "add", f"{IP_A}/24", "dev", self.if_a)
        sh("ip", "-6", "addr", "add", f"{IP6_A}/64", "dev", self.if_a, "nodad")
        sh("ip", "link", "set", self.if_a, "up")
        self.ifi = ifindex(self.if_a)
        # Queue 0 for what RSS does not hash, and a known RSS key and table over the
        # others, so that rss_queue() can tell where a flow lands.
        if len(rx_queue_ids(self.if_a)) != RSS_START + RSS_QUEUES:
            sh("ethtool", "-L", self.if_a, "combined", str(RSS_START + RSS_QUEUES))

        def carrier():
            with open(f"/sys/class/net/{self.if_a}/carrier") as f:
                return None if f.read().strip() == "1" else "no carrier"
        if poll(carrier, 20, 0.1):
            raise RuntimeError(f"no link on {self.if_a} after 20 s")
        sh("ethtool", "-X", self.if_a, "hkey", ":".join(f"{b:02x}" for b in RSS_KEY),
           "start", str(RSS_START), "equal", str(RSS_QUEUES))

    def set_mtu(self, mtu):
        """Sets the MTU of both ports and waits for port A's link (it reopens)."""
        sh("ip", "link", "set", self.if_b, "mtu", str(mtu), ns=NS)
        sh("ip", "link", "set", self.if_a, "mtu", str(mtu))

        def carrier():
            with open(f"/sys/class/net/{self.if_a}/carrier") as f:
                return None if f.read().strip() == "1" else "no carrier"
        if poll(carrier, 20, 0.1):
            raise RuntimeError(f"no link on {self.if_a} 20 s after the MTU change")

    def forget_neighbours(self):
        """Deletes the two ends' neighbour entries for each other, whatever their state:
        the next frame each sends resolves the other by ARP or neighbour discovery."""
        for cmd in (["ip", "neigh", "del", IP_B, "dev", self.if_a],
                    ["ip", "-n", NS, "neigh", "del", IP_A, "dev", self.if_b],
                    ["ip", "-6", "neigh", "del", IP6_B, "dev", self.if_a],
                    ["ip", "-n", NS, "-6", "neigh", "del", IP6_A, "dev", self.if_b]):
            subprocess.run(cmd, stderr=subprocess.DEVNULL)

    def tcp_data_split_on(self):
        return subprocess.run(["ethtool", "-G", self.if_a, "tcp-data-split", "on"]).returncode == 0

    def close(self):
        subprocess.run(["ip", "netns", "del", NS])


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


class Udmabuf:
    """A udmabuf over a memfd (of huge pages with MFD_HUGETLB in `flags`), the memfd
    mapped for reading."""

    def __init__(self, size, flags=0):
        self.size = size
        self.memfd, self.fd = make_udmabuf(size, flags)
        self.view = mmap.mmap(self.memfd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        self.ino = os.fstat(self.fd).st_ino
        # udmabuf makes its scatter-gather table at the first DMA_BUF_IOCTL_SYNC, with no
        # lock (drivers/dma-buf/udmabuf.c, begin_cpu_udmabuf): two threads' first reads
        # would each make one and one table would leak (kmemleak found it). Made here,
        # before any thread reads.
        dmabuf_sync(self.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
        dmabuf_sync(self.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)

    def read(self, off, size):
        """Bytes off..off+size, bracketed with DMA_BUF_IOCTL_SYNC."""
        dmabuf_sync(self.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
        got = bytes(self.view[off:off + size])
        dmabuf_sync(self.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)
        return got

    def refs(self):
        """References to the dma-buf's file: ours plus one per binding that holds it
        (fdinfo 'count', drivers/dma-buf/dma-buf.c dma_buf_show_fdinfo)."""
        with open(f"/proc/self/fdinfo/{self.fd}") as f:
            for line in f:
                if line.startswith("count:"):
                    return int(line.split()[1])
        raise RuntimeError("no count in the dma-buf's fdinfo")

    def attachments(self):
        """The devices attached to the dma-buf, from debugfs (dma_buf_debug_show)."""
        with open(BUFINFO) as f:
            lines = f.read().splitlines()
        ours = in_list = False
        devs = []
        for line in lines:
            fields = line.split("\t")
            # An object: size, flags, mode, count, exp_name, ino, name.
            if len(fields) >= 7 and fields[0].isdigit():
                ours = fields[5].isdigit() and int(fields[5]) == self.ino
                in_list = False
                continue
            if not ours:
                continue
            if line.strip() == "Attached Devices:":
                in_list = True
            elif re.match(r"Total \d+ devices attached", line):
                return devs
            elif in_list and line.startswith("\t"):
                devs.append(line.strip())
        return devs

    def close(self):
        self.view.close()
        os.close(self.fd)
        os.close(self.memfd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rx_queue_dmabufs(ynl, ifi):
    return {q["id"]: q.get("dmabuf") for q in ynl.dump("queue-get", {"ifindex": ifi})
            if q.get("type") == "rx"}


def bound_queues(ynl, ifi):
    """Rx queue id -> dma-buf binding id, for the bound rx queues of `ifi`."""
    return {q: d for q, d in rx_queue_dmabufs(ynl, ifi).items() if d}


def rx_queues(ynl, ifi):
    """The rx queues of `ifi` a binding may take: all but queue 0 (see RSS_START)."""
    return sorted(q for q in rx_queue_dmabufs(ynl, ifi) if q != DEFAULT_RXQ)


def rx_queue_ids(ifname):
    """The rx queue indices of `ifname` (sysfs)."""
    return sorted(int(d[3:]) for d in os.listdir(f"/sys/class/net/{ifname}/queues")
                  if d.startswith("rx-"))


def pool_dmabufs(ynl, ifi):
    return [p.get("dmabuf") for p in ynl.dump("page-pool-get", {})
            if p.get("ifindex") == ifi]


def pools_of(ynl, dbid):
    """The page pools (any device) that report dma-buf binding `dbid`."""
    return [p for p in ynl.dump("page-pool-get", {}) if p.get("dmabuf") == dbid]


def rx_queue_napis(ynl, ifi):
    """NAPI id -> rx queue id."""
    return {q["napi-id"]: q["id"] for q in ynl.dump("queue-get", {"ifindex": ifi})
            if q.get("type") == "rx" and "napi-id" in q}


def incoming_napi(sock):
    """The NAPI id that received the last packet of `sock`."""
    return sock.getsockopt(socket.SOL_SOCKET, SO_INCOMING_NAPI_ID)


def flow_queue(ynl, ifi, sock):
    """The rx queue whose NAPI received the last packet of `sock`, or None."""
    return rx_queue_napis(ynl, ifi).get(incoming_napi(sock))


class Bound:
    """A bind-rx of `buf` to rx queues `queues` of `ifi`, unbound (the op) on exit."""

    def __init__(self, ynl, ifi, buf, queues):
        self.ynl = ynl
        rsp = ynl.do("bind-rx", {"ifindex": ifi, "fd": buf.fd,
                                 "queues": [{"id": q, "type": "rx"} for q in queues]})
        self.id = rsp["id"]
        self.bound = True

    def unbind(self):
        if self.bound:
            self.bound = False
            self.ynl.do("unbind", {"id": self.id})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.unbind()
        except Exception:
            pass


def dontneed_raw(sock, arg):
    """SO_DEVMEM_DONTNEED with `arg` as the option value: the count of freed tokens is
    setsockopt's return value, which Python's socket.setsockopt drops, so call libc."""
    n = LIBC.setsockopt(sock.fileno(), socket.SOL_SOCKET, SO_DEVMEM_DONTNEED, arg, len(arg))
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def dontneed(sock, ranges):
    """Returns the (token_start, token_count) ranges; the count the kernel freed."""
    return dontneed_raw(sock, b"".join(struct.pack("II", s, c) for s, c in ranges))


def family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def listen(port, rcvbuf=None, ip=IP_A):
    srv = socket.socket(family(ip), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        # Set on the listener, inherited by the accepted socket (and no autotuning).
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    srv.bind((ip, port))
    srv.listen(8)
    srv.settimeout(60)
    return srv


def accept(srv):
    conn, _ = srv.accept()
    conn.settimeout(60)
    return conn


class Peer:
    """tcp_pattern.py run in the peer's namespace; killed on exit if still running."""

    def __init__(self, *args):
        self.p = subprocess.Popen(["ip", "netns", "exec", NS, "python3",
                                   f"{HERE}/tcp_pattern.py"] + [str(a) for a in args])

    def wait(self, timeout=60):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class DevmemStream:
    """The receiving end of one connection from the peer, which sends tcp_pattern.py's
    stream (keyed by the peer's port): every byte is checked against expected() at its
    stream offset, whether it arrives in a dma-buf (a SO_DEVMEM_DMABUF
    cmsg: read through the udmabuf of that binding id in `bufs`), in the skb's linear part
    (a SO_DEVMEM_LINEAR cmsg) or, from readable skbs, as ordinary data (no cmsg).
    devmem=False reads with plain recv(), as any socket would."""

    def __init__(self, conn, bufs, devmem=True):
        self.conn, self.bufs, self.devmem = conn, bufs, devmem
        self.key = conn.getpeername()[1] if conn else None
        self.got = 0  # the stream offset
        self.devmem_bytes = self.linear_bytes = self.plain_bytes = 0
        self.frags = 0
        self.by_id = {}  # dma-buf binding id -> bytes received in it
        self.tokens_returned = 0
        self.held = []  # (token, dma-buf offset) kept by recv(keep=True)

    def request(self, n):
        """Asks the peer (tcp_pattern.py answer) for the next n bytes."""
        self.conn.sendall(struct.pack("!I", n))

    def stats(self):
        return (self.devmem_bytes, self.linear_bytes, self.plain_bytes, self.frags)

    def recv(self, n, keep=False):
        """Receives exactly n more bytes of the stream, all checked. Tokens are returned
        with SO_DEVMEM_DONTNEED after each recvmsg, or kept in `held` with keep=True.
        Returns (dma-buf, linear, plain bytes, frags) of this call."""
        before = self.stats()
        end = self.got + n
        while self.got < end:
            tokens = self._recv_once(min(65536, end - self.got))
            if tokens is None:
                raise RuntimeError(f"connection closed at stream byte {self.got}, "
                                   f"want {end}")
            if keep:
                self.held += tokens
            else:
                self.give_back([t for t, _ in tokens])
        return tuple(a - b for a, b in zip(self.stats(), before))

    def give_back(self, tokens):
        """Returns tokens, MAX_DONTNEED_TOKENS per call; returns the count freed."""
        freed = 0
        for i in range(0, len(tokens), MAX_DONTNEED_TOKENS):
            freed += dontneed(self.conn, [(t, 1) for t in tokens[i:i + MAX_DONTNEED_TOKENS]])
        self.tokens_returned += freed
        return freed

    def _check(self, got, where):
        bad = first_wrong(got, self.got, self.key)
        if bad is not None:
            raise RuntimeError(f"{where} of {len(got)} bytes at stream byte {self.got}: byte "
                               f"{bad} is {got[bad - self.got]:#x}, want "
                               f"{expected(bad, 1, self.key)[0]:#x}")
        self.got += len(got)

    def _recv_once(self, maxlen):
        if not self.devmem:
            data = self.conn.recv(maxlen)
            if not data:
                return None
            self._check(data, "data")
            self.plain_bytes += len(data)
            return []
        data, anc, _, _ = self.conn.recvmsg(maxlen, 16384, MSG_SOCK_DEVMEM)
        if not data and not anc:
            return None
        # The cmsgs describe the received bytes in stream order: a LINEAR one says how many
        # of the next bytes are in the data buffer, a DMABUF one where the next bytes are
        # in the dma-buf. A recvmsg that read readable skbs has no cmsg: its bytes are data.
        cms = [(typ, struct.unpack("QIIII", c[:24])) for lv, typ, c in anc
               if lv == socket.SOL_SOCKET and typ in (SO_DEVMEM_LINEAR, SO_DEVMEM_DMABUF)]
        if not cms:
            self._check(data, "data")
            self.plain_bytes += len(data)
            return []
        tokens = []
        pos = in_dmabuf = 0
        for typ, (off, size, token, dbid, _fl) in cms:
            if typ == SO_DEVMEM_LINEAR:
                chunk = data[pos:pos + size]
                if len(chunk) != size:
                    raise RuntimeError(f"linear cmsg of {size} bytes past the data")
                self._check(chunk, "linear")
                pos += size
                self.linear_bytes += size
                continue
            buf = self.bufs.get(dbid)
            if buf is None:
                raise RuntimeError(f"cmsg dmabuf_id {dbid}, bound {sorted(self.bufs)}")
            self._check(buf.read(off, size), "dma-buf payload")
            in_dmabuf += size
            self.devmem_bytes += size
            self.by_id[dbid] = self.by_id.get(dbid, 0) + size
            self.frags += 1
            tokens.append((token, off))
        # recvmsg returns the count of all bytes it consumed; only the linear ones are
        # copied into the buffer (at its start).
        if len(data) != pos + in_dmabuf:
            raise RuntimeError(f"recvmsg returned {len(data)} bytes, cmsgs cover "
                               f"{pos} linear + {in_dmabuf} in the dma-buf")
        return tokens


def readable(sock, timeout=60):
    return bool(select.select([sock], [], [], timeout)[0])


def run_net_rx_on_each_cpu():
    """Makes the NET_RX softirq run on every CPU this process may use: one loopback UDP
    datagram sent from each. A consumed TCP skb is not freed by recvmsg on another CPU
    than the one that allocated it: tcp_eat_recv_skb() hands it to skb_attempt_defer_free(),
    which queues it for that CPU's next net_rx_action() (an IPI only at half of
    net.core.skb_defer_max). Until then its frags, net_iovs of a binding among them, stay
    referenced. With the bound queues idle nothing else runs NET_RX there."""
    cpus = os.sched_getaffinity(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        try:
            for cpu in sorted(cpus):
                os.sched_setaffinity(0, {cpu})
                tx.sendto(b"x", rx.getsockname())
                rx.recv(1)
        finally:
            os.sched_setaffinity(0, cpus)


class KernelLog:
    """The kernel log from now on (/dev/kmsg, read from its end): reports() gives the
    records since then that say the kernel went wrong (a BUG or WARNING, KASAN, an Oops),
    so that a case can fail on what its own steps made the kernel report."""

    BAD = re.compile(r"\bBUG: |WARNING: |KASAN|\bOops\b|general protection fault")

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def reports(self):
        bad = []
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except BrokenPipeError:  # records overwritten before they were read
                continue
            text = rec.split(";", 1)[-1].splitlines()[0] if ";" in rec else rec
            if self.BAD.search(text):
                bad.append(text.strip())
        return bad

    def close(self):
        os.close(self.fd)


def wait_released(ynl, buf, dbid, base_refs, timeout=30):
    """Polls until binding `dbid` is gone: no page pool reports it, the dma-buf's file
    count is back to `base_refs` and no device is attached to it. None when it is, else
    what is left. The last user of a binding frees it from a work item, and a destroyed
    page pool with buffers out rechecks every second (DEFER_TIME). Skbs whose free TCP
    deferred to another CPU hold buffers until NET_RX runs there: when the binding is not
    gone after a few seconds, that is made to happen (said on the output) and the poll
    goes on."""
    def left():
        why = []
        pools = pools_of(ynl, dbid)
        if pools:
            why.append(f"{len(pools)} page pools report dma-buf {dbid} (inflight "
                       f"{sum(p.get('inflight', 0) for p in pools)})")
        refs = buf.refs()
        if refs != base_refs:
            why.append(f"the dma-buf's file count is {refs}, {base_refs} before binding")
        att = buf.attachments()
        if att:
            why.append(f"the dma-buf is still attached to {att}")
        return "; ".join(why) or None
    why = poll(left, 3)
    if why is None:
        return None
    print(f"# after 3 s: {why}; running NET_RX on each CPU to free deferred skbs",
          flush=True)
    run_net_rx_on_each_cpu()
    why = poll(left, timeout)
    return why and f"after {timeout + 3} s: {why}"


# RSS of port A, set by Ports.configure_a with ethtool -L and -X: three queue pairs, this
# key and a 128-entry table that is round robin over queues 1 and 2 (`start 1 equal 2`).
# QEMU's model hashes TCP/IPv4 with Toeplitz over source address, destination address,
# source port, destination port and takes the queue from entry hash & 0x7f of the table
# (hw/net/igb_core.c). igb_rs has it hash TCP only: everything else (ARP, ICMP, UDP, IP
# fragments) goes to queue 0, which igb_rs refuses to bind, so the cases bind queues 1 and
# 2 and every TCP flow lands on one of them.
DEFAULT_RXQ = 0
RSS_START, RSS_QUEUES = 1, 2
RSS_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcb"
                        "ae7b30b477cb2da38030f20c6a42b73bbeac01fa")


def _rss_key():
    return RSS_KEY


def toeplitz(key, data):
    k = int.from_bytes(key, "big")
    kbits = 8 * len(key)
    h = 0
    for i in range(8 * len(data)):
        if data[i // 8] >> (7 - i % 8) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xFFFFFFFF
    return h


def rss_queue(sport, dport, src=IP_B, dst=IP_A):
    """The rx queue of port A that RSS picks for TCP from src:sport to dst:dport, over
    IPv4 or IPv6: the Toeplitz hash of source and destination address, then the ports."""
    af = family(src)
    data = socket.inet_pton(af, src) + socket.inet_pton(af, dst) + struct.pack("!HH", sport, dport)
    return RSS_START + (toeplitz(_rss_key(), data) & 0x7F) % RSS_QUEUES


def sports_for(dport, queues, start=20000, src=IP_B, dst=IP_A):
    """Source ports, from `start` on (below the ephemeral range, so that no peer socket
    holds one), whose flows from src to dst:dport RSS puts on `queues` in order."""
    out = []
    sport = start
    for q in queues:
        while rss_queue(sport, dport, src, dst) != q:
            sport += 1
        out.append(sport)
        sport += 1
    return out


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def pcp_kib():
    """Free pages held on the per-CPU lists (not in MemFree), from /proc/zoneinfo."""
    pages = 0
    with open("/proc/zoneinfo") as f:
        for line in f:
            s = line.split()
            if s and s[0] == "count:":
                pages += int(s[1])
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def kernel_kib():
    """(kernel memory outside the slab, the page cache and anonymous memory, the
    unreclaimable slab), in KiB. The first counts what page pools, vmalloc and large
    kmalloc take, and is not blurred by KASAN's quarantine of freed slab objects."""
    m = meminfo()
    used = (m["MemTotal"] - m["MemFree"] - pcp_kib() - m["Buffers"] - m["Cached"]
            - m["SReclaimable"] - m["SUnreclaim"] - m["AnonPages"])
    return used, m["SUnreclaim"]
