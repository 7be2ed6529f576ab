"""Real SSH hosts on this machine, made by the tests: one ``sshd`` per host, each inside its own
network namespace joined to this machine by a veth pair, so a test can cut a host's network in
the middle of a run (``ip link set ... down``) and bring it back.

Needs root (network namespaces, ``useradd``, a sudoers drop-in, sshd on port 22). What a host is:

- namespace ``appl-<pid>-<i>``; this machine is ``10.231.N.1``, the host ``10.231.N.2`` (port 22);
- its own host key (generated into the lab folder) and a ``known_hosts`` line for it;
- one login user, :data:`USER`, created if absent (``useradd``), with a password, a key in the
  lab's ``authorized_keys``, and sudo that requires the password
  (``/etc/sudoers.d/zz-appliance-tests``, removed at the end; the password is locked again);
- the user, its password and sudo rule belong to the whole machine, and several labs can be up
  at once (one per xdist worker, or another test session): labs register under
  :data:`REGISTRY` while holding its lock, share one password while any of them is up, take a
  subnet no live lab uses, and the last one to close locks the password and removes the rule;
- its own view of the "laptop" folder: sshd runs in a mount namespace where the lab's
  ``laptop`` folder (where tests put their data directories) is replaced by an empty folder of
  the host, so anything Ansible would write on a host under a laptop path stays on that host, as
  it would on a separate machine (and a test can see that nothing went there);
- an ``install_root`` folder per host, readable from outside for assertions.

Everything started here is killed by :meth:`SshLab.close` (every process left in each namespace,
sshd and the demo app daemons alike), then the namespaces are deleted.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.local import poll

USER = "appl_ssh"
SUDOERS = Path("/etc/sudoers.d/zz-appliance-tests")
SSHD = "/usr/sbin/sshd"
REGISTRY = Path("/run/appliance-sshlab")  # lock, shared password, one file per live lab
SUBNETS = 60  # lab slots; a lab uses 10.231.(slot*4 + i).0/24


def _run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=input, capture_output=True, text=True, check=check)


def missing_requirements() -> str | None:
    """Why SSH hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "SSH test hosts need root (network namespaces, useradd, sudoers)"
    for tool in (SSHD, "/usr/bin/ssh-keygen", "/usr/bin/ssh-agent", "/usr/bin/sudo"):
        if not os.access(tool, os.X_OK):
            return f"{tool} is missing (scripts/setup.sh installs it)"
    if shutil.which("ip") is None or shutil.which("useradd") is None:
        return "ip (iproute2) and useradd are needed"
    return None


