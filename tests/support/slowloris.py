"""A slow-header client for tests: ``python -m tests.support.slowloris PORT COUNT SECONDS``.

Keeps COUNT connections to 127.0.0.1:PORT open, each sending a request's headers one byte at a
time (a header that never ends), reopening any the server closes, for SECONDS. Runs in its own
process so that its sending does not compete with the server for the test process's GIL.
Prints one JSON line: connections opened, and how many were answered 408 before closing.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time

HEAD = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
ROUND_SECONDS = 0.05  # every connection sends one byte per round


def run(port: int, count: int, seconds: float) -> dict[str, int]:
    selector = selectors.DefaultSelector()
    sent: dict[socket.socket, int] = {}
    stats = {"opened": 0, "answered_408": 0, "closed_other": 0, "refused": 0}

    def open_one() -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            stats["refused"] += 1
            return
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        sent[sock] = 0
        stats["opened"] += 1

    def drop(sock: socket.socket) -> None:
        selector.unregister(sock)
        sent.pop(sock, None)
        sock.close()

    for _ in range(count):
        open_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        round_end = time.monotonic() + ROUND_SECONDS
        for sock in list(sent):
            n = sent[sock]
            byte = HEAD[n : n + 1] or b"x"  # past the head: a header value that never ends
            try:
                sock.send(byte)
                sent[sock] = n + 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                drop(sock)
                stats["closed_other"] += 1
                open_one()
        while (wait := round_end - time.monotonic()) > 0:
            for key, _ in selector.select(wait):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    answer = sock.recv(4096)
                except OSError:
                    answer = b""
                if answer.startswith(b"HTTP/1.1 408"):
                    stats["answered_408"] += 1
                else:
                    stats["closed_other"] += 1
                drop(sock)
                open_one()  # as the attack in issue 19 did: reopen at once
    for sock in list(sent):
        drop(sock)
    return stats


if __name__ == "__main__":
    port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(run(port, count, seconds)), flush=True)
