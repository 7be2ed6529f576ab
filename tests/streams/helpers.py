"""Runs made directly in the store, logs appended by hand, and a raw streaming client."""

from __future__ import annotations

import http.client
import itertools
import select
import time
from collections.abc import Callable
from pathlib import Path

from appliance.context import Context
from appliance.store.models import Bundle, Run, RunEvent, Site
from tests.support.local import poll

_names = itertools.count(1)


def make_run(ctx: Context, state: str = "running") -> int:
    """A run of its own site (one active run per site) and bundle; returns its id."""
    n = next(_names)

    def create() -> int:
        now = ctx.store.now()
        site = Site.create(name=f"stream-site-{n}", vars={}, created_at=now)
        bundle = Bundle.create(
            name=f"stream-bundle-{n}",
            version="1.0.0",
            sha256="0" * 64,
            key_id="test",
            path="/nonexistent",
            manifest={},
            imported_at=now,
        )
        return Run.create(
            site=site, bundle=bundle, action="install", state=state, created_at=now
        ).id

    return ctx.store.write(create)


def set_state(ctx: Context, run_id: int, state: str) -> None:
    ctx.store.write(lambda: Run.update(state=state).where(Run.id == run_id).execute())


def add_events(ctx: Context, run_id: int, count: int, start: int = 0) -> list[int]:
    def create() -> list[int]:
        now = ctx.store.now()
        return [
            RunEvent.create(
                run=run_id,
                counter=start + i,
                event="runner_on_ok",
                host="localhost",
                task=f"task {start + i} ✓",
                status="ok",
                changed=bool(i % 2),
                duration=0.5,
                stdout="ok: [localhost]",
                created_at=now,
            ).id
            for i in range(count)
        ]

    return ctx.store.write(create)


def append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)


def wait_for(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    return poll(check, timeout, what, every=0.02)


class Stream:
    """One streaming GET on its own connection, read as bytes arrive."""

    def __init__(self, url: str, token: str, path: str, timeout: float = 10.0) -> None:
        host, port = url.split("//")[1].rstrip("/").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.resp: http.client.HTTPResponse | None = None
        self.data = bytearray()
        self.ended = False

    def open(self) -> http.client.HTTPResponse:
        if self.resp is None:
            self.resp = self.conn.getresponse()
        return self.resp

    @property
    def status(self) -> int:
        return self.open().status

    def header(self, name: str) -> str | None:
        return self.open().getheader(name)

    def read_some(self) -> bytes:
        chunk = self.open().read1(1 << 20)
        if not chunk:
            self.ended = True
        self.data += chunk
        return chunk

    def read_until(self, predicate: Callable[[bytes], bool], timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not predicate(bytes(self.data)):
            if self.ended:
                raise AssertionError(f"stream ended early after {len(self.data)} bytes")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {len(self.data)} bytes")
            self.read_some()
        return bytes(self.data)

    def read_to_end(self, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.ended:
            assert time.monotonic() < deadline, f"no end after {timeout}s"
            self.read_some()
        return bytes(self.data)

    def still_open_after(self, seconds: float) -> bool:
        """True if the server sends nothing (not even the end) for ``seconds``: a bounded wait
        on the socket, not a sleep."""
        sock = self.conn.sock
        assert sock is not None
        readable, _, _ = select.select([sock], [], [], seconds)
        if not readable:
            return True
        return bool(self.read_some())

    def close(self) -> None:
        self.conn.close()
