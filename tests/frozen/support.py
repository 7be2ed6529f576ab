"""The frozen binary as a laptop would run it: built when stale, run with no Python on PATH.

Shared by tests/frozen/test_binary.py and bench/binary.py (which never builds).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "dist" / "appliance"
BUILD_SCRIPT = REPO / "scripts" / "build_binary.sh"
BUILD_ROOT_SCRIPT = REPO / "scripts" / "build_root.sh"
# What the binary is made of: newer than the binary means rebuild.
SOURCES = [
    REPO / "appliance",
    REPO / "packaging",
    REPO / "bundles",
    REPO / "build.spec",
    REPO / "build" / "ansible-cores",  # the carried older cores (scripts/setup.sh)
    BUILD_SCRIPT,
    BUILD_ROOT_SCRIPT,
]

# System tools Ansible's local modules, the demo playbooks and xvfb-run need; no python*.
TOOLS = (
    "sh",
    "bash",
    "env",
    "sleep",
    "cat",
    "ls",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "ln",
    "chmod",
    "chown",
    "kill",
    "ps",
    "df",
    "id",
    "uname",
    "sed",
    "grep",
    "tar",
    "gzip",
    "touch",
    "readlink",
    "realpath",
    "dirname",
    "basename",
    "head",
    "tail",
    "sort",
    "wc",
    "date",
    "find",
    "stat",
    "rmdir",
    "true",
    "false",
    "tr",
    "cut",
    "mktemp",
    "getent",
    "whoami",
    "test",
    "timeout",
    "sha256sum",
    "md5sum",
    # xvfb-run
    "xvfb-run",
    "Xvfb",
    "xauth",
    "mcookie",
    "getopt",
    "awk",
)


def newest_source_mtime(paths: Iterable[Path] = SOURCES) -> float:
    newest = 0.0
    for path in paths:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest


def binary_is_fresh() -> bool:
    return BINARY.is_file() and BINARY.stat().st_mtime > newest_source_mtime()


def ensure_binary() -> tuple[Path, float | None]:
    """Build dist/appliance unless it is newer than its sources; returns (path, build seconds or
    None when it was fresh). A lock file keeps concurrent test sessions from building twice."""
    lock_path = REPO / "build" / "binary.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary_is_fresh():
            return BINARY, None
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            cwd=REPO,
            capture_output=True,
            text=True,
            # the first build makes the cached Debian 11 build root (CPython from source) too
            timeout=2700,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"build_binary.sh failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
            )
        return BINARY, time.monotonic() - started


def clean_bin(folder: Path) -> Path:
    """A folder of symlinks to just TOOLS (those present); nothing named python*."""
    folder.mkdir(parents=True, exist_ok=True)
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for tool in TOOLS:
        found = shutil.which(tool, path=system_path)
        if found and not (folder / tool).exists():
            (folder / tool).symlink_to(found)
    assert not list(folder.glob("python*"))
    return folder


def clean_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment of a laptop with no Python: PATH of clean_bin, an empty HOME, LC_ALL=C,
    the data directory under base."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": str(clean_bin(base / "bin")),
        "HOME": str(home),
        "LC_ALL": "C",
        "TMPDIR": "/tmp",
        "APPLIANCE_DATA_DIR": str(base / "data"),
    }
    env.update(extra)
    return env


def http_json(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with opener.open(request, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read())


class FrozenServer:
    """``dist/appliance serve`` in its own session, found through server.json."""

    def __init__(self, env: dict[str, str], log: Path, timeout: float = 60) -> None:
        self.data_dir = Path(env["APPLIANCE_DATA_DIR"])
        server_json = self.data_dir / "server.json"
        server_json.unlink(missing_ok=True)
        self.started = time.monotonic()
        self.log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [str(BINARY), "serve"],
            env=env,
            cwd=env["HOME"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = self.started + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"serve exited with {self.proc.returncode}: {log.read_text(errors='replace')}"
                )
            try:
                info = json.loads(server_json.read_text())
                if info["pid"] in (self.proc.pid, *child_pids(self.proc.pid)):
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise TimeoutError(f"serve did not start: {log.read_text(errors='replace')}")
            time.sleep(0.02)
        self.url, self.token = info["url"].rstrip("/"), info["token"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            # The launcher execs the onedir build: this is the Python process itself.
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()


def is_appliance(exe: Path) -> bool:
    """The binary itself, or the onedir build it execs from its cache folder."""
    cached = exe.name == "appliance" and exe.parent.parent.name == "appliance"
    return exe == BINARY.resolve() or (cached and exe.parent.parent.parent.name == ".cache")


def child_pids(pid: int) -> list[int]:
    """Direct children (a PyInstaller onefile's parent ran Python in one child)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def distinct_colours(png: Path) -> int:
    out = subprocess.run(
        ["identify", "-format", "%k", str(png)], capture_output=True, text=True, timeout=30
    )
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def screenshot(display: str, xauthority: str, out: Path) -> int:
    """``import -window root`` of the display; the number of distinct colours (0 on failure)."""
    env = {**os.environ, "DISPLAY": display, "XAUTHORITY": xauthority}
    proc = subprocess.run(
        ["import", "-window", "root", str(out)], env=env, capture_output=True, timeout=30
    )
    return distinct_colours(out) if proc.returncode == 0 and out.exists() else 0


def framebuffer_colours(xwd: Path) -> int:
    """Distinct colours in the screen Xvfb keeps in ``xwd`` (``-fbdir``: an XWD file Xvfb
    draws into): read in milliseconds, where ``import`` + ``identify`` take 0.3-0.6 s on a busy
    machine and so blur the moment the page drew. Xvfb then runs with ``-nocursor``: its
    pointer is drawn into that file (a themed one has ~80 colours), never into a screenshot.
    0 while the file is not there yet."""
    try:
        data = xwd.read_bytes()
        fields = struct.unpack(">25I", data[:100])
    except (OSError, struct.error):
        return 0
    header, bits, line, height, ncolours = fields[0], fields[11], fields[12], fields[5], fields[19]
    start = header + 12 * ncolours
    pixels = data[start : start + line * height]
    if bits != 32 or len(pixels) < line * height:
        return 0
    return len({p & 0xFFFFFF for p in memoryview(pixels).cast("I")})


class FrozenWindow:
    """``xvfb-run -a dist/appliance`` (the desktop face): a shell wrapper notes the display and
    its auth file, then execs the binary, so the pid we signal is the appliance's own."""

    def __init__(self, env: dict[str, str], base: Path) -> None:
        self.info = base / "display.txt"
        self.info.unlink(missing_ok=True)
        self.log_path = base / "window.out"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        # The wrapper notes the display, its auth file and the time the binary starts (Xvfb's
        # own start-up is not the appliance's), then becomes the binary.
        wrapper = (
            f'echo "$DISPLAY $XAUTHORITY $(date +%s.%N)" > {self.info}.tmp; '
            f'mv {self.info}.tmp {self.info}; exec "{BINARY}"'
        )
        window_env = {**env, "QTWEBENGINE_DISABLE_SANDBOX": "1"}  # root: no Chromium sandbox
        # a folder per window: an exiting Xvfb removes its file, even from a reused folder
        fbdir = Path(tempfile.mkdtemp(prefix="framebuffer-", dir=base))
        self.framebuffer = fbdir / "Xvfb_screen0"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                "xvfb-run",
                "-a",
                "-s",
                f"-screen 0 1280x800x24 -fbdir {fbdir} -nocursor",
                "sh",
                "-c",
                wrapper,
            ],
            env=window_env,
            cwd=env["HOME"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # No arguments and data on stdin would make the binary the python face (pipelining);
            # a double-clicked binary has /dev/null there.
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.display = self.xauthority = ""
        self.exec_time = 0.0  # wall clock (time.time()) when the wrapper exec'd the binary

    def _ready(self) -> bool:
        """Whether the binary has started (the display is known); raises if it exited."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the window exited with {self.proc.returncode}: {self.output()}")
        if not self.display:
            try:
                self.display, self.xauthority, at = self.info.read_text().split()
                self.exec_time = float(at)
            except (OSError, ValueError):
                return False
        return True

    def wait_drawn(
        self, shot: Path, settle: float = 1.5, timeout: float = 90, min_colours: int = 20
    ) -> tuple[float, float]:
        """(first paint, page drawn), in seconds from the binary's start: the first frame with
        more than ``min_colours`` colours (the page's "Loading…" shell counts), and the moment
        the screen last changed before it stayed the same for ``settle`` seconds: the screen the
        engineer came for, drawn. Needs Xvfb's framebuffer file (``-fbdir``), read every 10 ms;
        ``shot`` is a screenshot of the settled screen."""
        deadline = self.started + timeout
        last: bytes | None = None
        paint = changed = 0.0
        while time.monotonic() < deadline:
            if not self._ready():
                time.sleep(0.02)
                continue
            taken = time.time()
            try:
                frame = self.framebuffer.read_bytes()
            except OSError:
                frame = b""
            if frame != last:
                last, changed = frame, taken - self.exec_time
                if not paint and framebuffer_colours(self.framebuffer) > min_colours:
                    paint = changed
            elif paint and taken - self.exec_time - changed >= settle:
                screenshot(self.display, self.xauthority, shot)
                return paint, changed
            time.sleep(0.01)
        raise TimeoutError(f"the screen did not settle within {timeout}s: {self.output()}")

    def appliance_pid(self) -> int:
        """The wrapper shell's pid became the binary's (exec); find it under xvfb-run."""
        for pid in child_pids(self.proc.pid):
            if is_appliance(Path(f"/proc/{pid}/exe").resolve()):
                return pid
        raise RuntimeError(f"no appliance process under xvfb-run {self.proc.pid}")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to the appliance; xvfb-run returns its exit status."""
        os.kill(self.appliance_pid(), signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.log.close()

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
