"""ansible-core 2.16 from the one binary (issue 25): the built file, run as on a laptop with no
Python, checks and installs a site whose host h2 has only Python 2.7, through the 2.16 tree it
carries (imported by its own playbook/ad-hoc faces, APPLIANCE_ANSIBLE_TREE); a site of modern
hosts still runs on the binary's own 2.19.

What is real: the binary (tests/frozen/support.py builds it when stale), the SSH lab
(tests/remote/conftest.py: sshd in network namespaces), Debian 11's own python2.7 2.7.18 on h2
(scripts/old_python_root.sh, as in tests/remote/test_old_targets.py), the other hosts'
/usr/bin/python3, and the bundle of tests/fixtures/bundles/old-targets, which writes on every
host the Python that ran its modules and ``ansible_version.full``. The laptop's PATH holds the
frozen tests' tools plus the OpenSSH client programs Ansible's ssh connection runs (a laptop
has them). 2.16 under the binary's Python 3.13 is outside Ansible's published controller range:
the check says so, and this test is what stands behind running it there.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from tests.frozen.support import clean_env
from tests.frozen.test_binary import binary, ok, run  # noqa: F401 (fixtures)
from tests.remote.conftest import clean_roots, lab, site_spec, ssh_lab  # noqa: F401 (fixtures)
from tests.remote.test_old_targets import FIXTURE, old_root, python27  # noqa: F401 (fixtures)
from tests.runs.conftest import DEMO_KEY
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

SSH_TOOLS = ("ssh", "scp", "sftp", "ssh-keyscan", "ssh-keygen", "ssh-agent", "ssh-add")


@pytest.fixture
def lab_env(binary: Path, ssh_lab: SshLab, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The no-Python laptop of the frozen tests, its data folder where the hosts cannot see
    it (the lab's laptop folder), and the OpenSSH client on its PATH."""
    base = ssh_lab.laptop / f"frozen-{tmp_path.name}"
    env = clean_env(base)
    tools = Path(env["PATH"])
    for tool in SSH_TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed (openssh-client)"
        if not (tools / tool).exists():
            (tools / tool).symlink_to(found)
    return env


def add_site(env: dict[str, str], lab: SshLab, name: str, h2_python: str | None) -> None:  # noqa: F811
    """A site over the lab's hosts through the binary's CLI: inventory, key, sudo password,
    trusted host keys. ``h2_python``: h2's interpreter instead of /usr/bin/python3."""
    spec = site_spec(lab, name)
    hosts = {
        h["name"]: {"ansible_host": h["address"], "ansible_user": h["user"], **h["vars"]}
        for h in spec["hosts"]
    }
    if h2_python:
        hosts["h2"]["ansible_python_interpreter"] = h2_python
    inventory = Path(env["HOME"]) / f"{name}.yml"
    inventory.write_text(json.dumps({"all": {"vars": spec["vars"], "hosts": hosts}}))
    ok(run(env, "site", "add", name, "--inventory", str(inventory)))
    ok(
        run(
            env,
            *("site", "credentials", name, "--ssh-key", str(lab.client_key)),
            "--become-password-stdin",
            input=lab.password + "\n",
        )
    )
    ok(run(env, "site", "trust-keys", name, input="y\n"))


def seen(lab: SshLab, what: str) -> dict[str, str]:  # noqa: F811
    return {h.name: (h.root / "base" / what).read_text().strip() for h in lab.hosts}


