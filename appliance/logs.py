"""Application logging: a rotating file in the data directory (a windowed build has no console)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(process)d %(threadName)s %(name)s: %(message)s"


def configure_logging(logs_dir: Path, level: str = "INFO") -> Path:
    """Send the appliance's logs to ``logs/appliance.log`` (5 x 5 MB). Idempotent."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / "appliance.log"
    path.touch(mode=0o600)  # private from the start (touch keeps an existing file's mode)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_appliance", False):
            if Path(getattr(handler, "baseFilename", "")) == path:
                handler.setLevel(level)
                return path
            root.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    handler._appliance = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > logging.getLevelName(level) or root.level == logging.NOTSET:
        root.setLevel(level)
    return path
