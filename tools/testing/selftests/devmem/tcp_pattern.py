#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A TCP transfer whose every byte is checked: the sender writes a known pattern (byte i of
# the stream is (i * 7 + i // 4096) & 0xff), the receiver compares everything it reads.
#
#   tcp_pattern.py recv PORT BYTES          listen, accept one connection, verify BYTES
#   tcp_pattern.py send HOST PORT BYTES [--sport P[,P...]] [--flows N] [--rate KIB]
#                                           connect and send BYTES (0: until the receiver
#                                           goes away); one connection per source port or
#                                           N connections at once, each its own stream;
#                                           at most KIB KiB/s per connection
#   tcp_pattern.py answer HOST PORT [--sport P]
#                                           connect with TCP_NODELAY, then for each 4-byte
#                                           big-endian request N send the next N bytes of
#                                           the stream in one send; 0 or EOF ends
# Exit 0 when the receiver got exactly BYTES correct bytes (recv), every byte was sent
# (send, answer); prints a line on failure.

import argparse
import socket
import sys
import threading
import time

CHUNK = 65536


PERIOD = 4096 * 256  # the pattern repeats every MiB


def _make_period():
    # Byte j of block b is (j * 7 + b) & 0xff: each block is the first one shifted by b.
    base = bytes((j * 7) & 0xFF for j in range(4096))
    return b"".join(base.translate(bytes((k + b) & 0xFF for k in range(256)))
                    for b in range(256))


PAT = _make_period()
PAT2 = PAT + PAT[:CHUNK]


def pattern(offset, n):
    """Bytes offset..offset+n of the stream (n <= CHUNK)."""
    o = offset % PERIOD
    return PAT2[o:o + n]


def recv(port, total):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(60)
    conn, _ = srv.accept()
    conn.settimeout(60)
    got = 0
    while got < total:
        data = conn.recv(min(CHUNK, total - got))
        if not data:
            break
        if data != pattern(got, len(data)):
            want = pattern(got, len(data))
            bad = next(i for i in range(len(data)) if data[i] != want[i])
            print(f"mismatch at byte {got + bad}: got {data[bad]:#x}, want {want[bad]:#x}")
            return 1
        got += len(data)
    if got != total:
        print(f"received {got} of {total} bytes")
        return 1
    return 0


def connect(host, port, sport=None):
    """Connects, retrying while the listener is not up yet; from `sport` if given."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if sport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", sport))
            s.settimeout(5)
            s.connect((host, port))
            s.settimeout(60)
            return s
        except OSError:
            s.close()
            time.sleep(0.1)
    print(f"cannot connect to {host}:{port}" + (f" from port {sport}" if sport else ""))
    return None


def send_one(host, port, total, sport=None, rate=None):
    s = connect(host, port, sport)
    if s is None:
        return 1
    start = time.monotonic()
    sent = 0
    try:
        while total == 0 or sent < total:
            n = CHUNK if total == 0 else min(CHUNK, total - sent)
            if rate:
                n = min(n, 16 << 10)
                # Paced: never ahead of `rate` KiB/s since the start.
                ahead = sent / (rate << 10) - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            s.sendall(pattern(sent, n))
            sent += n
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print(f"send to {host}:{port} failed after {sent} bytes: {e}")
        return 1
    finally:
        s.close()
    return 0


def send(host, port, total, sports=None, flows=1, rate=None):
    """Sends `total` bytes on each of `flows` connections (one per source port if given)."""
    sports = sports or [None] * flows
    if len(sports) == 1:
        return send_one(host, port, total, sports[0], rate)
    rcs = [1] * len(sports)

    def flow(i):
        rcs[i] = send_one(host, port, total, sports[i], rate)

    threads = [threading.Thread(target=flow, args=(i,)) for i in range(len(sports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(rcs)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return buf


def answer(host, port, sport=None):
    s = connect(host, port, sport)
    if s is None:
        return 1
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Waits for requests, but not forever: a peer left behind keeps its netns alive.
    s.settimeout(120)
    sent = 0
    try:
        while True:
            req = recv_exact(s, 4)
            n = int.from_bytes(req, "big") if req else 0
            if n == 0:
                break
            # One send per request, as long as a request fits in a chunk.
            while n:
                k = min(CHUNK, n)
                s.sendall(pattern(sent, k))
                sent += k
                n -= k
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print(f"answer to {host}:{port} failed after {sent} bytes: {e}")
        return 1
    finally:
        s.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("port", type=int)
    r.add_argument("bytes", type=int)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("bytes", type=int)
    s.add_argument("--sport", type=lambda v: [int(p) for p in v.split(",")])
    s.add_argument("--flows", type=int, default=1)
    s.add_argument("--rate", type=int, help="KiB/s per connection")
    a = sub.add_parser("answer")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--sport", type=int)
    args = ap.parse_args()
    if args.mode == "recv":
        return recv(args.port, args.bytes)
    if args.mode == "send":
        return send(args.host, args.port, args.bytes, args.sport, args.flows, args.rate)
    return answer(args.host, args.port, args.sport)


if __name__ == "__main__":
    sys.exit(main())
