"""Where things live inside the data directory (see docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ansible_home(self) -> Path:
        return self.root / "ansible"

    @property
    def tmp(self) -> Path:
        """Scratch space on the same filesystem (so os.replace into place is atomic)."""
        return self.root / "tmp"

    def ensure(self) -> None:
        for folder in (
            self.root,
            self.bundles,
            self.keys,
            self.runs,
            self.backups,
            self.reports,
            self.logs,
            self.tmp,
        ):
            folder.mkdir(parents=True, exist_ok=True)
