"""appliance/zipcode.py: code compiled from zip imports kept between python face runs, with the
module attributes zipimport gives; the frozen binary runs it (tests/frozen/test_binary.py)."""

from __future__ import annotations

import importlib
import importlib.resources
import marshal
import os
import sys
import traceback
import zipfile
import zipimport
from collections.abc import Iterator
from importlib.util import MAGIC_NUMBER
from pathlib import Path

import pytest

from appliance import python_face, zipcode

SOURCES = {
    "zcpkg/__init__.py": "NAME = 'package'\n",
    "zcpkg/mod.py": "VALUE = 'compiled'\n\ndef fail():\n    raise ValueError('boom')\n",
    "zcpkg/data.txt": "some data",
}


def make_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


@pytest.fixture
def clean_imports() -> Iterator[None]:
    """Whatever a test hooks or imports is undone."""
    hooks, path, cache = list(sys.path_hooks), list(sys.path), dict(sys.path_importer_cache)
    yield
    sys.path_hooks[:] = hooks
    sys.path[:] = path
    sys.path_importer_cache.clear()
    sys.path_importer_cache.update(cache)
    for name in [n for n in sys.modules if n == "zcpkg" or n.startswith("zcpkg.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def fresh_import(archive: Path, name: str = "zcpkg.mod"):
    for loaded in [n for n in sys.modules if n == "zcpkg" or n.startswith("zcpkg.")]:
        del sys.modules[loaded]
    sys.path.insert(0, str(archive))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(archive))


def private_root(tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    return root


def key(text: str) -> str:
    import hashlib

    return hashlib.sha256(MAGIC_NUMBER + text.encode()).hexdigest()


def test_modules_from_a_zip_as_zipimport_gives_them(tmp_path: Path, clean_imports: None) -> None:
    root = private_root(tmp_path)
    assert zipcode.install(str(root))
    archive = make_zip(tmp_path / "one" / "payload.zip", SOURCES)
    mod = fresh_import(archive)
    pkg = sys.modules["zcpkg"]
    assert (mod.VALUE, pkg.NAME) == ("compiled", "package")
    assert mod.__file__ == str(archive / "zcpkg" / "mod.py")
    assert pkg.__file__ == str(archive / "zcpkg" / "__init__.py")
    assert list(pkg.__path__) == [str(archive / "zcpkg")]
    assert mod.__loader__.get_source("zcpkg.mod") == SOURCES["zcpkg/mod.py"]
    assert mod.__loader__.get_data(str(archive / "zcpkg" / "data.txt")) == b"some data"
    assert importlib.resources.files("zcpkg").joinpath("data.txt").read_text() == "some data"
    folder = root / zipcode.FOLDER
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        key(SOURCES[n]) for n in ("zcpkg/__init__.py", "zcpkg/mod.py")
    )


def test_cached_code_serves_the_next_zip_with_the_same_source(
    tmp_path: Path, clean_imports: None
) -> None:
    root = private_root(tmp_path)
    assert zipcode.install(str(root))
    fresh_import(make_zip(tmp_path / "one" / "payload.zip", SOURCES))
    # Ansible's next run: the same sources in a zip elsewhere. Poison the cache entry to see
    # that it is what runs (a real entry holds the same code the source compiles to).
    entry = root / zipcode.FOLDER / key(SOURCES["zcpkg/mod.py"])
    poisoned = "VALUE = 'from the cache'\n\ndef fail():\n    raise ValueError('cached')\n"
    entry.write_bytes(marshal.dumps(compile(poisoned, "/elsewhere/mod.py", "exec")))
    second = make_zip(tmp_path / "two" / "payload.zip", SOURCES)
    mod = fresh_import(second)
    assert mod.VALUE == "from the cache"
    # tracebacks name the module where it is now, as importlib does for a moved .pyc
    with pytest.raises(ValueError) as caught:
        mod.fail()
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert frames[-1].filename == str(second / "zcpkg" / "mod.py")
    # other source: other key, compiled afresh
    changed = {**SOURCES, "zcpkg/mod.py": "VALUE = 'changed'\n"}
    assert fresh_import(make_zip(tmp_path / "three" / "payload.zip", changed)).VALUE == "changed"
    # a damaged entry is compiled again (and rewritten)
    entry.write_bytes(b"not marshal data")
    assert fresh_import(make_zip(tmp_path / "four" / "payload.zip", SOURCES)).VALUE == "compiled"
    assert marshal.loads(entry.read_bytes()).co_filename.endswith("mod.py")


def test_compiled_zips_and_skipped_folders_stay_with_zipimport(
    tmp_path: Path, clean_imports: None
) -> None:
    root = private_root(tmp_path)
    own = tmp_path / "build"
    assert zipcode.install(str(root), skip=str(own))
    code = marshal.dumps(compile("VALUE = 'pyc'\n", "mod.py", "exec"))
    pyc = MAGIC_NUMBER + b"\0" * 12 + code  # flags 0; no source beside it: times unchecked
    compiled = make_zip(tmp_path / "pyc.zip", {"zcpkg/__init__.py": "", "zcpkg/mod.pyc": pyc})
    mod = fresh_import(compiled)
    assert isinstance(mod.__loader__, zipimport.zipimporter)
    skipped = make_zip(own / "base_library.zip", SOURCES)
    assert isinstance(fresh_import(skipped).__loader__, zipimport.zipimporter)
    assert not (root / zipcode.FOLDER / key(SOURCES["zcpkg/mod.py"])).exists()


def test_no_cache_where_another_user_could_write(tmp_path: Path, clean_imports: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    hooks = list(sys.path_hooks)
    assert not zipcode.install(str(shared))
    assert sys.path_hooks == hooks and not (shared / zipcode.FOLDER).exists()
    assert zipcode.cache_folder(str(tmp_path / "missing")) is None


def test_python_face_caches_only_in_the_launchers_unpacked_build(
    tmp_path: Path, clean_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not python_face._cache_zip_imports()  # unfrozen: zipimport alone
    root = private_root(tmp_path)
    build = root / "buildid"
    (build / "_internal").mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(build / "_internal"), raising=False)
    assert not python_face._cache_zip_imports()  # no launcher marker: a bare onedir build
    (build / python_face.MARKER).write_text("end\n")
    assert python_face._cache_zip_imports()
    assert os.path.isdir(root / zipcode.FOLDER)
