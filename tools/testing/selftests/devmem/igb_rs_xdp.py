#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Native XDP on igb_rs (port A), against the peer on port B under the C igb driver: each
# action on frames the program picks out (an Ethernet type of their own, 0x88b5), single-
# and multi-buffer, TCP through XDP_PASS checked byte for byte, the device's XDP features,
# and the refusals: a single-buffer program over a jumbo MTU and a jumbo MTU under a
# single-buffer program, XDP with tcp-data-split on,
# a memory provider with XDP and XDP with a memory provider.
#
# The programs are a few instructions, loaded with the bpf() system call and pinned in
# bpffs, and attached with `ip link set dev A xdpdrv pinned P`: no compiler, no libbpf.
# The peer's end runs this file in its namespace (`peer` mode): it sends raw frames from
# port B and reports which came back, intact.
#
#   igb_rs_xdp.py                 the cases (KTAP)
#   igb_rs_xdp.py peer IF DST N SIZE...   (in the peer's namespace)

import ctypes
import errno
import json
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

ETH_TYPE = 0x88B5  # "local experimental"
SO_RCVBUFFORCE = 33
BPFFS = "/sys/fs/bpf"

# bpf(2)
NR_BPF = 321
BPF_PROG_LOAD, BPF_OBJ_PIN = 5, 6
BPF_PROG_TYPE_XDP = 6
BPF_XDP = 37
BPF_F_XDP_HAS_FRAGS = 1 << 5
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
FN_REDIRECT = 23  # bpf_redirect(ifindex, flags)

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def mov_imm(dst, imm):
    return insn(0xB7, dst, imm=imm)


EXIT = insn(0x95)


def prog_return(action):
    """Every frame gets `action`."""
    return mov_imm(0, action) + EXIT


def prog_ours(action, ifindex=None):
    """Frames of type ETH_TYPE get their MAC addresses swapped and `action` (with
    XDP_REDIRECT, to `ifindex`); every other frame passes."""
    body = [
        insn(0x61, 2, 1, 0),          # r2 = ctx->data
        insn(0x61, 3, 1, 4),          # r3 = ctx->data_end
        insn(0xBF, 4, 2),             # r4 = r2
        insn(0x07, 4, imm=14),        # r4 += 14
        None,                         # if r4 > r3 goto pass
        insn(0x69, 5, 2, 12),         # r5 = eth->type (as loaded: little-endian)
        None,                         # if r5 != ETH_TYPE goto pass
        insn(0x61, 6, 2, 0),          # swap dst (6 bytes) and src (6 bytes)
        insn(0x69, 7, 2, 4),
        insn(0x61, 8, 2, 6),
        insn(0x69, 9, 2, 10),
        insn(0x63, 2, 8, 0),
        insn(0x6B, 2, 9, 4),
        insn(0x63, 2, 6, 6),
        insn(0x6B, 2, 7, 10),
    ]
    if action == XDP_REDIRECT:
        body += [mov_imm(1, ifindex), mov_imm(2, 0), insn(0x85, imm=FN_REDIRECT), EXIT]
    else:
        body += [mov_imm(0, action), EXIT]
    n = len(body)
    # Jumps count instructions after the next one; `pass` follows the body.
    body[4] = insn(0x2D, 4, 3, n - 5)
    swapped = ((ETH_TYPE & 0xFF) << 8) | (ETH_TYPE >> 8)
    body[6] = insn(0x55, 5, off=n - 7, imm=swapped)
    return b"".join(body) + mov_imm(0, XDP_PASS) + EXIT


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    r = LIBC.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"bpf({cmd}): {os.strerror(e)}")
    return r


def load(code, frags=False):
    """Loads an XDP program; returns its fd."""
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQII", attr, 0, BPF_PROG_TYPE_XDP, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(lic), 1, len(log),
                     ctypes.addressof(log), 0, BPF_F_XDP_HAS_FRAGS if frags else 0)
    struct.pack_into("<I", attr, 68, BPF_XDP)
    try:
        return bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        raise OSError(e.errno, f"{e.strerror}; verifier: {log.value.decode()[-500:]}")