def test_python_2_7_through_the_carried_2_16_and_modern_hosts_through_2_19(
    lab_env: dict[str, str],
    lab: SshLab,  # noqa: F811
    python27: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = lab_env
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)  # its public half ships inside the binary
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    ok(run(env, "bundle", "import", str(build_bundle(FIXTURE, key, tmp_path))))

    # A site of modern hosts: the binary's own ansible-core (2.19), as before.
    add_site(env, lab, "modern", None)
    clean_roots(lab)
    result = run(env, "run", "modern", "old-targets@1.0.0", timeout=600)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert set(seen(lab, "ansible-seen").values()) == {"2.19.14"}, seen(lab, "ansible-seen")
    assert all(v.startswith("3.11.") for v in seen(lab, "python-seen").values())

    # h2 with Python 2.7 only: the check names 2.16 for it (with the outside-the-matrix note)
    # and its ping ran through 2.16; h1 and h3 stay on 2.19.
    add_site(env, lab, "old", python27)
    checked = json.loads(run(env, "site", "check", "old", "--json").stdout)
    got = {h["host"]: h for h in checked["hosts"]}
    old = got["h2"]
    assert old["python_version"] == "2.7.18" and old["manageable"], old
    assert old["ansible_core"] == "2.16.19" and old["modules"] and old["sudo"] == "ok", old
    assert "outside the controller range Ansible publishes" in old["ansible_core_note"], old
    for name in ("h1", "h3"):
        assert got[name]["ansible_core"] == "2.19.14" and got[name]["modules"], got[name]
        assert got[name]["ansible_core_note"] is None, got[name]
    assert checked["ok"], checked
    table = ok(run(env, "site", "check", "old"))
    assert "note (h2): ansible-core 2.16 runs here under Python 3.13" in table, table

    # The run: one core for the site, 2.16, in the binary's own child processes.
    clean_roots(lab)
    result = run(env, "run", "old", "old-targets@1.0.0", timeout=600)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert set(seen(lab, "ansible-seen").values()) == {"2.16.19"}, seen(lab, "ansible-seen")
    python = seen(lab, "python-seen")
    assert python["h2"] == f"2.7.18 {Path(python27).parents[1] / 'usr/bin/python2.7'}", python
    assert python["h1"].startswith("3.11.") and python["h3"].startswith("3.11."), python
    log = result.stdout  # `run` follows the run's log
    assert "ansible-core 2.16.19 manages Python 2.7 and 3.6 or newer: this run" in log, log[-3000:]
    assert "outside the controller range Ansible publishes" in log, log[-3000:]


# A module that says whose module_utils it was built with (Ansible finds it in library/ beside
# the playbook) and a play that writes that down on the local host.
WHICH_UTILS = """from ansible.module_utils import ansible_release, basic
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={})
module.exit_json(release=ansible_release.__version__, basic=basic.__file__)
"""
LOCAL_PLAY = """- hosts: all
  gather_facts: false
  tasks:
    - which_utils:
      register: utils
    - ansible.builtin.copy:
        content: "{{ ansible_version.full }} {{ utils.release }} {{ utils.basic }}\\n"
        dest: "{{ out_dir }}/{{ site_name }}"
        mode: "0644"
"""


def test_local_modules_get_the_module_utils_of_the_core_that_built_them(
    binary: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """On a local host the modules run on the binary's python face, whose code cache
    (appliance/zipcode.py) keeps compiled module_utils by their source's hash: after a run
    through 2.19, a run of a site pinned to 2.16 still gets 2.16's module_utils, and the next
    2.19 run 2.19's. (2.16's modules on the python face's 3.13 are outside 2.16's published
    target range, 2.7 and 3.6-3.12, too: only a site pinned to 2.16 does this.)"""
    env = clean_env(tmp_path / "laptop")
    src = tmp_path / "src"
    (src / "playbooks" / "library").mkdir(parents=True)
    (src / "playbooks" / "site.yml").write_text(LOCAL_PLAY)
    (src / "playbooks" / "library" / "which_utils.py").write_text(WHICH_UTILS)
    (src / "bundle.yml").write_text(
        'format: 1\nname: utils\nversion: "1.0.0"\n'
        "components:\n  - {name: utils, version: '1', playbook: playbooks/site.yml}\n"
    )
    key = tmp_path / "vendor.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = tmp_path / "out"
    out.mkdir()
    built = ok(run(env, "bundle", "build", str(src), "--key", str(key), "-o", str(out)))
    ok(run(env, "bundle", "import", built.strip()))
    written = tmp_path / "written"
    written.mkdir()
    for site, pin in (("new", None), ("old", "2.16"), ("again", None)):
        pinned = ["--var", f"appliance_ansible_core={pin}"] if pin else []
        where = ["--var", f"out_dir={written}", "--var", f"site_name={site}"]
        ok(run(env, "site", "add", site, "--host", "local=localhost", *where, *pinned))
        result = run(env, "run", site, "utils@1.0.0", timeout=400)
        assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    seen = {p.name: p.read_text().split() for p in written.iterdir()}
    assert seen["new"][:2] == ["2.19.14", "2.19.14"], seen
    assert seen["old"][:2] == ["2.16.19", "2.16.19"], seen
    assert seen["again"][:2] == ["2.19.14", "2.19.14"], seen
    for *_, path in seen.values():  # imported from the module's payload, not the binary's own
        assert "_payload.zip/ansible/module_utils/basic.py" in path, seen
    cache = Path(env["HOME"]) / ".cache" / "appliance" / "zipcode"
    assert len(list(cache.iterdir())) > 50, "the python face's code cache was used"
