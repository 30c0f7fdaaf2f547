#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Devmem TCP through a netkit queue lease: an rx queue of port A (igb_rs) is leased into a
# netkit device in a namespace of its own (the netdev family's queue-create with a lease),
# and a process in that namespace binds its udmabuf to the netkit's queue, never naming
# port A. The binding must land on port A's queue, the payload of a flow steered there
# must arrive in the dma-buf of the process in the namespace, and the binding must go
# away whole when it is unbound and when the netkit device is deleted under it; the
# queue must then work as before; last, port A's PCI function is removed while a queue
# is leased and bound (and rescanned). Refused along the way: dropping a leased queue with
# ethtool -L, leasing a queue that already has a memory provider, binding a leased queue
# from port A's own namespace, binding the netkit's own queue, and binding two leased
# queues of which the second is bound (refused before anything is bound).
#
# Traffic path: the peer (port B, netns NS) sends to NK_IP; a tc ingress program on
# port A (upstream's nk_forward.bpf.o from drivers/net/hw, which the test kernel's
# kselftests install beside this target) redirects what is addressed to NK_PREFIX to the
# netkit's peer with bpf_redirect_peer, so the skbs, payload unreadable in the dma-buf,
# reach the socket in the namespace without being transmitted; the answers go out by
# routing through the netkit pair and port A.

import contextlib
import ctypes
import errno
import ipaddress
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import (HERE, IP6_A, IP6_B, LIBC, NS, SPEC, DevmemStream, Peer,  # noqa: E402
                        Ports, Udmabuf, accept, incoming_napi, listen, pools_of,
                        rx_queue_dmabufs, rx_queue_ids, rx_queue_napis, sh, sports_for,
                        wait_released)
from ktap import check, run  # noqa: E402

