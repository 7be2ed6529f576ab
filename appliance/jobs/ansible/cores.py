"""The ansible-cores this appliance carries, and which one a run uses.

The appliance imports one ansible-core itself (2.19: managed hosts need Python 3.8 or newer).
Older ones are carried beside it as plain installed trees, ``<carried>/<series>/ansible``:
in a source checkout ``build/ansible-cores/2.16`` (``scripts/setup.sh`` installs it from PyPI;
nothing is downloaded at run time), in the frozen binary ``ansible-cores/2.16`` inside its
folder (build.spec copies the same tree). 2.16 is the last ansible-core whose modules run on
Python 2.7 and 3.6 (CentOS 7, RHEL 8's platform Python). Its published controller range is
Python 3.10 to 3.12; the binary's Python is 3.13 (docs/architecture.md, "Old targets"), so
there it runs outside that range (:data:`BEYOND_MATRIX`, said by :meth:`Core.outside_matrix`
in the host check and the run's log; tests/frozen/test_old_core_binary.py runs it against a
real Python 2.7 host).

A run's ``ansible-playbook`` (and the check's ``ansible``) is a child process, so choosing a
core is choosing what that child imports: :func:`environment` names an older core's tree in
``APPLIANCE_ANSIBLE_TREE``, which the playbook and ad-hoc faces put first on ``sys.path`` before
they import ``ansible`` (appliance/faces.py; a frozen program ignores PYTHONPATH, which is set
too for a source checkout's other Python children); each core runs in its own process, never
two in one.

Which one: the newest carried core that manages the Python of every host of the site (as the
host check probes it), among those the bundle's ``requires_ansible`` accepts and, when the site
pins one (its variable ``appliance_ansible_core: "2.16"``), that one only.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.compat import CORE_TREE_VAR, carried_cores_dir, is_frozen
from appliance.errors import Unprocessable

SITE_VAR = "appliance_ansible_core"  # a site variable pinning a carried series ("2.16")
# series -> (Python versions its modules run on: exact (2, 7) or a floor (3, x)), controller
# Python range; from ansible-core's support matrix (docs: "Releases and maintenance").
TARGETS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[int, int], tuple[int, int]]] = {
    "2.16": (((2, 7), (3, 6)), (3, 10), (3, 12)),
    "2.17": (((3, 7),), (3, 10), (3, 12)),
    "2.18": (((3, 8),), (3, 11), (3, 13)),
    "2.19": (((3, 8),), (3, 11), (3, 13)),
}
DEFAULT_TARGETS = ((3, 8),)
# series -> a controller Python beyond its published range that the appliance runs it under all
# the same: the frozen binary's 3.13 (Debian carries no CPython 3.12, and its 3.11.2 lacks the
# tarfile filters jobs/datafolder.py needs); tested, not supported by Ansible.
BEYOND_MATRIX: dict[str, tuple[int, int]] = {"2.16": (3, 13)}
_RELEASE_RE = re.compile(r"""__version__\s*=\s*['"]([0-9][^'"]*)['"]""")


@dataclass(frozen=True)
class Core:
    version: str  # "2.16.19"
    path: Path | None = None  # the tree put first on the child's PYTHONPATH; None: our own

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def targets(self) -> tuple[tuple[int, int], ...]:
        return TARGETS[self.series][0] if self.series in TARGETS else DEFAULT_TARGETS

    def manages(self, python: str | None) -> bool:
        """Whether its modules run on ``python`` ("3.6.8"); a version that could not be read is
        given the benefit of the doubt (the check's ping says whether modules run)."""
        found = python_version(python)
        if found is None:
            return True
        exact = [t for t in self.targets if t[0] == 2]
        floors = [t for t in self.targets if t[0] != 2]
        return found in exact or any(found >= f and found[0] == f[0] for f in floors)

    def outside_matrix(self) -> str | None:
        """A sentence when this carried core runs here under a controller Python outside the
        range Ansible publishes for it (None for our own core and within the range)."""
        if self.path is None or self.series not in TARGETS:
            return None
        low, high = TARGETS[self.series][1:]
        here = sys.version_info[:2]
        if low <= here <= high:
            return None
        return (
            f"ansible-core {self.series} runs here under Python {here[0]}.{here[1]}, outside "
            f"the controller range Ansible publishes for it ({low[0]}.{low[1]} to "
            f"{high[0]}.{high[1]}); the appliance tests this pair against Python 2.7 hosts"
        )

    def describe(self) -> str:
        """ "2.16.19 manages Python 2.7 and 3.6 or newer"."""
        parts = [".".join(map(str, t)) for t in self.targets]
        return f"{self.version} manages Python {' and '.join(parts)} or newer"


def python_version(text: str | None) -> tuple[int, int] | None:
    try:
        major, minor = (int(x) for x in (text or "").split(".")[:2])
    except ValueError:
        return None
    return major, minor


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ansible-core")
    except PackageNotFoundError:  # frozen builds may carry no metadata
        from ansible.release import __version__

        return str(__version__)


def _tree_version(tree: Path) -> str | None:
    try:
        text = (tree / "ansible" / "release.py").read_text(encoding="utf-8")
    except OSError:
        return None
    match = _RELEASE_RE.search(text)
    return match.group(1) if match else None


def _runs_here(version: str) -> bool:
    """An older core runs only under the controller Pythons it supports."""
    series = ".".join(version.split(".")[:2])
    if series not in TARGETS:
        return False
    low, high = TARGETS[series][1:]
    here = sys.version_info[:2]
    return low <= here <= high or BEYOND_MATRIX.get(series) == here


def carried(folder: Path | None = None) -> list[Core]:
    """Our own core first, then the carried trees that run under this Python, newest first."""
    folder = carried_cores_dir() if folder is None else folder
    own = Core(_own_version())
    found = []
    for tree in sorted(folder.iterdir()) if folder.is_dir() else []:
        version = _tree_version(tree)
        if version and version != own.version and _runs_here(version):
            found.append(Core(version, tree))
    found.sort(key=lambda c: tuple(int(p) for p in re.findall(r"[0-9]+", c.version)[:3]))
    return [own, *reversed(found)]


def pinned(site_vars: Mapping[str, object]) -> str | None:
    value = site_vars.get(SITE_VAR)
    return None if value in (None, "") else str(value).strip()


def way_out(cores: list[Core]) -> str:
    manages = "; ".join(c.describe() for c in cores)
    return (
        f"Carried ansible-core: {manages}. Install such a Python on the host (most "
        "distributions carry a newer one as a separate package, e.g. python39 on RHEL 8), set "
        "ansible_python_interpreter to it in the site's or the host's vars, then check the "
        "site again."
    )


def candidates(
    site_vars: Mapping[str, object], requires: str | None = None, cores: list[Core] | None = None
) -> list[Core]:
    """The carried cores a site may use, newest first: the one it pins (``appliance_ansible_core``)
    and those the bundle's ``requires_ansible`` accepts; Unprocessable when none is left."""
    cores = carried() if cores is None else cores
    found = list(cores)
    want = pinned(site_vars)
    if want is not None:
        found = [c for c in found if want in (c.series, c.version)]
        if not found:
            raise Unprocessable(
                f"the site asks for ansible-core {want} ({SITE_VAR}), which is not carried",
                f"Carried: {', '.join(c.version for c in cores)}. Change or remove {SITE_VAR}.",
            )
    if requires:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            spec = SpecifierSet(requires)
        except InvalidSpecifier as e:  # the manifest checks it; an old record may not
            raise Unprocessable(f"requires_ansible {requires!r} is not valid", str(e)) from e
        found = [c for c in found if spec.contains(c.version, prereleases=True)]
        if not found:
            raise Unprocessable(
                f"the bundle needs ansible-core {requires}, and none carried fits "
                f"({', '.join(c.version for c in cores)})",
                "Use an appliance that carries it, or ask the vendor for a bundle this one runs.",
            )
    return found


def too_old(path: str, version: str | None, usable: list[Core]) -> str:
    return f"Python {version} ({path}) is too old for ansible-core " + " and ".join(
        c.version for c in usable
    )


def choose(
    pythons: Mapping[str, tuple[str | None, str | None]],
    site_vars: Mapping[str, object],
    requires: str | None = None,
    cores: list[Core] | None = None,
) -> Core:
    """The core a run uses for hosts whose ``host -> (interpreter, version)`` are ``pythons``;
    Unprocessable (with the hosts and the way out) when no carried core fits them all."""
    usable = candidates(site_vars, requires, cores)
    for core in usable:
        if all(core.manages(version) for _, version in pythons.values()):
            return core
    old = [
        f"{host}: {too_old(path, version, usable)}"
        for host, (path, version) in pythons.items()
        if path and not any(c.manages(version) for c in usable)
    ]
    if not old:  # each host is managed by some core, but no one core manages them all
        mixed = [f"{host}: Python {version}" for host, (path, version) in pythons.items() if path]
        raise Unprocessable(
            "no one carried ansible-core manages every host of the site: " + "; ".join(mixed),
            f"{way_out(usable)} Or split the site so each part's hosts share a core.",
        )
    raise Unprocessable("cannot manage " + "; ".join(old), way_out(usable))


def refuse_password(core: Core, ssh_password: bool) -> None:
    """Before 2.19 Ansible hands an SSH password to ssh only through the ``sshpass`` program
    (2.19 uses SSH_ASKPASS, served by this appliance's own ``ansible`` face): an older core with
    a password credential and no sshpass would fail at the first login of every host."""
    if core.path is not None and ssh_password and shutil.which("sshpass") is None:
        raise Unprocessable(
            f"the site's hosts need ansible-core {core.version}, which logs in with an SSH "
            "password only through the sshpass program, and sshpass is not installed here",
            "Give the site an SSH key instead of the password (appliance site credentials SITE "
            "--ssh-key FILE), or install sshpass on this machine.",
        )


def environment(core: Core, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that make a child process import ``core`` (nothing for our own): its tree
    in ``APPLIANCE_ANSIBLE_TREE`` for the faces, and first on PYTHONPATH in a source checkout
    (a frozen program ignores PYTHONPATH)."""
    if core.path is None:
        return {}
    found = {CORE_TREE_VAR: str(core.path)}
    if not is_frozen():
        base = os.environ if base is None else base
        rest = base.get("PYTHONPATH", "")
        found["PYTHONPATH"] = os.pathsep.join(p for p in (str(core.path), rest) if p)
    return found
