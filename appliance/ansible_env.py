"""The environment Ansible needs before it is imported (a leaf: stdlib and appliance.paths only).

Ansible checks the locale when ``ansible.cli`` is imported and reads its ``ANSIBLE_*`` settings
once, so these variables must be in ``os.environ`` before the first ``import ansible...``.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

from appliance.paths import Paths

# Forced: Ansible refuses to start without a UTF-8 locale, and C.UTF-8 exists on every glibc
# laptop, unlike whatever the desktop session exported (e.g. a locale that is not generated).
LOCALE_VARS = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def _remote_temp(folder: Path) -> str:
    """ANSIBLE_REMOTE_TEMP is also used on SSH hosts, where the laptop's absolute path (under the
    laptop user's home) usually cannot be created. Written relative to ``~`` it still lands in
    the data directory locally and in the same place under the remote user's home elsewhere."""
    try:
        relative = folder.relative_to(Path.home())
    except ValueError:
        return str(folder)
    return "~/" + relative.as_posix()


# Ansible's own default remote temp: what hosts reached over SSH get (unless the site sets
# ansible_remote_tmp); a path derived from this laptop's data folder means nothing there.
DEFAULT_REMOTE_TEMP = "~/.ansible/tmp"


def local_remote_temp(data_dir: Path) -> str:
    """The remote temp of hosts on this machine: in the data folder (made by
    :func:`ansible_environment`), given to them as the ``ansible_remote_tmp`` host variable."""
    return str(Paths(Path(data_dir)).ansible_home / "tmp" / "remote")


def target_environment(data_dir: Path) -> dict[str, str]:
    """:func:`ansible_environment` for runs and checks against a site's hosts: remote temp is
    Ansible's default (local hosts get theirs through the inventory, :func:`local_remote_temp`).
    Set explicitly, since the playbook face would otherwise fill in the data folder's."""
    env = ansible_environment(data_dir)
    env["ANSIBLE_REMOTE_TEMP"] = DEFAULT_REMOTE_TEMP
    return env


def control_path_dir(data_dir: Path) -> Path:
    """A short folder of its own per data directory for SSH's shared connections.

    Ansible's default (~/.ansible/cp) is shared by every data directory, so a connection left
    open by another one (another site, another credential) could answer for a host. A socket
    path must stay under 108 bytes, so it lives under the temp folder, named by a hash.
    """
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
    folder = Path(tempfile.gettempdir()) / f"appliance-{os.getuid()}-cp-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.is_symlink():
        # someone else made it first: never share SSH control sockets with another user
        folder = Path(tempfile.mkdtemp(prefix="appliance-cp-"))
    return folder


def ansible_environment(data_dir: Path) -> dict[str, str]:
    """Variables to set before importing Ansible; creates the folders they name.

    Host key checking and colours are left alone on purpose: those are the caller's decisions
    (ansible-runner turns host key checking off unless told; the run engine must say so).
    """
    home = Paths(Path(data_dir)).ansible_home
    local_temp = home / "tmp" / "local"
    remote_temp = home / "tmp" / "remote"
    for folder in (home, local_temp, remote_temp):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        **LOCALE_VARS,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(local_temp),
        "ANSIBLE_REMOTE_TEMP": _remote_temp(remote_temp),
        # A .retry file next to a read-only bundle playbook is noise at best, an error at worst.
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_path_dir(data_dir)),
    }


def apply_ansible_environment(environ: MutableMapping[str, str], data_dir: Path) -> None:
    """Put :func:`ansible_environment` into ``environ``: the locale always wins, while ANSIBLE_*
    values the caller already set (the run engine, a user's shell) are kept."""
    for name, value in ansible_environment(data_dir).items():
        if name in LOCALE_VARS:
            environ[name] = value
        else:
            environ.setdefault(name, value)


# Where a bundle keeps its content (relative to its root) and the ansible.cfg keys that add more.
ROLES_DIR = "roles"
COLLECTIONS_DIR = "collections"
CONFIG_NAME = "ansible.cfg"
_ROLES_KEYS = ("roles_path",)
_COLLECTIONS_KEYS = ("collections_path", "collections_paths")


def _vendor_paths(config: Path, keys: tuple[str, ...]) -> list[str]:
    """Paths a bundle's own ansible.cfg gives under [defaults] (relative ones resolved against
    the file's folder, as Ansible does); unreadable files give nothing (Ansible will say why)."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    try:
        parser.read(config, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for key in keys:
        value = parser.get("defaults", key, fallback=None)
        for part in (value or "").split(os.pathsep):
            part = part.strip()
            if not part:
                continue
            path = Path(os.path.expanduser(part))
            found.append(str(path if path.is_absolute() else config.parent / path))
    return found


def content_environment(project: Path, empty_config: Path) -> dict[str, str]:
    """ANSIBLE_* variables that make a bundle's own roles and collections found from every
    playbook in it, and nothing from this machine's home or system folders.

    - ``ANSIBLE_CONFIG``: the bundle's root ``ansible.cfg`` if it has one, else ``empty_config``
      (an empty file written here), so ``~/.ansible.cfg`` and ``/etc/ansible`` are never read;
    - ``ANSIBLE_ROLES_PATH``: ``<bundle>/roles``, then the bundle config's ``roles_path``
      (Ansible still looks next to the playbook first);
    - ``ANSIBLE_COLLECTIONS_PATH``: ``<bundle>/collections``, then the config's own (Ansible
      still looks in ``collections/`` next to the playbook first);
    - ``ANSIBLE_COLLECTIONS_SCAN_SYS_PATH`` off: nothing installed in Python's ``sys.path``.
    """
    project = Path(project)
    config = project / CONFIG_NAME
    if config.is_file():
        config_path = config
    else:
        empty_config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not empty_config.is_file() or empty_config.stat().st_size:
            empty_config.write_text("")
        config_path = empty_config
    roles = [str(project / ROLES_DIR), *_vendor_paths(config, _ROLES_KEYS)]
    collections = [str(project / COLLECTIONS_DIR), *_vendor_paths(config, _COLLECTIONS_KEYS)]
    return {
        "ANSIBLE_CONFIG": str(config_path),
        "ANSIBLE_ROLES_PATH": os.pathsep.join(dict.fromkeys(roles)),
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(dict.fromkeys(collections)),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
    }
