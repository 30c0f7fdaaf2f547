#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Devmem TCP receive end to end: a udmabuf bound with bind-rx to the rx queues of port A
# (driven by igb_rs), a TCP flow from the peer on port B (C igb, own netns) received with
# recvmsg(MSG_SOCK_DEVMEM), every payload byte read back from the udmabuf and compared with
# what the peer sent, tokens returned with SO_DEVMEM_DONTNEED, then unbind (the op and
# socket close) with queue-get and page-pool-get checked at each step.
#
# ynl_env.py finds the YNL library and the netdev spec (installed or in the tree).

import errno
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from devmem_lib import (HERE, IP_A, MFD_HUGETLB, NS, SPEC, DevmemStream, Ports,  # noqa: E402
                        Udmabuf, accept, bound_queues, listen, make_udmabuf, pool_dmabufs,
                        pools_of, rx_queue_dmabufs, rx_queue_napis, rx_queues)
from ktap import check, run  # noqa: E402

PORT = 5201
NBYTES = 4 << 20
BUF_SIZE = 64 << 20


class Receiver:
    """Accepts one connection and receives NBYTES with MSG_SOCK_DEVMEM, every byte
    checked, every token returned."""

    def __init__(self, dmabuf_id, buf):
        self.bufs = {dmabuf_id: buf}
        self.srv = listen(PORT)
        self.error = None
        self.st = None

    def run(self):
        try:
            conn = accept(self.srv)
            self.st = DevmemStream(conn, self.bufs)
            self.st.recv(NBYTES)
            conn.close()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"


