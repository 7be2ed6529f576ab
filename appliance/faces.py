"""The faces of the one binary: which program this process is, chosen by argv[0] or argv[1].

- ``ansible-playbook`` (argv[0] name) or ``appliance playbook ARGS``: Ansible's playbook CLI;
- ``ansible`` (argv[0] name) or ``appliance ansible ARGS``: Ansible's ad-hoc CLI, which is also
  how ssh password authentication calls back (SSH_ASKPASS names ``ansible``);
- ``python``/``python3``/``python3.X`` (argv[0] name), or Python's own syntax as arguments:
  a minimal python, see :mod:`appliance.python_face`;
- anything else: ``None``, the appliance itself.

Only the standard library is imported here: ``appliance --version`` must stay cheap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from appliance import python_face
from appliance.compat import CORE_TREE_VAR

PLAYBOOK_NAME = "ansible-playbook"
ADHOC_NAME = "ansible"


def dispatch(argv: list[str]) -> int | None:
    """Run the face ``argv`` asks for and return its exit code; None means the appliance face.

    Under ``python -m appliance`` argv[0] is the path of ``__main__.py``, which names no face,
    so only the arguments decide there.
    """
    name = os.path.basename(argv[0]) if argv else ""
    args = list(argv[1:])
    if name == PLAYBOOK_NAME:
        return run_playbook(args, argv0=argv[0])
    if name == ADHOC_NAME:
        return run_adhoc(args, argv0=argv[0])
    if python_face.is_python_name(name):
        return python_face.run(python_face.parse(args, named=True))
    if args[:1] == ["playbook"]:
        return run_playbook(args[1:], argv0=argv[0])
    if args[:1] == ["ansible"]:
        return run_adhoc(args[1:], argv0=argv[0])
    call = python_face.parse(args, named=False)
    if call is not None:
        return python_face.run(call)
    return None


def _data_dir() -> Path:
    explicit = os.environ.get("APPLIANCE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    from appliance.settings import load_settings

    return load_settings().data_path


def use_core_tree(environ: Mapping[str, str] | None = None) -> str | None:
    """Import ``ansible`` from the carried tree ``APPLIANCE_ANSIBLE_TREE`` names, if any: first
    on sys.path, ahead of our own core (frozen, PyInstaller's importer is a sys.path entry hook
    on the build's folder, so the tree wins for ``ansible`` and every submodule; its ``.py`` files
    load through the file finder). Frozen builds write no byte code; the tree's is kept (beside
    it, in the user's private unpacked folder) so later children skip compiling it. Returns the
    tree used; None when unset or ``ansible`` is already imported (too late to choose)."""
    tree = (os.environ if environ is None else environ).get(CORE_TREE_VAR)
    if not tree or "ansible" in sys.modules:
        return None
    sys.path.insert(0, tree)
    sys.dont_write_bytecode = False
    return tree


def _prepare_ansible(argv0: str, prog: str, args: list[str]) -> int | None:
    """Set the environment Ansible must see at import time; an exit code if that failed."""
    from appliance.ansible_env import apply_ansible_environment
    from appliance.errors import ApplianceError

    try:
        apply_ansible_environment(os.environ, _data_dir())
    except (ApplianceError, OSError) as e:
        hint = getattr(e, "hint", "Set APPLIANCE_DATA_DIR to a writable folder.")
        sys.stderr.write(f"{prog}: cannot prepare the data directory: {e}\nHint: {hint}\n")
        return 2
    use_core_tree()
    # Ansible looks next to sys.argv[0] for its sibling `ansible` (ssh askpass) and checks the
    # basename of sys.argv[0] when ansible.cli is imported, so argv[0] keeps the invoked path
    # when a launcher name chose the face.
    sys.argv = [argv0 if os.path.basename(argv0) == prog else prog, *args]
    return None


def _cli_exit(cli_main: Callable[[list[str]], object], prog: str, args: list[str]) -> int:
    # Ansible's cli_executor ends with sys.exit(); inside our process that is just a return.
    try:
        result = cli_main([prog, *args])
    except SystemExit as e:
        return python_face.exit_code(e)
    return result if isinstance(result, int) else 0


def run_playbook(args: list[str], argv0: str = PLAYBOOK_NAME) -> int:
    """``ansible-playbook ARGS`` in this process (environment prepared before Ansible loads)."""
    failed = _prepare_ansible(argv0, PLAYBOOK_NAME, args)
    if failed is not None:
        return failed
    from ansible.cli.playbook import main as playbook_main

    return _cli_exit(playbook_main, PLAYBOOK_NAME, args)


def run_adhoc(args: list[str], argv0: str = ADHOC_NAME) -> int:
    """``ansible ARGS`` in this process; with ``_ANSIBLE_SSH_ASKPASS_SHM`` set, importing
    ansible.cli answers ssh's password prompt and exits (Ansible's SSH_ASKPASS contract)."""
    failed = _prepare_ansible(argv0, ADHOC_NAME, args)
    if failed is not None:
        return failed
    try:
        from ansible.cli.adhoc import main as adhoc_main
    except SystemExit as e:
        return python_face.exit_code(e)
    return _cli_exit(adhoc_main, ADHOC_NAME, args)
