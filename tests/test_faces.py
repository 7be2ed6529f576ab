"""The three faces of the one binary, run unfrozen through real processes where it matters.

The same tests hold for the frozen binary (argv[0] symlinks instead of launcher scripts); the
packaging tests run them against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from appliance import compat, faces
from appliance.ansible_env import ansible_environment
from appliance.python_face import PythonCall, parse

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no ANSIBLE_* of the developer's shell, data dir in tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    clean["APPLIANCE_DATA_DIR"] = str(tmp_path / "data")
    return clean


def face(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        env=env,
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


# --- the python face ----------------------------------------------------------------------------


def test_c_code_gets_python_argv_and_empty_path_entry(tmp_path: Path) -> None:
    r = face(
        "-c", "import sys; print(sys.argv, repr(sys.path[0]), __name__)", "a", "b", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "['-c', 'a', 'b'] '' __main__\n"


def test_script_runs_as_main_with_args_and_exit_code(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "helper_mod.py").write_text("VALUE = 42\n")
    script = folder / "tool.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        import helper_mod  # importable because the script's folder is sys.path[0]
        print(sys.argv, sys.path[0], __file__, __name__, helper_mod.VALUE)
        sys.exit(3)
    """)
    )
    r = face(str(script), "x", "--flag")
    assert r.returncode == 3, r.stderr
    assert r.stdout.split() == [
        f"['{script}',",
        "'x',",
        "'--flag']",
        str(folder),
        str(script),
        "__main__",
        "42",
    ]


def test_module_reads_stdin() -> None:
    r = face("-m", "json.tool", input='{"b": 1, "a": [2]}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"b": 1, "a": [2]}


STDIN_PROGRAM = textwrap.dedent("""
    import sys, __main__
    print(sys.argv, '__file__' in globals(), hasattr(__main__, '__file__'), __name__)
    raise SystemExit(7)
""")


@pytest.mark.parametrize(
    ("args", "argv"),
    [((), [""]), (("-",), ["-"]), (("-", "q"), ["-", "q"]), (("--",), [""]), (("-I", "-"), ["-"])],
)
def test_stdin_program_has_no_file(args: tuple[str, ...], argv: list[str]) -> None:
    r = face(*args, input=STDIN_PROGRAM)
    assert r.returncode == 7, r.stderr
    assert r.stdout == f"{argv!r} False False __main__\n"


def test_uncaught_exception_and_message_exit_like_python() -> None:
    r = face("-c", "raise ValueError('boom')")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "Traceback (most recent call last):",
        '  File "<string>", line 1, in <module>',
        "ValueError: boom",
    ]
    r = face("-c", "import sys; sys.exit('bye')")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "bye\n")


def test_no_arguments_reads_stdin_only_when_it_carries_data() -> None:
    # A double-clicked binary has no arguments and /dev/null as stdin: that is the window.
    probe = "from appliance.python_face import parse; print(parse([], named=False))"
    quiet = subprocess.run(
        [sys.executable, "-c", probe],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    assert quiet.stdout == "None\n"
    piped = subprocess.run(
        [sys.executable, "-c", probe], input="", capture_output=True, text=True, check=True
    )
    assert piped.stdout.startswith("PythonCall(kind='stdin'")


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["--version"],
        ["-V"],
        ["-h"],
        ["-v"],
        ["bundle", "verify", "x.py"],
        ["run", "site", "b@1"],
    ],
)
def test_appliance_command_lines_are_not_python(args: list[str]) -> None:
    assert parse(args, named=False) is None


@pytest.mark.parametrize(
    ("args", "call"),
    [
        (["-Ic", "pass", "x"], PythonCall("code", "pass", ("-c", "x"))),
        (
            ["-B", "-s", "-W", "ignore", "-X", "utf8", "-c", "pass"],
            PythonCall("code", "pass", ("-c",)),
        ),
        (["-mjson.tool", "f"], PythonCall("module", "json.tool", ("-m", "f"))),
        (["--", "run"], PythonCall("script", "run", ("run",))),
    ],
)
def test_python_syntax_is_recognised(args: list[str], call: PythonCall) -> None:
    assert parse(args, named=False) == call


def test_dispatch_by_argv0_runs_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    argv_before, path_before = list(sys.argv), list(sys.path)
    code = faces.dispatch(
        ["/x/python3", "-c", "import sys; print(sys.argv, repr(sys.path[0])); sys.exit(5)", "z"]
    )
    assert code == 5
    assert capsys.readouterr().out == "['-c', 'z'] ''\n"
    assert (sys.argv, sys.path) == (argv_before, path_before)
    assert faces.dispatch(["/usr/local/bin/python3.11", "-V"]) == 0
    assert capsys.readouterr().out == f"Python {sys.version.split()[0]}\n"
    assert faces.dispatch(["/x/python", "--bogus"]) == 2
    assert faces.dispatch(["/x/appliance", "serve"]) is None


