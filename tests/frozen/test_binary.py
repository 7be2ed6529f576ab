"""The one binary, built by scripts/build_binary.sh and run as on a laptop with no Python: a PATH
of a few system tools (no python*), an empty HOME, LC_ALL=C.

Its three faces are exercised for real: the appliance (``--version``, ``serve``, the CLI, the
window under Xvfb), ``ansible-playbook`` (each run step, through the launcher symlinks) and the
python face (every Ansible module on localhost, the demo app daemon, which must outlive the
appliance process that started it).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.frozen.support import BINARY, FrozenServer, FrozenWindow, clean_env, ensure_binary
from tests.frozen.support import http_json as get
from tests.support.local import free_port, kill_everything_under

pytestmark = pytest.mark.slow

DEMO_VERSIONS = ["1.0.0", "1.1.0"]


@pytest.fixture(scope="session")
def binary() -> Path:
    path, seconds = ensure_binary()
    if seconds is not None:
        print(f"\nbuilt {path} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.0f} s")
    return path


@pytest.fixture(scope="module")
def laptop(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with bin/ (the clean PATH), home/ (empty HOME) and data/ (the data dir)."""
    return tmp_path_factory.mktemp("laptop")


@pytest.fixture(scope="module")
def env(laptop: Path) -> dict[str, str]:
    return clean_env(laptop)


def run(
    env: dict[str, str], *args: str, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr}"
    return proc.stdout


def test_environment_has_no_python(env: dict[str, str]) -> None:
    folder = Path(env["PATH"])
    assert env["PATH"].count(os.pathsep) == 0 and not list(folder.glob("python*"))
    assert not any(Path(env["HOME"]).iterdir())


def test_version(env: dict[str, str]) -> None:
    from appliance import __version__

    assert ok(run(env, "--version")).strip() == f"appliance {__version__}"


