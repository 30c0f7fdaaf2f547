#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Devmem TCP end to end beyond devmem_rx.py, on the same two ports (port A on igb_rs,
# port B on C igb in its own netns as the peer): several flows on both bound queues,
# small and odd payload sizes, bad SO_DEVMEM_DONTNEED input, recvmsg without
# MSG_SOCK_DEVMEM, unbind while userspace holds tokens, a killed process that holds
# tokens, rx queue restarts in the middle of a transfer, rx buffers that run out (tokens
# withheld) and come back, receive while the driver's allocations fail (failslab,
# fail_page_alloc, fail_function on the page pool's), 200 bind/unbind cycles under traffic, and PCI removal of the bound port (last: it rescans and rebinds igb_rs).
# Every case has its own udmabuf, binding, listening port and peer process, undone at its
# end; every received byte is checked against the peer's pattern.
#
# ynl_env.py finds the YNL library and the netdev spec (installed or in the tree).

import errno
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import (IP6_A, IP6_B, IP_A, IP_B, MAX_DONTNEED_TOKENS, MFD_HUGETLB, NS,  # noqa: E402
                        RX_PAGE, SPEC, Bound, DevmemStream, KernelLog, Peer, Ports,
                        Udmabuf, accept, bound_queues, dontneed,
                        dontneed_raw, driver_of, flow_queue, incoming_napi, kernel_kib,
                        listen, poll, pool_dmabufs, pools_of, readable, rss_queue,
                        rx_queue_dmabufs, rx_queue_napis, rx_queues, sports_for,
                        wait_released)
from ktap import check, run  # noqa: E402

BUF_SIZE = 16 << 20  # 4096 rx pages: both rings (256 each) and what the cases hold
FLOWS = 4
FLOW_BYTES = 1 << 20
SIZES = (1, 100, 1000, 1448, 4096, 8192)
RESTART_BYTES = 4 << 20
CYCLES = 200
WARMUP_CYCLES = 5
# Growth allowed in kernel memory outside the slab and the page cache across the cycles.
# Noise: the pages of the background flow's socket buffer (SO_RCVBUF below) and of queue
# 2's page pools, lazily freed vmalloc areas, page tables of this process. A leak of one
# binding per cycle (its 4096 struct net_iov of 64 bytes alone are 256 KiB) or of one
# ring's header pages (1 MiB) would be 50 MiB or more over 200 cycles. Slab objects are
# not counted (KASAN keeps freed ones in quarantine); kmemleak scans after the suite.
MEM_SLACK_KIB = 16 << 10
BG_RATE_KIB = 128

PORT_FLOWS, PORT_SIZES, PORT_DONTNEED, PORT_EFAULT = 5301, 5302, 5303, 5304
PORT_UNBIND, PORT_KILLED, PORT_RESTART, PORT_CYCLES = 5305, 5306, 5307, 5308
PORT_REMOVE, PORT_RESCAN, PORT_EXHAUST, PORT_REACH = 5309, 5310, 5311, 5312
PORT_EXHAUST_JUMBO, PORT_FAULTS = 5313, 5314
ETH_P_ALL = 3
CAPTURE_HEAD = 128
PINGS = 3
UDP_DATAGRAMS = ((1000,) * 19) + (3000,)  # the last in IP fragments
EXHAUST_BUF = 1 << 20  # 256 rx pages for two rings of 255 descriptors each
EXHAUST_BYTES = 4 << 20
FAULT_BYTES = 2 << 20
FAULT_PERCENT = 5
FAULT_TIMES = 1 << 30  # counts down with every failure injected
FAULT_ATTRS = ("failslab", "fail_page_alloc", "fail_function")
# What fail_function fails: the page pool's allocation, which the ring's refills reach for
# a header page (one in six header frags) or a provider's net_iovs; the page pool takes
# most of its buffers from its cache, which the slab and page allocators do not see. Its
# calls are not filtered by stack (a kprobe's stack trace does not reach the caller's
# frames): port A's rings hold the guest's only page pools (the C igb on port B has none).
FAULT_FUNCTION = "page_pool_alloc_netmems"


class Session:
    """A udmabuf bound to the rx queues of port A a binding may take (rx_queues) and one
    connection from the peer's `tcp_pattern.py answer`, read through a DevmemStream; all
    undone by close()."""

    def __init__(self, ports, ynl, port, size=BUF_SIZE, sport=None):
        self.buf = self.bound = self.srv = self.peer = self.conn = None
        try:
            self.buf = Udmabuf(size)
            self.base_refs = self.buf.refs()
            self.bound = Bound(ynl, ports.ifi, self.buf, rx_queues(ynl, ports.ifi))
            self.id = self.bound.id
            self.srv = listen(port)
            sport_args = ["--sport", sport] if sport else []
            self.peer = Peer("answer", IP_A, port, *sport_args)
            self.conn = accept(self.srv)
            self.st = DevmemStream(self.conn, {self.id: self.buf})
        except BaseException:
            self.close()
            raise

    def hold(self, n):
        """Receives n bytes and keeps their tokens; returns [(token, offset)]."""
        self.st.request(n)
        self.st.recv(n, keep=True)
        held, self.st.held = self.st.held, []
        if not held:
            raise RuntimeError(f"{n} bytes gave no token: nothing arrived in the dma-buf")
        return held

    def transfer(self, n):
        """Receives n bytes; None when every byte was right and in the dma-buf and every
        token was freed."""
        returned = self.st.tokens_returned
        self.st.request(n)
        dm, lin, plain, frags = self.st.recv(n)
        if dm != n:
            return f"{n} bytes: {dm} in the dma-buf, {lin} linear, {plain} as plain data"
        if self.st.tokens_returned - returned != frags:
            return f"{self.st.tokens_returned - returned} of {frags} tokens freed"
        return None

    def close_conn(self):
        if self.conn:
            try:
                self.st.request(0)
            except OSError:
                pass
            self.conn.close()
            self.conn = None
        if self.srv:
            self.srv.close()
            self.srv = None
        if self.peer:
            self.peer.wait(5)
            self.peer.stop()
            self.peer = None

    def close(self):
        self.close_conn()
        if self.bound:
            self.bound.__exit__()
            self.bound = None
        if self.buf:
            self.buf.close()
            self.buf = None


