#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A TCP transfer whose every byte is checked: the sender writes a known pattern (byte i of
# the stream is (i * 7 + i // 4096) & 0xff), the receiver compares everything it reads.
#
#   tcp_pattern.py recv PORT BYTES          listen, accept one connection, verify BYTES
#   tcp_pattern.py send HOST PORT BYTES [SPORT]
#                                           connect (from source port SPORT, if given) and
#                                           send BYTES
# Exit 0 when the receiver got exactly BYTES correct bytes; prints a line on failure.

import socket
import sys
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


def send(host, port, total, sport=0):
    s = None
    source = ("", sport) if sport else None
    for _ in range(100):
        try:
            s = socket.create_connection((host, port), timeout=5, source_address=source)
            break
        except OSError:
            time.sleep(0.1)
    if s is None:
        print(f"cannot connect to {host}:{port}")
        return 1
    s.settimeout(60)
    sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        s.sendall(pattern(sent, n))
        sent += n
    s.shutdown(socket.SHUT_WR)
    s.close()
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        sys.exit(recv(int(sys.argv[2]), int(sys.argv[3])))
    sport = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    sys.exit(send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sport))
