#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A TCP transfer whose every byte is checked: the sender writes a known stream, the
# receiver compares everything it reads with expected().
#
# The stream is a keyed counter: its bytes come in 16-byte words, word w (bytes 16w to
# 16w+15) is word(key, w), a splitmix64-like mix of the key and w (see word()). The mix
# is a bijection of the counter, so no two words of a stream are equal (up to 2^68
# bytes): a receiver that reads the stream at a wrong offset, or gets blocks swapped,
# repeated or dropped, sees different bytes. The key of a connection is the TCP port of
# its sending end (the receiver takes it from getpeername()), so that bytes of another
# connection do not pass either.
#
#   tcp_pattern.py recv PORT BYTES [--timeout S]
#                                           listen, accept one connection, verify BYTES
# HOST is a numeric IPv4 or IPv6 address; recv takes both.
#   tcp_pattern.py send HOST PORT BYTES [--sport P[,P...]] [--flows N] [--rate KIB]
#                                           [--timeout S]
#                                           connect and send BYTES (0: until the receiver
#                                           goes away); one connection per source port or
#                                           N connections at once, each its own stream;
#                                           at most KIB KiB/s per connection
#   tcp_pattern.py answer HOST PORT [--sport P]
#                                           connect with TCP_NODELAY, then for each 4-byte
#                                           big-endian request N send the next N bytes of
#                                           the stream in one send; 0 or EOF ends
#   tcp_pattern.py selftest                 expected() against word(), on this machine
# --timeout: a connection that moves nothing for S seconds (default 60) fails.
# Exit 0 when the receiver got exactly BYTES correct bytes (recv), every byte was sent
# (send, answer); 1 when the transfer broke off (closed early, reset, timed out), 3 when
# a byte received was wrong; prints a line on failure.

import argparse
import functools
import socket
import sys
import threading
import time

CHUNK = 65536
IDLE_TIMEOUT = 60
EXIT_BROKEN, EXIT_WRONG = 1, 3

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MUL1 = 0xBF58476D1CE4E5B9
MUL2 = 0x94D049BB133111EB
WORD = 16


def _seed(key):
    """splitmix64 of the key: where the key's counter starts."""
    z = (key + GAMMA) & M64
    z = (z ^ (z >> 30)) * MUL1 & M64
    z = (z ^ (z >> 27)) * MUL2 & M64
    return z ^ (z >> 31)


def word(key, w):
    """Word w of the stream of `key`, its definition: splitmix64's counter (the key's
    seed plus w times the golden gamma), xor-shifted, times splitmix64's last multiplier
    with the product kept whole (128 bits), little endian. Each step is one to one."""
    z = (_seed(key) + w * GAMMA) & M64
    z ^= z >> 32
    return (z * MUL2).to_bytes(WORD, "little")


# expected() computes BLOCK_WORDS words at once, in pure Python fast enough for the tests'
# transfers under TCG: one big integer holds a block, each word in a 128-bit lane (the
# product of a 64-bit value and a 64-bit constant fits; the 64-bit steps mask each lane).
BLOCK_WORDS = 8192
BLOCK = BLOCK_WORDS * WORD  # 128 KiB
_ONES = int.from_bytes(b"\x01".ljust(WORD, b"\0") * BLOCK_WORDS, "little")
_LOW = _ONES * M64  # the low 64 bits of every lane
# Lane k: k times the gamma. Plus a block's first counter in every lane, masked: the
# block's counters.
_STEPS = int.from_bytes(b"".join((k * GAMMA & M64).to_bytes(WORD, "little")
                                 for k in range(BLOCK_WORDS)), "little")


@functools.lru_cache(maxsize=32)
def _block(key, b):
    """Bytes b * BLOCK .. (b + 1) * BLOCK of the stream of `key`."""
    base = (_seed(key) + b * BLOCK_WORDS * GAMMA) & M64
    x = (base * _ONES + _STEPS) & _LOW
    x = ((x ^ (x >> 32)) & _LOW) * MUL2
    return x.to_bytes(BLOCK, "little")


def expected(offset, length, key):
    """Bytes offset..offset+length of the stream of `key`."""
    b, o = divmod(offset, BLOCK)
    if o + length <= BLOCK:
        return _block(key, b)[o:o + length]
    out = []
    while length > 0:
        piece = _block(key, b)[o:o + length]
        out.append(piece)
        length -= len(piece)
        b, o = b + 1, 0
    return b"".join(out)


def first_wrong(data, offset, key):
    """The stream offset of the first byte of `data` (read at `offset`) that is wrong, or
    None."""
    want = expected(offset, len(data), key)
    if data == want:
        return None
    return offset + next(i for i in range(len(data)) if data[i] != want[i])


