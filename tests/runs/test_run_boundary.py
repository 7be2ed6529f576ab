"""What a run records when something inside the appliance stops it: a refusal raised on purpose
keeps its own words and way out; only a real bug is an "internal error"."""

from __future__ import annotations

import pytest

from appliance.errors import ApplianceError
from appliance.jobs.runs import manager as manager_module
from appliance.jobs.runs.manager import RunManager
from appliance.store.credential_key import CredentialKeyError


def _fail_prepare(monkeypatch, error: Exception) -> None:
    # Stands in for what the workspace can meet after the run's start passed its checks (the
    # site's credentials damaged in between): making that happen for real is a race.
    def prepare(ctx, run):
        raise error

    monkeypatch.setattr(manager_module, "prepare", prepare)


def test_a_refusal_inside_a_run_is_recorded_in_its_own_words(
    manager: RunManager, local_site, import_bundle, monkeypatch
) -> None:
    import_bundle("demo-platform@1.0.0")
    _fail_prepare(
        monkeypatch,
        CredentialKeyError("the ssh_key of site 1 cannot be decrypted", "Set them again."),
    )
    run = manager.start_run("lab", "demo-platform", "1.0.0", "install")
    done = manager.wait(run["id"], 30)
    assert done["state"] == "failed"
    assert done["error"] == "the ssh_key of site 1 cannot be decrypted"
    assert done["hint"] == "Set them again."
    assert "internal error" not in manager.ctx.paths.run_log(run["id"]).read_text()


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), ApplianceError("a bug raised on purpose")], ids=repr
)
def test_a_bug_inside_a_run_is_an_internal_error(
    manager: RunManager, local_site, import_bundle, monkeypatch, error: Exception
) -> None:
    import_bundle("demo-platform@1.0.0")
    _fail_prepare(monkeypatch, error)
    run = manager.start_run("lab", "demo-platform", "1.0.0", "install")
    done = manager.wait(run["id"], 30)
    assert done["state"] == "failed"
    assert done["error"].startswith("internal error: ")
    assert done["hint"] == ApplianceError.default_hint
