"""The end-of-run notification: notify-send for scheduled runs only, never raising."""

from __future__ import annotations

import logging

import pytest

from appliance.jobs.schedules.notify import RunNotifier


def run(**kw) -> dict:
    base = {
        "id": 3,
        "state": "succeeded",
        "trigger": "schedule",
        "action": "upgrade",
        "site": {"id": 1, "name": "plant"},
        "bundle": {"name": "demo", "version": "1.1.0"},
    }
    base.update(kw)
    return base


def test_scheduled_run_end_calls_notify_send_and_logs(caplog: pytest.LogCaptureFixture):
    calls = []
    notifier = RunNotifier("/usr/bin/notify-send", run=lambda argv, **kw: calls.append(argv))
    with caplog.at_level(logging.INFO, logger="appliance.jobs.schedules.notify"):
        notifier(run())
        notifier(run(state="failed", id=4))
    assert calls[0][:3] == ["/usr/bin/notify-send", "--app-name=Appliance", "--urgency=normal"]
    assert calls[0][3] == "Scheduled upgrade succeeded"
    assert "site plant (demo 1.1.0)" in calls[0][4]
    assert calls[1][2] == "--urgency=critical" and "see the log" in calls[1][4]
    assert "Scheduled upgrade failed" in caplog.text


def test_manual_or_unfinished_runs_are_not_announced(data_dir):
    calls = []
    notifier = RunNotifier("/usr/bin/notify-send", run=lambda argv, **kw: calls.append(argv))
    notifier(run(state="running"))
    notifier(run(trigger="manual", id=None))
    assert calls == []


def test_without_notify_send_only_a_log_line(caplog: pytest.LogCaptureFixture):
    notifier = RunNotifier("", run=lambda *a, **k: pytest.fail("must not run"))
    with caplog.at_level(logging.INFO, logger="appliance.jobs.schedules.notify"):
        notifier(run())
    assert "Scheduled upgrade succeeded" in caplog.text


def test_a_failing_notify_send_never_raises(caplog: pytest.LogCaptureFixture):
    def broken(*args, **kwargs):
        raise OSError("no session bus")

    RunNotifier("/usr/bin/notify-send", run=broken)(run())
    assert "notifying about run 3 failed" in caplog.text
