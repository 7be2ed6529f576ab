"""``become_user: <another user>`` on a local host from the one binary (issue 13, item 7): the
binary's unpacked folder sits in the engineer's private cache, which the other user cannot
enter, so that user's modules run on the machine's python3 through the local_python script.

Runs as root with the throwaway user of tests/runs/test_become_local.py (made with useradd when
absent); ``sudo`` is added to the laptop's clean PATH (a laptop has it; the frozen tests' PATH
otherwise holds no such tool)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from tests.frozen.test_binary import binary, env, laptop, ok, run  # noqa: F401 (fixtures)
from tests.runs.conftest import DEMO_KEY
from tests.runs.test_become_local import OTHER, PLAYBOOK, ensure_user

pytestmark = pytest.mark.slow


def test_become_user_on_a_local_host_from_the_binary(
    env: dict[str, str],  # noqa: F811
    laptop: Path,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    other = ensure_user(OTHER)
    tools = Path(env["PATH"])
    if not (tools / "sudo").exists():
        (tools / "sudo").symlink_to(shutil.which("sudo") or "/usr/bin/sudo")
    src = tmp_path / "src"
    (src / "playbooks").mkdir(parents=True)
    (src / "playbooks/site.yml").write_text(PLAYBOOK)
    (src / "bundle.yml").write_text(
        'format: 1\nname: become\nversion: "1.0.0"\n'
        "components:\n  - {name: become, version: '1', playbook: playbooks/site.yml}\n"
    )
    key = tmp_path / "vendor.key"
    shutil.copyfile(DEMO_KEY, key)  # its public half ships inside the binary
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = tmp_path / "out"
    out.mkdir()
    built = ok(run(env, "bundle", "build", str(src), "--key", str(key), "-o", str(out)))
    ok(run(env, "bundle", "import", built.strip()))

    shared = Path(tempfile.mkdtemp(prefix="appliance-become-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o777)  # the other user writes here
    ok(
        run(
            env,
            "site",
            "add",
            "becomelab",
            "--host",
            "local=localhost",
            "--var",
            f"other_user={OTHER}",
            "--var",
            f"out_dir={shared}",
        )
    )
    result = run(env, "run", "becomelab", "become@1.0.0", timeout=400)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert "failed=0" in result.stdout
    made = shared / "made.txt"
    assert made.read_text() == f"made by {OTHER}\n"
    assert os.stat(made).st_uid == other.pw_uid
