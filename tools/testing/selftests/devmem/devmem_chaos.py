#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A bounded chaos run on port A (igb_rs), port B (C igb) in its own netns as the peer:
# a seeded random sequence of bind-rx and bind-tx (on netlink sockets of their own or
# shared), the unbind op, netlink socket close, queue restarts (ethtool -L, ethtool -G
# tcp-data-split), link down/up, driver unbind and rebind, PCI remove and rescan, and a
# forked process that binds and is killed with SIGKILL, while the peer sends a paced
# stream into a devmem socket whose receiver returns its tokens with SO_DEVMEM_DONTNEED
# in random ranges (junk ones too) or withholds them for a while. Every received byte is
# checked against the peer's pattern; every DONTNEED must free exactly the held tokens in
# its ranges.
#
# It passes when no step fails in a way its state does not explain (the errnos each step
# may get are listed with it), the kernel logs no BUG, WARNING, KASAN or Oops record,
# everything bound is released at the end (no page pool reports it, the dma-bufs' file
# counts are back, nothing attached), and a fresh binding then receives a transfer whole.
# kmemleak and the leak gate run after the suite (devtools/guest-check.sh).
#
# The run lasts SECONDS and follows SEED, read from devmem_chaos.conf next to this file
# ("seconds=N" and "seed=N" lines; `make soak` writes it), else 120 s and seed 1. A
# failing run prints its seed and its last steps; the same seed replays the same steps
# (their timing against the traffic differs).

import errno
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import (HERE, IP_A, MAX_DONTNEED_TOKENS, SPEC, DevmemStream,  # noqa: E402
                        KernelLog, Peer, Ports, Udmabuf, accept, dontneed, listen, poll,
                        pools_of, readable, rx_queues, sports_for, wait_released)
from ktap import check, run  # noqa: E402

PORT = 5401
FINAL_PORT = 5402
RATE_KIB = 512
FLOW_QUEUE = 1  # the stream's rx queue; the killed process binds only the other one
BUF_SIZES = (1 << 20, 2 << 20, 4 << 20)  # 1 MiB: fewer rx pages than a ring holds
MAX_BOUND = 6  # live bindings of each kind of the main process
# Bindings made in one run: their udmabufs stay open to the end (the stream may read a
# retired one, and the final check reads each one's file count): about 350 MiB.
MAX_BINDS = 150
MAX_HELD = 4096  # tokens the receiver may withhold
MAX_DONTNEED_FRAGS = 1024  # net/core/sock.c: tokens one SO_DEVMEM_DONTNEED walks
HISTORY = 30
# What may break the stream's connection (a reset by the peer's restart, the port gone).
BREAKS = (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT, errno.EHOSTUNREACH,
          errno.ENETUNREACH, errno.ECONNABORTED)


def conf():
    seconds, seed = 120, 1
    path = os.path.join(HERE, "devmem_chaos.conf")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k == "seconds":
                    seconds = int(v)
                elif k == "seed":
                    seed = int(v)
    return seconds, seed


class Failed(Exception):
    pass