def session_cases(ports, ynl, port, cases):
    """Runs (name, fn(session)) cases on one Session; each fails if it cannot be made."""
    try:
        s = Session(ports, ynl, port)
    except Exception as e:
        why = f"setup: {type(e).__name__}: {e}"
        for name, _ in cases:
            check(name, lambda: why)
        return
    try:
        for name, fn in cases:
            check(name, lambda: fn(s))
    finally:
        s.close()


def several_flows(ports, ynl, src=IP_B, dst=IP_A):
    """FLOWS connections at once from src to dst, IPv4 or IPv6, from source ports that RSS
    spreads over both queues, each received in its own thread; every byte of each in the
    dma-buf, each on the queue the test's own Toeplitz hash of its 4-tuple names."""
    queues = rx_queues(ynl, ports.ifi)
    sports = sports_for(PORT_FLOWS, [queues[i % len(queues)] for i in range(FLOWS)],
                        src=src, dst=dst)
    res = [{} for _ in range(FLOWS)]
    with Udmabuf(BUF_SIZE) as buf, Bound(ynl, ports.ifi, buf, queues) as b:
        srv = listen(PORT_FLOWS, rcvbuf=512 << 10, ip=dst)

        def rx(r):
            try:
                conn = accept(srv)
                r["sport"] = conn.getpeername()[1]
                r["st"] = DevmemStream(conn, {b.id: buf})
                r["st"].recv(FLOW_BYTES)
                r["napi"] = incoming_napi(conn)
                conn.close()
            except Exception as e:
                r["error"] = f"{type(e).__name__}: {e}"

        threads = [threading.Thread(target=rx, args=(r,)) for r in res]
        for t in threads:
            t.start()
        with Peer("send", dst, PORT_FLOWS, FLOW_BYTES, "--sport",
                  ",".join(map(str, sports))) as peer:
            for t in threads:
                t.join(180)
            rc = peer.wait(60)
        srv.close()
        napis = rx_queue_napis(ynl, ports.ifi)
    why = []
    seen = set()
    for r in res:
        st, sport = r.get("st"), r.get("sport")
        if "error" in r:
            why.append(f"flow from port {sport}: {r['error']}")
            continue
        q = napis.get(r.get("napi"))
        seen.add(q)
        want = rss_queue(sport, PORT_FLOWS, src, dst)
        print(f"# flow from port {sport}: {st.got} bytes verified, {st.frags} frags, "
              f"received on rx queue {q} (RSS says {want})", flush=True)
        if q != want:
            why.append(f"flow from port {sport} arrived on rx queue {q}, RSS says {want}")
        if st.devmem_bytes != FLOW_BYTES:
            why.append(f"flow from port {sport}: {st.devmem_bytes} bytes in the dma-buf, "
                       f"{st.linear_bytes} linear, {st.plain_bytes} plain")
        if st.tokens_returned != st.frags:
            why.append(f"flow from port {sport}: {st.tokens_returned} of {st.frags} tokens freed")
    if rc != 0:
        why.append(f"sender rc {rc}")
    if not why and seen != set(queues):
        why.append(f"the flows arrived on rx queues {sorted(seen, key=str)}, want {queues}")
    return "; ".join(why) or None


def payload_sizes(s):
    """Each size in one send of the peer (TCP_NODELAY), the next only after the last was
    read: all of it in the dma-buf, none in the linear part."""
    why = []
    for n in SIZES:
        s.st.request(n)
        dm, lin, plain, frags = s.st.recv(n)
        print(f"# {n} B payload: {dm} B in the dma-buf ({frags} frags), {lin} B linear, "
              f"{plain} B plain", flush=True)
        if dm != n:
            why.append(f"{n} B: {dm} in the dma-buf, {lin} linear, {plain} plain")
    if s.st.tokens_returned != s.st.frags:
        why.append(f"{s.st.tokens_returned} of {s.st.frags} tokens freed")
    return "; ".join(why) or None


# SO_DEVMEM_DONTNEED (net/core/sock.c, sock_devmem_dontneed): tokens are indices of the
# socket's sk_user_frags xarray (XA_FLAGS_ALLOC1: the first is 1, never 0); an index that
# holds nothing is skipped, and the call returns how many it freed. optlen not a multiple
# of struct dmabuf_token, or above MAX_DONTNEED_TOKENS of them, is EINVAL before anything
# is freed. (At most MAX_DONTNEED_FRAGS = 1024 indices are visited per call.)

def dontneed_unknown_token(s):
    toks = [t for t, _ in s.hold(16 << 10)]
    for bad in (0, max(toks) + 1000, 0x7FFFFFFF, 0xFFFFFFFF):
        n = dontneed(s.conn, [(bad, 1)])
        if n != 0:
            return f"token {bad:#x}, never handed out: {n} freed, want 0"
    n = s.st.give_back(toks)
    if n != len(toks):
        return f"then {n} of the {len(toks)} held tokens freed"
    return s.transfer(32 << 10)


def dontneed_over_limit(s):
    toks = [t for t, _ in s.hold(16 << 10)]
    pad = [max(toks) + 1000 + i for i in range(MAX_DONTNEED_TOKENS + 1 - len(toks))]
    ranges = [(t, 1) for t in toks + pad]
    try:
        n = dontneed(s.conn, ranges)
        return f"{len(ranges)} tokens in one call: {n} freed, want EINVAL"
    except OSError as e:
        if e.errno != errno.EINVAL:
            return f"{len(ranges)} tokens in one call: errno {e.errno}, want EINVAL"
    try:
        n = dontneed_raw(s.conn, struct.pack("III", toks[0], 1, 0))
        return f"12-byte option: {n} freed, want EINVAL"
    except OSError as e:
        if e.errno != errno.EINVAL:
            return f"12-byte option: errno {e.errno}, want EINVAL"
    # The refused calls freed nothing: the first MAX_DONTNEED_TOKENS entries free them all.
    n = dontneed(s.conn, ranges[:MAX_DONTNEED_TOKENS])
    if n != len(toks):
        return f"{MAX_DONTNEED_TOKENS} tokens in one call freed {n}, {len(toks)} were held"
    return s.transfer(32 << 10)