@dataclass
class SshHost:
    lab: SshLab
    index: int
    auth: str = "any"  # any | key | password: what sshd accepts
    proc: subprocess.Popen | None = None
    # (source, mount point) folders of this machine bound into this host's view only, from its
    # next start (tests/remote/test_old_targets.py gives one host a Debian 11 root this way)
    binds: list[tuple[Path, Path]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.lab.subnet_base + self.index
        self.name = f"h{self.index + 1}"
        self.netns = f"appl-{self.lab.tag}-{self.index}"
        self.outer_if = f"ap{self.lab.tag}{self.index}h"[:15]
        self.inner_if = f"ap{self.lab.tag}{self.index}n"[:15]
        self.gateway = f"10.231.{n}.1"
        self.address = f"10.231.{n}.2"
        self.dir = self.lab.base / "hosts" / self.name
        self.root = self.dir / "root"  # install_root
        self.view = self.dir / "laptop-view"
        self.log = self.dir / "sshd.log"
        self.config = self.dir / "sshd_config"
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.app_port = 18100 + self.index

    # -- setup ------------------------------------------------------------------------------
    def create(self) -> None:
        for folder in (self.dir, self.root, self.view):
            folder.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        _run(
            "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.name, "-f", str(self.host_key)
        )
        password = "yes" if self.auth in ("any", "password") else "no"
        pubkey = "yes" if self.auth in ("any", "key") else "no"
        self.config.write_text(
            "\n".join(
                [
                    "Port 22",
                    f"ListenAddress {self.address}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.lab.authorized_keys}",
                    "StrictModes no",
                    "UsePAM no",
                    f"PasswordAuthentication {password}",
                    "KbdInteractiveAuthentication no",
                    f"PubkeyAuthentication {pubkey}",
                    "PermitRootLogin no",
                    f"AllowUsers {USER}",
                    # a session whose client vanished ends quickly on this side too
                    "ClientAliveInterval 2",
                    "ClientAliveCountMax 2",
                    "MaxStartups 100",
                    "MaxSessions 100",
                    "LogLevel VERBOSE",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", self.outer_if, "type", "veth", "peer", "name", self.inner_if)
        _run("ip", "link", "set", self.inner_if, "netns", self.netns)
        _run("ip", "addr", "add", f"{self.gateway}/30", "dev", self.outer_if)
        _run("ip", "link", "set", self.outer_if, "up")
        inner = ("ip", "netns", "exec", self.netns, "ip")
        _run(*inner, "addr", "add", f"{self.address}/30", "dev", self.inner_if)
        _run(*inner, "link", "set", self.inner_if, "up")
        _run(*inner, "link", "set", "lo", "up")

    def known_hosts_line(self) -> str:
        key_type, key = (self.host_key.with_suffix(".pub")).read_text().split()[:2]
        return f"{self.address} {key_type} {key}\n"

    # -- sshd -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start sshd (again) and wait until it answers with its banner; False when it was
        running and answering already."""
        if self.proc is not None and self.proc.poll() is None:
            try:  # running: answering, or on its way out (killed a moment ago)
                poll(self._answers, 20, f"sshd of {self.name} on {self.address}:22")
                return False
            except RuntimeError:  # it exited meanwhile: start it again
                pass
        binds = "".join(f"mount --bind {src} {dst} && " for src, dst in self.binds)
        script = (
            f"mount --bind {self.view} {self.lab.laptop} && {binds}"
            f"exec {SSHD} -D -f {self.config} -E {self.log}"
        )
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        poll(self._answers, 20, f"sshd of {self.name} on {self.address}:22")
        return True

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"sshd of {self.name} exited: {self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection((self.address, 22), timeout=1) as sock:
                sock.settimeout(2)
                return sock.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def pids(self) -> list[int]:
        out = _run("ip", "netns", "pids", self.netns, check=False).stdout
        return [int(p) for p in out.split()]

    def session_pids(self) -> list[int]:
        """sshd's session processes and everything they started (not detached daemons)."""
        if self.proc is None:
            return []
        listener = self.proc.pid
        children: dict[int, list[int]] = {}
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(pid)
        found, todo = [], list(children.get(listener, []))
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def stop(self, kill_sessions: bool = True) -> None:
        """Stop sshd; with ``kill_sessions`` also every session it had (the host is gone)."""
        sessions = self.session_pids() if kill_sessions else []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        for pid in sessions:
            _kill(pid, signal.SIGKILL)

    # -- faults -----------------------------------------------------------------------------
    def cut_network(self) -> None:
        _run("ip", "link", "set", self.outer_if, "down")

    def restore_network(self) -> None:
        _run("ip", "link", "set", self.outer_if, "up")
        if self.proc is not None and self.proc.poll() is None:
            poll(self._answers, 20, f"{self.name} reachable again")

    # -- the end ----------------------------------------------------------------------------
    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        # Everything left in the namespace: sshd, sessions, the demo app daemons.
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                _kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        _run("ip", "link", "del", self.outer_if, check=False)
        _run("ip", "netns", "del", self.netns, check=False)


@contextmanager
def _registry_lock() -> Iterator[None]:
    """An exclusive flock on the registry: labs of other processes join and leave one at a
    time."""
    REGISTRY.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(REGISTRY / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _live_labs() -> dict[int, int]:
    """pid -> subnet slot of every registered lab whose process still runs (files of dead
    processes are removed: a killed test session leaves no slot or password behind for ever)."""
    live = {}
    for entry in REGISTRY.glob("lab-*"):
        pid = int(entry.name.removeprefix("lab-"))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            entry.unlink(missing_ok=True)
            continue
        live[pid] = int(entry.read_text() or -1)
    return live


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@dataclass
class SshLab:
    """A few SSH hosts sharing one login user, one client key and one known_hosts file."""

    base: Path | None = None  # default: a new folder in /tmp, removed by close()
    count: int = 3
    auths: tuple[str, ...] = ()
    hosts: list[SshHost] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The login user reads authorized_keys and enters folders under base as itself, so base
        # and its parents must be traversable (a pytest tmp_path is below a 0700 folder).
        self.own_base = self.base is None
        self.base = Path(self.base or tempfile.mkdtemp(prefix="appliance-sshlab-"))
        self.base.chmod(0o755)
        self.tag = str(os.getpid() % 100000)
        self.subnet_base = -1  # taken in create(), under the registry's lock
        self.laptop = self.base / "laptop"  # put data directories here (hosts do not see it)
        self.client_key = self.base / "client" / "id_ed25519"
        self.authorized_keys = self.base / "client" / "authorized_keys"
        self.known_hosts = self.base / "client" / "known_hosts"
        self.password = ""  # the machine's shared one, set in create()

    def create(self) -> SshLab:
        self.laptop.mkdir(parents=True, exist_ok=True)
        self.client_key.parent.mkdir(parents=True, exist_ok=True)
        with _registry_lock():
            self._register()
        _run(
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "appliance-test-client",
            "-f",
            str(self.client_key),
        )
        shutil.copyfile(self.client_key.with_suffix(".pub"), self.authorized_keys)
        self.authorized_keys.chmod(0o644)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        try:
            for i in range(self.count):
                auth = self.auths[i] if i < len(self.auths) else "any"
                host = SshHost(self, i, auth)
                self.hosts.append(host)
                host.create()
                host.start()
            self.known_hosts.write_text("".join(h.known_hosts_line() for h in self.hosts))
        except BaseException:
            self.close()
            raise
        return self

    @property
    def key_text(self) -> str:
        return self.client_key.read_text()

    def _register(self) -> None:
        """Join the live labs: take the shared password (or make one for the first lab, setting
        up the user and sudo) and a free subnet slot. Called with the registry's lock held."""
        live = _live_labs()
        if os.getpid() in live:  # its names (appl-<pid>-N) and registry entry would be ours
            raise RuntimeError(
                "this process has an SSH lab already: one lab per process (the ssh_lab fixture)"
            )
        password_file = REGISTRY / "password"
        if live and password_file.exists():
            self.password = password_file.read_text()
        else:
            self.password = "pw-" + secrets.token_urlsafe(18)
            password_file.write_text(self.password)
            password_file.chmod(0o600)
            self._user()
        used = set(live.values())
        free = [slot for slot in range(SUBNETS) if slot not in used]
        if not free:
            raise RuntimeError(f"all {SUBNETS} SSH lab slots are in use: {live}")
        slot = next((x for x in free if x == os.getpid() % SUBNETS), free[0])
        self.subnet_base = slot * 4
        (REGISTRY / f"lab-{os.getpid()}").write_text(str(slot))

    def _unregister(self) -> None:
        """Leave the live labs; the last one out locks the password and removes the sudo rule.
        Called with the registry's lock held."""
        (REGISTRY / f"lab-{os.getpid()}").unlink(missing_ok=True)
        if not _live_labs():
            SUDOERS.unlink(missing_ok=True)
            _run("usermod", "-p", "!", USER, check=False)  # lock the password again
            (REGISTRY / "password").unlink(missing_ok=True)

    def _user(self) -> None:
        if _run("id", "-u", USER, check=False).returncode != 0:
            _run("useradd", "--create-home", "--shell", "/bin/sh", USER, check=False)
            _run("id", "-u", USER)  # another session may have created it meanwhile
        _run("chpasswd", input=f"{USER}:{self.password}\n")
        # sudo needs the password, every time (no cached timestamp between checks)
        rule = f"Defaults:{USER} timestamp_timeout=0, !lecture\n{USER} ALL=(ALL:ALL) ALL\n"
        tmp = SUDOERS.with_name(f".{SUDOERS.name}.tmp")
        tmp.write_text(rule)
        tmp.chmod(0o440)
        _run("visudo", "-cf", str(tmp))
        os.replace(tmp, SUDOERS)

    def close(self) -> None:
        for host in self.hosts:
            host.destroy()
        if self.subnet_base >= 0:
            with _registry_lock():
                self._unregister()
        if self.own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def ssh_args(self, fast: bool = True) -> str:
        """``ansible_ssh_common_args`` for these hosts: their known host keys, failing fast."""
        args = [
            f"-o UserKnownHostsFile={self.known_hosts}",
            "-o StrictHostKeyChecking=yes",
        ]
        if fast:
            args += ["-o ConnectTimeout=3", "-o ServerAliveInterval=1", "-o ServerAliveCountMax=3"]
        return " ".join(args)
