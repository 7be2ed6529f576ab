"""Telling whoever sits at the machine that a scheduled run ended.

A desktop notification through ``notify-send`` where it exists (and a session bus answers),
always a log line; registered with ``RunManager.add_listener``, so it runs on the thread that
finished the run and must never raise or block for long.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

from appliance.states import TERMINAL
from appliance.store.schedules import is_scheduled_run

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT = 5


def is_scheduled(run: dict[str, Any]) -> bool:
    if run.get("trigger") == "schedule":
        return True
    return is_scheduled_run(run.get("id"))


def message_for(run: dict[str, Any]) -> tuple[str, str]:
    state = run.get("state", "ended")
    site = run.get("site")
    site_name = site.get("name") if isinstance(site, dict) else site
    bundle = run.get("bundle")
    if isinstance(bundle, dict):
        bundle = f"{bundle.get('name')} {bundle.get('version')}"
    title = f"Scheduled {run.get('action') or 'run'} {state}"
    body = f"Run {run.get('id')} on site {site_name or '?'} ({bundle or 'bundle'}): {state}."
    warnings = [c for c in run.get("checks") or [] if c.get("status") == "warn"]
    if warnings:
        first = warnings[0]
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        title += f", {len(warnings)} warning(s)"
        body += (
            f" {len(warnings)} check warning(s): {first.get('host')}: {first.get('name')}: "
            f"{str(first.get('message'))[:200]}{more}."
        )
    if state != "succeeded":
        body += " Open the appliance to see the log."
    return title, body


class RunNotifier:
    def __init__(
        self, notify_send: str | None = None, run: Callable[..., Any] = subprocess.run
    ) -> None:
        self.notify_send = notify_send if notify_send is not None else shutil.which("notify-send")
        self._run = run

    def __call__(self, run: dict[str, Any]) -> None:
        try:
            if run.get("state") not in TERMINAL or not is_scheduled(run):
                return
            title, body = message_for(run)
            level = logging.INFO if run.get("state") == "succeeded" else logging.WARNING
            logger.log(level, "%s: %s", title, body)
            if self.notify_send:
                urgency = "normal" if run.get("state") == "succeeded" else "critical"
                self._run(
                    [self.notify_send, "--app-name=Appliance", f"--urgency={urgency}", title, body],
                    timeout=NOTIFY_TIMEOUT,
                    check=False,
                    capture_output=True,
                )
        except Exception:  # a listener must not break the run engine's thread
            logger.exception("notifying about run %s failed", run.get("id"))