def test_later_launches_start_from_the_cache_and_a_damaged_one_is_rebuilt(
    env: dict[str, str],
) -> None:
    """The one file unpacks once into ~/.cache/appliance/<build hash>; later launches exec the
    folder; a file damaged in it, or a marker cut short (as by a killed first launch), makes the
    next launch unpack again."""
    from appliance import __version__

    ok(run(env, "--version"))
    (folder,) = (Path(env["HOME"]) / ".cache" / "appliance").glob("[0-9a-f]*")
    marker = folder / ".appliance-complete"
    sentinel = folder / "sentinel"  # not in the build: gone when the folder is unpacked again
    sentinel.touch()
    ok(run(env, "--version"))
    assert sentinel.exists()  # not unpacked again
    library = next((folder / "_internal").glob("libpython3*.so*"))
    size = library.stat().st_size
    os.truncate(library, size // 2)
    assert ok(run(env, "--version")).strip() == f"appliance {__version__}"
    assert library.stat().st_size == size and not sentinel.exists()
    sentinel.touch()
    marker.write_text("".join(marker.read_text().splitlines(True)[:-1]))
    assert ok(run(env, "--version")).strip() == f"appliance {__version__}"
    assert not sentinel.exists() and marker.read_text().endswith("end\n")


def test_python_face(env: dict[str, str], laptop: Path) -> None:
    """The binary as python: -c, stdin, a script, -m, and the launcher name python3."""
    code = "import sqlite3, ssl, json, sys; print(json.dumps(sys.argv[1:]))"
    assert ok(run(env, "-c", code, "a", "b")).strip() == '["a", "b"]'
    assert ok(run(env, input="print(6 * 7)\n")).strip() == "42"
    script = laptop / "hello.py"
    script.write_text("import http.server, email.mime.text\nprint('hello', __name__)\n")
    assert ok(run(env, str(script))).strip() == "hello __main__"
    assert ok(run(env, "-m", "json.tool", input='{"a": 1}')).split() == ["{", '"a":', "1", "}"]
    python3 = laptop / "python3"
    python3.unlink(missing_ok=True)
    python3.symlink_to(BINARY)
    proc = subprocess.run(
        [str(python3), "-c", "import sys; print(sys.version_info[0])"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok(proc).strip() == "3"
    # Children (sh for every Ansible module, ssh) must not inherit the unpacked folder as their
    # library path: bundled libraries would shadow the system's.
    leak = (
        "import os, subprocess, sys; print(sys._MEIPASS); "
        "print(subprocess.run(['sh', '-c', 'echo \"$LD_LIBRARY_PATH\"'], capture_output=True,"
        " text=True).stdout.strip() or '-')"
    )
    meipass, child_path = ok(run(env, "-c", leak)).split()
    assert meipass not in child_path


def test_playbook_face(env: dict[str, str], laptop: Path) -> None:
    """ansible-playbook by argv[0] (a symlink), running a module on the implicit localhost."""
    link = laptop / "ansible-playbook"
    link.unlink(missing_ok=True)
    link.symlink_to(BINARY)
    book = laptop / "ping.yml"
    book.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.ping:\n"
        "    - ansible.builtin.command: uname -s\n"
    )
    proc = subprocess.run(
        [str(link), str(book)],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "ok=2" in ok(proc), proc.stdout


@pytest.fixture(scope="module")
def server(env: dict[str, str], laptop: Path) -> Iterator[FrozenServer]:
    srv = FrozenServer(env, laptop / "serve.out")
    yield srv
    assert srv.stop() == 0, (laptop / "serve.out").read_text(errors="replace")


def test_serve_health_and_carried_bundles(server: FrozenServer, env: dict[str, str]) -> None:
    from appliance import __version__

    status, body = get(f"{server.url}/api/health")
    assert (status, body) == (200, {"status": "ok", "version": __version__})
    status, listed = get(f"{server.url}/api/bundles", server.token)
    items = listed["items"] if isinstance(listed, dict) else listed
    assert sorted((b["name"], b["version"]) for b in items) == [
        ("demo-platform", v) for v in DEMO_VERSIONS
    ]
    cli = json.loads(ok(run(env, "bundle", "list", "--json")))
    assert sorted(b["version"] for b in cli) == DEMO_VERSIONS


@pytest.fixture
def demo_site(env: dict[str, str], laptop: Path, server: FrozenServer) -> Iterator[tuple]:
    """A localhost site (the way the run tests make one); kills the demo app at the end."""
    root, port = laptop / "install-root", free_port()
    ok(
        run(
            env,
            "site",
            "add",
            "lab",
            "--host",
            "local=localhost",
            "--var",
            f"install_root={root}",
            "--var",
            f"app_port={port}",
        )
    )
    yield root, port
    kill_everything_under(root)


def test_install_then_upgrade_on_localhost(env: dict[str, str], demo_site: tuple) -> None:
    """`appliance run` of the carried demo bundle: install 1.0.0, upgrade to 1.1.0. The demo
    app daemon started by the playbook (from the same cache folder the binary unpacked into)
    keeps answering after the appliance processes that started it have exited.
    `appliance report` of the upgrade renders from the template carried in the binary."""
    root, port = demo_site
    for version, action in (("1.0.0", "install"), ("1.1.0", "upgrade")):
        out = ok(
            run(env, "run", "lab", f"demo-platform@{version}", "--action", action, timeout=400)
        )
        assert "failed=0" in out
        # the appliance processes are gone; the app they started still answers
        time.sleep(0.5)
        status, health = get(f"http://127.0.0.1:{port}/health")
        assert (status, health["version"]) == (200, version)
    # the local modules ran under the binary, their payloads' code kept (appliance/zipcode.py)
    assert list((Path(env["HOME"]) / ".cache" / "appliance" / "zipcode").iterdir())
    runs = json.loads(ok(run(env, "runs", "--json")))
    runs = runs["items"] if isinstance(runs, dict) else runs
    assert sorted((r["action"], r["state"]) for r in runs) == [
        ("install", "succeeded"),
        ("upgrade", "succeeded"),
    ]
    # the report template is package data inside the one file
    upgrade = max(r["id"] for r in runs)
    report = Path(ok(run(env, "report", str(upgrade))).strip())
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "SUCCEEDED" in html, html[:2000]
    assert f"Run report #{upgrade}: upgrade demo-platform 1.1.0 on lab" in html
    # the daemon runs from a folder that is still there
    app_pid = int((root / "run" / "app.pid").read_text())
    maps = Path(f"/proc/{app_pid}/maps").read_text().splitlines()
    libpython = {line.split()[-1] for line in maps if "libpython" in line}
    assert libpython and all(Path(lib).is_file() for lib in libpython), libpython


def test_window_renders_under_xvfb(env: dict[str, str], laptop: Path) -> None:
    window_env = {**env, "APPLIANCE_DATA_DIR": str(laptop / "window-data")}
    window = FrozenWindow(window_env, laptop)
    try:
        artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = artifacts / "frozen-window.png"
        paint, drawn = window.wait_drawn(shot)
        print(f"\nfirst paint {paint:.2f} s, page drawn {drawn:.2f} s after launch")
        # the navigation exists only once the bundled script ran in QtWebEngine (not the
        # "Loading…" shell): its strip at the top has the links' colours
        crop = ["convert", str(shot), "-crop", "600x40+300+8", "+repage", "-format", "%k"]
        nav = subprocess.run([*crop, "info:"], capture_output=True, text=True, timeout=30)
        assert int(nav.stdout.strip() or 0) > 20, (nav.stdout, nav.stderr, window.output())
        assert window.terminate() == 0, window.output()
    finally:
        window.kill()


def test_page_is_one_script_and_every_screen_runs(server: FrozenServer, browser) -> None:
    """The carried page: its modules bundled into js/app.js (packaging/page.py), and that bundle
    runs every top-level screen in a browser without an error."""
    status, bundle = _fetch(f"{server.url}/static/js/app.js", server.token)
    assert status == 200 and b'from"./' not in bundle and b'from "./' not in bundle
    for module in ("dom.js", "screens/sites.js", "streams.js"):  # not carried one by one
        assert _fetch(f"{server.url}/static/js/{module}", server.token)[0] == 404, module
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    scripts: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
        page.on("request", lambda r: r.resource_type == "script" and scripts.append(r.url))
        page.goto(f"{server.url}/?token={server.token}")
        page.wait_for_selector("nav a.active")
        for screen, title in (
            ("#/sites", "Sites"),
            ("#/bundles", "Bundles"),
            ("#/runs/new", "New run"),
            ("#/history", "History"),
            ("#/schedules", "Schedules"),
            ("#/data", "The appliance's data"),
            ("#/bundles/demo-platform/1.1.0", "demo-platform 1.1.0"),
        ):
            page.evaluate(f"location.hash = {json.dumps(screen)}")
            page.wait_for_selector(f"main h2:text-is({json.dumps(title)})", timeout=15000)
    finally:
        context.close()
    assert not errors, errors
    assert [s.split("/static/")[-1] for s in scripts] == ["js/app.js"], scripts


def _fetch(url: str, token: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with opener.open(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
