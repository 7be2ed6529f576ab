"""`appliance bundle build` refuses content Ansible cannot load: a playbook naming a role or a
module the bundle does not carry is refused with the playbook and the name, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.bundle.conftest import Keys, write_project
from tests.support.processes import run_cli


def build(tmp_path: Path, project: Path, keys: Keys) -> tuple[int, str, str, Path]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    result = run_cli(
        tmp_path / "data",
        "bundle",
        "build",
        str(project),
        "--key",
        str(keys.key_path),
        "-o",
        str(out),
    )
    return result.returncode, result.stdout, result.stderr, out


def assert_refused(tmp_path: Path, project: Path, keys: Keys, *needles: str) -> str:
    rc, stdout, stderr, out = build(tmp_path, project, keys)
    assert rc != 0 and stdout == "", (rc, stdout, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "Traceback" not in stderr, stderr  # one line, plus a hint
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert os.listdir(out) == [], os.listdir(out)  # nothing written, no temporary file either
    assert not list(project.rglob("*.retry"))
    return lines[0]


@pytest.mark.slow
def test_a_playbook_with_a_missing_role_is_refused(tmp_path: Path, keys: Keys) -> None:
    project = write_project(tmp_path / "src")
    (project / "playbooks/app.yml").write_text("- hosts: app\n  roles: [db, nowhere_role]\n")
    line = assert_refused(tmp_path, project, keys, "playbooks/app.yml", "nowhere_role")
    assert "syntax check" in line


@pytest.mark.slow
def test_a_playbook_with_an_unresolvable_module_is_refused(tmp_path: Path, keys: Keys) -> None:
    project = write_project(tmp_path / "src")
    (project / "playbooks/verify.yml").write_text(
        "- hosts: all\n  tasks:\n    - ansible.posix.authorized_key: {user: x, key: y}\n"
    )
    assert_refused(tmp_path, project, keys, "playbooks/verify.yml", "ansible.posix.authorized_key")


@pytest.mark.slow
def test_roles_and_collections_of_the_bundle_pass_from_playbooks(
    tmp_path: Path, keys: Keys
) -> None:
    """The checked project (tests/bundle/conftest.py) keeps its role in roles/ and its
    playbooks in playbooks/; a collection in collections/ resolves too."""
    project = write_project(tmp_path / "src")
    module = project / "collections/ansible_collections/acme/tools/plugins/modules/hello.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from ansible.module_utils.basic import AnsibleModule\n"
        "AnsibleModule(argument_spec={}).exit_json(changed=False)\n"
    )
    (project / "collections/ansible_collections/acme/tools/galaxy.yml").write_text(
        "namespace: acme\nname: tools\nversion: 1.0.0\n"
    )
    (project / "playbooks/verify.yml").write_text(
        "- hosts: all\n  tasks:\n    - acme.tools.hello: {}\n"
    )
    rc, stdout, stderr, out = build(tmp_path, project, keys)
    assert rc == 0, stderr
    assert Path(stdout.strip()).parent == out and Path(stdout.strip()).is_file()
    assert not list(project.rglob("*.retry"))