class Prog:
    """A program pinned in bpffs, attached to port A in native mode; detached and
    unpinned on exit."""

    def __init__(self, ports, code, frags=False):
        self.ports = ports
        fd = load(code, frags)
        self.path = f"{BPFFS}/igb_rs_xdp_{os.getpid()}_{time.monotonic_ns()}"
        path = ctypes.create_string_buffer(self.path.encode())
        attr = bytearray(128)
        struct.pack_into("<QI", attr, 0, ctypes.addressof(path), fd)
        try:
            bpf(BPF_OBJ_PIN, attr)
        finally:
            os.close(fd)

    def attach(self):
        """Attaches the program; (True, "") or (False, what ip printed)."""
        r = subprocess.run(["ip", "link", "set", "dev", self.ports.if_a, "xdpdrv", "pinned",
                            self.path], capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr

    def __enter__(self):
        ok, out = self.attach()
        if not ok:
            os.unlink(self.path)
            raise RuntimeError(f"attach failed: {out.strip()}")
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "link", "set", "dev", self.ports.if_a, "xdpdrv", "off"])
        os.unlink(self.path)


def mac(ifname, ns=None):
    cmd = (["ip", "-n", ns] if ns else ["ip"]) + ["-j", "link", "show", "dev", ifname]
    return json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)[0]["address"]


