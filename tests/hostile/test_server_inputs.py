"""Hostile input that needs a real server (cheroot on loopback): a body that never arrives,
and the inventory import that once grew the server to 24 GB."""

from __future__ import annotations

import resource
import socket
import time

from appliance.backend.http import BODY_IDLE_SECONDS
from appliance.backend.server import LocalServer
from tests.hostile.conftest import assert_refused_well, strict_json
from tests.support.client import Api, Reply


def _raw_exchange(server: LocalServer, head: bytes, body: bytes, wait: float) -> Reply:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head_text, _, payload = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return Reply(int(lines[0].split()[1]), headers, payload)


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_body_that_never_arrives_is_a_quick_400(server: LocalServer, api: Api) -> None:
    for path in ("/api/sites", "/api/bundles"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 2000000\r\n\r\n"
        ).encode()
        started = time.monotonic()
        reply = _raw_exchange(server, head, b"{}", wait=BODY_IDLE_SECONDS + 10)
        took = time.monotonic() - started
        assert reply.status == 400, reply
        assert_refused_well(reply, path)
        assert "stopped arriving" in strict_json(reply.body)["error"]
        assert took < BODY_IDLE_SECONDS + 2, took
    assert api.get("/api/health").status == 200


def test_huge_host_range_refused_quickly_with_little_memory(server: LocalServer, api: Api) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for text in ("[web]\nh[0:99999999999]\n", "[web]\nh[1:5:0]\n", "[web]\nh[0:999][0:999]\n"):
        started = time.monotonic()
        reply = api.post("/api/sites/import", {"name": "big", "format": "ini", "text": text})
        assert time.monotonic() - started < 1.0
        assert reply.status == 400, reply.body
        assert_refused_well(reply, text)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024, grown_kib
    assert strict_json(api.get("/api/sites").body) == []
