"""Hostile input on the command line (issue 19): every bad path, folder, address, number and
damaged database is one line with a hint and exit 2; never a traceback or "internal error"."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.processes import run_cli

BIG = str(2**64)


def _file(tmp: Path) -> str:
    (tmp / "afile").write_text("x")
    return str(tmp / "afile")


def _damage(db: Path, how: str) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as f:
        if how == "zeroed":
            f.write(b"\0" * size)
        elif how == "truncated":
            f.truncate(1000)
        else:  # the pages after the schema: opens, migrates, then fails on the data
            f.seek(size // 2)
            f.write(b"\xa5" * (size - size // 2))


def _database(tmp: Path, how: str) -> str:
    data = tmp / how
    assert run_cli(data, "--data-dir", str(data), "site", "list").returncode == 0
    with sqlite3.connect(data / "appliance.db") as db:  # enough rows for pages past the schema
        db.executemany(
            "INSERT INTO site (name, vars, created_at) VALUES (?, '{}', '2024-01-01')",
            [(f"s{i}-" + "p" * 200,) for i in range(400)],
        )
    _damage(data / "appliance.db", how)
    return str(data)


def _no_dir(tmp: Path) -> str:
    return str(tmp / "missing" / "x.html")


# (name, setup returning a path or "", argv with {p} for that path)
CASES: list[tuple[str, Callable[[Path], str], list[str]]] = [
    ("data folder is a file", _file, ["--data-dir", "{p}", "site", "list"]),
    ("data folder under a file", _file, ["--data-dir", "{p}/sub", "site", "list"]),
    ("data folder empty", lambda t: "", ["--data-dir", "", "site", "list"]),
    ("data folder blank", lambda t: "", ["--data-dir", "  ", "site", "list"]),
    ("zeroed database", lambda t: _database(t, "zeroed"), ["--data-dir", "{p}", "site", "list"]),
    ("truncated database", lambda t: _database(t, "truncated"), ["--data-dir", "{p}", "runs"]),
    ("damaged pages", lambda t: _database(t, "pages"), ["--data-dir", "{p}", "site", "list"]),
    ("inventory /dev/zero", lambda t: "", ["site", "add", "x", "--inventory", "/dev/zero"]),
    ("inventory a folder", lambda t: str(t), ["site", "add", "x", "--inventory", "{p}"]),
    ("inventory missing", lambda t: "", ["site", "add", "x", "--inventory", "/nonexistent"]),
    ("inventory binary", lambda t: "/bin/sh", ["site", "add", "x", "--inventory", "{p}"]),
    ("ssh key /dev/zero", lambda t: "", ["site", "credentials", "x", "--ssh-key", "/dev/zero"]),
    ("huge range", lambda t: "", ["site", "add", "x", "--host", "h[0:99999999999]"]),
    ("runs --limit -1", lambda t: "", ["runs", "--limit", "-1"]),
    ("runs --limit 0", lambda t: "", ["runs", "--limit", "0"]),
    ("runs --limit 2^64", lambda t: "", ["runs", "--limit", BIG]),
    ("site id 2^64", lambda t: "", ["site", "show", BIG]),
    ("run id 2^64", lambda t: "", ["show", BIG]),
    ("schedule id 2^64", lambda t: "", ["schedule", "rm", BIG]),
    ("schedule id Arabic-Indic", lambda t: "", ["schedule", "rm", "\u0661"]),
    ("schedule id superscript", lambda t: "", ["schedule", "enable", "\u00b2"]),
    ("ack id 2^64", lambda t: "", ["schedule", "ack", BIG]),
    ("report in a missing folder", _no_dir, ["report", "1", "-o", "{p}"]),
    ("unbindable host", lambda t: "", ["serve", "--host", "10.255.255.1", "--port", "1"]),
    ("port taken", lambda t: "", ["serve", "--host", "127.0.0.1", "--port", "{port}"]),
    ("port out of range", lambda t: "", ["serve", "--port", "70000"]),
    ("log of run 2^64", lambda t: "", ["log", BIG]),
]


@pytest.mark.parametrize(("name", "setup", "argv"), CASES, ids=[c[0] for c in CASES])
def test_bad_command_line_is_one_line_and_exit_2(
    tmp_path: Path, data_dir: Path, name: str, setup: Callable[[Path], str], argv: list[str]
) -> None:
    path = setup(tmp_path)
    taken = None
    if any("{port}" in a for a in argv):
        import socket

        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
    try:
        port = str(taken.getsockname()[1]) if taken else ""
        args = [a.replace("{p}", path).replace("{port}", port) for a in argv]
        done = run_cli(data_dir, *args, timeout=60)
    finally:
        if taken:
            taken.close()
    err = done.stderr.strip()
    assert done.returncode == 2, (name, done.returncode, err, done.stdout)
    assert "Traceback" not in err and "internal error" not in err, (name, err)
    assert len(err.splitlines()) == 1, (name, err)
    assert err.startswith("appliance: error:") and "(hint: " in err, (name, err)


def test_damaged_database_is_refused_by_serve(tmp_path: Path) -> None:
    data = _database(tmp_path, "pages")
    done = run_cli(Path(data), "--data-dir", data, "serve", "--port", "0", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "damaged" in done.stderr and "Traceback" not in done.stderr
    assert not (Path(data) / "server.json").exists()
    shutil.rmtree(data)
