"""The desktop's socket, bound before the server (appliance/backend/listen.py): a request made
before the server starts waits in the backlog and is answered once it serves; the desktop takes
its last port again so the page's origin (and its localStorage) survives a restart."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

from appliance.backend.listen import listen, listen_again
from appliance.backend.server import LocalServer
from appliance.context import Context


def test_a_request_before_the_server_starts_is_answered_once_it_serves(ctx: Context) -> None:
    listener = listen("127.0.0.1", 0)
    answers: list[tuple[int, dict]] = []

    def early_request() -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{listener.url}api/health", timeout=30) as resp:
            answers.append((resp.status, json.loads(resp.read())))

    asking = threading.Thread(target=early_request)
    asking.start()
    time.sleep(0.5)  # the request is in the backlog: nothing accepts it yet
    assert answers == []
    server = LocalServer(ctx, listener=listener).start()
    try:
        asking.join(30)
        assert answers and answers[0][0] == 200 and answers[0][1]["status"] == "ok"
        assert (server.port, server.token) == (listener.port, listener.token)
        assert server.login_url == listener.login_url
        info = json.loads(ctx.paths.server_json.read_text())
        assert (info["port"], info["token"]) == (listener.port, listener.token)
    finally:
        server.stop()


def test_the_desktop_takes_its_last_port_again_unless_it_is_taken(tmp_path: Path) -> None:
    remembered = tmp_path / "webview" / "port"
    first = listen_again("127.0.0.1", 0, remembered)
    port = first.port
    assert remembered.read_text().strip() == str(port)
    first.close()
    again = listen_again("127.0.0.1", 0, remembered)
    assert again.port == port  # the same origin as last time
    # while that port is in use (here: still listening), a free one, remembered for next time
    other = listen_again("127.0.0.1", 0, remembered)
    try:
        assert other.port != port
        assert remembered.read_text().strip() == str(other.port)
    finally:
        again.close()
        other.close()
    # a port given explicitly (settings, --port) is used as given, remembered or not
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    given = listen_again("127.0.0.1", free, remembered)
    try:
        assert given.port == free
    finally:
        given.close()


def test_a_damaged_note_of_the_last_port_is_ignored(tmp_path: Path) -> None:
    remembered = tmp_path / "port"
    for text in ("", "not a port", "0", "70000", "-5"):
        remembered.write_text(text)
        listener = listen_again("127.0.0.1", 0, remembered)
        try:
            assert 0 < listener.port < 65536
            assert remembered.read_text().strip() == str(listener.port)
        finally:
            listener.close()