NK_NS = "devmem-nk"
# The name port A's namespace (the initial one) gets in /run/netns, so that the netkit's
# namespace can give it a netns id: the lease names port A by that id.
ROOT_NAME = "devmem-root"
ROOT_NSID = 0
NK_PREFIX = "fd73::"
NK_IP = "fd73::2"
QUEUE = 2  # port A's leased rx queue; RSS spreads TCP over queues 1 and 2
OTHER_QUEUE = 1
PORT = 5401
PORT_AFTER = 5402
NBYTES = 4 << 20
BUF_SIZE = 16 << 20
BPF_OBJ = os.path.join(HERE, "..", "drivers", "net", "hw", "nk_forward.bpf.o")
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def in_netns(name):
    """Runs the body in netns `name`: sockets made there (netlink ones included) stay
    there."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET):
            e = ctypes.get_errno()
            raise OSError(e, f"setns {name}: {os.strerror(e)}")
        try:
            yield
        finally:
            if LIBC.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back to the initial namespace")
    finally:
        os.close(target)
        os.close(own)


def out(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def links():
    return json.loads(out("ip", "-j", "-d", "link", "show"))


def nl_error(fn):
    """(errno, extack message) of a netlink request that must fail; (0, None) if not."""
    from lib import NlError
    try:
        fn()
    except NlError as e:
        return -e.nl_msg.error, (e.nl_msg.extack or {}).get("msg")
    return 0, None


def refused(fn, err, text):
    got, msg = nl_error(fn)
    if got == 0:
        return "succeeded"
    if got != err or not msg or text not in msg:
        return f"errno {got}, extack {msg!r}; want {err} and {text!r}"
    return None


class Netkit:
    """A netkit pair: the primary (`host`) in port A's namespace, its peer (`guest`) in
    NK_NS with NK_IP; a route to NK_IP through the pair, port A's tc ingress program
    redirecting NK_PREFIX to the guest, and the peer's route to NK_PREFIX via port A."""

    def __init__(self, ports):
        self.ports = ports
        self.host = self.guest = None
        self.forwarding = None
        self.peer_route = self.clsact = False
        try:
            self._make()
        except BaseException:
            # Whatever was made so far goes, so that the programs after this one find the
            # ports as they were.
            self.close()
            raise

    def _make(self):
        from lib import Netlink, YnlFamily

        subprocess.run(["ip", "netns", "del", NK_NS], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", NK_NS)
        subprocess.run(["ip", "netns", "del", ROOT_NAME], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "attach", ROOT_NAME, str(os.getpid()))
        sh("ip", "netns", "set", ROOT_NAME, str(ROOT_NSID), ns=NK_NS)

        before = {l["ifindex"] for l in links()}
        rt = YnlFamily(os.path.join(os.path.dirname(SPEC), "rt-link.yaml"))
        # Three rx queues on each end (the peer takes the primary's attributes): the
        # leases add the guest's second and third.
        rt.do("newlink", {"linkinfo": {"kind": "netkit",
                                       "data": {"mode": "l2", "policy": "forward",
                                                "peer-policy": "forward"}},
                          "num-rx-queues": 3},
              flags=[Netlink.NLM_F_CREATE, Netlink.NLM_F_EXCL])
        rt.sock.close()
        new = sorted((l for l in links() if l["ifindex"] not in before
                      and l.get("linkinfo", {}).get("info_kind") == "netkit"),
                     key=lambda l: l["ifindex"])
        if len(new) != 2:
            raise RuntimeError(f"netkit newlink made {[l['ifname'] for l in new]}")
        # The peer is registered first.
        self.guest, self.host = new[0]["ifname"], new[1]["ifname"]
        self.host_ifi = new[1]["ifindex"]
        sh("ip", "link", "set", self.guest, "netns", NK_NS)
        with open("/proc/sys/net/ipv6/conf/all/forwarding") as f:
            self.forwarding = f.read().strip()
        with open("/proc/sys/net/ipv6/conf/all/forwarding", "w") as f:
            f.write("1")
        sh("ip", "link", "set", self.host, "up")
        sh("ip", "-6", "addr", "add", "fe80::1/64", "dev", self.host, "nodad")
        sh("ip", "-6", "route", "add", f"{NK_IP}/128", "via", "fe80::2", "dev", self.host)
        for args in (["link", "set", "lo", "up"], ["link", "set", self.guest, "up"],
                     ["-6", "addr", "add", "fe80::2/64", "dev", self.guest, "nodad"],
                     ["-6", "addr", "add", f"{NK_IP}/64", "dev", self.guest, "nodad"],
                     ["-6", "route", "add", "default", "via", "fe80::1", "dev", self.guest]):
            sh("ip", *args, ns=NK_NS)
        self.guest_ifi = json.loads(out("ip", "-n", NK_NS, "-j", "link", "show",
                                        self.guest))[0]["ifindex"]
        sh("ip", "-6", "route", "add", f"{NK_PREFIX}/64", "via", IP6_A, ns=NS)
        self.peer_route = True
        self.redirect()

    def redirect(self):
        """Port A's tc ingress program, told the prefix and the primary's ifindex through
        its .bss (in the order its BTF lays the variables out)."""
        if not os.path.exists(BPF_OBJ):
            raise RuntimeError(f"{BPF_OBJ} not found (installed with drivers/net/hw)")
        if_a = self.ports.if_a
        sh("tc", "qdisc", "add", "dev", if_a, "clsact")
        self.clsact = True
        sh("tc", "filter", "add", "dev", if_a, "ingress", "bpf", "obj", BPF_OBJ,
           "sec", "tc/ingress", "direct-action")
        filters = json.loads(out("tc", "-j", "filter", "show", "dev", if_a, "ingress"))
        progs = [f["options"]["prog"]["id"] for f in filters
                 if "prog" in f.get("options", {})]
        if len(progs) != 1:
            raise RuntimeError(f"tc ingress of {if_a}: programs {progs}")
        maps = json.loads(out("bpftool", "-j", "prog", "show", "id", str(progs[0])))
        bss = [m for m in maps.get("map_ids", [])
               if json.loads(out("bpftool", "-j", "map", "show", "id", str(m)))
               .get("name", "").endswith(".bss")]
        if len(bss) != 1:
            raise RuntimeError(f"the program's maps {maps.get('map_ids')}: no one .bss")
        dump = json.loads(out("bpftool", "-j", "map", "dump", "id", str(bss[0])))
        order = [name for var in next(iter(dump[0]["formatted"]["value"].values()))
                 for name in var]
        field = {"ipv6_prefix": ipaddress.IPv6Address(NK_PREFIX).packed,
                 "netkit_ifindex": self.host_ifi.to_bytes(4, sys.byteorder)}
        if sorted(order) != sorted(field):
            raise RuntimeError(f"the program's .bss holds {order}, want {sorted(field)}")
        value = b"".join(field[name] for name in order)
        sh("bpftool", "map", "update", "id", str(bss[0]), "key", "hex", "00", "00", "00",
           "00", "value", "hex", *[f"{b:02x}" for b in value])

    def delete(self):
        """Deletes the pair (the guest goes with the primary)."""
        if self.host:
            sh("ip", "link", "del", self.host)
            self.host = None

    def close(self):
        """Undoes what was made; a second call does nothing more."""
        if self.clsact:
            subprocess.run(["tc", "qdisc", "del", "dev", self.ports.if_a, "clsact"])
        if self.peer_route:
            subprocess.run(["ip", "-n", NS, "-6", "route", "del", f"{NK_PREFIX}/64"])
        if self.host:
            subprocess.run(["ip", "link", "del", self.host])
        subprocess.run(["ip", "netns", "del", NK_NS], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", ROOT_NAME], stderr=subprocess.DEVNULL)
        if self.forwarding is not None:
            with open("/proc/sys/net/ipv6/conf/all/forwarding", "w") as f:
                f.write(self.forwarding)
        self.clsact = self.peer_route = False
        self.host = self.forwarding = None


class Receiver:
    """Accepts one connection on `srv` and receives `n` bytes with MSG_SOCK_DEVMEM (or
    plain recv() without `bufs`), every byte checked, every token returned."""

    def __init__(self, srv, bufs, n):
        self.srv, self.bufs, self.n = srv, bufs, n
        self.st = self.error = self.napi = None
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        try:
            conn = accept(self.srv)
            self.st = DevmemStream(conn, self.bufs, devmem=bool(self.bufs))
            self.st.recv(self.n)
            self.napi = incoming_napi(conn)
            conn.close()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"

    def join(self, sender):
        """None when the sender (a Peer) and this receiver both got through."""
        rc = sender.wait(120)
        self.t.join(120)
        st = self.st or DevmemStream(None, {})
        print(f"# received {st.got} bytes, all verified: {st.devmem_bytes} in the dma-buf "
              f"({st.frags} frags), {st.linear_bytes} linear, {st.plain_bytes} in readable "
              f"skbs; {st.tokens_returned} tokens returned", flush=True)
        if self.error:
            return self.error
        if self.t.is_alive():
            return f"the receiver is still running after 120 s, at byte {st.got}"
        if st.got != self.n or rc != 0:
            return f"received {st.got} of {self.n} bytes, sender exit {rc}"
        return None


def main():
    from lib import YnlFamily

    ports = Ports()
    try:
        if not ports.tcp_data_split_on():
            raise RuntimeError("ethtool -G tcp-data-split on failed")
        nk = Netkit(ports)
    except BaseException:
        ports.close()
        raise
    ynl = YnlFamily(SPEC)
    ifi = ports.ifi
    buf = Udmabuf(BUF_SIZE)
    base_refs = buf.refs()
    ynl_nk = None
    state = {}

    def queue_a(q):
        return ynl.do("queue-get", {"ifindex": ifi, "id": q, "type": "rx"})

    def lease(q):
        return ynl_nk.do("queue-create", {
            "ifindex": nk.guest_ifi, "type": "rx",
            "lease": {"ifindex": ifi, "queue": {"id": q, "type": "rx"},
                      "netns-id": ROOT_NSID}})

    def bind_nk(queue):
        return ynl_nk.do("bind-rx", {"ifindex": nk.guest_ifi, "fd": buf.fd,
                                     "queues": [{"id": queue, "type": "rx"}]})["id"]

    def bound_through_lease(dbid):
        """None when port A's leased queue, and the guest's queue that leases it, report
        binding `dbid`, and one of port A's page pools does."""
        mine = queue_a(QUEUE).get("dmabuf")
        theirs = ynl_nk.do("queue-get", {"ifindex": nk.guest_ifi, "id": state["nk_queue"],
                                         "type": "rx"}).get("dmabuf")
        pools = [p.get("ifindex") for p in pools_of(ynl, dbid)]
        if mine != dbid or theirs != dbid or ifi not in pools:
            return (f"port A's queue {QUEUE} reports dma-buf {mine}, the guest's "
                    f"{theirs}, pools of {pools}; want {dbid} on both and a pool of {ifi}")
        return None

    def leased():
        state["nk_queue"] = lease(QUEUE)["id"]
        got = queue_a(QUEUE).get("lease", {})
        want = {"ifindex": nk.guest_ifi, "queue": {"id": state["nk_queue"], "type": "rx"}}
        if {k: got.get(k) for k in want} != want or "netns-id" not in got:
            return f"port A's queue {QUEUE} reports lease {got}, want {want} and a netns id"
        # The netkit had one rx queue in use: the lease is its second.
        return None if state["nk_queue"] == 1 else f"the guest's queue is {state['nk_queue']}"

    def lease_of_bound_queue():
        rsp = ynl.do("bind-rx", {"ifindex": ifi, "fd": buf.fd,
                                 "queues": [{"id": OTHER_QUEUE, "type": "rx"}]})
        try:
            return refused(lambda: lease(OTHER_QUEUE), errno.EBUSY, "memory provider")
        finally:
            ynl.do("unbind", {"id": rsp["id"]})

    def bind_leased_from_root():
        return refused(lambda: ynl.do("bind-rx", {"ifindex": ifi, "fd": buf.fd,
                                                  "queues": [{"id": QUEUE, "type": "rx"}]}),
                       errno.EBUSY, "leased")

    def bind_through_lease():
        state["dbid"] = bind_nk(state["nk_queue"])
        return bound_through_lease(state["dbid"])

    def channels_keep_leased_queue():
        # The table over queues 1 and 2 would refuse first: for the case, only queue 1.
        sh("ethtool", "-X", ports.if_a, "start", str(OTHER_QUEUE), "equal", "1")
        try:
            before = rx_queue_ids(ports.if_a)
            r = subprocess.run(["ethtool", "-L", ports.if_a, "combined", str(QUEUE)],
                               capture_output=True, text=True)
            after = rx_queue_ids(ports.if_a)
        finally:
            sh("ethtool", "-X", ports.if_a, "start", str(OTHER_QUEUE), "equal", "2")
        if r.returncode == 0 or after != before:
            return f"ethtool -L combined {QUEUE}: exit {r.returncode}, queues {after}"
        return None if "leasing" in r.stderr else f"refused with {r.stderr.strip()!r}"

    def bind_netkit_own_queue():
        # The guest's queue 0 is the netkit's own: no device behind it to DMA into.
        return refused(lambda: bind_nk(0), errno.EOPNOTSUPP, "DMA")

    def receive(dbid, dst, port, bufs, netns=None):
        """None when the peer's NBYTES to dst:port, from a source port that RSS puts on
        QUEUE, arrive whole: all payload in the dma-buf of binding `dbid` (`bufs`), or
        read by copy on port A's QUEUE (no `bufs`)."""
        sport = sports_for(port, [QUEUE], src=IP6_B, dst=dst)[0]
        with in_netns(netns) if netns else contextlib.nullcontext():
            srv = listen(port, ip=dst)
        try:
            rx = Receiver(srv, bufs, NBYTES)
            with Peer("send", dst, port, NBYTES, "--sport", sport) as sender:
                why = rx.join(sender)
        finally:
            srv.close()
        st = rx.st
        if why:
            return why
        if not bufs:
            q = rx_queue_napis(ynl, ifi).get(rx.napi)
            return None if q == QUEUE else f"received on rx queue {q}, want {QUEUE}"
        if (st.plain_bytes or st.linear_bytes or st.devmem_bytes != NBYTES
                or set(st.by_id) != {dbid}):
            return (f"{st.plain_bytes} bytes in readable skbs, {st.linear_bytes} linear, "
                    f"{st.devmem_bytes} in dma-bufs {sorted(st.by_id)}; want all "
                    f"{NBYTES} in {dbid}")
        if st.tokens_returned != st.frags:
            return f"{st.tokens_returned} of {st.frags} tokens returned"
        return None

    def receive_through_lease():
        return receive(state["dbid"], NK_IP, PORT, {state["dbid"]: buf}, NK_NS)

    def unbind_through_lease():
        ynl_nk.do("unbind", {"id": state["dbid"]})
        left = rx_queue_dmabufs(ynl, ifi).get(QUEUE)
        if left:
            return f"port A's queue {QUEUE} still reports dma-buf {left}"
        return wait_released(ynl, buf, state["dbid"], base_refs)

    def refused_bind_makes_no_binding():
        # Port A's queue 1 leased too, and bound through the lease: a bind-rx of both
        # leased queues must be refused before the first (not bound) is restarted onto a
        # new binding, which would take the next id.
        second = lease(OTHER_QUEUE)["id"]
        held = bind_nk(second)
        try:
            why = nl_error(lambda: ynl_nk.do("bind-rx", {
                "ifindex": nk.guest_ifi, "fd": buf.fd,
                "queues": [{"id": q, "type": "rx"} for q in (state["nk_queue"], second)]}))
            if why[0] != errno.EEXIST or "already memory provider bound" not in (why[1] or ""):
                return f"bind-rx of both leased queues: errno {why[0]}, extack {why[1]!r}"
            after = bind_nk(state["nk_queue"])
            ynl_nk.do("unbind", {"id": after})
            if after != held + 1:
                return f"the next binding got id {after}, {held} before the refused one"
        finally:
            ynl_nk.do("unbind", {"id": held})
        return wait_released(ynl, buf, held, base_refs)

    def netkit_deleted_while_bound():
        nonlocal ynl_nk
        dbid = bind_nk(state["nk_queue"])
        why = bound_through_lease(dbid)
        if why:
            return f"bound again: {why}"
        nk.delete()
        q = queue_a(QUEUE)
        if q.get("dmabuf") or q.get("lease"):
            return f"after the netkit was deleted port A's queue {QUEUE} reports {q}"
        # The binding is still the socket's, without a queue: closing it frees the rest.
        ynl_nk.sock.close()
        ynl_nk = None
        return wait_released(ynl, buf, dbid, base_refs)

    def queue_works_after():
        return receive(None, IP6_A, PORT_AFTER, {})

    def port_a_removed_while_leased_and_bound():
        # Last: port A's PCI function goes away with a queue leased and bound through the
        # lease. netkit deletes a netkit that leases from a device being unregistered; the
        # binding loses its queue, and closing its socket frees it.
        nonlocal nk, ynl_nk
        nk.close()
        nk = Netkit(ports)
        with in_netns(NK_NS):
            ynl_nk = YnlFamily(SPEC)
        state["nk_queue"] = lease(QUEUE)["id"]
        dbid = bind_nk(state["nk_queue"])
        why = bound_through_lease(dbid)
        if why:
            return f"bound through a new lease: {why}"
        try:
            why = ports.take_a_away("pci_remove")
            nk.clsact = False
            if why:
                return why
            if os.path.exists(f"/sys/class/net/{nk.host}"):
                return f"the netkit {nk.host} is still there after port A went away"
            nk.host = None
            ynl_nk.sock.close()
            ynl_nk = None
            return wait_released(ynl, buf, dbid, base_refs)
        finally:
            ports.restore_a()

    try:
        with in_netns(NK_NS):
            ynl_nk = YnlFamily(SPEC)
        steps = [("lease_rx_queue_into_netkit", leased),
                 ("channels_cannot_drop_a_leased_queue", channels_keep_leased_queue),
                 ("lease_refused_for_a_queue_with_a_provider", lease_of_bound_queue),
                 ("bind_rx_refused_on_leased_queue_from_its_own_netns", bind_leased_from_root),
                 ("bind_rx_refused_on_netkit_queue_not_leased", bind_netkit_own_queue),
                 ("bind_rx_through_lease_lands_on_port_a", bind_through_lease),
                 ("devmem_receive_through_lease_all_bytes_verified", receive_through_lease),
                 ("unbind_through_lease_releases_dmabuf", unbind_through_lease),
                 ("bind_rx_refused_on_bound_leased_queue_makes_no_binding",
                  refused_bind_makes_no_binding),
                 ("netkit_deleted_while_bound_releases_binding", netkit_deleted_while_bound),
                 ("leased_queue_receives_after_netkit_deleted", queue_works_after),
                 ("port_a_removed_while_leased_and_bound_releases_binding",
                  port_a_removed_while_leased_and_bound)]
        for name, fn in steps:
            if not check(name, fn) and name in ("lease_rx_queue_into_netkit",
                                                "bind_rx_through_lease_lands_on_port_a"):
                break
    finally:
        if ynl_nk:
            ynl_nk.sock.close()
        nk.close()
        buf.close()
        ports.close()


if __name__ == "__main__":
    run(main)
