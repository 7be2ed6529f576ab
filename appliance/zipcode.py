"""Compiled code of modules imported from zip files, kept between runs of the python face.

Ansible sends every module run a zip of the module and the ``module_utils`` it needs
(``ansible_<name>_payload.zip``, put first on ``sys.path``), and Python's ``zipimport`` compiles
the ``.py`` sources in it at every import: ~100 ms of CPU a module run, in a new temporary
folder each time, so nothing is ever reused. Frozen, local hosts run their modules under the
binary (the python face), so the face puts this path hook before ``zipimport``: the same
finder and the same module attributes (``__file__``, ``__path__``, ``__loader__`` answers
``get_source``, ``get_data`` and resources as zipimport's), only the code object comes from a
cache keyed by the SHA-256 of the source and the interpreter's bytecode magic (as
``__pycache__`` does for files; ``co_filename`` is set to the module's path in this zip, as
importlib does for a cached file that moved).

The cache is a folder of the unpack cache (``~/.cache/appliance/zipcode``), used only by the
user owning that folder and only when no other user can write there; anything unreadable is
compiled as zipimport would, and a failed write is ignored (the next run compiles again).
Zip files inside the binary's own folder (``base_library.zip``) are left to zipimport.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import zipimport
from importlib.util import MAGIC_NUMBER, spec_from_file_location
from types import ModuleType
from typing import Any

try:
    from _imp import _fix_co_filename
except ImportError:  # pragma: no cover (CPython has it)

    def _fix_co_filename(code: Any, path: str) -> None:
        return None


FOLDER = "zipcode"


def cache_folder(root: str) -> str | None:
    """``root/zipcode`` made private to this user, or None when ``root`` is not this user's
    alone (owned by another user, or writable by group or others)."""
    try:
        info = os.stat(root)
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        folder = os.path.join(root, FOLDER)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        return folder
    except OSError:
        return None


class CachedCodeLoader:
    """zipimport's loader for one ``.py`` entry, with its code from the cache; everything
    else (``get_source``, ``get_data``, resources) is zipimport's."""

    def __init__(self, zipped: zipimport.zipimporter, folder: str, path: str) -> None:
        self._zip = zipped
        self._folder = folder
        self._path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zip, name)

    def get_filename(self, fullname: str) -> str:
        # zipimport's compiles the module to answer (and again to run it)
        return self._path

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)

    def get_code(self, fullname: str) -> Any:
        path = self._path
        # as zipimport compiles: the bytes (a coding cookie is honoured), newlines normalised
        data = self._zip.get_data(path).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cached = os.path.join(self._folder, hashlib.sha256(MAGIC_NUMBER + data).hexdigest())
        try:
            with open(cached, "rb") as f:
                code = marshal.loads(f.read())
            _fix_co_filename(code, path)
            return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile(data, path, "exec", dont_inherit=True)
        tmp = f"{cached}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(marshal.dumps(code))
            os.replace(tmp, cached)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return code


class CachedZipFinder:
    """A ``sys.path_hooks`` entry: zipimport's finder for zip files outside ``skip``, with
    :class:`CachedCodeLoader` for modules and packages the zip holds as ``.py`` only."""

    def __init__(self, path: str, folder: str, skip: str) -> None:
        if skip and (path == skip or path.startswith(skip + os.sep)):
            raise ImportError("the binary's own zip files stay with zipimport")
        self._zip = zipimport.zipimporter(path)  # ZipImportError (an ImportError): not a zip
        self._folder = folder

    def find_spec(self, fullname: str, target: ModuleType | None = None) -> Any:
        zipped = self._zip
        try:
            package = zipped.is_package(fullname)  # looks the name up, compiles nothing
        except ImportError:  # not here, or a namespace portion: zipimport's answer
            return zipped.find_spec(fullname, target)
        base = os.path.join(zipped.archive, zipped.prefix, fullname.rpartition(".")[2])
        if package:
            base = os.path.join(base, "__init__")
        try:
            zipped.get_data(base + ".pyc")
            return zipped.find_spec(fullname, target)  # compiled in the zip: zipimport's
        except OSError:
            pass
        path = base + ".py"
        return spec_from_file_location(
            fullname,
            path,
            loader=CachedCodeLoader(zipped, self._folder, path),
            submodule_search_locations=[os.path.dirname(path)] if package else None,
        )

    def invalidate_caches(self) -> None:
        self._zip.invalidate_caches()


def install(root: str, skip: str = "") -> bool:
    """Put the caching finder first in ``sys.path_hooks``; False when ``root`` cannot hold
    the cache (then zipimport works alone, as before)."""
    folder = cache_folder(root)
    if folder is None:
        return False

    def hook(path: str) -> CachedZipFinder:
        return CachedZipFinder(path, folder, skip)

    sys.path_hooks.insert(0, hook)
    return True