def main():
    from lib import YnlFamily, NlError

    ports = Ports()
    if_a, ifi = ports.if_a, ports.ifi
    buf = Udmabuf(BUF_SIZE)
    dmabuf = buf.fd
    ynl = YnlFamily(SPEC)
    rxq0 = [{"id": 0, "type": "rx"}]
    rxq1 = [{"id": 1, "type": "rx"}]

    def bind_refusal(attrs, err, msg=None):
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

    def refused(name, attrs, err, msg=None):
        check(name, lambda: bind_refusal(attrs, err, msg))

    def flow_hash(kind, fields=None):
        """ethtool -N rx-flow-hash KIND FIELDS ("" for none), or with FIELDS None what
        ethtool -n says of KIND; the CompletedProcess."""
        args = ["-N", if_a, "rx-flow-hash", kind, fields] if fields is not None else \
            ["-n", if_a, "rx-flow-hash", kind]
        return subprocess.run(["ethtool", *args], capture_output=True, text=True)

    def unhashed(kind):
        return flow_hash(kind).stdout.strip().splitlines()[-1:] == ["None"]

    # Refused before the device is ready for devmem: tcp-data-split was never turned on.
    refused("bind_rx_tcp_data_split_off", {"fd": dmabuf, "queues": rxq1}, errno.EINVAL,
            "tcp-data-split is disabled")

    check("tcp_data_split_on",
          lambda: None if ports.tcp_data_split_on() else "ethtool -G tcp-data-split on failed")

    not_dmabuf = os.open("/proc/self/status", os.O_RDONLY)
    closed = os.open("/dev/null", os.O_RDONLY)
    os.close(closed)
    refused("bind_rx_fd_not_a_dmabuf", {"fd": not_dmabuf, "queues": rxq1}, errno.EINVAL)
    refused("bind_rx_fd_closed", {"fd": closed, "queues": rxq1}, errno.EBADF)
    # 4 KiB pages of a memfd are not 2 MiB-aligned chunks.
    refused("bind_rx_chunks_misaligned", {"fd": dmabuf, "queues": rxq1, "rx-page-size": 2 << 20},
            errno.EINVAL, "not aligned")
    refused("bind_rx_queue_out_of_range", {"fd": dmabuf, "queues": [{"id": 7, "type": "rx"}]},
            errno.EINVAL)
    # 2 MiB chunks of huge pages are aligned, but igb_rs's payload buffers are at most
    # 64 KiB (SRRCTL.BSIZEPACKET): its validate_qcfg refuses.
    hmemfd, hdmabuf = make_udmabuf(4 << 20, MFD_HUGETLB)
    refused("bind_rx_page_size_unsupported_by_driver",
            {"fd": hdmabuf, "queues": rxq1, "rx-page-size": 2 << 20}, errno.EINVAL,
            "rx-page-size must be a power of two")
    # Queue 0 takes what RSS does not hash (ARP, ICMP, UDP, IP fragments): igb_rs's
    # validate_qcfg refuses it a memory provider, and the queue stays as it was.
    refused("bind_rx_queue_0_refused", {"fd": dmabuf, "queues": rxq0}, errno.EINVAL,
            "rx queue 0 takes ARP")
    check("queue_0_unbound_after_refusal",
          lambda: None if not rx_queue_dmabufs(ynl, ifi).get(0)
          else f"queue 0 reports dma-buf {rx_queue_dmabufs(ynl, ifi)[0]}")

    def bind_while_udp_hashed():
        # UDP hashed would reach every queue of the table, whose payload only a devmem TCP
        # socket can take: igb_rs's validate_qcfg refuses a provider on any queue then.
        r = flow_hash("udp4", "sdfn")
        if r.returncode:
            return f"rx-flow-hash udp4 sdfn refused: {r.stderr.strip()}"
        try:
            why = bind_refusal({"fd": dmabuf, "queues": rxq1}, errno.EINVAL, "hashes UDP")
        finally:
            r = flow_hash("udp4", "")
        if why:
            return why
        if r.returncode or not unhashed("udp4"):
            return f"rx-flow-hash udp4 back to none: rc {r.returncode}, {r.stderr.strip()}"
        dbs = rx_queue_dmabufs(ynl, ifi)
        return f"queue 1 reports dma-buf {dbs[1]}" if dbs.get(1) else None
    check("bind_rx_refused_while_udp_hashed", bind_while_udp_hashed)
    os.close(hdmabuf)
    os.close(hmemfd)
    os.close(not_dmabuf)
    queues = [{"id": q, "type": "rx"} for q in rx_queues(ynl, ifi)]
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
          lambda: None if bound_queues(ynl, ifi) == {q["id"]: dbid for q in queues}
          else f"queues {rx_queue_dmabufs(ynl, ifi)}, want {dbid} on rx {queues}")
    check("page_pool_get_shows_id",
          lambda: None if dbid in pool_dmabufs(ynl, ifi) else f"pools {pool_dmabufs(ynl, ifi)}")

    def pools_linked_to_napi():
        # The binding restarted each queue on new pools, linked to the queue's NAPI context
        # (buffers freed in its poll recycle straight into their pool): page-pool-get gives
        # the bound queues' NAPI ids for the binding's pools, one pool per queue.
        bound = {q["id"] for q in queues}
        want = sorted(n for n, q in rx_queue_napis(ynl, ifi).items() if q in bound)
        got = sorted(p.get("napi-id", 0) for p in pools_of(ynl, dbid))
        return None if want and got == want else f"pools' napi-ids {got}, queues' {want}"
    check("page_pools_linked_to_queue_napi", pools_linked_to_napi)

    def rebind_same_queue():
        try:
            ynl.do("bind-rx", {"ifindex": ifi, "fd": dmabuf, "queues": queues[:1]})
        except NlError as e:
            return None if -e.nl_msg.error == errno.EEXIST else f"errno {-e.nl_msg.error}"
        return "a second binding of a bound queue succeeded"
    check("bind_rx_queue_already_bound", rebind_same_queue)

    def udp_hash_while_bound():
        # The other way round: UDP hashing is refused while a queue has a provider (EBUSY;
        # the ioctl has no extack, the reason is in the log); a request that keeps TCP the
        # only traffic hashed is taken.
        # The log from a line of its own on (a line count would stop growing once the
        # log buffer wraps).
        mark = f"devmem_rx: rx-flow-hash while bound, {os.getpid()}"
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(mark + "\n")
        r = flow_hash("udp6", "sdfn")
        if r.returncode == 0:
            flow_hash("udp6", "")
            return "rx-flow-hash udp6 sdfn accepted while queues are bound"
        log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()
        after = [i for i, line in enumerate(log) if mark in line]
        log = log[after[-1] + 1:] if after else []
        if "busy" not in r.stderr.lower():
            return f"refused with {r.stderr.strip()!r}, want EBUSY"
        if not any("has a memory provider" in line for line in log):
            return f"no reason in the log: {log[-3:]}"
        if not unhashed("udp6"):
            return f"udp6: {flow_hash('udp6').stdout.strip()!r}"
        r = flow_hash("tcp4", "sdfn")
        if r.returncode:
            return f"rx-flow-hash tcp4 sdfn (no change) refused: {r.stderr.strip()}"
        return None if dbid in set(rx_queue_dmabufs(ynl, ifi).values()) else "queues unbound"
    check("rx_flow_hash_udp_refused_while_bound", udp_hash_while_bound)

    def unbind_answer(sock, id_):
        try:
            sock.do("unbind", {"id": id_})
        except NlError as e:
            return -e.nl_msg.error, (e.nl_msg.extack or {}).get("msg")
        return 0, None

    def unbind_other_socket():
        # Another socket's id is answered as an id that does not exist, so that ids cannot
        # be probed: the same errno and the same extack.
        other = YnlFamily(SPEC)
        try:
            theirs = unbind_answer(other, dbid)
            unknown = unbind_answer(other, 0x7ffffff0)
        finally:
            other.sock.close()
        if theirs[0] == 0:
            return "another socket unbound the binding"
        if theirs != unknown or unknown[0] != errno.ENOENT:
            return f"other socket's id answered {theirs}, an unknown id {unknown}"
        return None
    check("unbind_by_other_socket_answers_as_unknown_id", unbind_other_socket)

    def split_off_refused():
        # net/ethtool/rings.c refuses it before the driver is called.
        r = subprocess.run(["ethtool", "-G", if_a, "tcp-data-split", "off"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return "tcp-data-split off accepted with a memory provider bound"
        if "memory provider" not in r.stderr:
            return f"refused with {r.stderr.strip()!r}"
        return None if dbid in set(rx_queue_dmabufs(ynl, ifi).values()) else "queues unbound"
    check("tcp_data_split_off_refused_while_bound", split_off_refused)

    received = {}

    def receive_all():
        rx = Receiver(dbid, buf)
        t = threading.Thread(target=rx.run)
        t.start()
        sender = subprocess.run(["ip", "netns", "exec", NS, "python3",
                                 f"{HERE}/tcp_pattern.py", "send", IP_A, str(PORT),
                                 str(NBYTES)])
        t.join(90)
        st = received["st"] = rx.st or DevmemStream(None, {})
        print(f"# received {st.got} bytes, all verified: {st.devmem_bytes} in the dma-buf "
              f"({st.frags} frags), {st.linear_bytes} in linear skb data; "
              f"{st.tokens_returned} tokens returned", flush=True)
        if rx.error:
            return rx.error
        if t.is_alive():
            return f"the receiver is still running after 90 s, at byte {st.got}"
        if st.plain_bytes:
            return f"{st.plain_bytes} bytes arrived in readable skbs"
        if st.got != NBYTES or sender.returncode != 0:
            return f"received {st.got} of {NBYTES}, sender rc {sender.returncode}"
        return None
    check("devmem_receive_all_bytes_verified", receive_all)

    def payload_in_dmabuf():
        # igb_rs splits every frame after the TCP header: the payload is all in dma-buf
        # frags, nothing of it in the skb's linear part.
        st = received.get("st")
        if st is None:
            return "nothing received"
        if st.devmem_bytes != NBYTES or st.linear_bytes or st.plain_bytes:
            return (f"{st.devmem_bytes} of {NBYTES} bytes in dma-buf frags, {st.linear_bytes} "
                    f"in linear skb data, {st.plain_bytes} in readable skbs; want all "
                    f"{NBYTES} in frags, 0 linear")
        return None
    check("payload_in_dmabuf", payload_in_dmabuf)

    def tokens_returned():
        st = received.get("st")
        if st is None or not st.frags:
            return "no dma-buf frag received, so no token to return"
        return None if st.tokens_returned == st.frags else f"{st.tokens_returned} of {st.frags}"
    check("tokens_returned", tokens_returned)

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
        if bound_queues(ynl, ifi) != {q["id"]: r["id"] for q in queues}:
            return "second bind not shown"
        y2.sock.close()
        del y2
        for _ in range(50):
            if not any(rx_queue_dmabufs(ynl, ifi).values()):
                return None
            time.sleep(0.1)
        return "queues still bound after socket close"
    check("socket_close_unbinds", socket_close)

    def rx_page_size_64k():
        # 64 KiB net_iovs of a udmabuf of huge pages: every frame lands at the start of its
        # own 64 KiB buffer, so a frag's offset in the dma-buf is a multiple of 64 KiB (with
        # 4 KiB net_iovs 1 in 16 would be), unless TCP trimmed the frag's head (a
        # retransmission overlapping what had arrived: 6 of 2935 frags in one run).
        with Udmabuf(BUF_SIZE, MFD_HUGETLB) as hbuf:
            r = ynl.do("bind-rx", {"ifindex": ifi, "fd": hbuf.fd, "queues": queues,
                                   "rx-page-size": 64 << 10})
            hid = r["id"]
            srv = listen(PORT + 1)
            sender = subprocess.Popen(["ip", "netns", "exec", NS, "python3",
                                       f"{HERE}/tcp_pattern.py", "send", IP_A, str(PORT + 1),
                                       str(NBYTES)])
            try:
                conn = accept(srv)
                st = DevmemStream(conn, {hid: hbuf})
                offs = []
                while st.got < NBYTES:
                    toks = st._recv_once(min(65536, NBYTES - st.got))
                    if toks is None:
                        return f"connection closed at byte {st.got}"
                    offs.extend(off for _, off in toks)
                    st.give_back([t for t, _ in toks])
                conn.close()
                rc = sender.wait(60)
            finally:
                if sender.poll() is None:
                    sender.kill()
                srv.close()
                ynl.do("unbind", {"id": hid})
            odd = [o for o in offs if o % (64 << 10)]
            print(f"# rx-page-size 64 KiB: {st.got} bytes verified, {st.devmem_bytes} in the "
                  f"dma-buf in {st.frags} frags, {len(odd)} not at a 64 KiB boundary",
                  flush=True)
            if rc != 0 or st.devmem_bytes != NBYTES or st.linear_bytes or st.plain_bytes:
                return (f"sender rc {rc}; {st.devmem_bytes} of {NBYTES} bytes in dma-buf "
                        f"frags, {st.linear_bytes} in linear skb data, {st.plain_bytes} in "
                        f"readable skbs; want all {NBYTES} in frags, 0 linear")
            if not offs or len(odd) * 10 > len(offs):
                return f"{len(odd)} of {len(offs)} frags not at a 64 KiB boundary: {odd[:4]}"
            return None if st.tokens_returned == st.frags else "tokens not all returned"
    check("devmem_receive_rx_page_size_64k", rx_page_size_64k)

    buf.close()
    ports.close()


if __name__ == "__main__":
    run(main)
