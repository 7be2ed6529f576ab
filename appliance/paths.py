"""Where things live inside the data directory (see docs/architecture.md)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Other users get nothing: the folder is the engineer's only record of every customer site.
FOLDER_MODE = 0o700


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "appliance.db"

    @property
    def server_json(self) -> Path:
        return self.root / "server.json"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def carried_record(self) -> Path:
        """Which carried bundle files were verified, by name, size and mtime (a cache)."""
        return self.root / "carried-bundles.json"

    @property
    def keys(self) -> Path:
        """Public keys the user chose to trust (appliance key add)."""
        return self.root / "keys"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: int) -> Path:
        return self.runs / str(run_id)

    def run_log(self, run_id: int) -> Path:
        return self.run_dir(run_id) / "output.log"

    @property
    def sites(self) -> Path:
        return self.root / "sites"

    def site_inventory(self, site_id: int) -> Path:
        """The inventory folder Ansible sees for a site's runs (``inventory_dir``): kept between
        runs, so state content keeps there (``lookup('password', inventory_dir ~ ...)``) lasts."""
        return self.sites / str(site_id) / "inventory"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def snapshots(self) -> Path:
        """Copies of the sites' small tables taken before each run that changes a site."""
        return self.root / "snapshots"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ansible_home(self) -> Path:
        return self.root / "ansible"

    @property
    def tmp_root(self) -> Path:
        return self.root / "tmp"

    @property
    def tmp(self) -> Path:
        """This process's scratch space, on the same filesystem as everything else (so
        os.replace into place is atomic). One folder per process (``tmp/<pid>``), so what a
        killed process left is known to be a leftover: see :meth:`remove_leftovers`."""
        return self.tmp_root / str(os.getpid())

    def ensure(self) -> None:
        for folder in (
            self.root,
            self.bundles,
            self.keys,
            self.runs,
            self.backups,
            self.reports,
            self.logs,
            self.tmp_root,
            self.tmp,
        ):
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)

    def remove_leftovers(self) -> list[Path]:
        """Remove the scratch folders of processes that no longer run (an import or upload cut
        by a crash or SIGKILL) and loose entries an older version left; returns what went."""
        removed = []
        for entry in self.tmp_root.iterdir() if self.tmp_root.is_dir() else ():
            if entry.name.isdigit() and _alive(int(entry.name)):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        if removed:
            logger.warning("removed %d leftover(s) of stopped processes from tmp/", len(removed))
        return removed

    def repair_permissions(self) -> list[Path]:
        """Take group and other bits off the data folder (0700) and the files directly in it and
        in logs/ (0600); the folder's mode already keeps others out of everything below.
        Returns what was changed."""
        changed = []
        targets = [self.root]
        for folder in (self.root, self.logs):
            targets += [f for f in folder.iterdir() if f.is_file()]
        for path in targets:
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o077 == 0:
                continue
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
            changed.append(path)
        if changed:
            logger.warning(
                "others could read the data folder: now private: %s",
                ", ".join(str(p.relative_to(self.root)) or "." for p in changed),
            )
        return changed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