def family(host):
    """The address family of a numeric address."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv(port, total, timeout=IDLE_TIMEOUT):
    # An IPv6 socket on any address takes IPv4 connections too (bindv6only is 0).
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", port))
    srv.listen(1)
    srv.settimeout(60)
    got = 0
    try:
        conn, peer = srv.accept()
        conn.settimeout(timeout)
        while got < total:
            data = conn.recv(min(CHUNK, total - got))
            if not data:
                break
            bad = first_wrong(data, got, peer[1])
            if bad is not None:
                print(f"mismatch at byte {bad}: got {data[bad - got]:#x}, "
                      f"want {expected(bad, 1, peer[1])[0]:#x}")
                return EXIT_WRONG
            got += len(data)
    except OSError as e:
        print(f"receive on port {port} failed after {got} of {total} bytes: {e}")
        return EXIT_BROKEN
    if got != total:
        print(f"received {got} of {total} bytes")
        return EXIT_BROKEN
    return 0


def connect(host, port, sport=None):
    """Connects, retrying while the listener is not up yet; from `sport` if given."""
    for _ in range(100):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        try:
            if sport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::" if family(host) == socket.AF_INET6 else "0.0.0.0", sport))
            s.settimeout(5)
            s.connect((host, port))
            s.settimeout(IDLE_TIMEOUT)
            return s
        except OSError:
            s.close()
            time.sleep(0.1)
    print(f"cannot connect to {host}:{port}" + (f" from port {sport}" if sport else ""))
    return None


def send_one(host, port, total, sport=None, rate=None, timeout=IDLE_TIMEOUT):
    s = connect(host, port, sport)
    if s is None:
        return EXIT_BROKEN
    s.settimeout(timeout)
    key = s.getsockname()[1]
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
            s.sendall(expected(sent, n, key))
            sent += n
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print(f"send to {host}:{port} failed after {sent} bytes: {e}")
        return EXIT_BROKEN
    finally:
        s.close()
    return 0


def send(host, port, total, sports=None, flows=1, rate=None, timeout=IDLE_TIMEOUT):
    """Sends `total` bytes on each of `flows` connections (one per source port if given)."""
    sports = sports or [None] * flows
    if len(sports) == 1:
        return send_one(host, port, total, sports[0], rate, timeout)
    rcs = [EXIT_BROKEN] * len(sports)

    def flow(i):
        rcs[i] = send_one(host, port, total, sports[i], rate, timeout)

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
        return EXIT_BROKEN
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Waits for requests, but not forever: a peer left behind keeps its netns alive.
    s.settimeout(120)
    key = s.getsockname()[1]
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
                s.sendall(expected(sent, k, key))
                sent += k
                n -= k
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print(f"answer to {host}:{port} failed after {sent} bytes: {e}")
        return EXIT_BROKEN
    finally:
        s.close()
    return 0


def selftest():
    """expected() agrees with word() across block boundaries, keys differ, and no word
    repeats in the first 64 MiB of a stream."""
    for key in (0, 1, 5201, 65535):
        for off, n in ((0, 1), (0, 4 * WORD), (BLOCK - 20, 41), (3 * BLOCK + 7, BLOCK + 30),
                       ((1 << 30) - 5, 11)):
            w0, w1 = off // WORD, (off + n - 1) // WORD
            ref = b"".join(word(key, w) for w in range(w0, w1 + 1))
            got = expected(off, n, key)
            if got != ref[off - w0 * WORD:off - w0 * WORD + n]:
                print(f"key {key}: bytes {off}..{off + n} differ from word()")
                return 1
    if expected(0, BLOCK, 1) == expected(0, BLOCK, 2):
        print("keys 1 and 2 give the same stream")
        return 1
    seen = set()
    for b in range((64 << 20) // BLOCK):
        blk = _block(7, b)
        seen.update(blk[i:i + WORD] for i in range(0, BLOCK, WORD))
    if len(seen) != (64 << 20) // WORD:
        print(f"{(64 << 20) // WORD - len(seen)} repeated words in 64 MiB")
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("port", type=int)
    r.add_argument("bytes", type=int)
    r.add_argument("--timeout", type=float, default=IDLE_TIMEOUT)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("bytes", type=int)
    s.add_argument("--sport", type=lambda v: [int(p) for p in v.split(",")])
    s.add_argument("--flows", type=int, default=1)
    s.add_argument("--rate", type=int, help="KiB/s per connection")
    s.add_argument("--timeout", type=float, default=IDLE_TIMEOUT)
    a = sub.add_parser("answer")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--sport", type=int)
    sub.add_parser("selftest")
    args = ap.parse_args()
    if args.mode == "recv":
        return recv(args.port, args.bytes, args.timeout)
    if args.mode == "send":
        return send(args.host, args.port, args.bytes, args.sport, args.flows, args.rate,
                    args.timeout)
    if args.mode == "selftest":
        return selftest()
    return answer(args.host, args.port, args.sport)


if __name__ == "__main__":
    sys.exit(main())
