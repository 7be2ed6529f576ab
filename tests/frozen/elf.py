"""The glibc floor of ELF files, read from their version needs (what ``objdump -T`` shows as
``GLIBC_2.xx``): the newest ``GLIBC_`` version a file asks of the system's C library is the
oldest glibc it can load on. Pure Python (the ``.gnu.version_r`` section of 64-bit ELF), so
the test needs no binutils. ``python -m tests.frozen.elf FOLDER`` prints a folder's floors.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_DYNAMIC = 6
DT_NEEDED = 1
# A file asking for these libraries needs the system's glibc (they are glibc's own parts).
GLIBC_FILES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libnsl.so.1",
        "libcrypt.so.1",
        "ld-linux-x86-64.so.2",
        "libanl.so.1",
    }
)


def version_key(version: str) -> tuple[int, ...]:
    """'2.34' -> (2, 34); what follows the numbers is ignored."""
    parts = []
    for piece in version.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def _sections(path: Path) -> tuple[bytes, list[tuple[int, ...]]]:
    data = Path(path).read_bytes()
    if data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff, shentsize, shnum = (
        struct.unpack_from("<Q", data, 0x28)[0],
        *struct.unpack_from("<HH", data, 0x3A),
    )
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    return data, sections


def _text(data: bytes, strings: int, at: int) -> str:
    return data[strings + at : data.index(b"\0", strings + at)].decode()


def needed(path: Path) -> list[str]:
    """The libraries an ELF file names as DT_NEEDED (what ``objdump -p`` shows as NEEDED)."""
    data, sections = _sections(path)
    names = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
        if kind != SHT_DYNAMIC:
            continue
        strings = sections[link][4]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                names.append(_text(data, strings, value))
    return names


def version_needs(path: Path) -> dict[str, set[str]]:
    """{needed library file: {version names}} of a 64-bit little-endian ELF file (empty for a
    static file or one without version needs)."""
    data, sections = _sections(path)
    needs: dict[str, set[str]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]

        def text(at: int, strings: int = strings) -> str:
            return _text(data, strings, at)

        entry = offset
        for _ in range(info):
            _ver, count, file_at, aux, next_entry = struct.unpack_from("<HHIII", data, entry)
            names = needs.setdefault(text(file_at), set())
            at = entry + aux
            for _ in range(count):
                _hash, _flags2, _other, name_at, next_aux = struct.unpack_from("<IHHII", data, at)
                names.add(text(name_at))
                at += next_aux
            if not next_entry:
                break
            entry += next_entry
    return needs


def glibc_floor(path: Path) -> tuple[int, ...]:
    """The newest GLIBC_x.y a file needs from glibc's own libraries; () when none."""
    floor: tuple[int, ...] = ()
    for library, names in version_needs(path).items():
        if library not in GLIBC_FILES:
            continue
        for name in names:
            if name.startswith("GLIBC_") and name[6:7].isdigit():
                floor = max(floor, version_key(name[6:]))
    return floor


def elf_files(folder: Path) -> Iterator[Path]:
    """Every regular ELF file under folder (symlinks not followed)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink() and is_elf(path):
                yield path


def floors(folder: Path) -> dict[str, tuple[int, ...]]:
    """{path relative to folder: glibc floor} for every ELF file under folder."""
    return {str(p.relative_to(folder)): glibc_floor(p) for p in elf_files(folder)}


def _is_library(path: Path) -> bool:
    return path.name.startswith("lib") and ".so" in path.name


def split_core(folder: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], set]:
    """Split a onedir build's ELF files into the core and the window.

    Core: the executable, libpython, every Python extension module outside ``PyQt6/`` and every
    bundled library they load (DT_NEEDED, transitively; a name resolves in the file's own folder,
    then next to libpython). The window: the rest (``PyQt6/`` and what only it loads).
    Returns ({core file: floor}, {window file: floor}, names the core asks of the system)."""
    files = list(elf_files(folder))
    top = next(p.parent for p in files if p.name.startswith("libpython"))
    by_folder: dict[Path, dict[str, Path]] = {}
    for path in files:
        by_folder.setdefault(path.parent, {})[path.name] = path
    for link in top.iterdir():  # versioned names PyInstaller keeps as symlinks
        if link.is_symlink() and link.resolve() in files:
            by_folder.setdefault(top, {})[link.name] = link.resolve()

    def resolve(path: Path, name: str) -> Path | None:
        return by_folder.get(path.parent, {}).get(name) or by_folder.get(top, {}).get(name)

    def in_qt(path: Path) -> bool:
        return "PyQt6" in path.relative_to(folder).parts

    roots = [
        p
        for p in files
        if not in_qt(p)
        and (not _is_library(p) or (p.parent == top and p.name.startswith("libpython")))
    ]
    core: set[Path] = set()
    system: set[str] = set()
    todo = list(roots)
    while todo:
        path = todo.pop()
        if path in core:
            continue
        core.add(path)
        for name in needed(path):
            found = resolve(path, name)
            if found is None:
                system.add(name)
            else:
                todo.append(found)

    def rel(path: Path) -> str:
        return str(path.relative_to(folder))

    return (
        {rel(p): glibc_floor(p) for p in core},
        {rel(p): glibc_floor(p) for p in files if p not in core},
        system,
    )


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)) or "-"


def main(argv: list[str]) -> int:
    core, window, system = split_core(Path(argv[0]))
    for title, found in (("core", core), ("window", window)):
        for rel, floor in sorted(found.items(), key=lambda item: (item[1], item[0])):
            print(f"{title:6} {dotted(floor):>6}  {rel}")
    print("core asks the system for:", " ".join(sorted(system)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
