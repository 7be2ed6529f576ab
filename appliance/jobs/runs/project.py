"""A run's own view of the imported bundle: what its steps see as the Ansible project.

The imported folder (``bundles/<name>/<version>``) is what was signed and is shared by every
site; a task writing next to its playbook (a relative ``dest``, ``delegate_to: localhost``
keys, ``.retry`` files) must not change it, nor leave something the next site's run finds.
So each run gets ``runs/<id>/project/``, made once per run (a resume reuses it; it stays with
the run, so a step's private_data_dir re-runs with plain ansible-runner):

- folders are real folders (writable by the run), so new files land in the view only;
- files up to ``SMALL_FILE`` bytes are copied (owner-writable copies);
- larger files are hard links to the imported (read-only) file: no copy of gigabytes. A link is
  the same inode, so a write *into* it would change the original (Ansible's own modules replace
  files by rename, which only changes the view's entry). Their size and mtime are recorded in
  ``runs/<id>/project-links.json``; :func:`changed_links` compares them after the run and
  re-hashes any that moved against the manifest.
Where hard links are impossible (another filesystem) the file is copied.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from appliance.bundle import remove_tree

SMALL_FILE = 1024 * 1024
LINKS_NAME = "project-links.json"


def view_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "project"


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def make_view(bundle: Path, run_dir: Path, small_file: int = SMALL_FILE) -> Path:
    """The run's project folder, made from ``bundle`` unless it exists already."""
    bundle, run_dir = Path(bundle), Path(run_dir)
    target = view_dir(run_dir)
    if target.is_dir():
        return target
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".project-", dir=run_dir))
    links: dict[str, list[int]] = {}
    try:
        for dirpath, dirnames, filenames in os.walk(bundle):
            rel_dir = Path(dirpath).relative_to(bundle)
            for name in dirnames:
                (tmp / rel_dir / name).mkdir(mode=0o755)
            for name in filenames:
                src = Path(dirpath, name)
                dst = tmp / rel_dir / name
                st = os.lstat(src)
                if not stat.S_ISREG(st.st_mode):
                    continue  # import keeps only regular files; anything else is not content
                if st.st_size > small_file and _link(src, dst):
                    links[(rel_dir / name).as_posix()] = _signature(st)
                else:
                    shutil.copyfile(src, dst)
                    os.chmod(dst, (st.st_mode & 0o777) | stat.S_IWUSR | stat.S_IRUSR)
        (run_dir / LINKS_NAME).write_text(json.dumps(links, sort_keys=True))
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _link(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst)
    except OSError as e:
        if e.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            return False
        raise
    return True


def changed_links(bundle: Path, run_dir: Path, hashes: Mapping[str, str]) -> list[str]:
    """Imported files (shared with the view by a hard link) that no longer hold what the
    manifest says; a file whose size and mtime are as recorded is taken as unchanged."""
    try:
        links = json.loads((Path(run_dir) / LINKS_NAME).read_text())
    except (OSError, ValueError):
        return []
    changed = []
    for rel, recorded in sorted(links.items()):
        path = Path(bundle) / rel
        try:
            st = os.stat(path)
        except OSError:
            changed.append(rel)
            continue
        if _signature(st) == recorded:
            continue
        if _sha256(path) != hashes.get(rel):
            changed.append(rel)
    return changed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def remove_view(run_dir: Path) -> None:
    remove_tree(view_dir(run_dir))
    (Path(run_dir) / LINKS_NAME).unlink(missing_ok=True)
