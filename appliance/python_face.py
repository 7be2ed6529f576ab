"""The minimal python face: what Ansible asks of ``ansible_python_interpreter`` on local hosts.

For the implicit localhost that interpreter is ``sys.executable``: frozen, the binary itself.
Ansible runs it as ``BIN /tmp/.../AnsiballZ_x.py`` (a script), ``BIN`` with the module on stdin
(pipelining), ``BIN --`` with a payload on stdin (module respawn), and multiprocessing's resource
tracker runs ``BIN [flags] -c CODE``. The code runs in this process, in a fresh ``__main__``,
with ``sys.argv`` and ``sys.path[0]`` as Python would set them, so everything bundled with the
appliance (stdlib, ansible) is importable to it. Frozen, code compiled from zip imports (the
module payloads) is kept in the unpack cache between runs (:mod:`appliance.zipcode`).

This module writes nothing of its own to stdout: only what the executed code writes.
"""

from __future__ import annotations

import builtins
import os
import re
import runpy
import stat
import sys
import types
from dataclasses import dataclass
from typing import Literal

from appliance import compat

_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?")
# Interpreter flags that take no value; accepted and ignored (the binary's interpreter is fixed).
_FLAGS = frozenset("bBdEhiIOPqsSuvVx")
# Flags whose value follows (attached or as the next argument); ignored too.
_VALUE_FLAGS = frozenset("WX")
# The file the launcher (packaging/onefile/launcher.c) writes last into an unpacked build.
MARKER = ".appliance-complete"
_USAGE = "usage: python3 [option] ... [-c cmd | -m mod | file | -] [arg] ..."

Kind = Literal["code", "module", "script", "stdin", "repl", "version", "usage"]


@dataclass(frozen=True)
class PythonCall:
    """What a python command line asks for: ``target`` is the code, module name, script path or
    usage message; ``argv`` is ``sys.argv`` as Python would set it."""

    kind: Kind
    target: str = ""
    argv: tuple[str, ...] = ("",)


def is_python_name(name: str) -> bool:
    """True for ``python``, ``python3``, ``python3.11``: the launcher names of this face."""
    return _PYTHON_NAME.fullmatch(name) is not None