# --- the playbook face --------------------------------------------------------------------------


def test_ansible_environment_points_into_data_dir(tmp_path: Path) -> None:
    values = ansible_environment(tmp_path)
    assert values["LC_ALL"] == values["LANG"] == "C.UTF-8"
    assert values["ANSIBLE_HOME"] == str(tmp_path / "ansible")
    for name in ("ANSIBLE_LOCAL_TEMP", "ANSIBLE_REMOTE_TEMP"):
        assert Path(values[name]).is_dir() and Path(values[name]).is_relative_to(tmp_path)
    assert "ANSIBLE_HOST_KEY_CHECKING" not in values


def test_playbook_version(env: dict[str, str]) -> None:
    import ansible.release

    r = face("playbook", "--version", env=env)
    assert r.returncode == 0, r.stderr
    assert f"[core {ansible.release.__version__}]" in r.stdout


def test_the_playbook_and_adhoc_faces_import_the_core_tree_named(env: dict[str, str]) -> None:
    """APPLIANCE_ANSIBLE_TREE alone (no PYTHONPATH: a frozen program ignores it) makes the
    faces import that tree's ansible: the carried 2.16 of scripts/setup.sh."""
    tree = compat.carried_cores_dir() / "2.16"
    assert (tree / "ansible" / "release.py").is_file(), "scripts/setup.sh installs it"
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout, not the tree
    env[compat.CORE_TREE_VAR] = str(tree)
    for words in (["playbook", "--version"], ["ansible", "--version"]):
        r = face(*words, env=env)
        assert r.returncode == 0, r.stderr
        assert "[core 2.16." in r.stdout and str(tree / "ansible") in r.stdout, r.stdout
    assert faces.use_core_tree({}) is None  # unset: our own core, sys.path untouched


PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo hi
      register: echo
    - set_fact:
        said: "{{ echo.stdout }}"
    - assert:
        that: said == 'hi'
"""


def test_playbook_runs_locally_with_temp_dirs_in_data_dir(
    tmp_path: Path, env: dict[str, str]
) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    # An explicit localhost gets interpreter discovery, which picks whatever shim is on PATH;
    # the run engine pins local hosts to ansible_playbook_python, as done here.
    r = face(
        "playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter={{ ansible_playbook_python }}",
        str(playbook),
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=3" in r.stdout and "failed=0" in r.stdout
    ansible_home = tmp_path / "data" / "ansible"
    assert (ansible_home / "tmp" / "local").is_dir()
    assert (ansible_home / "tmp" / "remote").is_dir()
    failing = face(
        "playbook", "-i", "localhost,", "-c", "local", str(tmp_path / "nope.yml"), env=env
    )
    assert failing.returncode != 0


# --- launchers: what ansible-runner and Ansible execute -----------------------------------------


@pytest.fixture
def launchers(tmp_path: Path) -> Path:
    return compat.launcher_dir(tmp_path / "bin")


def test_launcher_dir_is_idempotent_and_executable(
    tmp_path: Path, launchers: Path, env: dict[str, str]
) -> None:
    assert compat.launcher_dir(tmp_path / "bin") == launchers
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == [launchers.name]
    for name in ("ansible-playbook", "ansible", "python3"):
        assert os.access(launchers / name, os.X_OK)
    r = subprocess.run(
        [launchers / "ansible-playbook", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "ansible-playbook [core" in r.stdout, r.stderr
    r = subprocess.run(
        [launchers / "python3", "-c", "import sys; print(sys.argv)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "['-c']\n", r.stderr


MODULES_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo hi
      register: echo
    - copy:
        content: "{{ echo.stdout }}\\n"
        dest: "{{ out }}"
    - stat:
        path: "{{ out }}"
      register: st
    # the module's parent process is the interpreter Ansible ran: show its command line
    - shell: tr '\\0' ' ' < /proc/$PPID/cmdline
      register: interp
    - assert:
        that:
          - st.stat.exists and st.stat.size == 3
          - "'-m appliance' in interp.stdout"
    - debug:
        msg: "INTERPRETER=[{{ interp.stdout }}]"
"""