def dontneed_range_past_end(s):
    toks = sorted(t for t, _ in s.hold(32 << 10))
    lo, hi = toks[0], toks[-1]
    count = hi - lo + 1 + 64
    n = dontneed(s.conn, [(lo, count)])
    if n != len(toks):
        return f"range {lo}..{lo + count - 1} over the {len(toks)} held tokens {lo}..{hi} freed {n}"
    return s.transfer(32 << 10)


def dontneed_double_release(s):
    toks = [t for t, _ in s.hold(16 << 10)]
    first = dontneed(s.conn, [(toks[0], 1)])
    second = dontneed(s.conn, [(toks[0], 1)])
    if (first, second) != (1, 0):
        return f"token {toks[0]} released twice: {first} then {second} freed, want 1 then 0"
    rest = dontneed(s.conn, [(t, 1) for t in toks[1:]])
    if rest != len(toks) - 1:
        return f"then {rest} of the other {len(toks) - 1} tokens freed"
    return s.transfer(32 << 10)


def recv_without_devmem_flag(s):
    """net/ipv4/tcp.c, tcp_recvmsg_locked: an skb with unreadable frags read without
    MSG_SOCK_DEVMEM gives EFAULT (when nothing was copied before it) and consumes nothing."""
    n = 64 << 10
    s.st.request(n)
    if not readable(s.conn):
        return "nothing arrived"
    for what, flags in (("recv", 0), ("recv(MSG_PEEK)", socket.MSG_PEEK)):
        try:
            data = s.conn.recv(4096, flags)
            return f"{what} without MSG_SOCK_DEVMEM returned {len(data)} bytes"
        except OSError as e:
            if e.errno != errno.EFAULT:
                return (f"{what} without MSG_SOCK_DEVMEM: errno {e.errno} "
                        f"({errno.errorcode.get(e.errno)}), want EFAULT")
    dm, lin, plain, _ = s.st.recv(n)
    if dm != n:
        return f"then {dm} of {n} bytes in the dma-buf, {lin} linear, {plain} plain"
    return None