def peer(ifname, dst, n, sizes):
    """Sends n frames of each size (whole frames, headers included) from `ifname` to MAC
    `dst`, each numbered, and counts those that come back from `dst`, addressed to us,
    byte for byte as sent. Prints JSON."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_TYPE))
    # Room for every frame that comes back while the rest are sent (root: past rmem_max).
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    s.bind((ifname, ETH_TYPE))
    own = bytes.fromhex(mac(ifname).replace(":", ""))
    far = bytes.fromhex(dst.replace(":", ""))
    sent = {}
    for size in sizes:
        for i in range(n):
            seq = len(sent)
            body = struct.pack("!II", seq, size) + bytes((seq * 7 + k) & 0xFF for k in range(size - 22))
            sent[seq] = body
            s.send(far + own + struct.pack("!H", ETH_TYPE) + body)
    back = intact = 0
    deadline = time.monotonic() + 5
    while back < len(sent) and time.monotonic() < deadline:
        if not select.select([s], [], [], 0.5)[0]:
            continue
        f = s.recv(65536)
        if f[:6] != own or f[6:12] != far:
            continue
        seq = struct.unpack("!I", f[14:18])[0]
        back += 1
        if sent.get(seq) == f[14:]:
            intact += 1
    print(json.dumps({"sent": len(sent), "back": back, "intact": intact}))


def run_peer(ports, n, sizes):
    r = subprocess.run(["ip", "netns", "exec", dl.NS, sys.executable, os.path.abspath(__file__),
                        "peer", ports.if_b, mac(ports.if_a), str(n)] + [str(x) for x in sizes],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f"peer failed: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout)


def counters(ifname, name):
    """The sum over the queues of <name>, "rx_xdp_drop" for rx<q>_xdp_drop."""
    out = subprocess.run(["ethtool", "-S", ifname], capture_output=True, text=True, check=True).stdout
    d, rest = name.split("_", 1)
    return sum(int(v) for v in re.findall(rf"^\s*{d}\d+_{rest}:\s*(\d+)$", out, re.M))


def echo_case(ports, code, counter, sizes, n=10, frags=False, want_back=True):
    """The peer sends n frames of each size; they come back (or not) intact, and
    `counter` (and tx_xdp_xmit for frames sent back) counts each once."""
    names = [counter] + (["tx_xdp_xmit"] if want_back else [])
    before = [counters(ports.if_a, c) for c in names]
    with Prog(ports, code, frags):
        got = run_peer(ports, n, sizes)
    total = n * len(sizes)
    deltas = {c: counters(ports.if_a, c) - b for c, b in zip(names, before)}
    if want_back and (got["back"], got["intact"]) != (total, total):
        return f"sent {got['sent']}, {got['back']} came back, {got['intact']} intact; {deltas}"
    if not want_back and got["back"]:
        return f"{got['back']} of {got['sent']} came back"
    for c, delta in deltas.items():
        if delta != total:
            return f"{c} counted {delta}, want {total}"
    return None


def ping_ok(ports):
    return subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", dl.IP_B],
                          stdout=subprocess.DEVNULL).returncode == 0


def attach_refused(ports, code, frags, want):
    """Attaching is refused with `want` in what ip prints (its errno and extack)."""
    p = Prog(ports, code, frags)
    try:
        ok, out = p.attach()
    finally:
        subprocess.run(["ip", "link", "set", "dev", ports.if_a, "xdpdrv", "off"])
        os.unlink(p.path)
    if ok:
        return "attached"
    if want not in out:
        return f"refused as {out.strip()!r}, want {want!r}"
    return None


def main():
    from ktap import check
    from lib import NlError, YnlFamily

    ports = dl.Ports()
    ynl = YnlFamily(dl.SPEC)
    subprocess.run(f"mountpoint -q {BPFFS} || mount -t bpf bpf {BPFFS}", shell=True, check=True)
    subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "auto"], check=False)
    ours = socket.if_nametoindex(ports.if_a)

    def features():
        got = set(ynl.do("dev-get", {"ifindex": ours})["xdp-features"])
        want = {"basic", "redirect", "ndo-xmit", "rx-sg", "ndo-xmit-sg"}
        return None if want <= got else f"xdp-features {sorted(got)}, want {sorted(want)}"
    check("xdp_features_reported", features)

    sizes = [60, 200, 1000, 1514]
    check("xdp_drop", lambda: echo_case(ports, prog_ours(XDP_DROP), "rx_xdp_drop", sizes,
                                        want_back=False))
    check("xdp_tx_echoes", lambda: echo_case(ports, prog_ours(XDP_TX), "rx_xdp_tx", sizes))
    check("xdp_redirect_to_own_port",
          lambda: echo_case(ports, prog_ours(XDP_REDIRECT, ours), "rx_xdp_redirect", sizes))

    def aborted():
        before = counters(ports.if_a, "rx_xdp_aborted")
        with Prog(ports, prog_return(99)):
            # ICMP to port A meets the program, which returns an unknown action.
            ping_ok(ports)
        if counters(ports.if_a, "rx_xdp_aborted") == before:
            return "no frame counted as aborted"
        return None if ping_ok(ports) else "no ping after the program went"
    check("xdp_unknown_action_aborts", aborted)

    def tcp_through_pass(mtu, frags):
        port = 5500 + mtu // 100
        nbytes = 4 << 20
        before = counters(ports.if_a, "rx_packets")
        if mtu != 1500:
            ports.set_mtu(mtu)
        try:
            with Prog(ports, prog_return(XDP_PASS), frags):
                if not ping_ok(ports):
                    return "no ping with the program attached"
                srv = dl.listen(port)
                with dl.Peer("send", dl.IP_A, port, nbytes):
                    conn = dl.accept(srv)
                    st = dl.DevmemStream(conn, {}, devmem=False)
                    st.recv(nbytes)
                    conn.close()
                srv.close()
        finally:
            if mtu != 1500:
                ports.set_mtu(1500)
        if counters(ports.if_a, "rx_packets") - before < nbytes // mtu:
            return "fewer packets counted than the stream needs"
        return None
    check("xdp_pass_tcp_stream", lambda: tcp_through_pass(1500, False))

    def jumbo(action, counter):
        ports.set_mtu(9000)
        try:
            return echo_case(ports, prog_ours(action, ours), counter, [3000, 8000, 9014],
                             frags=True)
        finally:
            ports.set_mtu(1500)
    check("xdp_multibuf_tx_echoes", lambda: jumbo(XDP_TX, "rx_xdp_tx"))
    check("xdp_multibuf_redirect", lambda: jumbo(XDP_REDIRECT, "rx_xdp_redirect"))
    check("xdp_multibuf_pass_tcp_stream", lambda: tcp_through_pass(9000, True))

    def sb_jumbo():
        ports.set_mtu(9000)
        try:
            return attach_refused(ports, prog_return(XDP_PASS), False,
                                  "MTU too large for single-buffer XDP")
        finally:
            ports.set_mtu(1500)
    check("xdp_single_buffer_refused_over_jumbo_mtu", sb_jumbo)

    def kernel_said(kmsg, text):
        """Whether a kernel log record read from `kmsg` (from where it stands) holds
        `text`."""
        while True:
            try:
                rec = os.read(kmsg, 8192).decode(errors="replace")
            except BlockingIOError:
                return False
            except BrokenPipeError:  # records overwritten before they were read
                continue
            if text in rec:
                return True

    def set_mtu_a(mtu):
        r = subprocess.run(["ip", "link", "set", "dev", ports.if_a, "mtu", str(mtu)],
                           capture_output=True, text=True)
        with open(f"/sys/class/net/{ports.if_a}/mtu") as f:
            return r.returncode, r.stderr.strip(), int(f.read())

    def mtu_under_single_buffer():
        # The largest MTU whose frames fit one 3 KiB buffer (with the Ethernet header and a
        # VLAN tag) is taken; one byte more is refused and the MTU stays.
        try:
            with Prog(ports, prog_return(XDP_PASS), False):
                rc, err, now = set_mtu_a(3054)
                if rc or now != 3054:
                    return f"MTU 3054 under a single-buffer program: exit {rc} {err!r}, {now}"
                kmsg = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
                try:
                    os.lseek(kmsg, 0, os.SEEK_END)
                    rc, err, now = set_mtu_a(3055)
                    said = kernel_said(kmsg, "MTU 3055 too large for single-buffer XDP")
                finally:
                    os.close(kmsg)
                if rc == 0 or now != 3054 or "Invalid argument" not in err or not said:
                    return (f"MTU 3055 under a single-buffer program: exit {rc} {err!r}, "
                            f"{now}; the log {'says' if said else 'does not say'} why")
            with Prog(ports, prog_return(XDP_PASS), True):
                rc, err, now = set_mtu_a(9000)
                if rc or now != 9000:
                    return f"MTU 9000 under a multi-buffer program: exit {rc} {err!r}, {now}"
        finally:
            set_mtu_a(1500)
        return None
    check("mtu_over_one_buffer_refused_under_single_buffer_xdp", mtu_under_single_buffer)

    def with_split():
        subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "on"], check=True)
        try:
            why = attach_refused(ports, prog_return(XDP_PASS), False,
                                 "unable to install XDP to device using tcp-data-split")
            return why or attach_refused(ports, prog_return(XDP_PASS), True,
                                         "igb_rs: XDP runs on whole frames")
        finally:
            subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "auto"], check=True)
    check("xdp_refused_with_tcp_data_split_on", with_split)

    def split_reported_off():
        with Prog(ports, prog_return(XDP_PASS), True):
            out = subprocess.run(["ethtool", "-g", ports.if_a], capture_output=True,
                                 text=True, check=True).stdout
        if not re.search(r"TCP data split:\s*off", out):
            return f"ethtool -g says {re.findall(r'TCP data split:.*', out)}, want off"
        return None
    check("xdp_split_reported_off", split_reported_off)

    def bind_refused():
        # Native XDP keeps header split off (the whole frame for the program), and a
        # provider needs it on: that refusal comes first. A generic-mode program on a
        # port with split on meets the core's refusal of XDP with a memory provider.
        buf = dl.Udmabuf(1 << 20)
        try:
            with Prog(ports, prog_return(XDP_PASS)):
                why = bind_error(buf, errno.EINVAL, "tcp-data-split is disabled")
            if why:
                return f"native: {why}"
            subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "on"], check=True)
            # Multi-buffer: the core refuses a single-buffer one under tcp-data-split in
            # any mode.
            p = Prog(ports, prog_return(XDP_PASS), True)
            try:
                subprocess.run(["ip", "link", "set", "dev", ports.if_a, "xdpgeneric", "pinned",
                                p.path], check=True)
                why = bind_error(buf, errno.EEXIST, "XDP program attached")
            finally:
                subprocess.run(["ip", "link", "set", "dev", ports.if_a, "xdpgeneric", "off"])
                os.unlink(p.path)
            return f"generic: {why}" if why else None
        finally:
            buf.close()
            subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "auto"])

    def bind_error(buf, err, msg):
        try:
            r = ynl.do("bind-rx", {"ifindex": ours, "fd": buf.fd,
                                   "queues": [{"id": 1, "type": "rx"}]})
        except NlError as e:
            text = e.nl_msg.extack.get("msg") if e.nl_msg.extack else None
            if -e.nl_msg.error != err or msg not in (text or ""):
                return f"errno {-e.nl_msg.error}, extack {text!r}; want {err}, {msg!r}"
            return None
        ynl.do("unbind", {"id": r["id"]})
        return "bound"
    check("bind_rx_refused_with_xdp", bind_refused)

    def xdp_refused_bound():
        buf = dl.Udmabuf(1 << 20)
        subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "on"], check=True)
        try:
            with dl.Bound(ynl, ports.ifi, buf, [1]):
                # Multi-buffer: past the core's refusal under tcp-data-split.
                return attach_refused(ports, prog_return(XDP_PASS), True,
                                      "unable to install XDP to device using memory provider")
        finally:
            buf.close()
            subprocess.run(["ethtool", "-G", ports.if_a, "tcp-data-split", "auto"])
    check("xdp_refused_with_bound_queue", xdp_refused_bound)

    check("port_a_works_after", lambda: None if ping_ok(ports) else "no ping")
    ports.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        peer(sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(x) for x in sys.argv[5:]])
        sys.exit(0)
    import devmem_lib as dl  # noqa: E402
    import ynl_env  # noqa: E402
    from ktap import run  # noqa: E402

    ynl_env.check()
    run(main)