@pytest.mark.parametrize("pipelining", ["0", "1"])
def test_modules_run_through_the_python_face(
    tmp_path: Path, launchers: Path, env: dict[str, str], pipelining: str
) -> None:
    playbook = tmp_path / "modules.yml"
    playbook.write_text(MODULES_PLAYBOOK)
    inventory = tmp_path / "hosts"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={launchers / 'python3'}\n"
    )
    # Kept remote files prove the remote temp is ours; keeping them turns pipelining off.
    env = {
        **env,
        "ANSIBLE_PIPELINING": pipelining,
        "ANSIBLE_KEEP_REMOTE_FILES": "1" if pipelining == "0" else "0",
        "PATH": f"{launchers}{os.pathsep}{env['PATH']}",
    }
    r = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "-e", f"out={tmp_path / 'o'}", str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "o").read_text() == "hi\n"
    line = next(x for x in r.stdout.splitlines() if "INTERPRETER=" in x)
    # Pipelined modules arrive on stdin; otherwise the AnsiballZ script path is the argument.
    assert ("AnsiballZ_command.py" in line) == (pipelining == "0"), line
    remote_temp = tmp_path / "data" / "ansible" / "tmp" / "remote"
    assert any(remote_temp.iterdir()) == (pipelining == "0")


def test_ansible_runner_finds_our_playbook_face_on_path(
    tmp_path: Path, launchers: Path, env: dict[str, str]
) -> None:
    import ansible_runner

    private = tmp_path / "private"
    (private / "project").mkdir(parents=True)
    (private / "project" / "check.yml").write_text(
        textwrap.dedent("""
        - hosts: all
          gather_facts: false
          tasks:
            # lookups run in a fork of the ansible-playbook process: its parent's command line
            - set_fact:
                controller: "{{ lookup('pipe', 'tr \\"\\\\0\\" \\" \\" < /proc/$PPID/cmdline') }}"
            - assert:
                that:
                  - "'-m appliance playbook' in controller"
                  - lookup('env', 'ANSIBLE_HOME') == data_dir + '/ansible'
                  - lookup('env', 'ANSIBLE_HOST_KEY_CHECKING') == 'True'
            - command: echo from-runner
    """)
    )
    inventory = tmp_path / "hosts"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={launchers / 'python3'}\n"
    )
    # The venv's own ansible-playbook comes second on PATH: the launcher must win.
    path = os.pathsep.join([str(launchers), str(VENV_BIN), env["PATH"]])
    r = ansible_runner.run(
        private_data_dir=str(private),
        playbook="check.yml",
        inventory=str(inventory),
        envvars={
            "PATH": path,
            "APPLIANCE_DATA_DIR": env["APPLIANCE_DATA_DIR"],
            # ansible-runner turns host key checking off unless it is set explicitly
            "ANSIBLE_HOST_KEY_CHECKING": "True",
        },
        extravars={"data_dir": env["APPLIANCE_DATA_DIR"]},
        quiet=True,
        timeout=60,
    )
    stdout = r.stdout.read()
    assert (r.status, r.rc) == ("successful", 0), stdout
    assert r.config.command[0] == "ansible-playbook"
    assert "ok=3" in stdout
    assert any(
        e.get("event") == "runner_on_ok" and "from-runner" in str(e.get("event_data"))
        for e in r.events
    )


def test_askpass_face_answers_ssh_password_prompt(launchers: Path, env: dict[str, str]) -> None:
    from multiprocessing.shared_memory import SharedMemory

    data = json.dumps({"password": "s3cret", "prompt": "assword"}).encode()
    shm = SharedMemory(create=True, size=1024)
    try:
        shm.buf[: len(data)] = data
        r = subprocess.run(
            [launchers / "ansible", "deploy@db1's password: "],
            env={**env, "_ANSIBLE_SSH_ASKPASS_SHM": shm.name},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shm.close()
        shm.unlink()
    assert (r.returncode, r.stdout) == (0, "s3cret"), r.stderr


def test_frozen_launchers_are_symlinks_to_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    folder = compat.launcher_dir(tmp_path / "bin")
    for name in ("ansible-playbook", "ansible", "python3"):
        assert (folder / name).is_symlink()
        assert os.readlink(folder / name) == sys.executable
    monkeypatch.delattr(sys, "frozen")
    assert compat.launcher_dir(tmp_path / "bin") != folder  # scripts, in their own subfolder


def test_frozen_children_get_the_users_library_path_back() -> None:
    from appliance.compat import restore_library_path

    reset = {"PYINSTALLER_RESET_ENVIRONMENT": "1"}  # a child binary is a new instance
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI123:/opt/lib", "LD_LIBRARY_PATH_ORIG": "/opt/lib"}
    restore_library_path(env, frozen=True)
    assert env == {"LD_LIBRARY_PATH": "/opt/lib", **reset}
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI123"}
    restore_library_path(env, frozen=True)
    assert env == reset
    env = {"LD_LIBRARY_PATH": "/usr/local/lib"}
    restore_library_path(env, frozen=False)  # unfrozen: the user's own value, untouched
    assert env == {"LD_LIBRARY_PATH": "/usr/local/lib"}