class Buffers(dict):
    """Binding id -> Udmabuf, for the receiver: a lookup waits while a bind is between
    its reply and its entry here (the stream may land in the new binding at once)."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def get(self, key, default=None):
        with self.lock:
            return super().get(key, default)


class Receiver:
    """The stream: the peer's tcp_pattern.py sends forever at RATE_KIB from source ports
    RSS puts on FLOW_QUEUE; this thread reads it with MSG_SOCK_DEVMEM, checks every byte
    and returns tokens at random. When the connection breaks (the port went away) or the
    main thread asks, it connects anew."""

    def __init__(self, rng, bufs):
        self.rng, self.bufs = rng, bufs
        self.srv = listen(PORT)
        self.sports = sports_for(PORT, [FLOW_QUEUE] * 32)
        self.next_sport = 0
        self.stop = threading.Event()
        self.restart = threading.Event()
        self.error = None
        self.conn = self.peer = self.st = None
        self.held = set()
        self.bytes = self.devmem_bytes = self.connections = self.dontneeds = self.junk = 0
        self.breaks = {}  # errno name -> connections it broke
        # A daemon: a case interrupted by its timeout must not keep the program alive.
        self.t = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.t.start()

    def connect(self):
        sport = self.sports[self.next_sport % len(self.sports)]
        self.next_sport += 1
        self.peer = Peer("send", IP_A, PORT, 0, "--sport", sport, "--rate", RATE_KIB)
        if not readable(self.srv, 30):
            self.peer.stop()
            self.peer = None
            return False
        self.conn = accept(self.srv)
        self.conn.settimeout(1)
        self.st = DevmemStream(self.conn, self.bufs)
        self.held = set()
        self.connections += 1
        return True

    def disconnect(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.peer:
            self.peer.stop()
            self.peer = None
        if self.st:
            self.bytes += self.st.got
            self.devmem_bytes += self.st.devmem_bytes
            self.st = None
        self.held = set()

    def give_back(self, idle=False):
        """Returns held tokens: all of them, or random ranges around them and junk ones;
        the count freed must be the held tokens inside the ranges. When the stream is
        idle (its buffers may all be held), all of them."""
        if not self.held:
            return
        rng = self.rng
        if not idle and len(self.held) < MAX_HELD and rng.random() < 0.2:
            return  # withheld for now
        if idle or rng.random() < 0.6:
            toks = sorted(self.held)
            for i in range(0, len(toks), MAX_DONTNEED_TOKENS):
                part = toks[i:i + MAX_DONTNEED_TOKENS]
                n = dontneed(self.conn, [(t, 1) for t in part])
                if n != len(part):
                    raise Failed(f"DONTNEED of {len(part)} held tokens freed {n}")
            self.held = set()
            self.dontneeds += 1
            return
        held = sorted(self.held)
        ranges = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.2:
                ranges.append((rng.randint(1 << 20, 1 << 31), rng.randint(1, 64)))
                self.junk += 1
            else:
                t = rng.choice(held) + rng.randint(-8, 8)
                ranges.append((max(t, 0), rng.randint(1, 64)))
        # Each range is walked token by token, up to MAX_DONTNEED_FRAGS in all.
        inside = set()
        for s, c in ranges:
            inside |= {t for t in self.held if s <= t < s + c}
        n = dontneed(self.conn, ranges)
        if n != len(inside):
            raise Failed(f"DONTNEED of ranges {ranges} freed {n}, held inside {len(inside)}")
        self.held -= inside
        self.dontneeds += 1

    def loop(self):
        try:
            while not self.stop.is_set():
                if self.restart.is_set():
                    self.restart.clear()
                    self.disconnect()
                if not self.conn:
                    if not self.connect():
                        time.sleep(0.5)
                    continue
                try:
                    tokens = self.st._recv_once(65536)
                except socket.timeout:
                    self.give_back(idle=True)
                    continue
                except OSError as e:
                    # Reset, or gone with the port; anything else is a failure.
                    if e.errno not in BREAKS:
                        raise
                    name = errno.errorcode[e.errno]
                    self.breaks[name] = self.breaks.get(name, 0) + 1
                    self.disconnect()
                    continue
                if tokens is None:
                    self.disconnect()
                    continue
                self.held |= {t for t, _ in tokens}
                self.give_back()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.disconnect()

    def finish(self):
        self.stop.set()
        self.t.join(60)
        self.srv.close()


class Chaos:
    def __init__(self, ports, seed):
        from lib import YnlFamily
        self.YnlFamily = YnlFamily
        self.ports, self.seed = ports, seed
        self.rng = random.Random(seed)
        self.bufs = Buffers()
        self.socks = [YnlFamily(SPEC)]  # netlink sockets; [0] is never closed
        self.bound = []  # (sock index, id, kind, buf)
        self.queues = {}  # rx binding id -> the rx queues it holds
        self.released = []  # (id, buf, refs before its bind): must all be gone at the end
        self.history = []
        self.counts = {}
        self.rx = Receiver(random.Random(seed + 1), self.bufs)
        self.stream_failed = False

    def note(self, what):
        self.history.append(what)
        del self.history[:-HISTORY]
        key = what.split(":")[0]
        self.counts[key] = self.counts.get(key, 0) + 1

    def sock(self):
        if len(self.socks) < 4 and self.rng.random() < 0.3:
            self.socks.append(self.YnlFamily(SPEC))
        i = self.rng.randrange(len(self.socks))
        return i, self.socks[i]

    def new_buf(self):
        buf = Udmabuf(self.rng.choice(BUF_SIZES))
        return buf, buf.refs()

    def nl(self, sock, op, attrs, may):
        """The reply, or None for an errno in `may`; any other errno fails."""
        from lib import NlError
        try:
            return sock.do(op, attrs)
        except NlError as e:
            err = -e.nl_msg.error
            if err in may:
                return None
            raise Failed(f"{op}: errno {err} ({errno.errorcode.get(err)}), "
                         f"extack {(e.nl_msg.extack or {}).get('msg')!r}")

    # The steps.

    def enough(self, kind):
        return (sum(1 for b in self.bound if b[2] == kind) >= MAX_BOUND
                or len(self.released) >= MAX_BINDS)

    def bind_rx(self):
        if self.enough("rx"):
            return "bind_rx: enough"
        queues = rx_queues(self.socks[0], self.ports.ifi)
        want = self.rng.sample(queues, self.rng.randint(1, len(queues)))
        i, s = self.sock()
        buf, refs = self.new_buf()
        with self.bufs.lock:
            # EEXIST: a queue is bound already (by us or the killed process).
            r = self.nl(s, "bind-rx", {"ifindex": self.ports.ifi, "fd": buf.fd,
                                       "queues": [{"id": q, "type": "rx"} for q in want]},
                        (errno.EEXIST,))
            if r:
                dict.__setitem__(self.bufs, r["id"], buf)
        taken = self.taken() & set(want)
        if not r:
            buf.close()
            if not taken:
                raise Failed(f"bind-rx of {sorted(want)}: EEXIST, but none of them is bound")
            return f"bind_rx: {sorted(want)} EEXIST"
        if taken:
            raise Failed(f"bind-rx of {sorted(want)} made binding {r['id']}, but "
                         f"{sorted(taken)} were bound")
        self.queues[r["id"]] = set(want)
        self.bound.append((i, r["id"], "rx", buf))
        self.released.append((r["id"], buf, refs))
        return f"bind_rx: {r['id']} on {sorted(want)} via socket {i}, {buf.size >> 20} MiB"

    def bind_tx(self):
        if self.enough("tx"):
            return "bind_tx: enough"
        i, s = self.sock()
        buf, refs = self.new_buf()
        r = self.nl(s, "bind-tx", {"ifindex": self.ports.ifi, "fd": buf.fd}, ())
        self.bound.append((i, r["id"], "tx", buf))
        self.released.append((r["id"], buf, refs))
        return f"bind_tx: {r['id']} via socket {i}"

    def unbind(self):
        if not self.bound:
            return "unbind: nothing bound"
        b = self.bound.pop(self.rng.randrange(len(self.bound)))
        self.nl(self.socks[b[0]], "unbind", {"id": b[1]}, ())
        self.queues.pop(b[1], None)
        return f"unbind: {b[2]} {b[1]}"

    def close_socket(self):
        if len(self.socks) < 2:
            return "close_socket: none of its own"
        i = self.rng.randrange(1, len(self.socks))
        self.socks[i].sock.close()
        gone = [b for b in self.bound if b[0] == i]
        for b in gone:
            self.queues.pop(b[1], None)
        self.bound = [(j - (j > i), *rest) for j, *rest in self.bound if j != i]
        del self.socks[i]
        return f"close_socket: {i} with {[b[1] for b in gone]}"

    def ethtool(self, *args):
        return subprocess.run(["ethtool", *args], capture_output=True).returncode

    def taken(self):
        """The rx queues the main process's bindings hold."""
        return set().union(*self.queues.values())

    def channels(self):
        # 4, or back to 3 (refused while queue 3 is bound); the RSS table over queues 1
        # and 2 that the tests set stays, so 2 would be refused.
        n = self.rng.choice((3, 4))
        rc = self.ethtool("-L", self.ports.if_a, "combined", str(n))
        if (rc != 0) != (n == 3 and 3 in self.taken()):
            raise Failed(f"ethtool -L combined {n}: rc {rc} with rx queues "
                         f"{sorted(self.taken())} bound")
        return f"channels: -L combined {n}: rc {rc}"

    def hds(self):
        # Refused while a queue is bound; otherwise every queue restarts twice.
        rc = self.ethtool("-G", self.ports.if_a, "tcp-data-split", "off")
        if (rc != 0) != bool(self.taken()):
            raise Failed(f"ethtool -G tcp-data-split off: rc {rc} with rx queues "
                         f"{sorted(self.taken())} bound")
        if rc == 0 and not self.ports.tcp_data_split_on():
            raise Failed("ethtool -G tcp-data-split on failed after off")
        return f"hds: -G tcp-data-split off: rc {rc}"

    def link(self):
        subprocess.run(["ip", "link", "set", self.ports.if_a, "down"], check=True)
        time.sleep(self.rng.random())
        subprocess.run(["ip", "link", "set", self.ports.if_a, "up"], check=True)
        return "link: down, up"

    def remove(self, how):
        why = self.ports.take_a_away(how)
        if why:
            raise Failed(why)
        # The netdev went with every queue its bindings held; their ids stay to unbind.
        self.queues.clear()
        time.sleep(self.rng.random())
        self.ports.restore_a()
        if not self.ports.tcp_data_split_on():
            raise Failed("ethtool -G tcp-data-split on failed after the port came back")
        self.rx.restart.set()
        return f"{how}: {self.ports.pci_a} back as {self.ports.if_a}"

    def killed(self):
        """A forked process binds a udmabuf to the rx queue the stream is not on and one
        with bind-tx, says so and is killed; its bindings must go. Its rx bind may get
        EEXIST only when that queue is bound here already; nothing else may fail."""
        other = [q for q in rx_queues(self.socks[0], self.ports.ifi) if q != FLOW_QUEUE]
        # Made before the fork, so that their file counts can be watched from here.
        bufs = {"rx": Udmabuf(1 << 20), "tx": Udmabuf(1 << 20)}
        refs = {k: b.refs() for k, b in bufs.items()}
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                y = self.YnlFamily(SPEC)
                out = []
                for kind, b in bufs.items():
                    attrs = {"ifindex": self.ports.ifi, "fd": b.fd}
                    if kind == "rx":
                        attrs["queues"] = [{"id": q, "type": "rx"} for q in other[:1]]
                    try:
                        out.append(f"{kind}={y.do(f'bind-{kind}', attrs)['id']}")
                    except Exception as e:
                        err = getattr(getattr(e, "nl_msg", None), "error", None)
                        name = errno.errorcode.get(-err, str(err)) if err else repr(e)
                        out.append(f"{kind}={name}")
                os.write(w, (" ".join(out) + "\n").encode())
                time.sleep(60)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        got = b""
        if readable(r, 30):
            got = os.read(r, 256)
        os.close(r)
        time.sleep(self.rng.random())
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        try:
            res = dict(x.split("=", 1) for x in got.decode().split())
            ids = {}
            for kind in ("rx", "tx"):
                v = res.get(kind)
                if v is not None and v.isdigit():
                    ids[kind] = int(v)
                elif not (kind == "rx" and v == "EEXIST" and other[:1]
                          and other[0] in self.taken()):
                    raise Failed(f"the process to be killed: bind-{kind}: {v or 'no answer'}"
                                 f" (rx queues {sorted(self.taken())} bound here)")
            for kind, dbid in ids.items():
                why = wait_released(self.socks[0], bufs[kind], dbid, refs[kind])
                if why:
                    raise Failed(f"the killed process's {kind} binding {dbid}: {why}")
        finally:
            for b in bufs.values():
                b.close()
        return f"killed: a process holding bindings {ids}"

    def pause(self):
        t = self.rng.uniform(0.1, 1.0)
        time.sleep(t)
        return f"pause: {t:.1f} s"

    STEPS = (
        ("bind_rx", 5), ("bind_tx", 2), ("unbind", 5), ("close_socket", 2),
        ("channels", 1), ("hds", 1), ("link", 1), ("driver_unbind", 1),
        ("pci_remove", 1), ("killed", 1), ("pause", 3),
    )

    def step(self, name):
        if name in ("driver_unbind", "pci_remove"):
            return self.remove(name)
        return getattr(self, name)()

    def run(self, seconds):
        names = [n for n, w in self.STEPS for _ in range(w)]
        self.rx.start()
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            name = self.rng.choice(names)
            n += 1
            try:
                self.note(self.step(name))
            except Exception as e:
                self.note(f"{name}: {type(e).__name__}: {e}")
                return f"step {n} ({name}): {type(e).__name__}: {e}"
            if self.rx.error:
                self.stream_failed = True
                return f"the stream, after step {n}: {self.rx.error}"
        return None

    def undo(self):
        """Stops the stream, unbinds what is bound, closes the sockets; then everything
        ever bound must be released."""
        why = []
        self.rx.finish()
        if self.rx.error and not self.stream_failed:
            why.append(f"the stream: {self.rx.error}")
        for i, dbid, kind, buf in self.bound:
            try:
                self.nl(self.socks[i], "unbind", {"id": dbid}, ())
            except Exception as e:
                why.append(f"unbind {kind} {dbid}: {e}")
        self.bound = []
        for s in self.socks[1:]:
            s.sock.close()
        del self.socks[1:]
        for dbid, buf, refs in self.released:
            w = wait_released(self.socks[0], buf, dbid, refs)
            if w:
                why.append(f"binding {dbid}: {w}")
                break
        for _, buf, _ in self.released:
            buf.close()
        return why