def unbind_holding_tokens(ports, ynl):
    names = ("unbind_holding_tokens", "tokens_returned_after_unbind",
             "dmabuf_released_after_tokens_returned")
    state = {}

    def unbind(s):
        held = state["held"] = s.hold(128 << 10)
        niovs = {off // RX_PAGE for _, off in held}
        if s.buf.refs() <= s.base_refs:
            return "the binding holds no reference to the dma-buf"
        att = s.buf.attachments()
        if ports.pci_a not in att:
            return f"the dma-buf is attached to {att}, want {ports.pci_a}"
        s.bound.unbind()
        state["unbound"] = True
        left = {q: d for q, d in rx_queue_dmabufs(ynl, ports.ifi).items() if d}
        if left:
            return f"queues still report a dma-buf after unbind: {left}"
        pools = pools_of(ynl, s.id)
        inflight = sum(p.get("inflight", 0) for p in pools)
        print(f"# unbound dma-buf {s.id} holding {len(held)} tokens on {len(niovs)} rx "
              f"pages: {len(pools)} page pools still report it, {inflight} buffers in flight",
              flush=True)
        if not pools:
            return "no page pool reports the binding while its buffers are held"
        if any("detach-time" not in p for p in pools):
            return f"pools {[p['id'] for p in pools if 'detach-time' not in p]} not detached"
        if inflight < len(niovs):
            return f"{inflight} buffers in flight, {len(niovs)} held"
        if s.buf.refs() <= s.base_refs:
            return "the dma-buf was released while its buffers are held"
        return None

    def give_back(s):
        held = state.get("held")
        if not held:
            return "no tokens held"
        if not state.get("unbound"):
            return "not unbound: the tokens would go back to a bound dma-buf"
        n = s.st.give_back([t for t, _ in held])
        return None if n == len(held) else f"{n} of {len(held)} tokens freed"

    def released(s):
        if not state.get("unbound"):
            return "not unbound"
        return wait_released(ynl, s.buf, s.id, s.base_refs)

    session_cases(ports, ynl, PORT_UNBIND,
                  list(zip(names, (unbind, give_back, released))))


def read_line(fd, timeout):
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return f"(nothing after {timeout} s)"
        b = os.read(fd, 1)
        if not b:
            return "(exited)"
        line += b
    return line.decode().strip()


def holder(w, buf, ifi, port, n):
    """The child: binds `buf` on its own netlink socket, receives n bytes, keeps their
    tokens and waits to be killed."""
    try:
        from lib import YnlFamily

        y = YnlFamily(SPEC)
        b = Bound(y, ifi, buf, rx_queues(y, ifi))
        srv = listen(port)
        os.write(w, f"bound {b.id}\n".encode())
        st = DevmemStream(accept(srv), {b.id: buf})
        st.recv(n, keep=True)
        os.write(w, f"held {len(st.held)}\n".encode())
        time.sleep(600)
    except BaseException as e:
        try:
            os.write(w, f"error {type(e).__name__}: {e}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(1)


def killed_process(ports, ynl):
    n = 128 << 10
    with Udmabuf(BUF_SIZE) as buf:
        base = buf.refs()
        r, w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            holder(w, buf, ports.ifi, PORT_KILLED, n)
        os.close(w)
        peer = None
        try:
            line = read_line(r, 60)
            if not line.startswith("bound "):
                return f"child: {line}"
            dbid = int(line.split()[1])
            peer = Peer("send", IP_A, PORT_KILLED, n)
            line = read_line(r, 90)
            if not line.startswith("held "):
                return f"child: {line}"
            bound = bound_queues(ynl, ports.ifi)
            if bound != {q: dbid for q in rx_queues(ynl, ports.ifi)}:
                return f"queues {bound} while the child holds binding {dbid}"
            if ports.pci_a not in buf.attachments():
                return f"the dma-buf is attached to {buf.attachments()}, want {ports.pci_a}"
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pid = 0
            print(f"# SIGKILLed the process holding {line.split()[1]} tokens of binding {dbid}",
                  flush=True)

            def unbound():
                left = {q: d for q, d in rx_queue_dmabufs(ynl, ports.ifi).items() if d}
                return f"queues still report a dma-buf: {left}" if left else None
            why = poll(unbound, 30)
            return why or wait_released(ynl, buf, dbid, base)
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(r)
            if peer:
                peer.stop()


def queue_restart(ports, ynl):
    """A transfer into a binding of both queues; at 1 MiB the binding is unbound (both
    queues restart onto pages), at 2 MiB a second udmabuf is bound (both restart onto it).
    The receiver stops reading at each mark until the restart is done; the peer goes on
    sending as far as the window lets it. Every byte of the stream must come through."""
    marks = (1 << 20, 2 << 20)
    queues = rx_queues(ynl, ports.ifi)
    with Udmabuf(BUF_SIZE) as bx, Udmabuf(BUF_SIZE) as bz:
        base_x, base_z = bx.refs(), bz.refs()
        x = Bound(ynl, ports.ifi, bx, queues)
        z = srv = peer = None
        bufs = {x.id: bx}
        reached = [threading.Event() for _ in marks]
        resume = [threading.Event() for _ in marks]
        res = {}

        def rx():
            try:
                conn = accept(srv)
                st = res["st"] = DevmemStream(conn, bufs)
                pos = 0
                for i, m in enumerate(marks):
                    st.recv(m - pos)
                    pos = m
                    reached[i].set()
                    if not resume[i].wait(120):
                        raise RuntimeError(f"no restart at mark {i}")
                st.recv(RESTART_BYTES - pos)
                conn.close()
            except Exception as e:
                res["error"] = f"{type(e).__name__}: {e}"
            finally:
                for ev in reached:
                    ev.set()

        t = threading.Thread(target=rx)
        try:
            # A small receive buffer: most of the stream is still to come at each mark.
            srv = listen(PORT_RESTART, rcvbuf=256 << 10)
            t.start()
            peer = Peer("send", IP_A, PORT_RESTART, RESTART_BYTES)
            if not reached[0].wait(180) or "error" in res:
                return res.get("error", f"the receiver did not reach {marks[0]} bytes")
            t0 = time.monotonic()
            x.unbind()
            left = {q: d for q, d in rx_queue_dmabufs(ynl, ports.ifi).items() if d}
            if left:
                return f"queues still report a dma-buf after unbind: {left}"
            print(f"# at {marks[0]} bytes: unbound dma-buf {x.id}, rx queues {queues} "
                  f"restarted onto pages in {time.monotonic() - t0:.2f} s", flush=True)
            resume[0].set()
            if not reached[1].wait(180) or "error" in res:
                return res.get("error", f"the receiver did not reach {marks[1]} bytes")
            t0 = time.monotonic()
            z = Bound(ynl, ports.ifi, bz, queues)
            bufs[z.id] = bz
            print(f"# at {marks[1]} bytes: bound dma-buf {z.id}, rx queues {queues} "
                  f"restarted onto it in {time.monotonic() - t0:.2f} s", flush=True)
            resume[1].set()
            t.join(180)
            rc = peer.wait(60)
        finally:
            for ev in resume:
                ev.set()
            if peer:
                peer.stop()
            if srv:
                srv.close()
            x.__exit__()
            if z:
                z.__exit__()
        if "error" in res:
            return res["error"]
        if t.is_alive():
            return "the receiver did not finish"
        st = res["st"]
        in_x, in_z = st.by_id.get(x.id, 0), st.by_id.get(z.id, 0)
        print(f"# {st.got} bytes verified: {in_x} in dma-buf {x.id}, then {st.plain_bytes} "
              f"in pages, then {in_z} in dma-buf {z.id}; {st.linear_bytes} linear; "
              f"{st.tokens_returned} of {st.frags} tokens freed", flush=True)
        why = []
        if rc != 0:
            why.append(f"sender rc {rc}")
        if not (in_x and st.plain_bytes and in_z):
            why.append("a phase of the transfer received nothing")
        if st.linear_bytes:
            # igb_rs splits after the TCP header: the payload of a bound queue is all in
            # dma-buf frags, that of an unbound one in readable skbs.
            why.append(f"{st.linear_bytes} bytes in linear skb data, want 0")
        if st.tokens_returned != st.frags:
            why.append(f"{st.tokens_returned} of {st.frags} tokens freed")
        for b, buf, base in ((x, bx, base_x), (z, bz, base_z)):
            w = wait_released(ynl, buf, b.id, base)
            if w:
                why.append(f"binding {b.id}: {w}")
        return "; ".join(why) or None


def bind_unbind_cycles(ports, ynl):
    """CYCLES bind-rx/unbind of rx queue 1 (each restarts it twice) while the peer sends
    a paced copying flow to an ordinary socket on queue 2: the flow goes on with every
    byte right, and no page pool, dma-buf reference or kernel memory is left behind."""
    ifi = ports.ifi
    # Huge pages: the dma-buf's scatterlist has a few 2 MiB entries instead of one per
    # 4 KiB page. Upstream's C binding keeps a genpool chunk per entry and searches the
    # chunks on every net_iov allocation and free; with 4096 of them a bind took 5 s in
    # the C debug build here (0.2 s in the Rust one) and 200 cycles would not finish.
    with Udmabuf(BUF_SIZE, MFD_HUGETLB) as buf:
        base_refs = buf.refs()
        base_pools = len(pool_dmabufs(ynl, ifi))
        srv = listen(PORT_CYCLES, rcvbuf=256 << 10)
        peer = conn = t = None
        stop = threading.Event()
        res = {}
        try:
            # The flow must stay off queue 1: a source port that RSS puts on queue 2,
            # confirmed by the NAPI that received it.
            for sport in sports_for(PORT_CYCLES, [2] * 4):
                peer = Peer("send", IP_A, PORT_CYCLES, 0, "--sport", sport, "--rate", BG_RATE_KIB)
                conn = accept(srv)
                st = DevmemStream(conn, {}, devmem=False)
                st.recv(16 << 10)
                q = flow_queue(ynl, ifi, conn)
                if q == 2:
                    break
                print(f"# the flow from port {sport} arrived on rx queue {q}, not 2", flush=True)
                conn.close()
                peer.stop()
                conn = peer = None
            if conn is None:
                return "no flow arrived on rx queue 2"

            def reader():
                try:
                    while not stop.is_set():
                        st.recv(16 << 10)
                except Exception as e:
                    if not stop.is_set():
                        res["error"] = f"{type(e).__name__}: {e}"

            t = threading.Thread(target=reader)
            t.start()

            def cycle():
                b = Bound(ynl, ifi, buf, [1])
                try:
                    return b.id, rx_queue_dmabufs(ynl, ifi)
                finally:
                    b.unbind()

            def settled():
                n, refs = len(pool_dmabufs(ynl, ifi)), buf.refs()
                if n <= base_pools and refs == base_refs:
                    return None
                return (f"{n} page pools on port A ({base_pools} before), dma-buf file count "
                        f"{refs} ({base_refs} before)")

            # The first bindings allocate what stays (xarray nodes, caches): not counted.
            for _ in range(WARMUP_CYCLES):
                cycle()
            why = poll(settled, 30)
            if why:
                return f"after {WARMUP_CYCLES} cycles: {why}"
            time.sleep(1)
            mem0 = kernel_kib()
            got0, t0 = st.got, time.monotonic()
            for i in range(CYCLES):
                if i and i % 50 == 0:
                    print(f"# {i} cycles in {time.monotonic() - t0:.1f} s", flush=True)
                dbid, shown = cycle()
                if {q: d for q, d in shown.items() if d} != {1: dbid}:
                    return f"cycle {i}: queue-get shows {shown}, want queue 1 on {dbid} only"
                if "error" in res:
                    return f"cycle {i}: the flow failed: {res['error']}"
            dt = time.monotonic() - t0
            got1 = st.got
            why = poll(settled, 30)
            if why:
                return f"after {CYCLES} cycles: {why}"
            time.sleep(1)
            mem1 = kernel_kib()
            alive = poll(lambda: None if st.got >= got1 + (32 << 10) else "stalled", 30)
            print(f"# {CYCLES} bind/unbind cycles of rx queue 1 in {dt:.1f} s "
                  f"({1000 * dt / CYCLES:.0f} ms each); the flow on queue 2 received "
                  f"{got1 - got0} bytes meanwhile, {st.got} in all, every byte checked",
                  flush=True)
            print(f"# kernel memory outside slab and page cache: {mem0[0]} KiB before, "
                  f"{mem1[0]} KiB after ({mem1[0] - mem0[0]:+d}); unreclaimable slab "
                  f"{mem0[1]} -> {mem1[1]} KiB ({mem1[1] - mem0[1]:+d}, not checked)", flush=True)
            why = []
            if "error" in res:
                why.append(f"the flow failed: {res['error']}")
            if got1 == got0:
                why.append("the flow received nothing during the cycles")
            if alive:
                why.append(f"the flow stalled after the cycles ({st.got} bytes)")
            if mem1[0] - mem0[0] > MEM_SLACK_KIB:
                why.append(f"kernel memory grew by {mem1[0] - mem0[0]} KiB over {CYCLES} "
                           f"cycles (allowed {MEM_SLACK_KIB})")
            return "; ".join(why) or None
        finally:
            stop.set()
            if conn:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if t:
                t.join(30)
            if conn:
                conn.close()
            if peer:
                peer.stop()
            srv.close()


def pinged(cmd):
    """None when `cmd` (busybox ping) got a reply to each of its PINGS requests."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", r.stdout)
    if m and int(m.group(1)) == PINGS and int(m.group(2)) == PINGS:
        return None
    tail = (r.stdout.strip().splitlines() or [r.stderr.strip()])[-1]
    return f"{' '.join(cmd[cmd.index('ping'):])}: exit {r.returncode}, {tail}"


def udp_from_peer():
    """None when every datagram of UDP_DATAGRAMS the peer sends to port A arrives whole."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind((IP_A, PORT_REACH))
        send = ("import socket, sys, time\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for i, n in enumerate(int(a) for a in sys.argv[3:]):\n"
                "    s.sendto(bytes([i]) * n, (sys.argv[1], int(sys.argv[2])))\n"
                "    time.sleep(0.02)\n")
        subprocess.run(["ip", "netns", "exec", NS, "python3", "-c", send, IP_A, str(PORT_REACH)]
                       + [str(n) for n in UDP_DATAGRAMS], check=True, timeout=60)
        got = []
        while len(got) < len(UDP_DATAGRAMS) and readable(rx, 5):
            got.append(rx.recv(65536))
        want = [bytes([i]) * n for i, n in enumerate(UDP_DATAGRAMS)]
        if got != want:
            return (f"UDP: {len(got)} of {len(want)} datagrams arrived, "
                    f"{sum(g in want for g in got)} of them whole")
        return None
    finally:
        rx.close()


def reachable_while_bound(ports, ynl):
    """Port A stays reachable with every rx queue a binding may take bound, and no fixed
    neighbour entry on either end: the peer resolves port A by ARP and pings it (56 bytes,
    and 3000 bytes in IP fragments), port A resolves and pings the peer, the same over
    IPv6 (neighbour discovery, ICMPv6, IPv6 fragments), UDP datagrams from the peer
    arrive whole (one in IP fragments); the devmem flow bound before goes on with every
    byte in the dma-buf, and the kernel reports nothing."""
    log = KernelLog()
    s = Session(ports, ynl, PORT_REACH)
    try:
        ports.forget_neighbours()
        ping = ["busybox", "ping", "-c", str(PINGS), "-W", "3"]
        peer = ["ip", "netns", "exec", NS]
        why = []
        for step in (lambda: pinged(peer + ping + [IP_A]),
                     lambda: pinged(peer + ping + ["-s", "3000", IP_A]),
                     lambda: pinged(ping + [IP_B]),
                     lambda: pinged(peer + ping + ["-6", IP6_A]),
                     lambda: pinged(peer + ping + ["-6", "-s", "3000", IP6_A]),
                     lambda: pinged(ping + ["-6", IP6_B]),
                     udp_from_peer):
            try:
                w = step()
            except OSError as e:
                w = f"{type(e).__name__}: {e}"
            if w:
                why.append(w)
        if not why:
            w = s.transfer(256 << 10)
            if w:
                why.append(f"the devmem flow: {w}")
        why += [f"the kernel reported: {r}" for r in log.reports()[:1]]
        return "; ".join(why) or None
    finally:
        s.close()
        log.close()


def ethtool_stats(ifname):
    out = subprocess.run(["ethtool", "-S", ifname], check=True, capture_output=True,
                         text=True).stdout
    return {k: int(v) for k, v in re.findall(r"^\s*(\S+): (\d+)$", out, re.M)}


def refused_bind_restarts_nothing(ports, ynl):
    """bind-rx of queues 1 and 2 while queue 2 is bound fails with EEXIST before a binding
    is made, and so before any queue restarts: the next binding gets the id after the
    one bound before (ids are given cyclically, in both builds). Made first and unbound
    on the error path, the refused binding took an id, and queue 1 ran with it in between
    and could take packets into it, under an id the caller never got (the chaos run met
    that)."""
    from lib import NlError

    ifi = ports.ifi
    with Udmabuf(4 << 20) as b2, Udmabuf(4 << 20) as b12, Udmabuf(4 << 20) as b1, \
            Bound(ynl, ifi, b2, [2]) as x:
        try:
            r = ynl.do("bind-rx", {"ifindex": ifi, "fd": b12.fd,
                                   "queues": [{"id": q, "type": "rx"} for q in (1, 2)]})
            ynl.do("unbind", {"id": r["id"]})
            return "bind-rx of queues 1 and 2 succeeded with queue 2 bound"
        except NlError as e:
            if -e.nl_msg.error != errno.EEXIST:
                return f"errno {-e.nl_msg.error}, want EEXIST"
        with Bound(ynl, ifi, b1, [1]) as y:
            if y.id != x.id + 1:
                return (f"the next binding got id {y.id} after {x.id}: the refused "
                        f"bind-rx made a binding")
        return None


def rx_alloc_fails(ports):
    """The sum of port A's rx<q>_alloc_fail counters (ethtool -S)."""
    return sum(v for k, v in ethtool_stats(ports.if_a).items()
               if re.fullmatch(r"rx\d+_alloc_fail", k))


class Capture:
    """An AF_PACKET socket on port A that keeps the first CAPTURE_HEAD bytes of each
    frame it receives from the wire (a devmem frame's headers are readable, its payload
    is not) and the frame's length. A thread reads it as frames come: a queued frame
    holds its rx buffers, which a binding short of them needs back."""

    def __init__(self, ifname):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.setblocking(False)
        self.buf = bytearray(CAPTURE_HEAD)
        self.frames = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop)
        self.t.start()

    def drain(self):
        while True:
            try:
                # MSG_TRUNC: the frame's whole length, of which CAPTURE_HEAD bytes are read.
                n, addr = self.s.recvfrom_into(self.buf, CAPTURE_HEAD, socket.MSG_TRUNC)
            except BlockingIOError:
                return
            if addr[2] != socket.PACKET_OUTGOING:
                self.frames.append((bytes(self.buf[:min(n, CAPTURE_HEAD)]), n))

    def loop(self):
        while not self.stop.is_set():
            select.select([self.s], [], [], 0.05)
            self.drain()

    def close(self):
        """Stops reading; returns the frames captured."""
        self.stop.set()
        self.t.join()
        self.drain()
        self.s.close()
        return self.frames


def flow_frames_wrong(frames, sport, dport):
    """Of captured (head, length) frames, those from the peer's sport to dport are the
    flow's: each must carry an IPv4 header from IP_B to IP_A with a right checksum, TCP
    to the flow's ports, and a length that is the IP total length's (padded to 60 bytes),
    or, for a devmem skb whose payload the capture cannot read (AF_PACKET keeps its
    headers alone), that of its headers. GRO may have merged segments: the total length
    is the merged one. Returns (count of the flow's frames, what was wrong with the first
    bad one or None)."""
    n = 0
    for head, length in frames:
        if len(head) < 54 or head[12:14] != b"\x08\x00":
            continue
        ip = head[14:34]
        if ip[9] != socket.IPPROTO_TCP or ip[12:16] != socket.inet_aton(IP_B):
            continue
        sp, dp = struct.unpack("!HH", head[34:38])
        if (sp, dp) != (sport, dport):
            continue
        n += 1
        tot = struct.unpack("!H", ip[2:4])[0]
        csum = sum(struct.unpack("!10H", ip))
        csum = (csum & 0xFFFF) + (csum >> 16)
        headers = 14 + (ip[0] & 0xF) * 4 + (head[46] >> 4) * 4
        if (ip[16:20] != socket.inet_aton(IP_A) or csum != 0xFFFF
                or length not in (max(14 + tot, 60), headers) or headers > 14 + tot):
            return n, (f"frame {n} of the flow: {length} bytes, IP total length {tot}, "
                       f"headers {headers} bytes, IP header {ip.hex()}")
    return n, None


def exhaustion(ports, ynl, port=PORT_EXHAUST):
    """A udmabuf with fewer rx pages than the two rings hold, bound to both: the peer sends
    EXHAUST_BYTES while every token is withheld, until nothing more arrives (no buffer
    left); then the tokens go back and the rest of the transfer completes, every byte
    right, with the refills that failed counted, and a second transfer runs as usual.
    The flow is steered to queue 1, whose ring is made first and so takes the pages; queue
    2's gets what is left (nothing, in the runs so far), and a flow there could not even
    connect. An AF_PACKET capture on port A meanwhile must see the flow's frames, each
    with a sound IPv4 header from the peer whose length is the frame's (a ring that
    reused a stale write-back would deliver a frame the peer did not send)."""
    fails = rx_alloc_fails(ports)
    sport = sports_for(port, [1])[0]
    cap = Capture(ports.if_a)
    try:
        why = exhaust(ports, ynl, port, sport, fails)
    finally:
        frames = cap.close()
    n, bad = flow_frames_wrong(frames, sport, port)
    print(f"# AF_PACKET: {len(frames)} frames received, {n} of the flow", flush=True)
    if not why and (bad or not n):
        why = bad or "AF_PACKET saw none of the flow's frames"
    return why


def exhaustion_jumbo(ports, ynl):
    """rx_buffers_run_out_and_come_back at MTU 9000 on both ends: each frame spans
    several payload buffers (the mean frame on queue 1 must be larger than one)."""
    def counts():
        st = ethtool_stats(ports.if_a)
        return st["rx1_packets"], st["rx1_bytes"]
    try:
        ports.set_mtu(9000)
        p0, b0 = counts()
        why = exhaustion(ports, ynl, PORT_EXHAUST_JUMBO)
        p1, b1 = counts()
        mean = (b1 - b0) // max(p1 - p0, 1)
        print(f"# queue 1: {p1 - p0} frames, {mean} bytes each on average", flush=True)
        if not why and mean <= RX_PAGE:
            why = f"frames of {mean} bytes on average: none spanned two buffers"
        return why
    finally:
        ports.set_mtu(1500)


def exhaust(ports, ynl, port, sport, fails):
    s = Session(ports, ynl, port, size=EXHAUST_BUF, sport=sport)
    try:
        s.st.request(EXHAUST_BYTES)
        while readable(s.conn, 5):
            tokens = s.st._recv_once(65536)
            if tokens is None:
                return f"connection closed at stream byte {s.st.got}"
            s.st.held += tokens
        held, s.st.held = s.st.held, []
        stalled_at = s.st.got
        print(f"# stalled at {stalled_at} bytes with {len(held)} tokens withheld", flush=True)
        if stalled_at >= EXHAUST_BYTES:
            return f"all {EXHAUST_BYTES} bytes arrived with every token withheld"
        if s.st.give_back([t for t, _ in held]) != len(held):
            return f"not all of the {len(held)} withheld tokens were freed"
        s.st.recv(EXHAUST_BYTES - stalled_at)
        if rx_alloc_fails(ports) <= fails:
            return "no rx buffer allocation failure was counted"
        return s.transfer(256 << 10)
    finally:
        s.close()


def module_text(name):
    """The lowest and highest address of module `name`'s text symbols (/proc/kallsyms),
    the end rounded up past the last function."""
    addrs = []
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4 and parts[3] == f"[{name}]" and parts[1] in "tT":
                addrs.append(int(parts[0], 16))
    if not addrs or not min(addrs):
        raise RuntimeError(f"no text symbols of {name} in /proc/kallsyms")
    return min(addrs), max(addrs) + 4096


class FaultInjection:
    """failslab and fail_page_alloc (debugfs) for allocations with module `name` on their
    stack, GFP_ATOMIC ones only (those of NAPI and of the stack under it), and
    fail_function for every call of FAULT_FUNCTION: FAULT_PERCENT of them, silently (a
    report would print a call trace); injected() counts the failures so far; close()
    turns them off."""

    def __init__(self, name):
        lo, hi = module_text(name)
        self.base = {}
        self.write("fail_function", "inject", FAULT_FUNCTION)
        for attr in FAULT_ATTRS:
            settings = {"probability": 0, "interval": 1, "times": FAULT_TIMES, "space": 0,
                        "verbose": 0, "task-filter": "N",
                        "stacktrace-depth": 32, "require-start": lo, "require-end": hi,
                        "reject-start": 0, "reject-end": 0}
            if attr == "fail_function":
                settings.update({"require-start": 0, "require-end": (1 << 64) - 1})
            else:
                settings["ignore-gfp-wait"] = "Y"
            if attr == "fail_page_alloc":
                settings.update({"min-order": 0, "ignore-gfp-highmem": "N"})
            for k, v in settings.items():
                self.write(attr, k, v)
            self.base[attr] = self.read(attr, "times")
        for attr in FAULT_ATTRS:
            self.write(attr, "probability", FAULT_PERCENT)

    @staticmethod
    def write(attr, key, value):
        with open(f"/sys/kernel/debug/{attr}/{key}", "w") as f:
            f.write(f"{value}\n")

    @staticmethod
    def read(attr, key):
        with open(f"/sys/kernel/debug/{attr}/{key}") as f:
            return int(f.read().strip())

    def injected(self):
        return {a: self.base[a] - self.read(a, "times") for a in FAULT_ATTRS}

    def close(self):
        for attr in FAULT_ATTRS:
            self.write(attr, "probability", 0)
        # An empty line detaches every injected function.
        self.write("fail_function", "inject", "")


def driver_drops(ports):
    """The sum of port A's rx<q>_dropped and rx<q>_alloc_fail counters."""
    return sum(v for k, v in ethtool_stats(ports.if_a).items()
               if re.fullmatch(r"rx\d+_(dropped|alloc_fail)", k))


def fault_injection(ports, ynl):
    """A devmem transfer while FAULT_PERCENT of the atomic slab and page allocations and
    of the page pool's allocations (FAULT_FUNCTION) made with igb_rs on the stack fail
    (its skbs, its header pages, its net_iovs, and what the stack allocates under its
    poll): every byte arrives right and in the dma-buf, failures were injected, the
    driver counted the frames it dropped or the buffers it could not get, and the kernel
    reported nothing wrong."""
    log = KernelLog()
    s = Session(ports, ynl, PORT_FAULTS)
    try:
        if s.transfer(64 << 10):
            return "the transfer before fault injection failed"
        drops = driver_drops(ports)
        faults = FaultInjection("igb_rs")
        try:
            why = s.transfer(FAULT_BYTES)
        finally:
            faults.close()
        injected = faults.injected()
        dropped = driver_drops(ports) - drops
        print(f"# failures injected: {injected}; driver drops and failed refills: {dropped}",
              flush=True)
        if why:
            return f"under fault injection: {why}"
        if not sum(injected.values()):
            return "no failure was injected"
        if not dropped:
            return "the driver counted no drop and no failed refill"
        why = s.transfer(256 << 10)
        if why:
            return f"after fault injection: {why}"
        bad = log.reports()
        return f"the kernel reported: {bad[0]}" if bad else None
    finally:
        s.close()
        log.close()


def pci_remove(ports, ynl):
    """Removes port A's PCI function while bound, with tokens held: the netdev goes, the
    tokens can still be returned, unbind still works, and the dma-buf is released."""
    from lib import NlError

    s = Session(ports, ynl, PORT_REMOVE)
    try:
        held = s.hold(64 << 10)
        if_a, ifi = ports.if_a, ports.ifi
        why = ports.take_a_away("pci_remove")
        print(f"# removed {ports.pci_a} ({if_a}) holding {len(held)} tokens of binding {s.id}",
              flush=True)
        if why:
            return why
        try:
            qs = ynl.dump("queue-get", {"ifindex": ifi})
            return f"queue-get still lists {len(qs)} queues of ifindex {ifi}"
        except NlError as e:
            if -e.nl_msg.error != errno.ENODEV:
                return f"queue-get of the removed ifindex: errno {-e.nl_msg.error}, want ENODEV"
        n = s.st.give_back([t for t, _ in held])
        if n != len(held):
            return f"{n} of {len(held)} tokens freed after the remove"
        s.bound.unbind()
        s.close_conn()
        return wait_released(ynl, s.buf, s.id, s.base_refs)
    finally:
        s.close()


def pci_rescan(ports, ynl):
    """Brings port A back (rescan with autoprobe off, so that the C igb driver does not
    take it) on igb_rs, and receives into a new binding there."""
    ports.restore_a()
    drv = driver_of(ports.pci_a)
    if drv != "igb_rs":
        return f"{ports.pci_a} is on {drv}"
    if not ports.tcp_data_split_on():
        return "ethtool -G tcp-data-split on failed"
    s = Session(ports, ynl, PORT_RESCAN)
    try:
        return s.transfer(64 << 10)
    finally:
        s.close()


def leftovers(ports, ynl):
    """Unbinds what a failed case may have left on port A's queues (bindings of this
    socket; others are refused and reported), so that the next case starts clean."""
    try:
        if not os.path.exists(f"/sys/class/net/{ports.if_a}"):
            return
        bound = {d for d in rx_queue_dmabufs(ynl, ports.ifi).values() if d}
        for dbid in sorted(bound):
            print(f"# rx queues still bound to dma-buf {dbid} after the case: unbinding",
                  flush=True)
            ynl.do("unbind", {"id": dbid})
    except Exception as e:
        print(f"# cleanup after the case: {type(e).__name__}: {e}", flush=True)


def main():
    from lib import YnlFamily

    ports = Ports()
    if not ports.tcp_data_split_on():
        raise RuntimeError("ethtool -G tcp-data-split on failed")
    ynl = YnlFamily(SPEC)

    def case(name, fn):
        check(name, lambda: fn(ports, ynl))
        leftovers(ports, ynl)

    def on_session(port, cases):
        session_cases(ports, ynl, port, cases)
        leftovers(ports, ynl)

    case("port_a_reachable_while_bound", reachable_while_bound)
    case("several_flows_both_queues", several_flows)
    case("several_flows_both_queues_ipv6", lambda p, y: several_flows(p, y, IP6_B, IP6_A))
    case("bind_rx_refused_restarts_nothing", refused_bind_restarts_nothing)
    on_session(PORT_SIZES, [("payload_sizes_all_in_dmabuf", payload_sizes)])
    on_session(PORT_DONTNEED, [
        ("dontneed_unknown_token", dontneed_unknown_token),
        ("dontneed_over_128_tokens", dontneed_over_limit),
        ("dontneed_range_past_end", dontneed_range_past_end),
        ("dontneed_double_release", dontneed_double_release),
    ])
    on_session(PORT_EFAULT, [("recv_without_msg_sock_devmem_efault", recv_without_devmem_flag)])
    unbind_holding_tokens(ports, ynl)
    leftovers(ports, ynl)
    case("killed_process_releases_binding", killed_process)
    case("queue_restart_during_transfer", queue_restart)
    case("rx_buffers_run_out_and_come_back", exhaustion)
    case("rx_buffers_run_out_and_come_back_mtu9000", exhaustion_jumbo)
    case("rx_under_fault_injection", fault_injection)
    case(f"bind_unbind_{CYCLES}_cycles_under_traffic", bind_unbind_cycles)
    # Last: the port goes away and comes back.
    case("pci_remove_while_bound", pci_remove)
    case("pci_rescan_back_on_igb_rs", pci_rescan)
    ports.close()


if __name__ == "__main__":
    run(main)