def _stdin_is_data() -> bool:
    """True when stdin is a pipe, socket or file (Ansible feeding a module), not a terminal or
    /dev/null: a double-clicked binary has no arguments and /dev/null as stdin, and must open
    the window rather than read an empty program."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISREG(mode)


def _looks_like_script(path: str) -> bool:
    name = os.path.basename(path)
    return (name.endswith(".py") or name.startswith("AnsiballZ_")) and os.path.isfile(path)


def parse(args: list[str], named: bool) -> PythonCall | None:
    """Read ``args`` the way Python reads its command line.

    ``named`` says argv[0] is called python: then every command line is python's, and mistakes
    are usage errors. Otherwise (the appliance's own name) only unmistakable python calls count:
    ``-c``/``-m``/``-``/``--``, an existing ``.py`` or ``AnsiballZ_*`` script, or no arguments
    with data on stdin; anything else is None, the appliance's own command line.
    """

    def refuse(message: str) -> PythonCall | None:
        return PythonCall("usage", message) if named else None

    i, version, explicit_end = 0, False, False
    while i < len(args):
        arg = args[i]
        if arg == "-":
            return PythonCall("stdin", argv=("-", *args[i + 1 :]))
        if arg == "--":
            i, explicit_end = i + 1, True
            break
        if arg == "--version":
            i, version = i + 1, True
            continue
        if arg.startswith("--"):
            return refuse(f"unknown option {arg}")
        if not arg.startswith("-"):
            break
        j = 1
        while j < len(arg):
            flag = arg[j]
            if flag in "cm" or flag in _VALUE_FLAGS:
                value, rest_at = arg[j + 1 :], i + 1
                if not value:
                    if rest_at >= len(args):
                        return refuse(f"Argument expected for the -{flag} option")
                    value, rest_at = args[rest_at], rest_at + 1
                if flag == "c":
                    return PythonCall("code", value, ("-c", *args[rest_at:]))
                if flag == "m":
                    # runpy replaces argv[0] with the module's file, as python -m does
                    return PythonCall("module", value, ("-m", *args[rest_at:]))
                i = rest_at
                break
            if flag not in _FLAGS:
                return refuse(f"Unknown option: -{flag}")
            version = version or flag == "V"
            j += 1
        else:
            i += 1
    rest = args[i:]
    if version:
        return PythonCall("version") if named else None
    if rest:
        if named or explicit_end or _looks_like_script(rest[0]):
            return PythonCall("script", rest[0], tuple(rest))
        return None
    if named:
        interactive = sys.stdin is not None and sys.stdin.isatty()
        return PythonCall("repl") if interactive else PythonCall("stdin")
    if explicit_end or (not args and _stdin_is_data()):
        return PythonCall("stdin")
    return None


def exit_code(exc: SystemExit) -> int:
    """The process exit status Python gives a SystemExit (a message goes to stderr, status 1)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _exec_main(source: str | bytes, filename: str) -> None:
    # A real module (not a bare dict) so `import __main__` in the code finds its own namespace;
    # it has no __file__, which is how Ansible's wrapper tells it was fed on stdin.
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    # dont_inherit: this module's `from __future__ import annotations` must not leak into it.
    exec(compile(source, filename, "exec", dont_inherit=True), main.__dict__)


def _report(exc: BaseException) -> None:
    """Show an uncaught exception as Python would, without the frames of this face."""
    own = {__file__, runpy.__file__, "<frozen runpy>"}
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in own:
        tb = tb.tb_next
    # The default hook prints exc.__traceback__ whatever tb it is given, so trim that too.
    sys.excepthook(type(exc), exc.with_traceback(tb), tb)


def _run(call: PythonCall) -> None:
    if call.kind == "code":
        compat.set_main_path_entry("")
        _exec_main(call.target, "<string>")
    elif call.kind == "stdin":
        compat.set_main_path_entry("")
        _exec_main(sys.stdin.buffer.read() if sys.stdin is not None else b"", "<stdin>")
    elif call.kind == "module":
        compat.set_main_path_entry(os.getcwd())
        runpy.run_module(call.target, run_name="__main__", alter_sys=True)
    elif call.kind == "script":
        real = os.path.realpath(call.target)
        compat.set_main_path_entry(real if os.path.isdir(real) else os.path.dirname(real))
        runpy.run_path(call.target, run_name="__main__")
    elif call.kind == "repl":
        import code

        compat.set_main_path_entry("")
        code.interact(banner=f"Python {sys.version} (appliance)", exitmsg="")


def _cache_zip_imports() -> bool:
    """Frozen, started from the launcher's unpack cache (its folder has the launcher's marker):
    modules imported from zip files (Ansible's module payloads) keep their compiled code in
    that cache (:mod:`appliance.zipcode`). Anywhere else zipimport works alone."""
    build = os.path.dirname(getattr(sys, "_MEIPASS", ""))
    if not (compat.is_frozen() and build and os.path.exists(os.path.join(build, MARKER))):
        return False
    from appliance import zipcode

    return zipcode.install(os.path.dirname(build), skip=build)


def run(call: PythonCall) -> int:
    """Run ``call`` in this process and return the exit status Python would have given."""
    if call.kind == "usage":
        sys.stderr.write(f"{call.target}\n{_USAGE}\n")
        return 2
    if call.kind == "version":
        sys.stdout.write(f"Python {sys.version.split()[0]}\n")
        return 0
    if call.kind == "script" and not os.path.exists(call.target):
        sys.stderr.write(
            f"python: can't open file {call.target!r}: [Errno 2] No such file or directory\n"
        )
        return 2
    if call.kind != "repl":
        _cache_zip_imports()
    saved_argv, saved_path, saved_main = sys.argv, list(sys.path), sys.modules.get("__main__")
    sys.argv = list(call.argv)
    try:
        _run(call)
    except SystemExit as e:
        return exit_code(e)
    except Exception as e:
        _report(e)
        return 1
    finally:
        # Matters only in-process (tests); a real python face exits right after.
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
    return 0