def final_transfer(ports, ynl):
    """A fresh binding of queues 1 and 2 receives 256 KiB whole in the dma-buf."""
    sport = sports_for(FINAL_PORT, [FLOW_QUEUE])[0]
    with Udmabuf(4 << 20) as buf:
        r = ynl.do("bind-rx", {"ifindex": ports.ifi, "fd": buf.fd,
                               "queues": [{"id": q, "type": "rx"}
                                          for q in rx_queues(ynl, ports.ifi)]})
        srv = listen(FINAL_PORT)
        peer = Peer("send", IP_A, FINAL_PORT, 256 << 10, "--sport", sport)
        try:
            conn = accept(srv)
            st = DevmemStream(conn, {r["id"]: buf})
            dm, lin, plain, _ = st.recv(256 << 10)
            conn.close()
            if dm != 256 << 10:
                return f"256 KiB: {dm} in the dma-buf, {lin} linear, {plain} plain"
            return None
        finally:
            peer.stop()
            srv.close()
            ynl.do("unbind", {"id": r["id"]})


def main():
    seconds, seed = conf()
    ports = Ports()
    if not ports.tcp_data_split_on():
        raise RuntimeError("ethtool -G tcp-data-split on failed")
    log = KernelLog()
    c = Chaos(ports, seed)
    print(f"# chaos: {seconds} s, seed {seed}", flush=True)
    res = {}

    def chaos():
        try:
            why = c.run(seconds)
        except BaseException:
            c.rx.stop.set()
            raise
        undo = c.undo()
        rx = c.rx
        print(f"# {sum(c.counts.values())} steps: "
              + ", ".join(f"{k} {v}" for k, v in sorted(c.counts.items())), flush=True)
        print(f"# the stream: {rx.connections} connections, {rx.bytes} bytes verified "
              f"({rx.devmem_bytes} of them in dma-bufs), {rx.dontneeds} DONTNEED calls "
              f"({rx.junk} junk ranges), connections broken: {rx.breaks or 'none'}",
              flush=True)
        why = [why] if why else []
        if not why and not rx.devmem_bytes:
            why.append(f"the stream received {rx.bytes} bytes, none of them in a dma-buf")
        why += undo
        why += [f"the kernel reported: {r}" for r in log.reports()[:3]]
        if why:
            print(f"# chaos seed {seed} failed; its last steps:", flush=True)
            for h in c.history:
                print(f"#   {h}", flush=True)
        res["ynl"] = c.socks[0]
        return "; ".join(why) or None

    # The steps, then the undo: waits for each binding to go, some of them for seconds.
    check("chaos_run", chaos, timeout=seconds + 600)
    check("port_a_receives_after_chaos", lambda: final_transfer(ports, res["ynl"]))
    log.close()
    ports.close()


if __name__ == "__main__":
    run(main)
