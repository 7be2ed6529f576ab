"""The Python of hosts on this machine, for every user a task may become.

Modules on a local host run under the appliance's own interpreter (frozen: the binary itself),
which may live where only the engineer's user can reach it: a virtualenv under a private home,
a binary in ``~/Downloads``. A task with ``become_user: postgres`` then failed with
``/bin/sh: <python>: Permission denied``. Whether a task becomes another user is only known
when it runs (play, block or task keywords), so the interpreter of local hosts is a small
``/bin/sh`` script, readable and runnable by everyone, that decides then: the appliance's own
interpreter when this user can run it, else the first system ``python3`` (3.8 or later, as
ansible-core's modules need), else a message that says what to do, and exit 126.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import sys
import tempfile
import threading
from pathlib import Path

# Where a system python3 usually is (Debian/Ubuntu/Fedora/RHEL/SUSE/Arch, macOS, BSDs).
SYSTEM_PYTHONS = (
    "/usr/bin/python3",
    "/usr/local/bin/python3",
    "/usr/libexec/platform-python",
    "/bin/python3",
    "/opt/homebrew/bin/python3",
)
EXIT_NO_PYTHON = 126

_SCRIPT = """\
#!/bin/sh
# Written by the appliance: the Python of tasks on this machine, for whichever user a task
# becomes (appliance/jobs/ansible/local_python.py).
own={own}
if [ -x "$own" ] && [ -r "$own" ]; then exec "$own" "$@"; fi
for python in {candidates}; do
  if [ -x "$python" ] && "$python" -c 'import sys; sys.exit(sys.version_info < (3, 8))' \\
      >/dev/null 2>&1; then
    exec "$python" "$@"
  fi
done
msg="user $(id -un) cannot run the appliance's Python ($own) and this machine has no python3 \\
(3.8 or later) that user can run, so the task cannot become that user here. Install python3 on \\
this machine (e.g. 'apt install python3' or 'dnf install python3'), or set the host variable \\
ansible_python_interpreter to a Python that user can run."
# As a module result on stdout (Ansible shows it as the task's message), and on stderr.
printf '{{"failed": true, "msg": "%s"}}\\n' "$(printf '%s' "$msg" | sed 's/[\\"]/\\\\&/g')"
echo "appliance: $msg" >&2
exit {code}
"""


def script_text(own: str) -> str:
    return _SCRIPT.format(
        own=shlex.quote(own),
        candidates=" ".join(shlex.quote(p) for p in SYSTEM_PYTHONS),
        code=EXIT_NO_PYTHON,
    )


def _reachable_by_all(folder: Path) -> bool:
    """Every folder from / down to ``folder`` lets other users through."""
    try:
        for part in [folder, *folder.parents]:
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


def _own_folder(base: Path) -> Path | None:
    """``base/appliance-<uid>-python``, made by this user, 0755; None if that cannot be had."""
    folder = base / f"appliance-{os.getuid()}-python"
    try:
        folder.mkdir(mode=0o755, exist_ok=True)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            # someone else made it first: never run a script from another user's folder
            folder = Path(tempfile.mkdtemp(prefix="appliance-python-", dir=base))
        os.chmod(folder, 0o755)
    except OSError:
        return None
    return folder


def local_interpreter(own: str | None = None) -> str | None:
    """Path of the script (written once per content), or None when no folder every user can
    reach could be found (then local hosts keep the appliance's own interpreter)."""
    own = own or sys.executable
    text = script_text(own)
    name = "python-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    for base in dict.fromkeys([tempfile.gettempdir(), "/tmp", "/var/tmp"]):
        if not _reachable_by_all(Path(base)):
            continue
        folder = _own_folder(Path(base))
        if folder is None:
            continue
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
            try:
                tmp.write_text(text, encoding="utf-8")
                tmp.chmod(0o755)
                os.replace(tmp, path)
            except OSError:
                tmp.unlink(missing_ok=True)
                continue
        return str(path)
    return None
